import Foundation
import Testing
import SniffCore
import SniffDecode
@testable import SniffStore

/// SQLite's flows without secondary indexes (schema 9): key runs per segment for the
/// addresses, ports and the three sort keys, the open tail scanned, retention by
/// segment, the readable view, and the conversion of a version-8 file.
@Suite("SQLite flow segments")
struct FlowSegmentTests {
    /// 900 flows in three batches: the second goes back in time, sizes repeat (ties in
    /// the byte and packet sorts), IPv4 and IPv6, a few busy addresses and ports.
    static func flows(start: Int64) -> [[FlowRow]] {
        let a = IPAddress("10.9.9.9")!, b = IPAddress("10.8.8.8")!, v6 = IPAddress("2001:db8::9")!
        var batches: [[FlowRow]] = []
        for batch in 0..<3 {
            var rows: [FlowRow] = []
            for i in 0..<300 {
                let k = batch * 300 + i
                var f = FlowRow()
                let base = batch == 1 ? start - 1_000_000_000 : start + Int64(batch) * 1_000_000_000
                f.ts = base + Int64((i * 37) % 300) * 1_000_000
                f.lastTs = f.ts + 5_000_000
                f.uid = "C\(k)"
                f.origH = k % 5 == 0 ? a : IPAddress(v4: 0x0A00_0000 | UInt32(k))
                f.respH = k % 7 == 0 ? v6 : (k % 3 == 0 ? a : b)
                if f.respH == v6 { f.origH = IPAddress("2001:db8::\(k % 50 + 1)")! }
                f.origP = UInt16(30000 + k % 40)
                f.respP = k % 4 == 0 ? 443 : 53
                f.proto = k % 4 == 0 ? "tcp" : "udp"
                f.ipProto = k % 4 == 0 ? 6 : 17
                f.connState = k % 6 == 0 ? "S0" : "SF"
                f.origPkts = UInt64(1 + k % 9); f.respPkts = UInt64(k % 4)
                f.origL2Bytes = UInt64(60 * (1 + k % 13)); f.respL2Bytes = UInt64(k % 11 == 0 ? 1500 : 0)
                f.app = k % 4 == 0 ? "tls" : "dns"; f.appSource = "port"
                f.communityID = "1:x\(k)"
                f.tlsSNI = k % 4 == 0 ? "host\(k % 3).example" : nil
                rows.append(f)
            }
            batches.append(rows)
        }
        return batches
    }

    static func matches(_ q: FlowQuery, _ f: FlowRow) -> Bool {
        let t = q.filter
        if let n = t.ip, !(n.contains(f.origH) || n.contains(f.respH)) { return false }
        if let n = t.src, !n.contains(f.origH) { return false }
        if let n = t.dst, !n.contains(f.respH) { return false }
        if let p = t.port, !(f.origP == p || f.respP == p) { return false }
        if let p = t.sport, f.origP != p { return false }
        if let p = t.dport, f.respP != p { return false }
        if let v = t.from, f.ts < v { return false }
        if let v = t.to, f.ts >= v { return false }
        if let s = q.connState, f.connState != s { return false }
        if let m = q.minBytes, f.totalBytes < m { return false }
        if let s = q.tls, !(f.tlsSNI?.contains(s) ?? false) { return false }
        return true
    }

    /// A new SQLite file holding `flows(start:)` in flow segments of `flowSegmentRows`.
    static func withFlows(_ name: String, flowSegmentRows: Int64,
                          _ body: (String, SQLiteStore, Int64, [FlowRow]) async throws -> Void) async throws {
        try await TestDatabase.withSQLiteFile(name) { url, path in
            let store = SQLiteStore(path: path, segmentRows: 128, flowSegmentRows: flowSegmentRows)
            defer { Task { await store.close() } }
            try await store.migrate()
            let start = Timestamp.now().totalNanoseconds
            let batches = Self.flows(start: start)
            for (k, rows) in batches.enumerated() {
                try await store.write(
                    StoreBatch(
                        id: BatchID(writer: 1, seq: Int64(k + 1)), sensor: "t", captureID: 1, content: .flows(rows)))
            }
            try await body(url, store, start, batches.flatMap { $0 })
        }
    }

