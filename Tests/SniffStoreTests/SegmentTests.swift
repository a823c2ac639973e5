import Foundation
import Testing
import SniffCore
import SniffDecode
@testable import SniffStore

/// SQLite's packets without secondary indexes: key runs per segment, the open tail
/// scanned, segments whose times go backwards, retention by segment, and the
/// conversion of a version-6 file.
@Suite("SQLite segments and key runs")
struct SegmentTests {
    @Test("a run finds exactly the rows of each key and key range")
    func runLookup() {
        var entries: [KeyRun.Entry] = []
        var expected: [UInt16: [UInt32]] = [:]
        for row in UInt32(0)..<5000 {
            let port = UInt16((row &* 7919) % 997)
            entries.append(KeyRun.Entry(integer: UInt64(port), width: 2, row: row))
            expected[port, default: []].append(row)
        }
        entries.sort(by: KeyRun.Entry.before)
        let run = KeyRun.encode(entries)
        #expect(run.count < 5000 * 4, "a run of 5000 rows costs \(run.count) bytes")
        run.withUnsafeBytes { b in
            for port: UInt16 in [0, 1, 500, 996, 997, 60000] {
                var rows: [UInt32] = []
                let k = [UInt8(port >> 8), UInt8(port & 0xFF)]
                KeyRun.rows(in: b, from: k, through: k, into: &rows)
                #expect(rows == (expected[port] ?? []), "port \(port)")
            }
            var rows: [UInt32] = []
            KeyRun.rows(in: b, from: [0, 100], through: [0, 199], into: &rows)
            let want = (100...199).flatMap { expected[UInt16($0)] ?? [] }
            #expect(rows.sorted() == want.sorted())
            // Damaged runs give no rows or some, never a crash.
            for cut in [0, 1, 2, 7, run.count / 2] {
                var some: [UInt32] = []
                KeyRun.rows(
                    in: UnsafeRawBufferPointer(rebasing: b[0..<cut]), from: [0, 0], through: [255, 255], into: &some)
                #expect(some.count <= 5000)
            }
        }
    }

    /// 1500 rows in three batches; segments of 128 rows, so most rows are in runs and
    /// the last ones in the tail. The second batch goes back in time (as a second
    /// capture of older traffic does), and inside it times jitter, so some segments are
    /// not in time order.
    static func rows(start: Int64) -> [[PacketRow]] {
        let a = IPAddress("10.9.9.9")!, b = IPAddress("10.8.8.8")!, v6 = IPAddress("2001:db8::9")!
        var batches: [[PacketRow]] = []
        for batch in 0..<3 {
            var rows = syntheticRows(count: 500, start: start, firstNumber: UInt64(batch * 500 + 1))
            for i in rows.indices {
                let k = batch * 500 + i
                let base = batch == 1 ? start - 1_000_000_000 : start + Int64(batch) * 1_000_000_000
                rows[i].ts = base + Int64(i / 3) * 1_000_000 + (batch == 1 && i % 7 == 0 ? 5_000_000 : 0)
                switch k % 6 {
                case 0: rows[i].sport = 53; rows[i].dport = 40000; rows[i].src = a; rows[i].dst = b; rows[i].app = .dns
                case 1:
                    rows[i].sport = 40000; rows[i].dport = 53; rows[i].src = b; rows[i].dst = a;
                    rows[i].transport = .udp
                case 2: rows[i].sport = 53; rows[i].dport = 53; rows[i].src = a; rows[i].dst = a
                case 3: rows[i].src = v6; rows[i].dst = IPAddress("2001:db8::1")!; rows[i].ipVersion = 6
                case 4: rows[i].present.remove(.ports); rows[i].sport = 0; rows[i].dport = 0; rows[i].app = .unknown
                default: rows[i].present.remove(.ip); rows[i].present.remove(.ports); rows[i].transport = .none
                    rows[i].app = .unknown
                }
            }
            batches.append(rows)
        }
        return batches
    }

    static func matches(_ f: TrafficFilter, _ r: PacketRow) -> Bool {
        func net(_ n: IPNetwork?, _ a: IPAddress) -> Bool { n.map { r.has(.ip) && $0.contains(a) } ?? true }
        if let n = f.ip, !(r.has(.ip) && (n.contains(r.src) || n.contains(r.dst))) { return false }
        if !net(f.src, r.src) || !net(f.dst, r.dst) { return false }
        if let p = f.port, !(r.has(.ports) && (r.sport == p || r.dport == p)) { return false }
        if let p = f.sport, !(r.has(.ports) && r.sport == p) { return false }
        if let p = f.dport, !(r.has(.ports) && r.dport == p) { return false }
        if let t = f.transport, r.transport != t { return false }
        if let a = f.app, r.app != a { return false }
        if let v = f.from, r.ts < v { return false }
        if let v = f.to, r.ts >= v { return false }
        return true
    }

