import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
@testable import SniffStore

/// Packets' flow uid as its 96 bits and caplen as the bytes cut (`ClickHousePacketColumns`,
/// `Schema.packetUIDBytesVersion`).
enum PacketColumnsFixture {
    /// The uid `FlowUID` gives flow `k` and its 96 bits.
    static func uid(_ k: Int, seed: UInt64 = 0x5EED) -> (String, (UInt64, UInt32)) {
        let key = FlowKey(
            a: IPAddress(v4: 0x0A00_0000 | UInt32(k)), portA: UInt16(1024 + k % 60000), b: IPAddress(v4: 0xC0A8_0101),
            portB: 443, proto: 6)
        let start = Int64(k) * 7_919_000_001
        var sink = ByteSink(capacity: 18)
        FlowUID.append(seed: seed, key: key, startNanos: start, into: &sink)
        return (sink.string, FlowUID.bits(seed: seed, key: key, startNanos: start))
    }

    /// Texts that are not uids of `FlowUID`'s form: too short, a 96-bit zero, bits
    /// beyond 64 or 32, not digits, another letter first, empty. They are kept as text.
    static let otherUIDs = [
        "Cabc", "C" + String(repeating: "0", count: 17), "C" + String(repeating: "z", count: 11) + "000001",
        "C00000000000zzzzzz", "C0000000000-000001", "D00000000010000001", "", "Cé000000001000001",
        "C12abcdefghijklmnop",
    ]

    /// Packets over several days, every few with each kind of uid and of caplen
    /// (equal to len, cut, 0, above len: a capture file can say so).
    static func rows(_ count: Int, start: Int64) -> [PacketRow] {
        var rows = syntheticRows(count: count, start: start)
        for i in rows.indices {
            rows[i].ts += Int64(i % 4) * ClickHouseStore.dayNanos
            switch i % 4 {
            case 0: break
            case 1: rows[i].caplen = rows[i].len - 10
            case 2: rows[i].caplen = 0
            default: rows[i].caplen = rows[i].len + 5
            }
            switch i % 3 {
            case 0: rows[i].flowUID = uid(i / 3 % 50).0
            case 1: rows[i].flowUID = otherUIDs[i % otherUIDs.count]
            default: rows[i].flowUID = nil
            }
            if rows[i].flowUID != nil { rows[i].present.insert(.flowUID) }
        }
        return rows
    }

    /// Packets inserted as the writer of schema versions 14-20 sent them: the uid as
    /// text in `flow_uid`, `caplen` itself (the columns the conversion reads; the others
    /// as `rows` has them, through VALUES).
    static func insertOfVersion20(
        _ store: ClickHouseStore, _ rows: [PacketRow], table: String = "packets"
    ) async throws {
        let values = rows.map { r in
            "(1, 'm', \(r.n), \(r.ts), \(r.present.rawValue), \(r.len), \(r.caplen), "
                + "\(ClickHouseSchema.literal(r.flowUID ?? "")), \(r.sport), \(r.dport))"
        }
        // As a body, so that a Distributed table answers once the shards have the rows.
        try await store.http.run(
            "INSERT INTO \(table) (capture_id, sensor, n, ts, present, len, caplen, flow_uid, sport, dport) FORMAT Values",
            body: Array(values.joined(separator: ", ").utf8), what: "test")
    }

    /// n → (flow uid, caplen) as the API reads them.
    static func read(_ store: ClickHouseStore) async throws -> [UInt64: String] {
        var out: [UInt64: String] = [:]
        var cursor: String? = nil
        repeat {
            let page = try await store.packets(PacketQuery(cursor: cursor, limit: PacketQuery.maximumLimit))
            for p in page.rows { out[p.row.n] = "\(p.row.flowUID ?? "-") \(p.row.caplen)" }
            cursor = page.nextCursor
        } while cursor != nil
        return out
    }

    static func want(_ rows: [PacketRow]) -> [UInt64: String] {
        Dictionary(uniqueKeysWithValues: rows.map { ($0.n, "\($0.flowUID ?? "-") \($0.caplen)") })
    }

