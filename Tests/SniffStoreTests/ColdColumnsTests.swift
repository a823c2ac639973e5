import Foundation
import Testing
import SniffCore
import SniffDecode
@testable import SniffStore
import SniffTestSupport

/// Schema 11 (SQLite): the cold fields of packets and flows in one BLOB per row. The
/// views must show every field as version 10's columns did, with SQLite's built-in
/// functions only (checked in the sqlite3 shell, where Sniff's functions do not exist).
@Suite(.serialized) struct ColdColumnsTests {
    static let shell = "/usr/bin/sqlite3"
    static var hasShell: Bool { FileManager.default.isExecutableFile(atPath: shell) }

    /// The output of the sqlite3 shell: one line per row, `|` between values, NULL as "NULL".
    static func shell(_ path: String, _ sql: String) throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: shell)
        p.arguments = ["-batch", "-nullvalue", "NULL", path, sql]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
    }

    static func v<T>(_ x: T?) -> String { x.map { "\($0)" } ?? "NULL" }

    static func mac(_ present: Bool, _ m: MACAddress) -> String {
        guard present else { return "NULL" }
        return (0..<6).map { String(format: "%02x", Int((m.value >> UInt64(40 - 8 * $0)) & 0xFF)) }
            .joined(separator: ":")
    }

    @Test(
        "packets_v shows every cold packet field in the sqlite3 shell",
        .enabled(if: hasShell, "needs the sqlite3 shell"))
    func packetView() async throws {
        try await TestDatabase.withSQLiteFile("cold_packets") { url, path in
            let store = SQLiteStore(path: path, segmentRows: 16)
            defer { Task { await store.close() } }
            try await store.migrate()
            let rows = WriterPathTests.packets(count: 60, start: 1_700_000_000_000_000_000)
            try await store.write(
                StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "s", captureID: 1, content: .packets(rows)))
            let got = try Self.shell(path, """
                SELECT n, iface, eth_src, eth_dst, vlan, ip, proto, seq, ack, tcp_flags, tcp_window, payload_len,
                    icmp_type, icmp_code, app_source, info, sport, dport, dns_query, flow_uid, app FROM packets_v ORDER BY id
                """)
            let want = rows.map { r -> String in
                let ip = r.has(.ip), tcp = r.has(.tcp), icmp = r.has(.icmp), ports = r.has(.ports)
                return [
                    "\(r.n)", "\(r.iface)", Self.mac(r.has(.ethSrc), r.ethSrc), Self.mac(r.has(.ethDst), r.ethDst),
                    r.has(.vlan) ? "\(r.vlan)" : "NULL", ip ? "\(r.ipVersion)" : "NULL", ip ? "\(r.proto)" : "NULL",
                    tcp ? "\(r.seq)" : "NULL", tcp ? "\(r.ack)" : "NULL", tcp ? "\(r.tcpFlags)" : "NULL",
                    tcp ? "\(r.window)" : "NULL", r.has(.payloadLen) ? "\(r.payloadLen)" : "NULL",
                    icmp ? "\(r.icmpType)" : "NULL", icmp ? "\(r.icmpCode)" : "NULL",
                    r.app == .unknown ? "NULL" : "\(r.appSource.name)", Self.v(r.has(.info) ? r.info : nil),
                    ports ? "\(r.sport)" : "NULL", ports ? "\(r.dport)" : "NULL",
                    Self.v(r.has(.dnsQuery) ? r.dnsQuery : nil),
                    Self.v(r.has(.flowUID) ? r.flowUID : nil), r.app.name,
                ].joined(separator: "|")
            }
            #expect(got.count == want.count)
            for (g, w) in zip(got, want) { #expect(g == w) }
        }
    }

    @Test("flows_v shows every cold flow field in the sqlite3 shell", .enabled(if: hasShell, "needs the sqlite3 shell"))
    func flowView() async throws {
        try await TestDatabase.withSQLiteFile("cold_flows") { url, path in
            let store = SQLiteStore(path: path, flowSegmentRows: 16)
            defer { Task { await store.close() } }
            try await store.migrate()
            // Flow 9's URI (300 000 bytes) makes the texts' ends 4 bytes wide.
            let rows = (0..<40).map { WriterPathTests.flow($0, start: 1_700_000_000_000_000_000) }
            try await store.write(
                StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "s", captureID: 1, content: .flows(rows)))
            let cold = [
                "last_ts", "duration_ns", "orig_bytes", "resp_bytes", "local_orig", "local_resp", "missed_bytes",
                "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "vlan"
            ] + FlowCold.texts
            let got = try Self.shell(path, "SELECT uid, \(cold.joined(separator: ", ")) FROM flows_v ORDER BY id")
            let bool = { (b: Bool?) in b.map { $0 ? "1" : "0" } ?? "NULL" }
            let want = rows.map { f -> String in
                var values = [
                    f.uid, "\(f.lastTs)", Self.v(f.durationNanos), Self.v(f.origBytes), Self.v(f.respBytes),
                    bool(f.localOrig), bool(f.localResp), "\(f.missedBytes)", "\(f.origPkts)", "\(f.origIPBytes)",
                    "\(f.respPkts)", "\(f.respIPBytes)", Self.v(f.vlan)
                ]
                FlowCold.forEachText(f) { values.append(Self.v($0)) }
                return values.joined(separator: "|")
            }
            #expect(got.count == want.count)
            for (g, w) in zip(got, want) { #expect(g == w) }
        }
    }

    @Test("a version-10 file written by the previous Sniff (Tests/Fixtures/store/sniff-v10.db) converts to 11, every field kept")
    func migrateVersion10() async throws {
        let fixture = TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures/store/sniff-v10.db")
        let dir = StoreTestEnv.tempDirectory("v10")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/sniff.db"
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        let queries = ["SELECT * FROM packets_v ORDER BY id", "SELECT * FROM flows_v ORDER BY id",
                       "SELECT id, hex(raw) FROM packets WHERE raw IS NOT NULL ORDER BY id",
                       "SELECT tbl, first_id, kind, hex(data) FROM sniff_key_runs ORDER BY 1, 2, 3"]
        let readAll = { () throws -> [[[Cell]]] in
            let c = try SQLiteConnection(path: path)
            return try queries.map { q in try c.query(q, []) { $0.cells() } }
        }
        let before = try readAll()
        let store = SQLiteStore(path: path)
        defer { Task { await store.close() } }
        #expect(
            try await store.migrate().map(\.version)
                == Schema.migrations.map(\.version).filter { $0 >= SQLiteSchema.coldColumnsVersion })
        #expect(try await store.info().schemaVersion == Schema.latestVersion)
        let after = try readAll()
        #expect(before[0].count == 282 && before[1].count == 42 && before[2].count == 73)
        // Every value kept; the views gain the columns of later versions at their end (the
        // tunnel columns of flows_v), empty for rows written before them.
        for (b, a) in zip(before, after) {
            #expect(a.count == b.count)
            for (rowBefore, rowAfter) in zip(b, a) {
                #expect(Array(rowAfter.prefix(rowBefore.count)) == rowBefore)
                #expect(rowAfter.dropFirst(rowBefore.count).allSatisfy { $0 == .null })
            }
        }
        #expect(
            after[1].first.map { $0.count - before[1][0].count } == 3,
            "flows_v gained tunnel, tunnel_id, tunnel_parents")
        // The API reads them: every packet and flow, and a filter through the key runs.
        let page = try await store.packets(PacketQuery(limit: 1000))
        #expect(page.rows.count == 282)
        #expect(try await store.flows(FlowQuery(limit: 1000)).rows.count == 42)
        var dns = TrafficFilter()
        dns.port = 53
        #expect(
            try await store.packets(PacketQuery(filter: dns, limit: 1000)).rows.allSatisfy {
                $0.row.sport == 53 || $0.row.dport == 53
            })
        #expect(try await store.migrate().isEmpty)
    }
}
