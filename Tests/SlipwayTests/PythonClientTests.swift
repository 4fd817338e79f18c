import Foundation
import JSONRPC
import Testing
import TestSupport

/// The Python package (clients/python) as a program meets it, installed with pip into a venv of
/// its own (issue 31, point 7): typed errors, a followed log's final status, leaving a session
/// without waiting for its builds, bounded notifications or callbacks, and the protocol's types
/// reaching a type checker.
@Suite struct PythonClientTests {
    /// A venv (python3 -m venv) in `work` with the package pip-installed from a copy of
    /// clients/python, and `extra` packages from PyPI; returns its bin folder.
    static func venv(in work: TempDir, with extra: [String] = []) async throws -> String {
        let venv = work.path + "/venv"
        let made = try await sh("/usr/bin/python3 -m venv '\(venv)'")
        try #require(made.status == 0, "python3 -m venv failed (scripts/setup.sh installs python3-venv): \(made.err)")
        let pip = try await sh("cp -r '\(Repo.root.path)/clients/python' '\(work.path)/src' && '\(venv)/bin/pip' install -q --disable-pip-version-check '\(work.path)/src' \(extra.map { "'\($0)'" }.joined(separator: " "))")
        try #require(pip.status == 0, "pip install into the venv failed: \(pip.err)")
        return venv + "/bin"
    }

    @Test func typedErrorsFinalStatusesDetachingAndBoundedNotifications() async throws {
        let work = TempDir("pyvenv")
        let bin = try await Self.venv(in: work)
        let state = TempDir("state")
        let scratch = TempDir("pyapps")
        let script = Repo.fixtures.appendingPathComponent("python_client_typed_check.py").path
        let r = try await sh("'\(bin)/python' '\(script)' '\(Repo.slipway)' '\(state.path)' '\(HostStack.directory)' '\(Repo.buildpacks.path)' '\(HelloApp.path)' '\(scratch.path)'")
        try #require(r.status == 0, "\(r.err)")
        let out = try JSONParser.parse(Array(r.out.utf8))

        // Each error answer raises the SlipwayError subclass its reason (or code) names.
        let errors = try #require(out["errors"])
        for (key, cls, code) in [("notFound", "NotFound", 1001), ("invalidParams", "InvalidParams", -32602),
                                 ("alreadyExists", "AlreadyExists", 1002), ("failedPrecondition", "FailedPrecondition", 1003),
                                 ("quotaExceeded", "QuotaExceeded", 1005), ("unavailable", "Unavailable", 1006),
                                 ("methodNotFound", "MethodNotFound", -32601)] {
            #expect(errors[key]?["class"] == .string(cls), "\(key): \(r.out)")
            #expect(errors[key]?["code"]?.int64Value == Int64(code), "\(key): \(r.out)")
        }

        // A followed log tells how the build ended; with check=True a failure raises with it.
        #expect(out["success"]?["status"] == "SUCCESS" && out["success"]?["result"] == ["build": 1, "status": "SUCCESS"], "\(r.out)")
        #expect(out["failure"]?["status"] == "FAILURE" && out["failure"]?["sawLine"] == true, "\(r.out)")
        #expect(out["raised"]?["class"] == "BuildFailed" && out["raised"]?["isSlipwayError"] == true, "\(r.out)")
        #expect(out["raised"]?["build"] == 1 && out["raised"]?["status"] == "FAILURE", "\(r.out)")
        #expect(out["raised"]?["message"]?.stringValue?.hasPrefix("build 1 of image fails ended FAILURE") == true, "\(r.out)")
        #expect(out["waitStatus"] == "SUCCESS")
        #expect(out["async"]?["status"] == "FAILURE" && out["async"]?["raised"] == "FAILURE" && out["async"]?["notFound"] == "NotFound", "\(r.out)")

        // Leaving `with Client(...)` with wait=False detaches: the (300 s) build still runs.
        #expect(out["detached"]?["statusAfter"] == "BUILDING", "\(r.out)")
        #expect(out["detached"]?["cancelled"] == "FAILURE")
        #expect(out["async"]?["statusAfter"]?.stringValue.map { ["QUEUED", "BUILDING"].contains($0) } == true, "\(r.out)")
        // A session whose slipway was killed: ConnectionClosed, and close() still returns.
        #expect(out["gone"]?["call"]?["class"] == "ConnectionClosed" && out["gone"]?["close"] == -9, "\(r.out)")

        // At most 3 notifications wait; the oldest went, with one warning; callbacks took events.
        let notifications = try #require(out["notifications"])
        #expect(notifications["queued"] == 3, "\(r.out)")
        #expect((notifications["dropped"]?.doubleValue ?? 0) > 0, "\(r.out)")
        #expect(notifications["eventsQueued"] == 0 && (notifications["eventsToCallback"]?.doubleValue ?? 0) > 0, "\(r.out)")
        #expect(out["warnings"]?.arrayValue?.count == 1, "\(r.out)")
        #expect(out["warnings"]?.arrayValue?.first?["message"]?.stringValue?.contains("on_notification()") == true)
    }

    /// mypy (from PyPI, in the venv) finds the protocol's types through the installed package
    /// (py.typed): a correct program checks clean under --strict, and each misuse is reported.
    @Test func theProtocolTypesReachMypy() async throws {
        let work = TempDir("pyvenv")
        let bin = try await Self.venv(in: work, with: ["mypy"])
        let usage = Repo.fixtures.appendingPathComponent("python_client_typed_usage.py").path
        let misuse = Repo.fixtures.appendingPathComponent("python_client_typed_misuse.py").path
        let mypy = "cd '\(work.path)' && '\(bin)/mypy' --strict --no-error-summary --cache-dir '\(work.path)/mypy-cache'"
        let clean = try await sh("\(mypy) '\(usage)'")
        #expect(clean.status == 0, "\(clean.out)\(clean.err)")
        let caught = try await sh("\(mypy) '\(misuse)'")
        #expect(caught.status == 1, "\(caught.out)\(caught.err)")
        let misuseLines = try String(contentsOfFile: misuse, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .enumerated().filter { $0.element.contains("# MISUSE") }.map { $0.offset + 1 }
        let reported = Set(caught.out.split(separator: "\n").compactMap { line -> Int? in
            let parts = line.split(separator: ":")
            return parts.count > 2 && line.contains(": error:") ? Int(parts[1]) : nil
        })
        #expect(misuseLines.count == 4)
        #expect(reported == Set(misuseLines), "\(caught.out)")
    }
}
