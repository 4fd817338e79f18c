import SlipwayProtocol
import BuildRuntime
import CLinuxSyscalls
import Engine
import Foundation
import JSONRPC
import Synchronization

/// The shared engine of one state directory (`slipway engine`): it listens on the state
/// directory's Unix socket, serves each client that connects as a JSON-RPC session of one
/// `Engine`, answers `engine status` and `engine stop`, and stops by itself once it has been
/// idle for `--idle-timeout` — no client, no build queued or running, no git source to poll.
final class EngineServer: Sendable {
    let engine: Engine
    let options: ServerOptions
    let context: ServerContext
    let registry: MethodRegistry
    let started = Date()
    private let state = Mutex(State())
    /// Resumed once, when the engine is to exit.
    private let stopped = Mutex<CheckedContinuation<Void, Never>?>(nil)

    struct State {
        var clients: [Int: Client] = [:]
        var nextClient = 1
        var stopping = false
        var idleSince = Date()
        var listenFD: Int32 = -1
        /// `run/`, where the socket is, while the engine listens.
        var socketFolder: CheckedFolder?
        /// Device and inode of the socket this engine bound: it removes that one only, never
        /// one an engine of a state directory made anew at the same path bound since.
        var socketIdentity: [UInt64]?
        /// Builds this engine found interrupted when it started: the first client is told.
        var interruptedNotice: [String] = []
    }

    /// A connected client: for `engine status`, and to tell it when the engine stops.
    struct Client {
        var pid: Int?
        var since: Date
        var channel: FrameChannel
        /// Its JSON-RPC connection, once made: a stop answers what it asked before closing.
        var connection: Connection?
    }

    init(engine: Engine, options: ServerOptions) {
        self.engine = engine
        self.options = options
        state.withLock { $0.interruptedNotice = SlipwayServer.interruptedNotices(engine) }
        context = ServerContext(engine: engine, maxMessageSize: options.maxMessageSize)
        let r = MethodTable.makeRegistry(context)
        registry = r
    }

    // MARK: Running

    /// The socket, for people to read (`EngineAddress` says how it is reached).
    var socketPath: String { options.stateDirectory + "/run/" + EngineAddress.socketName }

    /// Listens until stopped; returns the exit status.
    func run() async -> Int32 {
        let fd: Int32, folder: CheckedFolder
        do {
            (fd, folder) = try Self.listen(stateDirectory: options.stateDirectory)
        } catch {
            EngineLog.write("cannot listen on \(socketPath): \(error)")
            return 1
        }
        state.withLock {
            $0.listenFD = fd
            $0.socketFolder = folder
            $0.socketIdentity = FileIdentity.of( EngineAddress.socketName, in: folder.fd)
        }
        EngineLog.write("engine \(SlipwayVersion.current) pid \(getpid()) serving \(options.stateDirectory) on \(socketPath)")
        let acceptor = Thread { [self] in acceptLoop(fd) }
        acceptor.stackSize = 1 << 18
        acceptor.start()
        let monitor = Task { await monitorIdleness() }
        await withCheckedContinuation { c in
            let already = stopped.withLock { s -> Bool in
                if s != nil { return true }
                s = c
                return false
            }
            if already { c.resume() }
        }
        monitor.cancel()
        closeListener()
        EngineLog.write("engine pid \(getpid()) stopped")
        return 0
    }

