import Foundation
import Testing
import SniffCore
import SniffAnalysis
@testable import SniffStore
import SniffServer
import SniffTestSupport

/// The protocol logs in the store (dns, http, tls tables): every field written and read
/// back on both backends, a capture's rows equal to what `--logs --logs-format json`
/// writes for it, the filters, paging and parameter errors, and the journal's kind 8.
/// The PostgreSQL runs are in `PostgresStoreTests` (the one suite that uses the server).
struct LogStoreTests {
    /// One row of each kind with every column set (text with the characters COPY, the
    /// vector encoding and JSON treat specially), and one with every column unset.
    static func sampleRows(ts: Int64 = 1_700_000_000_123_456_789) -> [LogRow] {
        let tricky = "a,b\\c\t\"d\"\né, x2c \\x2c"
        func full(_ k: LogKind, _ n: Int64) -> LogRow {
            let values = k.columns.enumerated().map { j, c -> LogValue in
                switch c.kind {
                case .int: return .int(n * 1000 + Int64(j))
                case .text: return .text("\(c.name) \(tricky)")
                case .bool: return .bool(j % 2 == 0)
                case .texts: return .list([tricky, "", "plain"])
                case .ints: return .list(["0", "4294967295"])
                }
            }
            return LogRow(kind: k, ts: ts + n, uid: "C\(n)uid", origH: IPAddress("2001:db8::1")!, origP: 53000,
                          respH: IPAddress("192.0.2.53")!, respP: 53, proto: n % 2 == 0 ? "udp" : "tcp", values: values)
        }
        func empty(_ k: LogKind, _ n: Int64) -> LogRow {
            LogRow(
                kind: k, ts: ts + n, uid: "E\(n)", origH: IPAddress("10.0.0.1")!, origP: 0,
                respH: IPAddress("10.0.0.2")!, respP: 65535, proto: "tcp",
                values: Array(repeating: .null, count: k.columns.count))
        }
        return LogKind.allCases.enumerated().flatMap { i, k in [full(k, Int64(2 * i)), empty(k, Int64(2 * i + 1))] }
    }

    static func all(_ store: any PacketStore, _ kind: LogKind, _ parameters: [String: String] = [:],
                    pageSize: Int = 1000) async throws -> [StoredLog] {
        var out: [StoredLog] = []
        var p = parameters
        p["limit"] = String(pageSize)
        repeat {
            let page = try await store.logs(LogQuery(kind: kind, parameters: p))
            out += page.rows
            p["cursor"] = page.nextCursor
        } while p["cursor"] != nil
        return out
    }

    @Test("vectors: commas and backslashes in items survive the database's text")
    func vectorText() {
        for items in [["a"], ["a,b", "c\\d", "\\x2c", ""], ["", ""], ["x\\", "\\"]] {
            #expect(LogValue.split(LogValue.joined(items)) == items)
        }
        #expect(LogValue.joined(["1.2.3.4", "a,b"]) == "1.2.3.4,a\\x2cb")
    }

    @Test("journal kind 8: log rows of every kind read back equal")
    func journalCodec() throws {
        let batch = StoreBatch(
            id: BatchID(writer: 5, seq: 6), sensor: "s", captureID: 7, content: .logs(Self.sampleRows()),
            createdAt: 8)
        #expect(try JournalCodec.roundTrip(batch) == batch)
    }

    @Test("SQLite: every field, filters and paging") func sqliteRoundTrip() async throws {
        try await TestDatabase.withSQLite("logs") { try await Self.roundTrip($0) }
    }

    @Test("SQLite: a capture's rows equal --logs JSON") func sqliteCapture() async throws {
        try await TestDatabase.withSQLite("logscap") { try await Self.captureEqualsLogFiles($0) }
    }

    @Test("SQLite: log batches journaled while the database is down are replayed once")
    func sqliteJournal() async throws {
        try await TestDatabase.withSQLite("logsjournal") { try await Self.journalReplay($0) }
    }

    @Test("SQLite: keyed reads over several segments, rows out of time order") func sqliteSegments() async throws {
        try await TestDatabase.withSQLite("logsegments") { try await Self.segmentReads($0) }
    }

