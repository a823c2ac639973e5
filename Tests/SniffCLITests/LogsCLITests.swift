import Foundation
import Testing
import SniffTestSupport

/// `--db` stores the protocol logs: the transaction tracker runs without --logs, and
/// with --logs both the files and the database get every record.
@Suite("Protocol logs stored by sniff -r --db")
struct LogsCLITests {
    /// Rows per table from `sniff db info` ("table          dns        7 rows").
    static func tableRows(_ db: String) throws -> [String: Int] {
        let info = try CLI.run(["db", "info", "--db", db])
        #expect(info.status == 0, "\(info.stderr)")
        var out: [String: Int] = [:]
        for line in info.stdout.split(separator: "\n") where line.hasPrefix("table ") {
            let words = line.split(separator: " ")
            if words.count >= 3, let n = Int(words[2]) { out[String(words[1])] = n }
        }
        return out
    }

    /// Data lines of a Zeek TSV log (not the # header and footer).
    static func records(_ path: URL) throws -> Int {
        try String(contentsOf: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }.count
    }

    @Test func storedWithAndWithoutLogFiles() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let logs = dir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let both = "sqlite:" + dir.appendingPathComponent("both.db").path
        let only = "sqlite:" + dir.appendingPathComponent("only.db").path
        for file in ["logs.pcap", "tls.pcap"] {
            let path = TestPaths.fixtures.appendingPathComponent(file).path
            let r = try CLI.run(["-r", path, "-q", "--db", both, "--logs", logs.appendingPathComponent(file).path])
            #expect(r.status == 0, "\(r.stderr)")
            let s = try CLI.run(["-r", path, "-q", "--db", only])
            #expect(s.status == 0, "\(s.stderr)")
        }
        func count(_ name: String) throws -> Int {
            try ["logs.pcap", "tls.pcap"].reduce(0) {
                $0 + (try Self.records(logs.appendingPathComponent("\($1)/\(name).log")))
            }
        }
        let expected = ["dns": try count("dns"), "http": try count("http"), "tls": try count("ssl")]
        #expect(
            expected["dns", default: 0] > 5 && expected["http", default: 0] > 2 && expected["tls", default: 0] > 3,
            "\(expected)")
        for db in [both, only] {
            let rows = try Self.tableRows(db)
            for (table, n) in expected { #expect(rows[table] == n, "\(db) \(table): \(rows)") }
        }
    }
}
