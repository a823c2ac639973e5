import Foundation
import Testing
import SniffCore
@testable import SniffStore
import SniffTestSupport

/// Schema 24 (SQLite): the `dns` log keeps its capture and sensor as an origin code, its
/// uid as 13 bytes and its enum-like text as codes of `sniff_names` (`DNSTable`); the
/// reads, the filters and `dns_v` give what version 23 gave.
struct DNSTableTests {
    static let t0: Int64 = 1_700_000_000_000_000_000

    /// DNS rows with every column set or unset in turn: Sniff's uids and others, IPv4 and
    /// IPv6, both transports, names the dictionary shares and names with characters SQL
    /// and the vector text treat specially.
    static func rows(count: Int, start: Int64 = t0) -> [LogRow] {
        let uids = FlowUIDBytesTests.canonical + ["CU7", "not-a-uid", "é", ""]
        let names = ["A", "AAAA", "C_INTERNET", "NOERROR", "NXDOMAIN", "qclass-0", "it's, \"odd\" \\x2c é"]
        return (0..<count).map { i in
            let values = LogKind.dns.columns.enumerated().map { j, c -> LogValue in
                if (i + j) % 5 == 4 { return .null }
                switch c.kind {
                case .int: return .int(Int64(i * 1000 + j) * (j % 2 == 0 ? 1 : -1))
                case .bool: return .bool((i + j) % 2 == 0)
                case .text:
                    return DNSTable.namedColumns.contains(c.name)
                        ? .text(names[(i + j) % names.count]) : .text("host-\(i).example, \"x\"")
                case .texts: return .list(["a,b", "", "\\", "<unknown type=0>"])
                case .ints: return .list(["0", "\(i)", "4294967295"])
                }
            }
            return LogRow(
                kind: .dns, ts: start + Int64(i) * 1_000 - (i % 7 == 3 ? 5_000_000 : 0), uid: uids[i % uids.count],
                origH: IPAddress(i % 3 == 0 ? "2001:db8::\(i + 1)" : "10.0.\(i / 200).\(i % 200)")!,
                origP: UInt16(1024 + i), respH: IPAddress(i % 2 == 0 ? "192.0.2.53" : "2001:db8::53")!, respP: 53,
                proto: i % 4 == 1 ? "tcp" : "udp", values: values)
        }
    }

    /// Appends `rows` to the dns table of version 23 as main's build wrote them (capture id,
    /// sensor, uid and names as text in every row; `SQLiteStore.insertLogSQL`'s columns).
    static func writeV23(path: String, _ rows: [LogRow], captureID: Int64, sensor: String) throws {
        let c = try SQLiteConnection(path: path)
        let before = try c.scalar("SELECT coalesce(max(id), 0) FROM dns") ?? 0
        let st = try c.prepare(SQLiteStore.insertLogSQL[.dns]!)
        try c.exec("BEGIN")
        for r in rows {
            st.bind(1, captureID); st.bind(2, sensor); st.bind(3, r.ts); st.bind(4, r.uid)
            CompactPacket.bytes(r.origH).withUnsafeBytes { st.bindBlobCopy(5, $0) }
            st.bind(6, Int64(r.origP))
            CompactPacket.bytes(r.respH).withUnsafeBytes { st.bindBlobCopy(7, $0) }
            st.bind(8, Int64(r.respP)); st.bind(9, r.proto)
            for (j, v) in r.values.enumerated() {
                let i = Int32(10 + j)
                switch v {
                case .null: st.bindNull(i)
                case .int(let x): st.bind(i, x)
                case .bool(let b): st.bind(i, Int64(b ? 1 : 0))
                case .text(let t): st.bind(i, t)
                case .list(let l): st.bind(i, LogValue.joined(l))
                }
            }
            try st.run()
        }
        let segments = try c.prepare(Schema.logSegmentUpsert(.dns, .sqlite))
        try segments.bind([.int(before)])
        try segments.run()
        try c.exec("COMMIT")
    }

    /// `dns_v` as text, one line a row, in id order.
    static func view(_ url: String) throws -> String {
        let cols = ["id", "capture_id", "sensor"] + Schema.logColumns(.dns).dropFirst(2)
        let line = cols.map { "coalesce(quote(\($0)), '-')" }.joined(separator: " || ' ' || ")
        return try TestDatabase.sqlite(
            url, "SELECT group_concat(line, char(10)) FROM (SELECT \(line) AS line FROM dns_v ORDER BY id)")
    }

    static func all(_ store: SQLiteStore, _ p: [String: String] = [:]) async throws -> [StoredLog] {
        try await LogStoreTests.all(store, .dns, p, pageSize: 7)
    }

    /// Newest first, the later row first among equal times (ids in write order).
    static func newestFirst(_ rows: [LogRow]) -> [LogRow] {
        rows.indices.sorted { (rows[$0].ts, $0) > (rows[$1].ts, $1) }.map { rows[$0] }
    }