    /// After each batch the writer widens the time ranges of the segments its rows went
    /// to: it must find those rows by their ids, not read an index whole in segment
    /// order (which SQLite chose by itself, making each batch cost as much as the table
    /// held: 0.13 s a batch at 140 k DNS rows).
    @Test("SQLite: a batch's segment ranges are read by rowid, not by scanning an index")
    func sqliteSegmentUpsertPlan() async throws {
        try await TestDatabase.withSQLite("logsegplan") { url in
            let store = try #require(StoreFactory.open(try StoreURL(url)) as? SQLiteStore)
            defer { Task { await store.close() } }
            try await store.migrate()
            for k in LogKind.allCases {
                let plan = try await store.reader.run { c in
                    try c.query("EXPLAIN QUERY PLAN " + Schema.logSegmentUpsert(k, .sqlite), [.int(0)]) { $0.text(3) }
                }
                #expect(plan.contains { $0.hasPrefix("SEARCH \(k.table) USING INTEGER PRIMARY KEY") }, "\(k): \(plan)")
                #expect(!plan.contains { $0.hasPrefix("SCAN \(k.table)") }, "\(k): \(plan)")
            }
        }
    }

    /// Rows in four segments of the uid and address indexes, written in batches as the
    /// writer does and out of time order (every 97th row carries a time from long
    /// before, as a DNS timeout's row does): every keyed read (uid, src, dst, an exact
    /// ip, with a time range, with a port), whole and paged, returns the rows filtered
    /// and sorted in memory (newest first, later rows first among equal times).
    static func segmentReads(_ url: String) async throws {
        let store = StoreFactory.open(try StoreURL(url))
        defer { Task { await store.close() } }
        try await store.migrate()
        let base: Int64 = 1_700_000_000_000_000_000
        var seed: UInt64 = 7
        var rows: [LogRow] = []
        for i in 0..<(3 * (1 << Schema.logSegmentShift) + 500) {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let jitter = Int64(seed >> 33) % 5000
            let ts = base + Int64(i) * 1000 + (i % 97 == 0 ? -Int64(i) * 3000 : jitter)
            let orig = i % 50 == 0 ? "10.9.9.9" : "10.1.\(i / 256 % 256).\(i % 256)"
            let resp = i % 3 == 0 ? "192.0.2.53" : "192.0.2.\(i % 7)"
            rows.append(
                LogRow(
                    kind: .dns, ts: ts, uid: "C\(i % 1000)", origH: IPAddress(orig)!, origP: UInt16(1024 + i % 60000),
                    respH: IPAddress(resp)!, respP: 53, proto: "udp",
                    values: Array(repeating: .null, count: LogKind.dns.columns.count)))
        }
        for (n, start) in stride(from: 0, to: rows.count, by: 1024).enumerated() {
            let batch = Array(rows[start..<min(start + 1024, rows.count)])
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 1, seq: Int64(n + 1)), sensor: "seg", captureID: 1, content: .logs(batch)))
        }
        // Row i has id i + 1: newest first, then the later row first.
        let order = rows.indices.sorted { (rows[$0].ts, $0) > (rows[$1].ts, $1) }
        let cases: [([String: String], (LogRow) -> Bool)] = [
            (["src": "10.9.9.9"], { $0.origH.description == "10.9.9.9" }),
            (["dst": "192.0.2.53"], { $0.respH.description == "192.0.2.53" }),
            (["ip": "192.0.2.53"], { $0.respH.description == "192.0.2.53" }),
            (["ip": "10.9.9.9", "from": "1700000000.005", "to": "1700000000.02"],
             { $0.origH.description == "10.9.9.9" && $0.ts >= base + 5_000_000 && $0.ts < base + 20_000_000 }),
            (["dst": "192.0.2.53", "sport": "1024"], { $0.respH.description == "192.0.2.53" && $0.origP == 1024 }),
            (["flow": "C7"], { $0.uid == "C7" }),
            (["src": "10.200.0.1"], { _ in false }),
        ]
        for (parameters, matches) in cases {
            let expected = order.map { rows[$0] }.filter(matches)
            #expect(try await all(store, .dns, parameters, pageSize: 100).map(\.row) == expected, "\(parameters)")
            if expected.count < 1000 {
                #expect(
                    try await all(store, .dns, parameters, pageSize: 7).map(\.row) == expected,
                    "\(parameters), pages of 7")
            }
        }
        // Retention drops the time ranges of segments it emptied, and reads stay right.
        let cutoff = base + 20_000_000
        try await store.maintain(now: Timestamp.now().totalNanoseconds, retentionCutoff: cutoff)
        #expect(try await all(store, .dns, ["src": "10.9.9.9"]).map(\.row)
                == order.map { rows[$0] }.filter { $0.origH.description == "10.9.9.9" && $0.ts >= cutoff })
    }

    @Test("SQLite: log rows written before the segment-keyed indexes are found by uid and address after the migration")
    func sqliteBeforeLogSegments() async throws {
        try await TestDatabase.withSQLite("logsbefore") { try await Self.beforeLogSegments($0) }
    }

    /// Log rows written with plain SQL at the version before `Schema.logSegmentsVersion`
    /// (indexes keyed by uid and address alone), then `migrate()`: the segment-keyed
    /// reads find them, and new rows are written beside them.
    static func beforeLogSegments(_ url: String) async throws {
        let store = StoreFactory.open(try StoreURL(url))
        defer { Task { await store.close() } }
        if let s = store as? SQLiteStore {
            _ = try await s.migrate(through: Schema.logSegmentsVersion - 1)
        } else {
            _ = try await #require(store as? PostgresStore).migrate(through: Schema.logSegmentsVersion - 1)
        }
        let insert = "INSERT INTO dns (capture_id, sensor, ts, uid, orig_h, orig_p, resp_h, resp_p, proto) VALUES "
            + "(3, 'old', 1700000000000000002, 'COld1', '10.0.0.1', 40000, '10.0.0.53', 53, 'udp'), "
            + "(3, 'old', 1700000000000000001, 'COld2', '10.0.0.2', 40001, '10.0.0.53', 53, 'udp')"
        if url.hasPrefix("sqlite:") {
            _ = try TestDatabase.sqlite(url, insert)
        } else {
            try await TestDatabase.admin(url, insert)
        }
        #expect(try await store.migrate().map(\.version) == Array(Schema.logSegmentsVersion...Schema.latestVersion))
        #expect(try await all(store, .dns, ["flow": "COld2"]).map(\.row.ts) == [1_700_000_000_000_000_001])
        #expect(try await all(store, .dns, ["ip": "10.0.0.53"]).map(\.row.uid) == ["COld1", "COld2"])
        #expect(try await all(store, .dns, ["src": "10.0.0.1"]).map(\.row.uid) == ["COld1"])
        try await store.write(StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "new", captureID: 4,
                                         content: .logs(sampleRows(ts: 1_700_000_000_000_000_010))))
        #expect(try await all(store, .dns, ["ip": "10.0.0.1"]).map(\.row.uid) == ["E1", "COld1"])
        if url.hasPrefix("sqlite:") {
            // Schema 20: the old rows' addresses are bytes now, like the new rows'; the view shows text.
            #expect(
                try TestDatabase.sqlite(url, "SELECT group_concat(DISTINCT typeof(orig_h) || typeof(resp_h)) FROM dns")
                    == "blobblob")
            #expect(
                try TestDatabase.sqlite(url, "SELECT orig_h || ' ' || resp_h FROM dns_v WHERE uid = 'COld2'")
                    == "10.0.0.2 10.0.0.53")
            #expect(try await all(store, .dns, ["ip": "10.0.0.0/24"]).map(\.row.uid) == ["E1", "COld1", "COld2"])
        }
    }

    static func roundTrip(_ url: String) async throws {
        let store = StoreFactory.open(try StoreURL(url))
        defer { Task { await store.close() } }
        try await store.migrate()
        let rows = sampleRows()
        try await store.write(
            StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "rt", captureID: 9, content: .logs(rows)))
        try await store.write(StoreBatch(id: BatchID(writer: 1, seq: 2), sensor: "other", captureID: 10,
                                         content: .logs(sampleRows(ts: 1_600_000_000_000_000_000))))
        for k in LogKind.allCases {
            let back = try await all(store, k, ["capture": "9"])
            // Newest first.
            #expect(back.map(\.row) == rows.filter { $0.kind == k }.sorted { $0.ts > $1.ts })
            #expect(back.allSatisfy { $0.sensor == "rt" && $0.captureID == 9 })
            // Paging one row at a time gives the same rows.
            #expect(try await all(store, k, ["capture": "9"], pageSize: 1).map(\.row) == back.map(\.row))
            #expect(try await all(store, k, ["sensor": "other"]).count == 2)
            #expect(try await all(store, k, ["ip": "2001:db8::/32"]).count == 2)
            #expect(try await all(store, k, ["src": "10.0.0.1", "capture": "9"]).count == 1)
            #expect(try await all(store, k, ["dst": "10.0.0.1"]).isEmpty)
            #expect(try await all(store, k, ["port": "65535"]).count == 2)
            #expect(try await all(store, k, ["dport": "53", "sport": "53000"]).count == 2)
            #expect(
                try await all(store, k, ["flow": back.last!.row.uid]).map(\.row.uid)
                    == [back.last!.row.uid, back.last!.row.uid])
            #expect(try await all(store, k, ["from": "1650000000", "to": "1800000000"]).count == 2)
            // `q` searches the kind's text column, case-insensitively, wildcards literal.
            #expect(try await all(store, k, ["q": "\(k.textColumn.uppercased()) A,B", "capture": "9"]).count == 1)
            #expect(try await all(store, k, ["q": "%"]).isEmpty)
        }
        #expect(try await all(store, .dns, ["transport": "tcp", "capture": "9"]).count == 1)
        // Retention deletes log rows older than the cutoff with the rest.
        try await store.maintain(now: Timestamp.now().totalNanoseconds, retentionCutoff: 1_650_000_000_000_000_000)
        for k in LogKind.allCases {
            #expect(try await all(store, k, ["sensor": "other"]).isEmpty)
            #expect(try await all(store, k, ["capture": "9"]).count == 2)
        }
        for bad in [["transport": "icmp"], ["uid": ""], ["uid": "a", "flow": "b"], ["sort": "bytes"], ["limit": "0"],
                    ["ip": "nonsense"], ["from": "yesterday"]] {
            #expect(throws: APIError.self) { _ = try LogQuery(kind: .dns, parameters: bad) }
        }
        // A cursor is the store's own: it refuses one it did not make.
        #expect(throws: StoreError.self) {
            _ = try Schema.logQuerySQL(LogQuery(kind: .dns, parameters: ["cursor": "x"]), .sqlite)
        }
    }

    /// logs.pcap (DNS over UDP and TCP, pipelined HTTP), tls.pcap and quic.pcap read
    /// through the storing pipeline: every stored row is the --logs JSON line of the
    /// same transaction or handshake, field by field.
    static func captureEqualsLogFiles(_ url: String) async throws {
        let store = StoreFactory.open(try StoreURL(url))
        defer { Task { await store.close() } }
        let fixtures = TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures")
        var checked: [LogKind: Int] = [:]
        var subjects = 0
        for name in ["logs.pcap", "tls.pcap", "tls-cert.pcap", "quic.pcap"] {
            let loaded = try await load(fixtures.appendingPathComponent(name), into: store)
            for (kind, lines) in [(LogKind.dns, loaded.dnsLines), (.http, loaded.httpLines), (.tls, loaded.sslLines)] {
                let stored = try await all(store, kind, ["capture": String(loaded.captureID)])
                #expect(stored.count == lines.count, "\(name) \(kind)")
                var byKey: [String: [LogRow]] = [:]
                for s in stored { byKey[Self.key(s.row), default: []].append(s.row) }
                for line in lines {
                    let z = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                    let k = Self.key(z, kind)
                    guard var candidates = byKey[k], !candidates.isEmpty else {
                        Issue.record("\(name): no stored \(kind) row for \(line)")
                        continue
                    }
                    let row = candidates.removeFirst()
                    byKey[k] = candidates
                    Self.expectSame(row, z, line)
                    checked[kind, default: 0] += 1
                    if row["subject"]?.textValue != nil { subjects += 1 }
                }
            }
        }
        // The fixtures have each kind (the counts are the --logs files').
        #expect(checked[.dns, default: 0] > 5 && checked[.http, default: 0] > 2 && checked[.tls, default: 0] > 3)
        // The TLS 1.2 certificates of tls.pcap (2) and tls-cert.pcap (2).
        #expect(subjects == 4)
    }

    static func key(_ r: LogRow) -> String {
        "\(r.uid)|\(r.ts / 1000)|\(r.values.first?.intValue.map(String.init) ?? "")"
    }

    static func key(_ z: [String: Any], _ kind: LogKind) -> String {
        let micros = Int64(((number(z["ts"]) ?? 0) * 1e6).rounded())
        let first = kind == .dns ? z["trans_id"] : kind == .http ? z["trans_depth"] : nil
        return "\(z["uid"] as? String ?? "")|\(micros)|\(number(first).map { String(Int64($0)) } ?? "")"
    }

    static func number(_ a: Any?) -> Double? {
        if let n = a as? NSNumber { return n.doubleValue }
        return a as? Double
    }

    /// Zeek's JSON names for the columns whose stored name differs.
    static let zeekNames = ["rtt_ns": "rtt", "aa": "AA", "tc": "TC", "rd": "RD", "ra": "RA", "z": "Z", "ttls": "TTLs"]

    static func expectSame(_ r: LogRow, _ z: [String: Any], _ line: String) {
        var seen: Set<String> = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "tags"]
        #expect(z["id.orig_h"] as? String == r.origH.description, "\(line)")
        #expect(z["id.resp_h"] as? String == r.respH.description, "\(line)")
        #expect(number(z["id.orig_p"]) == Double(r.origP) && number(z["id.resp_p"]) == Double(r.respP), "\(line)")
        if r.kind == .dns { #expect(z["proto"] as? String == r.proto); seen.insert("proto") }
        for (c, v) in zip(r.kind.columns, r.values) {
            let name = zeekNames[c.name] ?? c.name
            seen.insert(name)
            let zv = z[name]
            switch c.kind {
            case .text:
                #expect(zv as? String == v.textValue, "\(name) in \(line)")
            case .int:
                let scale = name == "rtt" ? 1e9 : 1
                if let x = v.intValue, let n = number(zv) {
                    #expect(abs(n - Double(x) / scale) < 2e-6, "\(name) in \(line)")
                } else {
                    #expect(zv == nil && v == .null, "\(name) in \(line)")
                }
            case .bool:
                #expect((zv as? Bool) == v.boolValue, "\(name) in \(line)")
            case .texts:
                #expect(((zv as? [Any]) ?? []).compactMap { $0 as? String } == v.listValue, "\(name) in \(line)")
            case .ints:
                #expect(
                    ((zv as? [Any]) ?? []).compactMap { number($0) } == v.listValue.compactMap(Double.init),
                    "\(name) in \(line)")
            }
        }
        // Nothing --logs writes is missing from the store.
        #expect(Set(z.keys).subtracting(seen).isEmpty, "not stored: \(Set(z.keys).subtracting(seen)) in \(line)")
    }

    /// Log batches submitted while the database is unreachable go to the journal and
    /// are stored once when it is replayed (twice: the second time as duplicates).
    static func journalReplay(_ goodURL: String) async throws {
        let journalDir = StoreTestEnv.tempDirectory("logspill")
        defer { try? FileManager.default.removeItem(atPath: journalDir) }
        let (writer, dead, _) = try StoreChecks.unreachableWriter(journal: journalDir, memoryLimitRows: 4)
        let rows = sampleRows()
        for b in 0..<3 {
            writer.submit(
                StoreBatch(id: writer.makeBatchID(), sensor: "spill", captureID: 80 + Int64(b), content: .logs(rows)))
        }
        #expect(writer.currentStats.journalBatches >= 2, "past the memory bound, batches go to the journal")
        let report = await writer.finishing(timeoutSeconds: 0.5)
        await dead.close()
        let path = try #require(report.journalPaths.first)
        let store = StoreFactory.open(try StoreURL(goodURL))
        defer { Task { await store.close() } }
        try await store.migrate()
        let copy = path + ".copy"
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        let r = try await JournalReplay.replay(path: path, into: store)
        #expect(r.batches == 3 && r.duplicates == 0)
        try FileManager.default.moveItem(atPath: copy, toPath: path)
        let again = try await JournalReplay.replay(path: path, into: store)
        #expect(again.batches == 3 && again.duplicates == 3)
        for k in LogKind.allCases {
            for b in 0..<3 {
                let back = try await all(store, k, ["capture": String(80 + b)])
                #expect(back.map(\.row) == rows.filter { $0.kind == k }.sorted { $0.ts > $1.ts })
            }
        }
    }
}
