import Foundation
import Testing
import SniffCore
import SniffAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// A simulated day of churning flows through the flow table (FlowSoak.swift, a symlink
/// to Soak/FlowSoak.swift), scaled down to 400 new flows per simulated minute so that
/// it fits the debug suite (about 20 s); scripts/soak.sh runs the full 50 000 per
/// minute in release.
///
/// The day runs in a child process (this test binary again, running only `soakChild`),
/// because other tests running in parallel in this process would move its RSS.
struct SoakTests {
    static let isChild = ProcessInfo.processInfo.environment["SNIFF_SOAK_CHILD"] != nil
    static let flowsPerMinute = 400

    @Test(.enabled(if: !SoakTests.isChild))
    func dayOfChurningFlowsKeepsMemoryFlat() throws {
        let samples = try Self.runChild()
        print(samples.map(\.line).joined(separator: "\n"))
        try #require(samples.count == 24, "the child printed \(samples.count) hours")
        let base = samples[1], last = samples[23]
        #expect(Double(last.rssKiB) <= 1.2 * Double(base.rssKiB),
                "RSS grew from \(base.rssKiB) KiB at hour 2 to \(last.rssKiB) KiB at hour 24")
        // The population is steady after the first hour: the 5% of flows that stay
        // established leave only at the one-hour idle timeout.
        let open = samples[1...].map(\.openFlows)
        #expect(open.max()! <= open.min()! * 12 / 10 + 100, "open flows per hour: \(open)")
        #expect(last.flowsEnded >= UInt64(Self.flowsPerMinute * 60 * 22), "only \(last.flowsEnded) flows ended")
    }

    /// Runs in the child only: prints one line per simulated hour.
    @Test(.enabled(if: SoakTests.isChild))
    func soakChild() {
        FlowSoak.run(hours: 24, flowsPerMinute: Self.flowsPerMinute) { s in
            print(s.line)
            fflush(nil)
        }
    }

    static func runChild() throws -> [FlowSoak.Sample] {
        var env = ProcessInfo.processInfo.environment
        env["SNIFF_SOAK_CHILD"] = "1"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        p.arguments = ["--testing-library", "swift-testing", "--filter", "soakChild"]
        p.environment = env
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sniff-soak-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(600)
        while p.isRunning && Date() < deadline { usleep(50_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line -> FlowSoak.Sample? in
            let f = line.split(separator: " ")
            guard f.count == 11, f[0] == "soak", let h = Int(f[2]), let rss = Int(f[4]), let open = Int(f[6]),
                  let ended = UInt64(f[8]), let packets = UInt64(f[10]) else { return nil }
            return FlowSoak.Sample(hour: h, rssKiB: rss, openFlows: open, flowsEnded: ended, packets: packets)
        }
    }
}