    @Test("every flow filter and sort pages through the same flows as Swift does, runs and tail alike",
          arguments: [Int64(64), 100_000])
    func filtersAndSorts(flowSegmentRows: Int64) async throws {
        try await Self.withFlows("flow_segments", flowSegmentRows: flowSegmentRows) { url, store, start, all in
            let segments = try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_segments WHERE tbl = 'flows'")
            #expect(segments == (flowSegmentRows == 64 ? "14" : "0"))
            #expect(
                try TestDatabase.sqlite(
                    url, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'flows'") == "0")
            func q(_ body: (inout FlowQuery) -> Void) -> FlowQuery { var x = FlowQuery(); body(&x); return x }
            let a = IPAddress("10.9.9.9")!
            var cases: [(String, FlowQuery)] = [
                ("none", FlowQuery()),
                ("ip", q { $0.filter.ip = IPNetwork(address: a, prefixLength: 32) }),
                ("src", q { $0.filter.src = IPNetwork(address: a, prefixLength: 32) }),
                ("dst v6", q { $0.filter.dst = IPNetwork("2001:db8::9/128") }),
                ("net", q { $0.filter.ip = IPNetwork("10.0.0.0/24") }),
                ("net v6", q { $0.filter.src = IPNetwork("2001:db8::/32") }),
                ("port", q { $0.filter.port = 443 }),
                ("sport", q { $0.filter.sport = 30007 }),
                ("dport", q { $0.filter.dport = 53 }),
                ("time", q { $0.filter.from = start - 900_000_000; $0.filter.to = start + 1_050_000_000 }),
                ("conn_state", q { $0.connState = "S0" }),
                ("min_bytes", q { $0.minBytes = 1500 }),
                ("tls", q { $0.tls = "host1" }),
                ("port+ip", q { $0.filter.port = 53; $0.filter.ip = IPNetwork(address: a, prefixLength: 32) }),
                ("nothing", q { $0.filter.port = 9 }),
            ]
            cases += cases.flatMap { c in
                [FlowSort.bytes, .packets].map { s in (c.0 + " by \(s)", q { $0 = c.1; $0.sort = s }) }
            }
            for (name, query) in cases {
                let key = FlowSortKey(query.sort)
                let want = all.enumerated().filter { Self.matches(query, $0.element) }
                    .sorted { (key.value($0.element), $0.offset) > (key.value($1.element), $1.offset) }
                    .map(\.element.uid)
                for limit in [7, 1000] {
                    var page = query
                    page.limit = limit
                    var got: [String] = []
                    var pages = 0
                    while true {
                        let p = try await store.flows(page)
                        got += p.rows.map(\.row.uid)
                        pages += 1
                        guard let c = p.nextCursor, pages < 1000 else { break }
                        page.cursor = c
                    }
                    #expect(got == want, "\(name), pages of \(limit): \(got.count) flows, \(want.count) wanted")
                }
            }
            // Every field comes back as written.
            let stored = try await store.flows(FlowQuery(limit: 1000)).rows.map(\.row)
            #expect(Set(stored.map(\.uid)) == Set(all.map(\.uid)))
            for f in stored { #expect(all.first { $0.uid == f.uid } == f, "flow \(f.uid)") }
            // The readable view shows addresses as text.
            let row = try TestDatabase.sqlite(
                url, "SELECT orig_h || '|' || resp_h || '|' || resp_p FROM flows_v WHERE uid = 'C10'")
            #expect(row == "10.9.9.9|10.8.8.8|53")
            // Talkers over a time range read the segments that can hold it (no ts index).
            var tq = TalkersQuery(limit: 1000)
            tq.range.from = start - 900_000_000; tq.range.to = start + 1_050_000_000
            var want: [IPAddress: UInt64] = [:]
            for f in all where f.ts >= tq.range.from! && f.ts < tq.range.to! {
                want[f.origH, default: 0] += f.totalBytes; want[f.respH, default: 0] += f.totalBytes
            }
            var got: [IPAddress: UInt64] = [:]
            for h in try await store.talkers(tq).hosts { got[h.address] = h.bytes }
            #expect(want.count < 1000)
            #expect(got == want)
            // The protocol summary's partial seconds are counted through the time runs.
            var r = RangeQuery(); r.from = start + 150_000_000; r.to = start + 250_000_000
            let summary = try await store.protocolSummary(r)
            let inRange = all.filter { $0.ts >= r.from! && $0.ts < r.to! }
            let counted = summary.transports.reduce(UInt64(0)) { $0 + $1.flows }
            #expect(
                counted == UInt64(inRange.count), "\(counted) flows in a tenth of a second, \(inRange.count) wanted")
        }
    }

    @Test("talkers and the protocol summary under ip, port and time filters equal Swift's sums, runs and tail alike",
          arguments: [Int64(64), 100_000])
    func filteredAggregates(flowSegmentRows: Int64) async throws {
        try await Self.withFlows("flow_aggregates", flowSegmentRows: flowSegmentRows) { _, store, start, all in
            func r(_ body: (inout RangeQuery) -> Void) -> RangeQuery { var x = RangeQuery(); body(&x); return x }
            // Rare keys (the runs name few rows: read by id), busy ones (the SQL path), and
            // both with a time range.
            let cases: [(String, RangeQuery)] = [
                ("ip v6, 1 in 7", r { $0.traffic.ip = IPNetwork("2001:db8::9/128") }),
                ("ip, busy", r { $0.traffic.ip = IPNetwork("10.9.9.9/32") }),
                ("sport, 1 in 40", r { $0.traffic.sport = 30007 }),
                ("port, 1 in 40", r { $0.traffic.port = 30011 }),
                ("port 443", r { $0.traffic.port = 443 }),
                ("net /24", r { $0.traffic.ip = IPNetwork("10.0.0.0/24") }),
                ("dst v6 + time", r {
                    $0.traffic.dst = IPNetwork("2001:db8::9/128"); $0.from = start - 900_000_000;
                    $0.to = start + 1_050_000_000
                }),
                ("sport + time", r { $0.traffic.sport = 30007; $0.from = start; $0.to = start + 2_000_000_000 }),
                ("nothing", r { $0.traffic.port = 9 }),
            ]
            for (name, range) in cases {
                var fq = FlowQuery(); fq.filter = range.asFilter
                let want = all.filter { Self.matches(fq, $0) }
                var tq = TalkersQuery(limit: 1000); tq.range = range
                let t = try await store.talkers(tq)
                struct E: Hashable { let a: IPAddress; let p: UInt16; let proto: String }
                var pairs: [E: (UInt64, UInt64, UInt64)] = [:], hosts: [IPAddress: (UInt64, UInt64, UInt64)] = [:]
                for f in want {
                    for (a, p) in [(f.origH, f.origP), (f.respH, f.respP)] {
                        let e = E(a: a, p: p, proto: f.proto)
                        let v = pairs[e] ?? (0, 0, 0), h = hosts[a] ?? (0, 0, 0)
                        pairs[e] = (v.0 + f.totalPackets, v.1 + f.totalBytes, v.2 + 1)
                        hosts[a] = (h.0 + f.totalPackets, h.1 + f.totalBytes, h.2 + 1)
                    }
                }
                #expect(t.pairs.count == pairs.count, "\(name)")
                for x in t.pairs {
                    let v = pairs[E(a: x.address, p: x.port, proto: x.proto)]
                    #expect(v.map { $0 == (x.packets, x.bytes, x.flows) } == true, "\(name): \(x)")
                }
                #expect(t.hosts.count == hosts.count, "\(name)")
                for x in t.hosts {
                    #expect(hosts[x.address].map { $0 == (x.packets, x.bytes, x.flows) } == true, "\(name): \(x)")
                }
                #expect(t.pairs.map(\.bytes) == t.pairs.map(\.bytes).sorted(by: >), "\(name)")
                #expect(t.hosts.map(\.bytes) == t.hosts.map(\.bytes).sorted(by: >), "\(name)")
                let s = try await store.protocolSummary(range)
                #expect(s.countedFromFlows, "\(name)")
                #expect(s.transports.reduce(0) { $0 + $1.flows } == UInt64(want.count), "\(name)")
                #expect(
                    s.transports.reduce(0) { $0 + $1.packets } == want.reduce(0) { $0 + $1.totalPackets }, "\(name)")
                #expect(s.apps.reduce(0) { $0 + $1.bytes } == want.reduce(0) { $0 + $1.totalBytes }, "\(name)")
            }
        }
    }