    static func kinds(_ store: ClickHouseStore, _ table: String) async throws -> [String: String] {
        var out: [String: String] = [:]
        for r in try await store.http.rows("""
            SELECT name, concat(type, ' ', default_kind) FROM system.columns
            WHERE database = \(ClickHouseSchema.literal(store.target.database)) AND table = \(ClickHouseSchema.literal(table))
            """, what: "test") where r.count == 2 {
            out[r[0] ?? ""] = r[1] ?? ""
        }
        return out
    }
}

extension ClickHouseURLTests {
    @Test("packets' flow uid: FlowUID's text is read as its 96 bits; any other text is not")
    func uidBits() {
        for k in 0..<3000 {
            let (text, bits) = PacketColumnsFixture.uid(k, seed: UInt64(k % 7))
            let got = ClickHousePacketColumns.bits(text)
            #expect(got?.0 == bits.0 && got?.1 == bits.1, "\(text)")
        }
        let top = "C" + ClickHousePacketColumns.digits(UInt64.max, 11)
            + ClickHousePacketColumns.digits(UInt64(UInt32.max), 6)
        #expect(
            ClickHousePacketColumns.bits(top)?.0 == UInt64.max && ClickHousePacketColumns.bits(top)?.1 == UInt32.max)
        for other in PacketColumnsFixture.otherUIDs {
            #expect(ClickHousePacketColumns.bits(other) == nil, "\(other)")
        }
    }
}

extension ClickHouseStoreTests {
    @Test("packets keep the flow uid as 12 bytes and caplen as the bytes cut; the API reads every value back")
    func packetUIDBytes() async throws {
        try await ClickHouseTestEnv.withDatabase("uidbytes") { _, store in
            try await store.migrate()
            let rows = PacketColumnsFixture.rows(600, start: Timestamp.now().totalNanoseconds)
            #expect(
                try await store.write(
                    StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "m", captureID: 1, content: .packets(rows))))
            #expect(try await PacketColumnsFixture.read(store) == PacketColumnsFixture.want(rows))
            let kinds = try await PacketColumnsFixture.kinds(store, "packets")
            #expect(kinds["flow_uid_bin"] == "FixedString(12) " && kinds["caplen_cut"] == "UInt32 ")
            #expect(kinds["flow_uid"] == "String ALIAS" && kinds["caplen"] == "UInt32 ALIAS")
            // FlowUID's uids as bits only, the others as text only; caplen_cut is 0 when caplen = len.
            let canonical = rows.filter { $0.flowUID.map { ClickHousePacketColumns.bits($0) != nil } ?? false }.count
            #expect(canonical == 200)
            #expect(try await ClickHouseTestEnv.count(store, "SELECT count() FROM packets WHERE flow_uid_text = '' AND flow_uid_bin != \(ClickHousePacketColumns.zeroBytes)") == canonical)
            #expect(try await ClickHouseTestEnv.count(store, "SELECT count() FROM packets WHERE caplen_cut = 0") == 150)
            let (text, (hi, lo)) = PacketColumnsFixture.uid(0)
            var le = RowBinary(); le.u64(hi); le.u32(lo)
            #expect(
                try await store.http.value(
                    "SELECT hex(flow_uid_bin) FROM packets WHERE flow_uid = \(ClickHouseSchema.literal(text)) LIMIT 1",
                    what: "test")
                    == le.bytes.map { String(format: "%02X", $0) }.joined())
            // The SQL that rebuilds the text and the one the conversion reads it with agree with FlowUID.
            let sample = (0..<200).map { PacketColumnsFixture.uid($0 * 31, seed: 9).0 }
            let list = sample.map(ClickHouseSchema.literal).joined(separator: ", ")
            let p = ClickHousePacketColumns.self
            #expect(try await store.http.rows("SELECT \(p.text(ofBytes: p.bytes(ofText: "u"))), \(p.canonical("u")) FROM (SELECT arrayJoin([\(list)]) AS u)", what: "test")
                    .map { "\($0[0] ?? "") \($0[1] ?? "")" } == sample.map { "\($0) 1" })
            let others = PacketColumnsFixture.otherUIDs.map(ClickHouseSchema.literal).joined(separator: ", ")
            #expect(
                try await ClickHouseTestEnv.count(
                    store, "SELECT countIf(\(p.canonical("u"))) FROM (SELECT arrayJoin([\(others)]) AS u)") == 0)
        }
    }

    @Test("packets of schema version 20: converted to the uid's bytes and the bytes cut, every value kept; run again after a stop midway")
    func packetUIDBytesMigration() async throws {
        try await ClickHouseTestEnv.withDatabase("uidmigrate") { _, store in
            let version = Schema.packetUIDBytesVersion
            try await store.migrate(inCluster: nil, through: version - 1)
            let rows = PacketColumnsFixture.rows(900, start: Timestamp.now().totalNanoseconds)
            // In three inserts (parts), one twice: a replay whose copies had not merged.
            try await PacketColumnsFixture.insertOfVersion20(store, Array(rows[..<400]))
            try await PacketColumnsFixture.insertOfVersion20(store, Array(rows[400...]))
            try await PacketColumnsFixture.insertOfVersion20(store, Array(rows[100..<150]))
            // Stopped after adding one of the new columns.
            try await store.http.run("ALTER TABLE packets ADD COLUMN flow_uid_bin FixedString(12)", what: "test")
            #expect(try await store.migrate().map(\.version) == Array(version...Schema.latestVersion))
            #expect(try await PacketColumnsFixture.read(store) == PacketColumnsFixture.want(rows))
            let kinds = try await PacketColumnsFixture.kinds(store, "packets")
            #expect(
                kinds["flow_uid"] == "String ALIAS" && kinds["caplen"] == "UInt32 ALIAS"
                    && kinds["caplen_cut"] == "UInt32 ")
            // Rows written now read the same way beside the converted ones.
            let later = PacketColumnsFixture.rows(30, start: Timestamp.now().totalNanoseconds).map { r -> PacketRow in
                var r = r
                r.n += 10_000
                return r
            }
            #expect(
                try await store.write(
                    StoreBatch(id: BatchID(writer: 2, seq: 1), sensor: "m", captureID: 1, content: .packets(later))))
            #expect(try await PacketColumnsFixture.read(store) == PacketColumnsFixture.want(rows + later))
            #expect(try await store.migrate().isEmpty)
        }
    }
}