    /// Listens on the socket in the state directory's `run/` (made 0700, checked), through the
    /// folder's descriptor; returns the listening socket and the folder.
    static func listen(stateDirectory: String) throws -> (fd: Int32, folder: CheckedFolder) {
        guard let state = try StateDirectoryGuard.stateDirectory(stateDirectory, create: false),
              let folder = try StateDirectoryGuard.socketFolder(in: state, create: true) else {
            throw EngineError.internal("the state directory \(stateDirectory) is gone")
        }
        fchmod(folder.fd, 0o700)
        unlinkat(folder.fd, EngineAddress.socketName, 0)  // a socket left by an engine that was killed; engine.lock says none runs now
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw EngineError.internal("socket: \(String(cString: strerror(errno)))") }
        let address = EngineAddress.path(in: folder)
        var addr = EngineAddress.unixAddress(address)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard bound == 0, fchmodat(folder.fd, EngineAddress.socketName, 0o600, 0) == 0, Glibc.listen(fd, 128) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw EngineError.internal("bind/listen on \(address): \(e)")
        }
        return (fd, folder)
    }

    private func acceptLoop(_ listenFD: Int32) {
        while true {
            let fd = slipway_accept_cloexec(listenFD)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // the listener was closed: the engine is stopping
            }
            let channel = FrameChannel(fd: fd)
            let peer = slipway_peer_uid(fd)
            LoopThreads.shared.run { [self] in handshake(channel, peerUID: peer) }
        }
    }

    // MARK: Handshake

    private func handshake(_ channel: FrameChannel, peerUID: Int64) {
        // A client has ten seconds to say who it is.
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(channel.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard let frame = channel.read(), frame.type == EngineFrame.hello, let hello = EngineHello.parse(frame.payload) else { return }
        // Only the engine's own user may use it (SO_PEERCRED). The refusal follows the hello,
        // so that closing with nothing unread leaves the answer readable.
        guard peerUID == Int64(geteuid()) else {
            EngineLog.write("refused a client of uid \(peerUID): only uid \(geteuid()) may use this engine")
            channel.send(.fail(status: 1, "the engine of \(options.stateDirectory) serves uid \(geteuid()) only, not uid \(peerUID); use a state directory of your own (--state-dir)"))
            return
        }
        timeout = timeval(tv_sec: 0, tv_usec: 0)
        setsockopt(channel.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        Task {
            switch hello.command {
            case .status?: channel.send(Closing(status: 0, await statusText()))
            case .stop(let now)?: await stop(now: now, replyingOn: channel)
            case nil: await serveClient(channel, hello)
            }
        }
    }

    private func serveClient(_ channel: FrameChannel, _ hello: EngineHello) async {
        guard hello.version == SlipwayVersion.current else {
            await replaceOrRefuse(channel, clientVersion: hello.version)
            return
        }
        let asked: ServerOptions
        switch ServerOptions.parse(hello.args, environment: [:]) {
        case .run(_, let o): asked = o
        case .print(let text):
            channel.send(.fail(status: 0, text))
            return
        case .error(let message):
            channel.send(.fail(status: 2, message))
            return
        }
        // Admitted only while not stopping, checked and recorded at once, so that an idle stop
        // never takes a client with it; a client that comes too late starts the next engine.
        let admitted = state.withLock { s -> Int? in
            guard !s.stopping else { return nil }
            defer { s.nextClient += 1 }
            s.clients[s.nextClient] = Client(pid: hello.pid, since: Date(), channel: channel)
            return s.nextClient
        }
        guard let id = admitted else {
            channel.send(.retry("the engine of \(options.stateDirectory) is stopping"))
            return
        }
        defer {
            state.withLock { s in
                s.clients[id] = nil
                if s.clients.isEmpty { s.idleSince = Date() }
            }
        }
        guard channel.send(Welcome.ok) else { return }
        let connection = Connection(output: FrameSink(channel: channel), registry: registry, maxMessageSize: options.maxMessageSize,
                                    errorMapper: ErrorMapping.map, traceRedactor: { _, params in TraceRedaction.redact(params, engine: self.engine) })
        let session = context.session(for: connection)
        let forwarder = Task { await context.forwardNotifications(of: session, to: connection) }
        let notices = state.withLock { s in
            s.clients[id]?.connection = connection
            defer { s.interruptedNotice = [] }
            return s.interruptedNotice
        }
        for text in notices + asked.differences(from: options) {
            connection.logMessage(text, type: 2)
        }
        let source = FrameSource(channel: channel)
        let end = await connection.run(input: source)
        switch end {
        case .exit(let code):
            // Builds this client started go on in the engine.
            await connection.outputWritten()
            await context.closeSession(for: connection)
            channel.send(Closing(status: code, ""))
        case .endOfInput(let cutShort):
            guard source.endedCleanly == true else {
                // The client went away: its session ends; its builds go on.
                await context.closeSession(for: connection)
                return
            }
            // A pipeline gets complete results: the builds its own requests queued end first
            // (a client that queued none, most of them, spares the turn on the engine's actor).
            let started = session.startedBuilds
            if !started.isEmpty { await engine.waitForBuilds(started) }
            await session.flush()
            await context.closeSession(for: connection)
            _ = await forwarder.value
            await connection.outputWritten()
            let note = cutShort ? "slipway: the last message was cut short (answered with a parse error, or with window/logMessage when it could not be read); exiting 1\n" : ""
            channel.send(Closing(status: cutShort ? 1 : 0, note))
        }
    }

    /// A client of another version: an idle engine steps aside for an engine of the client's
    /// version; a busy one refuses it, saying how to stop it.
    private func replaceOrRefuse(_ channel: FrameChannel, clientVersion: String) async {
        let activity = await engine.activity()
        let clients = state.withLock { $0.clients.count }
        if activity.running.isEmpty && activity.queued == 0 && beginStopping(onlyIfNoClients: true) {
            EngineLog.write("a client of version \(clientVersion) connected; stopping so that an engine of its version can start")
            channel.send(.retry("the engine of version \(SlipwayVersion.current) is making way for \(clientVersion)"))
            await finishStopping(now: false, replyingOn: nil)
            return
        }
        channel.send(.fail(status: 1, """
            the engine of \(options.stateDirectory) runs Slipway \(SlipwayVersion.current) and is busy (\(activity.running.count) running \
            and \(activity.queued) queued builds, \(clients) clients); this slipway is \(clientVersion). Stop it with \
            'slipway engine stop --state-dir \(options.stateDirectory)' (it waits for its builds) and run again.
            """))
    }

    // MARK: Status and stop

    func statusText() async -> String {
        let activity = await engine.activity()
        let clients = state.withLock { $0.clients.sorted { $0.key < $1.key } }
        var lines = [
            "pid: \(getpid())",
            "version: \(SlipwayVersion.current)",
            "uptime: \(Int(Date().timeIntervalSince(started)))s",
            "state directory: \(options.stateDirectory)",
            "socket: \(socketPath)",
            "idle timeout: \(options.idleTimeout == 0 ? "never" : "\(Int(options.idleTimeout))s")",
            "sessions: \(clients.count)",
        ]
        for (id, c) in clients {
            lines.append("  session \(id): client pid \(c.pid.map(String.init) ?? "?"), connected \(Int(Date().timeIntervalSince(c.since)))s")
        }
        lines.append("running builds: \(activity.running.count)")
        for r in activity.running { lines.append("  \(r.key.namespace)/\(r.key.image) build \(r.key.number) (\(r.phase))") }
        lines.append("queued builds: \(activity.queued)")
        lines.append("polls git sources: \(activity.pollsGit ? "yes" : "no")")
        lines.append("watches folders: \(activity.watchedFolders)")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Stops taking clients and queued builds; waits for running builds (or cancels them, with
    /// `now`); tells the asking client; then ends `run`.
    func stop(now: Bool, replyingOn channel: FrameChannel?) async {
        if beginStopping(onlyIfNoClients: false) {
            let running = await engine.activity().running.count
            EngineLog.write("stopping\(now ? " now" : ""): \(running) running builds to \(now ? "cancel" : "wait for"); clients that come meanwhile wait for the next engine")
        }
        await finishStopping(now: now, replyingOn: channel)
    }

    /// Marks the engine stopping, unless it already is, or (with `onlyIfNoClients`) a client is
    /// connected. The check and the mark are one step, so no client is admitted in between.
    /// The socket stays open until the stop ends: a client that comes meanwhile is told to
    /// wait for this engine to exit and start the next (`retry`), rather than finding no
    /// engine and a state directory still in use.
    private func beginStopping(onlyIfNoClients: Bool) -> Bool {
        state.withLock { s -> Bool in
            guard !s.stopping, !onlyIfNoClients || s.clients.isEmpty else { return false }
            s.stopping = true
            return true
        }
    }

    /// Closes the listening socket and removes it — when it is still the one this engine bound.
    private func closeListener() {
        let listening = state.withLock { s -> (fd: Int32, folder: CheckedFolder?, socket: [UInt64]?) in
            defer { s.listenFD = -1 }
            return (s.listenFD, s.socketFolder, s.socketIdentity)
        }
        guard listening.fd >= 0 else { return }
        shutdown(listening.fd, Int32(SHUT_RDWR))
        close(listening.fd)
        if let folder = listening.folder, let own = listening.socket, FileIdentity.of( EngineAddress.socketName, in: folder.fd) == own {
            unlinkat(folder.fd, EngineAddress.socketName, 0)
        }
    }

    private func finishStopping(now: Bool, replyingOn channel: FrameChannel?) async {
        await engine.stopScheduling(cancelRunning: now)
        await engine.waitForRunningBuilds()
        // Clients still connected get the answers to what they asked (a `build/wait`, a followed
        // `build/logs` of a build that just ended), then are told, so that none waits on an
        // engine that is gone.
        await withTaskGroup(of: Void.self) { group in
            for client in state.withLock({ Array($0.clients.values) }) {
                group.addTask { await self.answerAndClose(client) }
            }
        }
        closeListener()
        channel?.send(Closing(status: 0, "the engine of \(options.stateDirectory) (pid \(getpid())) stopped\n"))
        stopped.withLock { c in
            c?.resume()
            c = nil
        }
    }

    /// How long a stop waits for a client's outstanding requests to be answered and written
    /// (a request that waits on a build that will not run now, a client that does not read).
    static let answerDeadline: Double = 10

    /// Writes what `client` is owed — the answers to the requests it sent, each written whole —
    /// then the close frame; a client whose answers are not out by `answerDeadline` is cut off.
    private func answerAndClose(_ client: Client) async {
        let answered = await Deadline.within(Self.answerDeadline) {
            guard let connection = client.connection else { return }
            await connection.drain()
            // Blocks until the connection's writer has written all of it (into the socket).
            _ = try? await BlockingWork.run { connection.flushOutput() }  // BlockingWork itself does not fail
        }
        if answered {
            client.channel.send(Closing(status: 1, "slipway: the engine of \(options.stateDirectory) was stopped (slipway engine stop, or it was replaced)\n"))
        } else {
            EngineLog.write("a client (pid \(client.pid.map(String.init) ?? "?")) was not answered within \(Int(Self.answerDeadline))s of the stop; closing it")
        }
        shutdown(client.channel.fd, Int32(SHUT_RDWR))
    }

    /// Stops the engine once it has been idle for `--idle-timeout`, or at once when its state
    /// directory is removed; keeps engine.log small.
    private func monitorIdleness() async {
        // The folder itself, held open: its inode number cannot go to a folder made anew at the
        // same path (ext4 hands a freed one out again at once), and removed, it has no link left.
        let held = open(options.stateDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if held >= 0 { close(held) } }
        let home = FileIdentity.of( options.stateDirectory)
        // The lock this engine holds: emptied (rm -rf DIR/*, or a removal that left some of
        // it), the folder has another engine.lock, or none, and the next engine may run.
        let lock = held >= 0 ? FileIdentity.of( "engine.lock", in: held) : nil
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))  // cancellation ends the loop
            EngineLog.rotateIfLarge(path: options.stateDirectory + "/engine.log")
            var st = stat()
            let removed = held >= 0 && fstat(held, &st) == 0 && st.st_nlink == 0
            let emptied = lock != nil && FileIdentity.of( "engine.lock", in: held) != lock
            if removed || emptied || FileIdentity.of( options.stateDirectory) != home {
                EngineLog.write("the state directory \(options.stateDirectory) was removed or replaced; stopping")
                await stop(now: true, replyingOn: nil)
                return
            }
            guard options.idleTimeout > 0 else { continue }
            let busy = await engine.activity().busy
            let idleFor = state.withLock { s -> Double in
                if !s.clients.isEmpty || busy { s.idleSince = Date() }
                return Date().timeIntervalSince(s.idleSince)
            }
            if idleFor >= options.idleTimeout && beginStopping(onlyIfNoClients: true) {
                EngineLog.write("idle for \(Int(options.idleTimeout))s; stopping")
                await finishStopping(now: false, replyingOn: nil)
                return
            }
        }
    }
}