    /// 128-row segments: runs, segments out of time order, an ordered tail; 100 000:
    /// everything in a tail whose times go back.
    @Test("every filter pages through the same rows as a filter in Swift, newest first, runs and tail alike",
          arguments: [Int64(128), 100_000])
    func filtersAcrossSegments(segmentRows: Int64) async throws {
        try await TestDatabase.withSQLiteFile("segments") { url, path in
            let store = SQLiteStore(path: path, segmentRows: segmentRows)
            defer { Task { await store.close() } }
            try await store.migrate()
            let start = Timestamp.now().totalNanoseconds
            let batches = Self.rows(start: start)
            for (k, rows) in batches.enumerated() {
                try await store.write(
                    StoreBatch(
                        id: BatchID(writer: 1, seq: Int64(k + 1)), sensor: "t", captureID: 1, content: .packets(rows)))
            }
            let all = batches.flatMap { $0 }
            let tail = try TestDatabase.sqlite(url, "SELECT ordered FROM sniff_segments WHERE tbl = 'packets_tail'")
            if segmentRows == 128 {
                #expect(
                    try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_segments WHERE tbl = 'packets'") == "11")
                #expect(
                    try TestDatabase.sqlite(
                        url, "SELECT count(*) FROM sniff_segments WHERE tbl = 'packets' AND ordered = 0") != "0",
                    "some segments go back in time")
                #expect(tail == "1", "the last 92 rows are in time order")
            } else {
                #expect(tail == "0", "the tail goes back in time")
            }
            func f(_ body: (inout TrafficFilter) -> Void) -> TrafficFilter {
                var x = TrafficFilter(); body(&x); return x
            }
            let a = IPAddress("10.9.9.9")!
            let cases: [(String, TrafficFilter)] = [
                ("none", TrafficFilter()),
                ("ip", f { $0.ip = IPNetwork(address: a, prefixLength: 32) }),
                ("src", f { $0.src = IPNetwork(address: a, prefixLength: 32) }),
                ("dst v6", f { $0.dst = IPNetwork("2001:db8::1/128") }),
                ("net", f { $0.ip = IPNetwork("10.8.0.0/16") }),
                ("net v6", f { $0.ip = IPNetwork("2001:db8::/32") }),
                ("net all v4", f { $0.src = IPNetwork("0.0.0.0/0") }),
                ("port", f { $0.port = 53 }),
                ("sport", f { $0.sport = 40000 }),
                ("dport", f { $0.dport = 53 }),
                ("transport", f { $0.transport = .udp }),
                ("transport none", f { $0.transport = TransportKind.none }),
                ("app", f { $0.app = .dns }),
                ("app unknown", f { $0.app = .unknown }),
                ("time", f { $0.from = start - 900_000_000; $0.to = start + 1_050_000_000 }),
                ("port+ip", f { $0.port = 53; $0.ip = IPNetwork(address: a, prefixLength: 32) }),
                ("dport+time", f { $0.dport = 53; $0.from = start; $0.to = start + 2_100_000_000 }),
                ("nothing", f { $0.port = 9 }),
            ]
            for (name, filter) in cases {
                let want = all.enumerated().filter { Self.matches(filter, $0.element) }
                    .sorted { ($0.element.ts, $0.offset) > ($1.element.ts, $1.offset) }.map(\.element.n)
                for limit in [7, 1000] {
                    var q = PacketQuery(filter: filter, limit: limit)
                    var got: [UInt64] = []
                    var pages = 0
                    while true {
                        let page = try await store.packets(q)
                        got += page.rows.map(\.row.n)
                        pages += 1
                        guard let c = page.nextCursor, pages < 1000 else { break }
                        q.cursor = c
                    }
                    #expect(got == want, "\(name), pages of \(limit): \(got.count) rows, \(want.count) wanted")
                }
            }
            // Rows written now are found at once, by a run-backed filter too.
            var late = syntheticRows(count: 3, start: start + 10_000_000_000, firstNumber: 9001)
            for i in late.indices { late[i].sport = 7777 }
            try await store.write(
                StoreBatch(id: BatchID(writer: 1, seq: 9), sensor: "t", captureID: 1, content: .packets(late)))
            var q = PacketQuery(); q.filter.sport = 7777
            #expect(try await store.packets(q).rows.map(\.row.n) == [9003, 9002, 9001])
        }
    }

    @Test("retention drops old segments by id range and old rows of the others")
    func retention() async throws {
        try await TestDatabase.withSQLiteFile("segments_retention") { url, path in
            let store = SQLiteStore(path: path, segmentRows: 100)
            defer { Task { await store.close() } }
            try await store.migrate()
            let day: Int64 = 86_400_000_000_000
            let now = Timestamp.now().totalNanoseconds
            try await store.write(StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "r", captureID: 1,
                                             content: .packets(syntheticRows(count: 350, start: now - 10 * day))))
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 1, seq: 2), sensor: "r", captureID: 1,
                    content: .packets(syntheticRows(count: 120, start: now - day, firstNumber: 1000))))
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_segments WHERE tbl = 'packets'") == "4")
            let report = try await store.maintain(now: now, retentionCutoff: now - 7 * day)
            #expect(report.rowsDeleted >= 350)
            #expect(try await TestDatabase.count(url, "packets") == 120)
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_segments WHERE tbl = 'packets'") == "1")
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_key_runs") == "6")
            // New rows get ids after every segment, even the deleted ones.
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 1, seq: 3), sensor: "r", captureID: 1,
                    content: .packets(syntheticRows(count: 100, start: now, firstNumber: 5000))))
            #expect(try TestDatabase.sqlite(url, "SELECT min(id) > 400 FROM packets_v WHERE n >= 5000") == "1")
            var q = PacketQuery(); q.filter.dport = 443; q.limit = 1000
            #expect(try await store.packets(q).rows.count == 220)
        }
    }

    @Test("a version-6 file (Tests/Fixtures/store/sniff-v6.db) converts to version 7 with every field kept")
    func migrateVersion6() async throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/store/sniff-v6.db")
        let dir = StoreTestEnv.tempDirectory("v6")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/sniff.db"
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        // The old rows, read before the conversion, in id order; IPv6 addresses are
        // compared through the API below (the view writes them uncompressed).
        let columns = [
            "n", "ts", "len", "caplen", "iface", "link", "eth_src", "eth_dst", "vlan", "ip",
            "CASE ip WHEN 4 THEN src END", "CASE ip WHEN 4 THEN dst END", "proto", "transport", "sport", "dport",
            "seq", "ack", "tcp_flags", "tcp_window", "payload_len", "icmp_type", "icmp_code", "dns_query", "app",
            "flow_uid", "app_payload", "info", "hex(raw)", "capture_id", "sensor"
        ]
        func dump(_ cols: [String], from table: String) throws -> String {
            let line = cols.map { "quote(\($0))" }.joined(separator: " || '|' || ")
            return try TestDatabase.sqlite(
                "sqlite:" + path,
                "SELECT group_concat(line, char(10)) FROM (SELECT \(line) AS line FROM \(table) ORDER BY id)")
        }
        let before = try dump(columns, from: "packets")
        #expect(before.split(separator: "\n").count == 141)
        let v6Before = try dump(["n", "capture_id", "src", "dst"], from: "packets WHERE ip = 6")
        let store = SQLiteStore(path: path, segmentRows: 50)
        defer { Task { await store.close() } }
        let applied = try await store.migrate()
        // 7 converts the packets; 8 adds the flows' handshake columns; 9 converts the flows;
        // 11 packs the cold fields; the later ones follow.
        #expect(applied.map(\.version) == Schema.migrations.map(\.version).filter { $0 >= 7 })
        #expect(try await store.info().schemaVersion == Schema.latestVersion)
        // The same text through the readable view.
        var view = columns
        view[view.firstIndex(of: "hex(raw)")!] = "(SELECT hex(raw) FROM packets q WHERE q.id = packets_v.id)"
        view[view.firstIndex(of: "app_payload")!] = "CASE app_source WHEN 'payload' THEN 1 WHEN 'port' THEN 0 END"
        view[view.firstIndex(of: "app")!] = "NULLIF(app, 'unknown')"
        let after = try dump(view, from: "packets_v")
        #expect(after == before)
        // And through the API: every row, newest first.
        let page = try await store.packets(PacketQuery(limit: 1000))
        #expect(page.rows.count == 141)
        #expect(
            try TestDatabase.sqlite("sqlite:" + path, "SELECT count(*) FROM sniff_segments WHERE tbl = 'packets'")
                == "2")
        #expect(
            try TestDatabase.sqlite(
                "sqlite:" + path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'packets'")
                == "0")
        var q = PacketQuery(); q.filter.app = .http; q.limit = 1000
        let http = try await store.packets(q).rows
        #expect(!http.isEmpty && http.allSatisfy { $0.row.app == .http })
        #expect(try await store.frameSummary(TrafficFilter()).withoutBytes == 0)
        // Flows stored before version 8 read back without a handshake.
        let flows = try await store.flows(FlowQuery(limit: 1000)).rows
        #expect(!flows.isEmpty && flows.allSatisfy { $0.row.ja3 == nil && $0.row.tlsCipher == nil })
        let v6After = page.rows.filter { $0.row.ipVersion == 6 }
            .sorted { ($0.captureID, $0.row.n) < ($1.captureID, $1.row.n) }
            .map { "\($0.row.n)|\($0.captureID)|'\($0.row.src)'|'\($0.row.dst)'" }.joined(separator: "\n")
        let v6Sorted = v6Before.split(separator: "\n").sorted { a, b in
            let x = a.split(separator: "|"), y = b.split(separator: "|")
            return (Int(x[1])!, Int(x[0])!) < (Int(y[1])!, Int(y[0])!)
        }.joined(separator: "\n")
        #expect(!v6After.isEmpty && v6After == v6Sorted)
    }
}