extension ClickHouseClusterTests {
    @Test("packets of schema version 20 on a cluster: each shard's rows converted, the Distributed table made again; a packet written again reaches the shard of its first copy")
    func packetUIDBytesMigration() async throws {
        let cluster = try #require(ClickHouseClusterEnv.cluster)
        let version = Schema.packetUIDBytesVersion
        try await ClickHouseClusterEnv.withCluster("cuidbytes", through: version - 1) { stores in
            let rows = PacketColumnsFixture.rows(600, start: Timestamp.now().totalNanoseconds)
            try await PacketColumnsFixture.insertOfVersion20(stores[0], rows)
            var before: [Int] = []
            for s in stores { before.append(try await ClickHouseTestEnv.count(s, "SELECT count() FROM packets_local")) }
            #expect(before.allSatisfy { $0 > 0 } && before.reduce(0, +) == rows.count, "\(before)")
            for s in stores {
                #expect(try await s.migrate(cluster: cluster).map(\.version) == Array(version...Schema.latestVersion))
            }
            for s in stores {
                #expect(try await PacketColumnsFixture.kinds(s, "packets")["flow_uid_bin"] == "FixedString(12) ")
                #expect(try await s.migrate(cluster: cluster).isEmpty)
            }
            #expect(try await PacketColumnsFixture.read(stores[1]) == PacketColumnsFixture.want(rows))
            // The same packets through the new writer and sharding key: each shard gets
            // exactly the rows it had, and FINAL folds each pair.
            #expect(
                try await stores[1].write(
                    StoreBatch(id: BatchID(writer: 3, seq: 1), sensor: "m", captureID: 1, content: .packets(rows))))
            for (i, s) in stores.enumerated() {
                #expect(try await ClickHouseTestEnv.count(s, "SELECT count() FROM packets_local") == 2 * before[i])
                #expect(try await ClickHouseTestEnv.count(s, "SELECT count() FROM packets_local FINAL") == before[i])
            }
        }
    }
}
