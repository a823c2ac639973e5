import Foundation
import Testing
import SniffTestSupport

@Suite("Component logs")
struct ComponentLogTests {
    /// A database that refuses connections, with a password that must never be written.
    static let unreachable = "postgres://sniff:s3cretpw@127.0.0.1:1/none"

    @Test("--log-file gets capture, decode and store records with their labels and no password; stderr lines stay")
    func logFile() throws {
        let dir = try TestPaths.tempDir().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = TestPaths.fixtures.appendingPathComponent("lo-udp-tcp.pcap").path
        let r = try CLI.run([
            "-r", file, "-q", "--db", Self.unreachable, "--store-timeout", "0", "--journal", dir + "/j",
            "--log-file", dir + "/sniff.log", "--log-level", "info"
        ])
        #expect(r.status == 75, "rows left in the journal: \(r.stderr)")
        let log = try String(contentsOfFile: dir + "/sniff.log", encoding: .utf8)
        let lines = log.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.contains(" info sniff.capture: read 15 packets") }, "\(log)")
        #expect(lines.contains { $0.contains(" info sniff.decode: 15 packets decoded") })
        #expect(lines.contains { $0.contains(" info sniff.store: storing in postgres://sniff@127.0.0.1:1/none") })
        #expect(lines.contains { $0.contains(" warning sniff.store: ") && $0.contains("journal") })
        #expect(!log.contains("s3cretpw") && !r.stderr.contains("s3cretpw"))
        // The user's lines are unchanged, and not repeated in log form.
        #expect(r.stderr.contains("sniff: storing in postgres://sniff@127.0.0.1:1/none"))
        #expect(r.stderr.contains("sniff: store: 15 packets captured, 0 stored, 15 pending"))
        #expect(!r.stderr.contains("sniff.store"))
    }

    @Test("Logs on stderr do not repeat the lines the user already reads there")
    func stderrOnce() throws {
        let dir = try TestPaths.tempDir().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = TestPaths.fixtures.appendingPathComponent("lo-udp-tcp.pcap").path
        let r = try CLI.run([
            "-r", file, "-q", "--db", "sqlite:\(dir)/x.db", "--journal", dir + "/j", "--log-level", "info"
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.filter { $0.contains("storing in sqlite:") }.count == 1, "\(r.stderr)")
        #expect(lines.contains { $0.contains(" info sniff.decode: 15 packets decoded") }, "log-only records do appear")
        // The default level is warning: a quiet run logs nothing of its own.
        let quiet = try CLI.run(["-r", file, "-q", "--db", "sqlite:\(dir)/y.db", "--journal", dir + "/j"])
        #expect(!quiet.stderr.contains("sniff.decode") && !quiet.stderr.contains("sniff.capture"))
    }
}
