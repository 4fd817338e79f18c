import SlipwayProtocol
import BuildRuntime
import Foundation

/// `slipway engine status` and `slipway engine stop`: a client of the running engine's socket
/// that asks one thing and prints the answer.
enum EngineControl {
    /// Sends `command` to the engine of the state directory; prints what it answers. Returns the
    /// exit status (1 when no engine runs, for `status`; 0 for `stop`, which has nothing to do).
    static func run(_ command: ServerOptions.EngineCommand, options: ServerOptions) -> Int32 {
        let state: CheckedFolder, folder: CheckedFolder?
        do {
            guard let found = try StateDirectoryGuard.stateDirectory(options.stateDirectory, create: false) else {
                print("no engine runs for \(options.stateDirectory) (the folder does not exist)")
                return command == .status ? 1 : 0
            }
            state = found
            folder = try StateDirectoryGuard.socketFolder(in: state, create: false)
        } catch {
            FileHandle.standardError.write(Data("slipway: \(error)\n".utf8))
            return 1
        }
        guard let folder, let channel = connect(EngineAddress.path(in: folder)) else {
            print("no engine runs for \(state.path)")
            return command == .status ? 1 : 0
        }
        let hello = "{\"version\":\"\(SlipwayVersion.current)\",\"command\":\"\(command.word)\",\"now\":\(command.now)}"
        guard channel.send(EngineFrame.hello, hello), let reply = channel.read(), reply.type == EngineFrame.close else {
            FileHandle.standardError.write(Data("slipway: the engine did not answer; see \(state.path)/engine.log\n".utf8))
            return 1
        }
        let closing = Closing(payload: reply.payload)
        print(closing.text, terminator: "")
        if case .stop = command { waitForExit(state) }
        return closing.status
    }

    static func connect(_ path: String) -> FrameChannel? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = EngineAddress.unixAddress(path)
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard ok == 0 else {
            close(fd)
            return nil
        }
        return FrameChannel(fd: fd)
    }

    /// Returns once the engine has let go of the state directory (its lock), or after a minute.
    static func waitForExit(_ state: CheckedFolder) {
        let fd = openat(state.fd, "engine.lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                flock(fd, LOCK_UN)
                return
            }
            usleep(10_000)
        }
    }
}
