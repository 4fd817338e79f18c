import Foundation
import Synchronization

/// Watches a source folder with inotify (every folder in it, new ones as they appear, `.git`
/// and what `.slipwayignore` leaves out excepted) and calls `onChange` once things have been
/// quiet for `debounce` seconds after a change. Its thread of its own waits on the inotify
/// descriptor and a pipe that `stop()` writes to.
///
/// `@unchecked Sendable`: the inotify state (`directories`) is touched only by the watcher's
/// thread (and by `init` before it starts); `stop()` writes to the wake-up pipe once, and the
/// thread closes the descriptors only after it has read that.
public final class FolderWatcher: @unchecked Sendable {
    private let root: String
    /// What a snapshot of the folder takes (`SourceSnapshotter.exclusions`): a change elsewhere
    /// changes no snapshot.
    private let include: (String, Bool) -> Bool
    private let debounce: TimeInterval
    private let onChange: @Sendable () -> Void
    private let inotify: Int32
    private var wake: [Int32] = [-1, -1]
    /// Watch descriptor → the folder's path relative to `root` ("" for the root).
    private var directories: [Int32: String] = [:]
    static let mask = UInt32(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF)

    /// Starts watching `root` (an absolute folder path the caller may read).
    public init(root: String, debounce: TimeInterval, onChange: @escaping @Sendable () -> Void) throws {
        self.root = root
        self.debounce = debounce
        self.onChange = onChange
        // An unreadable folder or ignore file leaves out nothing but .git folders: hence `try?`.
        include = (try? ConfinedDirectory(path: root)).flatMap { try? SourceSnapshotter.exclusions(of: $0) }  // see above
            ?? { rel, isDir in !(isDir && (rel == ".git" || rel.hasSuffix("/.git"))) }
        inotify = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard inotify >= 0 else { throw RuntimeError.io("cannot watch \(root): inotify: \(String(cString: strerror(errno)))") }
        guard pipe(&wake) == 0 else {
            close(inotify)
            throw RuntimeError.io("cannot watch \(root): \(String(cString: strerror(errno)))")
        }
        _ = fcntl(wake[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(wake[1], F_SETFD, FD_CLOEXEC)
        addTree("")
        Thread { [self] in run() }.start()
    }

    /// Stops watching (once; later calls do nothing); no `onChange` comes after the watcher's
    /// thread sees it.
    public func stop() {
        guard stopped.withLock({ s in defer { s = true }; return !s }) else { return }
        var b: UInt8 = 1
        _ = write(wake[1], &b, 1)  // the thread closes the pipe only after reading this
    }
    private let stopped = Mutex(false)

    private func ignored(_ relative: String, isDirectory: Bool) -> Bool { !include(relative, isDirectory) }

    /// Watches the folder `top` and the folders below it (not through symlinks), with a list of
    /// folders to do rather than recursion: a source can be deeper than any stack (a folder
    /// whose path is longer than the system allows cannot be watched, and ends the descent).
    private func addTree(_ top: String) {
        var pending = [top]
        while let relative = pending.popLast() {
            let path = relative.isEmpty ? root : root + "/" + relative
            let wd = inotify_add_watch(inotify, path, Self.mask | UInt32(IN_ONLYDIR | IN_DONT_FOLLOW))
            guard wd >= 0 else { continue }  // gone already, or not a folder: its parent's events cover it
            directories[wd] = relative
            // A folder that cannot be listed has nothing to watch below it.
            guard let dir = try? ConfinedDirectory(path: path), let names = try? dir.entries() else { continue }  // see above
            for name in names {
                let child = relative.isEmpty ? name : relative + "/" + name
                if let st = try? dir.status(name), (st.st_mode & S_IFMT) == S_IFDIR, !ignored(child, isDirectory: true) { pending.append(child) }  // gone meanwhile: nothing to watch
            }
        }
    }

    private func run() {
        var pending: Date?
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        defer {
            close(inotify)
            close(wake[0])
            close(wake[1])
        }
        while true {
            var fds = [pollfd(fd: inotify, events: Int16(POLLIN), revents: 0), pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0)]
            let timeout = pending.map { max(0, Int32(($0.addingTimeInterval(debounce).timeIntervalSinceNow) * 1000) + 1) } ?? -1
            let n = poll(&fds, 2, timeout)
            if n < 0 && errno == EINTR { continue }
            if fds[1].revents != 0 { return }
            if fds[0].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
                if count > 0 && relevant(buffer, count) { pending = Date() }
            }
            if let p = pending, Date().timeIntervalSince(p) >= debounce {
                pending = nil
                onChange()
            }
        }
    }

    /// Whether the events in `buffer` touch something not ignored; new folders get watched.
    private func relevant(_ buffer: [UInt8], _ count: Int) -> Bool {
        var offset = 0
        var any = false
        let header = MemoryLayout<inotify_event>.size
        while offset + header <= count {
            let event = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: inotify_event.self) }
            let nameBytes = buffer[(offset + header)..<min(count, offset + header + Int(event.len))].prefix { $0 != 0 }
            let name = String(decoding: nameBytes, as: UTF8.self)
            offset += header + Int(event.len)
            // Events were lost: something changed, and the snapshot will tell what.
            if event.mask & UInt32(IN_Q_OVERFLOW) != 0 { any = true; continue }
            guard let folder = directories[event.wd] else { continue }
            if event.mask & UInt32(IN_IGNORED) != 0 { directories[event.wd] = nil; continue }
            let relative = name.isEmpty ? folder : (folder.isEmpty ? name : folder + "/" + name)
            let isDirectory = event.mask & UInt32(IN_ISDIR) != 0
            if name.isEmpty || !ignored(relative, isDirectory: isDirectory) {
                any = true
                if isDirectory, event.mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 { addTree(relative) }
            }
        }
        return any
    }
}