/// The engine's own log: its stdout and stderr, which the forwarder points at
/// `<state>/engine.log` when it starts the engine. Rotated at 10 MiB, one old file
/// (`engine.log.1`) kept.
enum EngineLog {
    static let maxBytes: off_t = 10 << 20

    static func write(_ line: String) {
        FileHandle.standardError.write(Data("\(Timestamp.now()) \(line)\n".utf8))
    }

    /// When the file `descriptors` write to is `path` and has grown past `limit`, it becomes
    /// `path.1` (replacing the older one) and the descriptors write to a new `path`. Nothing
    /// happens when they write elsewhere (a terminal, a journal).
    static func rotateIfLarge(path: String, limit: off_t = maxBytes, descriptors: [Int32] = [STDOUT_FILENO, STDERR_FILENO]) {
        var open_ = stat(), named = stat()
        guard let first = descriptors.first, fstat(first, &open_) == 0, (open_.st_mode & S_IFMT) == S_IFREG, open_.st_size > limit,
              stat(path, &named) == 0, named.st_ino == open_.st_ino, named.st_dev == open_.st_dev else { return }
        rename(path, path + ".1")
        // Never through a symbolic link: one planted there would take the engine's output.
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }  // the old file stays in use; rotation is tried again later
        for d in descriptors { dup2(fd, d) }
        close(fd)
    }
}