    @Test("retention drops old flow segments by id range and old flows of the others")
    func retention() async throws {
        try await TestDatabase.withSQLiteFile("flow_retention") { url, path in
            let store = SQLiteStore(path: path, segmentRows: 100, flowSegmentRows: 100)
            defer { Task { await store.close() } }
            try await store.migrate()
            let day: Int64 = 86_400_000_000_000
            let now = Timestamp.now().totalNanoseconds
            let old = Self.flows(start: now - 10 * day)[0] + Self.flows(start: now - 10 * day)[2].prefix(50)
            var recent = Array(Self.flows(start: now - day)[0].prefix(120))
            for i in recent.indices { recent[i].uid = "R\(i)" }
            try await store.write(
                StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "r", captureID: 1, content: .flows(old)))
            try await store.write(
                StoreBatch(id: BatchID(writer: 1, seq: 2), sensor: "r", captureID: 1, content: .flows(recent)))
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_segments WHERE tbl = 'flows'") == "4")
            let report = try await store.maintain(now: now, retentionCutoff: now - 7 * day)
            #expect(report.rowsDeleted >= 350)
            #expect(try await TestDatabase.count(url, "flows") == 120)
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_segments WHERE tbl = 'flows'") == "1")
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_key_runs WHERE tbl = 'flows'") == "7")
            try await store.write(StoreBatch(id: BatchID(writer: 1, seq: 3), sensor: "r", captureID: 1,
                                             content: .flows(Array(Self.flows(start: now)[1].prefix(10)))))
            #expect(try TestDatabase.sqlite(url, "SELECT min(id) > 400 FROM flows WHERE uid NOT LIKE 'R%'") == "1")
            var q = FlowQuery(); q.filter.dport = 443; q.limit = 1000
            #expect(try await store.flows(q).rows.count == recent.filter { $0.respP == 443 }.count + 3)
        }
    }

    @Test("a version-8 file (Tests/Fixtures/store/sniff-v8.db) converts to version 9 with every flow field kept")
    func migrateVersion8() async throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/store/sniff-v8.db")
        let dir = StoreTestEnv.tempDirectory("v8")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/sniff.db"
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        let db = "sqlite:" + path
        // Every column but the id, in id order, as SQL text; the addresses are compared
        // as Sniff prints them (the view writes IPv6 uncompressed).
        let columns = Schema.flowColumnsV9.filter { $0 != "orig_h" && $0 != "resp_h" }
        func dump(_ table: String) throws -> String {
            let line = columns.map { "quote(\($0))" }.joined(separator: " || '|' || ")
            return try TestDatabase.sqlite(
                db, "SELECT group_concat(line, char(10)) FROM (SELECT \(line) AS line FROM \(table) ORDER BY id)")
        }
        let before = try dump("flows")
        #expect(before.split(separator: "\n").count == 31)
        let addresses = try TestDatabase.sqlite(
            db, "SELECT group_concat(orig_h || ' ' || resp_h, char(10)) FROM (SELECT * FROM flows ORDER BY id)")
        #expect(
            try TestDatabase.sqlite(
                db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'flows'") == "6")
        let store = SQLiteStore(path: path, segmentRows: 50, flowSegmentRows: 10)
        defer { Task { await store.close() } }
        let applied = try await store.migrate()
        #expect(applied.map(\.version) == Schema.migrations.map(\.version).filter { $0 >= 9 })
        #expect(try await store.info().schemaVersion == Schema.latestVersion)
        #expect(try dump("flows_v") == before)
        #expect(
            try TestDatabase.sqlite(
                db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'flows'") == "0")
        #expect(try TestDatabase.sqlite(db, "SELECT count(*) FROM sniff_segments WHERE tbl = 'flows'") == "3")
        #expect(try TestDatabase.sqlite(db, "SELECT count(*) FROM sniff_key_runs WHERE tbl = 'flows'") == "21")
        // Through the API, newest first, with Sniff's own address text.
        let flows = try await store.flows(FlowQuery(limit: 1000)).rows
        #expect(flows.count == 31)
        let got = flows.sorted { $0.row.uid < $1.row.uid }.map { "\($0.row.origH) \($0.row.respH)" }
        let uids = try TestDatabase.sqlite(
            db, "SELECT group_concat(uid, char(10)) FROM (SELECT uid FROM flows_v ORDER BY id)"
        ).split(separator: "\n")
        let old = Dictionary(
            uniqueKeysWithValues: zip(uids.map(String.init), addresses.split(separator: "\n").map(String.init)))
        #expect(got == flows.map(\.row.uid).sorted().map { old[$0] ?? "?" })
        #expect(flows.contains { $0.row.origH.isIPv6 } && flows.contains { $0.row.ja3 != nil })
        var q = FlowQuery();
        q.filter.ip = IPNetwork(address: flows.first { $0.row.origH.isIPv6 }!.row.origH, prefixLength: 128)
        #expect(
            try await store.flows(q).rows.allSatisfy {
                $0.row.origH == q.filter.ip!.address || $0.row.respH == q.filter.ip!.address
            })
        #expect(!(try await store.flows(q).rows.isEmpty))
        // New flows go after the converted ones, and a second migrate changes nothing.
        #expect(try await store.migrate().isEmpty)
    }
}
