import Foundation
import Testing
import SniffTestSupport

/// `--store-local-shard` writes a ClickHouse cluster's shard tables: refused where
/// there are none.
@Suite("--store-local-shard")
struct LocalShardCLITests {
    static let file = TestPaths.fixtures.appendingPathComponent("lo-udp-tcp.pcap").path

    @Test("without a ClickHouse --db: refused with exit 64", arguments: [0, 1, 2])
    func notClickHouse(_ which: Int) throws {
        let args = [
            ["-r", Self.file, "--db", "sqlite:/nonexistent/x.db", "--store-local-shard"],
            ["-r", Self.file, "--store-local-shard"],
            ["db", "replay", "--db", "postgres://u@127.0.0.1:1/x", "--store-local-shard", "j.sniffj"],
        ][which]
        let r = try CLI.run(args)
        #expect(r.status == 64, "\(args): \(r.stderr)")
        #expect(r.stderr.contains("--store-local-shard is for a ClickHouse cluster"), "\(r.stderr)")
    }

    @Test(
        "into a ClickHouse server without shard tables: the message says the fix, the rows stay in the journal",
        .enabled(if: ProcessInfo.processInfo.environment["SNIFF_TEST_CH_URL"] != nil, "set SNIFF_TEST_CH_URL"))
    func noShardTables() throws {
        let dir = try TestPaths.tempDir().path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let url = try #require(ProcessInfo.processInfo.environment["SNIFF_TEST_CH_URL"])
        let db = url[..<url.lastIndex(of: "/")!] + "/sniff_nolocal_\(UInt32.random(in: 0...UInt32.max))"
        let r = try CLI.run([
            "-r", Self.file, "-q", "--db", String(db), "--store-local-shard", "--store-timeout", "2",
            "--journal", dir + "/j",
        ])
        #expect(r.status == 75, "rows left in the journal: \(r.stderr)")
        #expect(r.stderr.contains("has no shard tables (packets_local)"), "\(r.stderr)")
        #expect(r.stderr.contains("sniff db migrate --cluster NAME"), "\(r.stderr)")
        #expect(r.stderr.contains("--store-local-shard "), "the replay hint keeps the option: \(r.stderr)")
    }
}
