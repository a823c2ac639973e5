import Foundation
import Testing
import SniffCore
import SniffDecode
@testable import SniffStore

/// The SQLite writer's fast path: key runs sorted by radix sort, rows inserted many per
/// statement with text bound from an arena. Each gives exactly what the plain code gave.
@Suite("SQLite writer path")
struct WriterPathTests {
    /// Keys shaped like the runs' (IPv4 and IPv6 addresses sharing prefixes, ports,
    /// one-byte codes, 8-byte sort keys), rows ascending as the writer appends them.
    @Test("the radix sort of key runs gives the order of the comparison sort", arguments: [0, 1, 2, 5, 300, 70_000])
    func radixSortMatchesComparison(count: Int) {
        var rng = SystemRandomNumberGenerator()
        for shape in 0..<5 {
            var entries: [KeyRun.Entry] = []
            for row in 0..<count {
                let r = UInt32(row)
                switch shape {
                case 0: // addresses: v4, and v6 whose first 4 bytes may equal a v4 key
                    if Bool.random(using: &rng) {
                        var b: [UInt8] = [
                            10, UInt8.random(in: 0...3, using: &rng), UInt8.random(in: 0...255, using: &rng), 1
                        ]
                        if Int.random(in: 0..<10, using: &rng) == 0 { b = [0, 0, 0, 0] }
                        entries.append(b.withUnsafeBytes { KeyRun.Entry(bytes: $0, row: r) })
                    } else {
                        var b = [UInt8](repeating: 0, count: 16)
                        b[0] = 10; b[1] = UInt8.random(in: 0...3, using: &rng);
                        b[15] = UInt8.random(in: 0...255, using: &rng)
                        entries.append(b.withUnsafeBytes { KeyRun.Entry(bytes: $0, row: r) })
                    }
                case 1:
                    entries.append(KeyRun.Entry(integer: UInt64.random(in: 0...65535, using: &rng), width: 2, row: r))
                case 2: entries.append(KeyRun.Entry(integer: UInt64.random(in: 0...3, using: &rng), width: 1, row: r))
                case 3:
                    entries.append(
                        KeyRun.Entry(
                            integer: KeyRun.sortKey(Int64.random(in: -5...Int64.max / 2, using: &rng)),
                            width: 8, row: r))
                default: entries.append(KeyRun.Entry(integer: 7, width: 2, row: r))  // one key
                }
            }
            var want = entries
            want.sort(by: KeyRun.Entry.before)
            var got = entries
            var scratch: [KeyRun.Entry] = []
            KeyRun.sort(&got, scratch: &scratch)
            #expect(got.map(\.k0) == want.map(\.k0) && got.map(\.k1) == want.map(\.k1)
                    && got.map(\.length) == want.map(\.length) && got.map(\.row) == want.map(\.row),
                    "shape \(shape), \(count) entries")
            #expect(KeyRun.encode(got) == KeyRun.encode(want))
        }
    }

    @Test("the multi-row INSERT SQL numbers each row's parameters after the previous row's")
    func multiRowSQL() {
        #expect(MultiRowInsert.sql(table: "t", columns: ["a", "b"], rows: 3)
                == "INSERT INTO t (a, b) VALUES (?1, ?2), (?3, ?4), (?5, ?6)")
        #expect(
            PacketTable.insertSQL == MultiRowInsert.sql(table: "packets", columns: PacketTable.insertColumns, rows: 1))
    }

    /// Rows of every shape: each optional field present and absent, IPv4 and IPv6, text
    /// empty, non-ASCII and longer than the bind arena (bound as a copy instead).
    static func packets(count: Int, start: Int64) -> [PacketRow] {
        let huge = String(repeating: "é", count: 200_000)  // 400 000 bytes: more than the arena
        return (0..<count).map { i in
            var r = PacketRow()
            r.n = UInt64(i + 1); r.ts = start + Int64(i) * 1000; r.len = UInt32(60 + i); r.caplen = UInt32(60 + i % 7)
            r.iface = UInt32(i % 3); r.link = i % 11 == 0 ? LinkType(101) : .ethernet
            if i == 5 { r.n = 1 << 40 }  // past 32 bits: the cold BLOB's 8-byte form
            var f: PacketRow.Fields = []
            if i % 2 == 0 { f.insert(.ethSrc); r.ethSrc = MACAddress(0x0200_0000_0000 | UInt64(i)) }
            if i % 3 == 0 { f.insert(.ethDst); r.ethDst = MACAddress(0xFFFF_FFFF_FFFF) }
            if i % 5 == 0 { f.insert(.vlan); r.vlan = UInt16(i % 4095) }
            if i % 13 != 0 {
                f.insert(.ip)
                if i % 4 == 0 {
                    r.ipVersion = 6; r.src = IPAddress("2001:db8::\(i % 9000 + 1)")!; r.dst = IPAddress("fe80::1")!;
                    r.proto = 17
                } else {
                    r.ipVersion = 4; r.src = IPAddress(v4: 0x0A00_0000 | UInt32(i)); r.dst = IPAddress(v4: 0xC0A8_0101);
                    r.proto = 6
                }
                r.transport = i % 4 == 0 ? .udp : .tcp
                if i % 17 != 0 {
                    f.insert(.ports); r.sport = UInt16(1024 + i % 60000); r.dport = UInt16(i % 3 == 0 ? 53 : 443)
                }
                if i % 4 != 0 {
                    f.insert(.tcp); r.seq = UInt32(truncatingIfNeeded: i &* 7919); r.ack = UInt32(i); r.tcpFlags = 0x18
                    r.window = UInt16(i % 65535)
                }
                if i % 6 == 0 { f.insert(.payloadLen); r.payloadLen = UInt32(i % 1400) }
            }
            if i % 19 == 0 { f.insert(.icmp); r.icmpType = 8; r.icmpCode = UInt8(i % 3) }
            if i % 4 == 0 { f.insert(.dnsQuery); r.dnsQuery = i % 8 == 0 ? "" : "host-\(i).例え.example" }
            if i % 7 != 0 {
                r.app = i % 2 == 0 ? .dns : .tls
                if i % 3 == 0 { f.insert(.appPayload) }
            }
            if i % 9 != 0 { f.insert(.flowUID); r.flowUID = "C\(i)abcdefghijklmnop" }
            if i % 10 == 0 { f.insert(.info); r.info = i == 70 ? huge : "Standard query 0x\(i) A ünïcode" }
            r.present = f
            return r
        }
    }

    /// 64 * 3 + 5 rows: three full statements and five single ones; and a batch smaller
    /// than one statement.
    @Test("packets written many per statement read back equal, field by field")
    func packetsRoundTrip() async throws {
        try await TestDatabase.withSQLiteFile("writer_packets") { url, path in
            let store = SQLiteStore(path: path, segmentRows: 100)
            defer { Task { await store.close() } }
            try await store.migrate()
            let start = Timestamp.now().totalNanoseconds
            let rows = Self.packets(count: PacketTable.rowsPerInsert * 3 + 5, start: start)
            let small = Self.packets(count: 3, start: start + 1_000_000_000).map { r -> PacketRow in
                var r = r
                r.n += 10_000
                return r
            }
            try await store.write(
                StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "sensor-ü", captureID: 4, content: .packets(rows)))
            try await store.write(
                StoreBatch(id: BatchID(writer: 1, seq: 2), sensor: "sensor-ü", captureID: 4, content: .packets(small)))
            let got = try await allPackets(store, capture: 4)
            let want = rows + small
            #expect(got.count == want.count)
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM packets") == "\(want.count)")
            #expect(try TestDatabase.sqlite(url, "SELECT min(id) = 1 AND max(id) = count(*) FROM packets") == "1",
                    "ids are consecutive")
            for (g, w) in zip(got, want) {
                #expect(g.row == w, "packet \(w.n)")
                #expect(g.sensor == "sensor-ü" && g.captureID == 4)
            }
        }
    }

    /// Batches handed over together go in one transaction and store what the same
    /// batches written one by one store: the rows, the segments and their key runs
    /// (segments of 100 packets and 50 flows close inside the transaction); a batch
    /// already stored (a replay) among them writes nothing again.
    @Test("batches written in one transaction store what they store one by one")
    func coalescedBatches() async throws {
        try await TestDatabase.withSQLiteFile("writer_together") { urlA, pathA in
            try await TestDatabase.withSQLiteFile("writer_onebyone") { urlB, pathB in
                let start = Timestamp.now().totalNanoseconds
                var batches: [StoreBatch] = []
                for k in 0..<5 {
                    let at = start + Int64(k) * 1_000_000_000
                    let rows = Self.packets(count: 70, start: at).map { r -> PacketRow in
                        var r = r
                        r.n += UInt64(k * 1000)
                        return r
                    }
                    batches.append(
                        StoreBatch(
                            id: BatchID(writer: 1, seq: Int64(2 * k + 1)), sensor: "s", captureID: 1,
                            content: .packets(rows)))
                    let flows = (0..<30).map { Self.flow(k * 30 + $0, start: at) }
                    batches.append(
                        StoreBatch(
                            id: BatchID(writer: 1, seq: Int64(2 * k + 2)), sensor: "s", captureID: 1,
                            content: .flows(flows)))
                }
                let a = SQLiteStore(path: pathA, segmentRows: 100, flowSegmentRows: 50)
                let b = SQLiteStore(path: pathB, segmentRows: 100, flowSegmentRows: 50)
                defer { Task { await a.close(); await b.close() } }
                try await a.migrate()
                try await b.migrate()
                #expect(try await a.write(Array(batches[0..<3])) == [true, true, true])
                #expect(try await a.write([batches[2]] + Array(batches[3...]))
                        == [false] + Array(repeating: true, count: batches.count - 3))
                for batch in batches { #expect(try await b.write(batch)) }
                #expect(try TestDatabase.sqlite(urlA, "SELECT count(*) FROM packets") == "350")
                #expect(try TestDatabase.sqlite(urlA, "SELECT count(*) FROM flows") == "150")
                for sql in ["SELECT count(*) || ' ' || sum(ts % 1000000007) || ' ' || sum(len) || ' ' || sum(length(cold)) FROM packets",
                            "SELECT count(*) || ' ' || sum(ts % 1000000007) || ' ' || sum(length(cold)) FROM flows",
                            "SELECT count(*) || ' ' || group_concat(tbl || first_id || kind || hex(data), ';') FROM (SELECT * FROM sniff_key_runs ORDER BY tbl, first_id, kind)",
                            "SELECT count(*) || ' ' || group_concat(tbl || first_id || '-' || last_id || '-' || min_ts || '-' || max_ts || '-' || ordered, ';') FROM (SELECT * FROM sniff_segments ORDER BY tbl, first_id)"] {
                    #expect(try TestDatabase.sqlite(urlA, sql) == TestDatabase.sqlite(urlB, sql), "\(sql)")
                }
                #expect(
                    try TestDatabase.sqlite(urlA, "SELECT count(*) FROM sniff_segments") != "0", "segments were closed")
                let got = try await allPackets(a, capture: 1)
                #expect(
                    got.map(\.row)
                        == batches.flatMap { b -> [PacketRow] in
                            if case .packets(let r) = b.content { return r } else { return [] }
                        })
            }
        }
    }

    @Test("flows written many per statement read back equal, field by field")
    func flowsRoundTrip() async throws {
        try await TestDatabase.withSQLiteFile("writer_flows") { url, path in
            let store = SQLiteStore(path: path, flowSegmentRows: 50)
            defer { Task { await store.close() } }
            try await store.migrate()
            let start = Timestamp.now().totalNanoseconds
            var rows: [FlowRow] = []
            for k in 0..<(FlowTable.rowsPerInsert * 2 + 7) {
                rows.append(Self.flow(k, start: start))
            }
            try await store.write(
                StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "s", captureID: 2, content: .flows(rows)))
            let got = try await allFlows(store, capture: 2).sorted { $0.row.ts < $1.row.ts }
            #expect(got.count == rows.count)
            for (g, w) in zip(got, rows) { #expect(g.row == w, "flow \(w.uid)") }
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM flows") == "\(rows.count)")
        }
    }

    /// A flow with every field set or left nil by `k`: texts empty, non-ASCII and
    /// longer than the bind arena; counters past 32 bits; the hosts and process fields.
    static func flow(_ k: Int, start: Int64) -> FlowRow {
        var f = FlowRow()
        f.ts = start + Int64(k) * 1_000_000; f.lastTs = f.ts + Int64(k)
        f.uid = "CU\(k)"
        f.origH = k % 3 == 0 ? IPAddress("2001:db8::\(k + 1)")! : IPAddress(v4: 0x0A00_0000 | UInt32(k))
        f.respH = k % 3 == 0 ? IPAddress("2001:db8::ffff")! : IPAddress(v4: 0x0808_0808)
        f.origP = UInt16(30000 + k); f.respP = k % 2 == 0 ? 53 : 443
        f.proto = k % 2 == 0 ? "udp" : "tcp"; f.ipProto = k % 2 == 0 ? 17 : 6
        f.service = k % 4 == 0 ? nil : "dns"
        f.durationNanos = k % 5 == 0 ? nil : Int64(k) * 10
        f.origBytes = k % 6 == 0 ? nil : UInt64(k); f.respBytes = k % 7 == 0 ? nil : UInt64(2 * k)
        f.connState = "SF"; f.localOrig = k % 3 == 0 ? nil : k % 2 == 0; f.localResp = k % 4 == 0
        f.missedBytes = UInt64(k % 2); f.history = k % 2 == 0 ? "Dd" : ""
        f.origPkts = UInt64(k + 1); f.origIPBytes = UInt64(40 * k); f.respPkts = UInt64(k); f.respIPBytes = UInt64(k)
        f.communityID = "1:\(k)"; f.vlan = k % 8 == 0 ? UInt16(k) : nil
        f.app = "dns"; f.appSource = "port"; f.dnsQuery = k % 2 == 0 ? "q\(k).example" : nil
        f.tlsSNI = k % 2 == 1 ? "ñ.example" : nil; f.tlsVersion = k % 2 == 1 ? "TLSv1.3" : nil
        f.httpHost = k % 9 == 0 ? "h" : nil; f.httpMethod = k % 9 == 0 ? "GET" : nil
        f.httpURI = k % 9 == 0 ? "/" + String(repeating: "u", count: k == 9 ? 300_000 : 5) : nil
        f.sshClient = k % 10 == 0 ? "SSH-2.0-x" : nil; f.sshServer = nil; f.quicVersion = k % 11 == 0 ? "1" : nil
        f.tlsCipher = k % 2 == 1 ? "TLS_AES_128_GCM_SHA256" : nil; f.ja4 = k % 2 == 1 ? "t13d" : nil
        f.origTCPFlags = k % 2 == 1 ? "SA" : nil; f.respTCPFlags = nil
        f.origL2Bytes = UInt64(60 * (k + 1)); f.respL2Bytes = UInt64(k); f.endReason = k % 2 == 0 ? "idle" : nil
        f.tlsChosenVersion = k % 3 == 1 ? "TLSv13" : nil; f.tlsNextProtocol = k % 3 == 1 ? "h2" : nil
        f.tlsClientVersions = k % 3 == 1 ? "TLSv13,TLSv12" : nil; f.tlsClientALPN = k % 3 == 2 ? "" : nil
        f.ja3 = k % 4 == 1 ? "ja3" : nil; f.ja3s = k % 4 == 1 ? "ja3s" : nil
        if k % 5 == 1 { f.origPkts = 5_000_000_000; f.origBytes = UInt64.max >> 1; f.missedBytes = 1 << 40 }
        if k == 4 { f.durationNanos = -5; f.lastTs = f.ts - 3 }
        if k % 3 == 2 {
            f.origName = "a.example"; f.respName = "b.éxample"; f.origCC = "DE"; f.respCC = "US"; f.origASN = 3320
            f.respASN = 4_200_000_000; f.origOrg = "Org A"; f.respOrg = ""
            f.pid = 1234; f.process = "curl"; f.user = "root"; f.container = k % 2 == 0 ? "c1" : nil;
            f.processIsOrig = k % 2 == 0
        }
        return f
    }
}
