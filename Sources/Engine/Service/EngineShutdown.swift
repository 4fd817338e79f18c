import SlipwayProtocol
import BuildRuntime
import Foundation

/// What an engine about to stop needs: whether it is busy, starting no more builds, and waiting
/// until its builds end.
///
/// Its functions take the engine they work for (`isolated`: they run on it, and use its
/// shared state); the `Engine` is the facade that routes the public calls here.
enum EngineShutdown {
    /// Waits until no build is running or queued (the embedded engine's end of input: the
    /// process is about to go, and builds would be abandoned).
    static func waitForIdle(_ engine: isolated Engine) async {
        while let key = engine.scheduler.running.keys.first ?? engine.scheduler.queue.first {
            _ = try? await engine.wait(for: key, timeout: nil)  // a build deleted meanwhile is done too
            if engine.scheduler.running[key] == nil { engine.scheduler.unqueue(key) }  // still queued: scheduling stopped
        }
    }

    /// Waits until every build in `keys` has finished (or is gone with its image).
    static func waitForBuilds(_ engine: isolated Engine, _ keys: Set<BuildKey>) async {
        for key in keys.sorted(by: { ($0.namespace, $0.image, $0.number) < ($1.namespace, $1.image, $1.number) }) {
            _ = try? await engine.wait(for: key, timeout: nil)  // NotFound: deleted with its image, which ends it too
        }
    }

    static func activity(_ engine: isolated Engine) -> EngineActivity {
        let polled = engine.options.gitPollInterval != nil && ((try? engine.loadImages()) ?? [:]).values.contains {  // a hint for idle exit: unreadable images are not polled either
            $0.isConfiguration && $0.source.git != nil && $0.source.git?.poll != false && $0.source.resolved?.pinned != true
        }
        return EngineActivity(running: engine.scheduler.running.map { ($0.key, $0.value.log.currentPhase) }.sorted { $0.key.number < $1.key.number },
                        queued: engine.scheduler.queue.count, pollsGit: polled, watchedFolders: engine.watchers.count)
    }

    /// Starts no more queued builds (they run at the next start); cancels the running ones too
    /// when `cancelRunning`. Used when the engine is told to stop.
    static func stopScheduling(_ engine: isolated Engine, cancelRunning: Bool) {
        engine.scheduler.stop(cancelMessage: cancelRunning ? "canceled: the engine was stopped with --now; trigger the image to build again" : nil)
    }

    /// Returns once no build is running.
    static func waitForRunningBuilds(_ engine: isolated Engine) async {
        while let key = engine.scheduler.running.keys.first {
            _ = try? await engine.wait(for: key, timeout: nil)  // deleted meanwhile: finished too
        }
    }
}

/// What the engine is doing: for `engine status`, and to know when it may stop.
public struct EngineActivity: Sendable {
    public var running: [(key: BuildKey, phase: BuildPhase)]
    public var queued: Int
    /// Whether it polls git sources (branches and tags).
    public var pollsGit: Bool
    /// Local folders it watches.
    public var watchedFolders: Int
    /// Work that needs the engine to stay up with no client: git sources it polls, folders
    /// it watches.
    public var standingWork: Bool { pollsGit || watchedFolders > 0 }
    public var busy: Bool { !running.isEmpty || queued > 0 || standingWork }
}