    /// Every field written and read back equal, through every filter that the codes
    /// change (capture, sensor, transport, uid), in pages; stored as codes and bytes.
    @Test("every dns field round-trips through origin and name codes and uid bytes")
    func roundTrip() async throws {
        try await TestDatabase.withSQLiteStore("dnstable", at: Schema.latestVersion) { store, url, _ in
            let a = Self.rows(count: 60), b = Self.rows(count: 20, start: Self.t0 + 1_000_000_000)
            try await store.write(StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "s-ü", captureID: 7,
                                             content: .logs(a)))
            try await store.write(StoreBatch(id: BatchID(writer: 1, seq: 2), sensor: "t", captureID: Int64.max,
                                             content: .logs(b)))
            try await Self.checkReads(store, a, b)
            // Stored compact: Sniff's uids as bytes, names as integers, one origin per batch.
            let ours = (a + b).filter { FlowUIDBytesTests.bytes($0.uid) != nil }.count
            #expect(try await TestDatabase.count(url, "dns", where: "typeof(uid) = 'blob'") == ours)
            #expect(try await TestDatabase.count(url, "dns", where: "typeof(proto) != 'integer'") == 0)
            #expect(try await TestDatabase.count(url, "dns", where: "typeof(qtype_name) = 'text'") == 0)
            #expect(try TestDatabase.sqlite(url, "SELECT count(DISTINCT origin) FROM dns") == "2")
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_names") == "9")
            // The view shows the text.
            let tcp = "SELECT count(*) FROM dns_v WHERE proto = 'tcp' AND sensor = 's-ü'"
            #expect(try TestDatabase.sqlite(url, tcp) == "15")
            #expect(try TestDatabase.sqlite(url, "SELECT uid FROM dns_v WHERE id = 2") == a[1].uid)
        }
    }

    /// What both tests read: `a` written as capture 7 "s-ü", `b` as capture Int64.max "t".
    static func checkReads(_ store: SQLiteStore, _ a: [LogRow], _ b: [LogRow]) async throws {
        let back = try await all(store)
        #expect(back.map(\.row) == newestFirst(a + b))
        #expect(back.filter { $0.captureID == 7 && $0.sensor == "s-ü" }.count == a.count)
        #expect(back.filter { $0.captureID == Int64.max && $0.sensor == "t" }.count == b.count)
        #expect(try await all(store, ["capture": "7"]).map(\.row) == newestFirst(a))
        #expect(try await all(store, ["sensor": "t"]).map(\.row) == newestFirst(b))
        #expect(try await all(store, ["sensor": "t", "capture": "7"]).isEmpty)
        #expect(
            try await all(store, ["transport": "tcp"]).map(\.row) == newestFirst(a + b).filter { $0.proto == "tcp" })
        #expect(try await all(store, ["transport": "udp", "sensor": "s-ü"]).map(\.row)
                == newestFirst(a).filter { $0.proto == "udp" })
        for uid in [FlowUIDBytesTests.canonical[2], "CU7", "not-a-uid", "Cnone00000000000000"] {
            #expect(
                try await all(store, ["flow": uid]).map(\.row) == newestFirst(a + b).filter { $0.uid == uid }, "\(uid)")
        }
        #expect(try await all(store, ["flow": "CU7", "capture": "7"]).map(\.row)
                == newestFirst(a).filter { $0.uid == "CU7" })
        #expect(try await all(store, ["ip": "2001:db8::53", "q": "HOST-1"]).map(\.row)
                == newestFirst(a + b).filter {
                    $0.respH.description == "2001:db8::53" && $0.values[2].textValue?.hasPrefix("host-1") == true
                })
    }

    /// A file of version 23 (rows written as main's build wrote them) converts: the
    /// store reads every field back, the filters find the same rows, `dns_v` shows the
    /// same text, and the rows take less room.
    @Test("version 23's dns rows convert to codes and uid bytes; reads, filters and dns_v unchanged")
    func migration() async throws {
        try await TestDatabase.withSQLiteStore("dnstable_migration", at: DNSTable.version - 1) { store, url, path in
            let a = Self.rows(count: 60), b = Self.rows(count: 20, start: Self.t0 + 1_000_000_000)
            try Self.writeV23(path: path, a, captureID: 7, sensor: "s-ü")
            try Self.writeV23(path: path, b, captureID: Int64.max, sensor: "t")
            let viewBefore = try Self.view(url)
            #expect(viewBefore.split(separator: "\n").count == a.count + b.count)
            let uidBytes = "SELECT sum(length(uid)) FROM dns"
            let uidBytesBefore = Int(try TestDatabase.sqlite(url, uidBytes)) ?? 0

            #expect(try await store.migrate().map(\.version) == Array(DNSTable.version...Schema.latestVersion))
            #expect(try Self.view(url) == viewBefore)
            try await Self.checkReads(store, a, b)
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_origins") == "2")
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_names") == "9")
            let ours = (a + b).filter { FlowUIDBytesTests.bytes($0.uid) != nil }.count
            #expect(try await TestDatabase.count(url, "dns", where: "typeof(uid) = 'blob'") == ours)
            #expect(uidBytesBefore - (Int(try TestDatabase.sqlite(url, uidBytes)) ?? 0) == 5 * ours)
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'dns%'") == "6")

            // New rows reuse the codes and add new ones; a second migrate changes nothing.
            let c = Self.rows(count: 5, start: Self.t0 + 2_000_000_000)
            try await store.write(StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "t", captureID: Int64.max,
                                             content: .logs(c)))
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_origins") == "2")
            #expect(try await Self.all(store, ["sensor": "t"]).map(\.row) == Self.newestFirst(b + c))
            #expect(try await store.migrate().isEmpty)
        }
    }
}
