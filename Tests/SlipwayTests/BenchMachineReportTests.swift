import Foundation
import Testing
import TestSupport

/// Figures from two machines compare only with the machine beside them: every script under
/// `bench/` prints, before its figures, the CPU model, the core count, and the SHA-256 and
/// page-cache write speeds of the machine it runs on (`common.print_machine`).
@Suite struct BenchMachineReportTests {
    static let bench = Repo.root.appendingPathComponent("bench").path

    @Test func theMachineLineNamesTheCPUTheCoresAndTheSpeeds() async throws {
        let r = try await sh("cd '\(Self.bench)' && python3 -c 'import common; common.print_machine()'")
        #expect(r.status == 0, "\(r.err)")
        let line = r.out.trimmingCharacters(in: .newlines)
        #expect(line.hasPrefix("machine: ") && line.contains("\(ProcessInfo.processInfo.activeProcessorCount) cores"), "\(line)")
        let speeds = try NSRegularExpression(pattern: #"SHA-256 ([0-9.]+) GB/s; page-cache write ([0-9.]+) GB/s$"#)
        let match = try #require(speeds.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)), "\(line)")
        for group in 1...2 {
            let value = Double(line[Range(match.range(at: group), in: line)!]) ?? 0
            #expect(value > 0, "\(line)")
        }
    }

    @Test func everyBenchScriptPrintsTheMachineFirst() throws {
        let scripts = try FileManager.default.contentsOfDirectory(atPath: Self.bench).filter { $0.hasSuffix(".py") && $0 != "common.py" }
        #expect(scripts.count >= 10)
        for name in scripts {
            let text = try String(contentsOfFile: Self.bench + "/" + name, encoding: .utf8)
            // Called at the top level, before any figure is printed.
            let call = text.range(of: "\nprint_machine()\n")
            let firstReport = text.range(of: "report(") ?? text.range(of: "print(")
            #expect(call != nil && (firstReport.map { call!.lowerBound < $0.lowerBound } ?? true), "\(name) does not print the machine before its figures")
        }
    }
}
