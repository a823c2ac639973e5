import Foundation
import Testing
import SniffTestSupport

/// A file read again into the same database: stored again as a new capture, and said.
@Suite("Reading a stored file again")
struct StoreAgainCLITests {
    /// The capture id from "storing in ... capture ID)".
    static func captureID(_ stderr: String) -> String? {
        guard let r = stderr.range(of: #"capture (\d+)\)"#, options: .regularExpression) else { return nil }
        return String(stderr[r].dropFirst("capture ".count).dropLast())
    }

    @Test func secondRunSaysTheFileIsStored() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = "sqlite:" + dir.appendingPathComponent("again.db").path
        let first = try CLI.run(["-r", TestPaths.sample.path, "-q", "--db", db])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(!first.stderr.contains("already stored"), "\(first.stderr)")
        let id1 = try #require(Self.captureID(first.stderr), "\(first.stderr)")

        // The same file named another way.
        let again = TestPaths.packageRoot.appendingPathComponent("samples/../samples/sample.pcapng").path
        let second = try CLI.run(["-r", again, "-q", "--db", db])
        #expect(second.status == 0, "\(second.stderr)")
        let id2 = try #require(Self.captureID(second.stderr), "\(second.stderr)")
        #expect(id1 != id2)
        #expect(second.stderr.contains("sniff: store: \(again) is already stored as capture \(id1) (391 packets); "
                                       + "stored it again as capture \(id2); the dashboard and the API (capture=) show each capture apart"),
                "\(second.stderr)")

        // Another file is not taken for it.
        let other = try CLI.run(["-r", TestPaths.fixtures.appendingPathComponent("dns.pcap").path, "-q", "--db", db])
        #expect(other.status == 0 && !other.stderr.contains("already stored"), "\(other.stderr)")
    }
}
