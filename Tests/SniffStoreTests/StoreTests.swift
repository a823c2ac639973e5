import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
@testable import SniffStore
import SniffServer
import SniffTestSupport

@Suite("SQLite store")
struct SQLiteStoreTests {
    @Test("migrations apply from an empty file and are idempotent")
    func migrations() async throws {
        try await TestDatabase.withSQLite("migrate") { try await StoreChecks.migrations($0) }
    }

    @Test("the file is in WAL mode")
    func walMode() async throws {
        try await TestDatabase.withSQLite("wal") { url in
            let store = StoreFactory.open(try StoreURL(url))
            try await store.migrate()
            await store.close()
            #expect(try TestDatabase.sqlite(url, "PRAGMA journal_mode") == "wal")
        }
    }

    @Test("several sensors write into one file at once")
    func concurrentSensors() async throws {
        try await TestDatabase.withSQLite("concurrent") { try await StoreChecks.concurrentSensors($0) }
    }

    @Test("retention deletes old rows and keeps recent ones")
    func retention() async throws {
        try await TestDatabase.withSQLite("retention") { try await StoreChecks.retention($0) }
    }

    @Test("SQL injection in sensor names, stored text and filter values does nothing")
    func injection() async throws {
        try await TestDatabase.withSQLite("injection") { try await StoreChecks.injection($0) }
    }

    @Test("filters, pagination, summary, time series, talkers and stats")
    func queries() async throws {
        try await TestDatabase.withSQLite("queries") { try await StoreChecks.queries($0) }
    }

    @Test("an unreachable database: journal, then a duplicate-safe replay")
    func journal() async throws {
        try await TestDatabase.withSQLite("journal") { try await StoreChecks.journalAndReplay($0) }
    }

    @Test("sample:N keeps one packet in N; traffic sums still count all")
    func sampling() async throws {
        try await TestDatabase.withSQLite("sample") { url in
            let store = StoreFactory.open(try StoreURL(url))
            let file = TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures/app.pcap")
            let loaded = try await load(file, into: store, policy: .sample(5))
            let stored = try await allPackets(store, capture: loaded.captureID)
            #expect(stored.count == (loaded.packetLines.count + 4) / 5)
            #expect(stored.map(\.row.n) == stride(from: 1, through: loaded.packetLines.count, by: 5).map(UInt64.init))
            let summary = try await store.protocolSummary(RangeQuery())
            #expect(summary.transports.reduce(0) { $0 + $1.packets } == UInt64(loaded.packetLines.count))
            let none = try await load(file, into: store, policy: .none)
            #expect(try await allPackets(store, capture: none.captureID).isEmpty)
            #expect(try await allFlows(store, capture: none.captureID).count == none.flowLines.count)
            await store.close()
        }
    }
}

/// Everything that needs the PostgreSQL server runs in this one serialized suite: the
/// kill test stops the server, which no other test may see.
@Suite(
    "PostgreSQL store", .serialized,
    .enabled(if: StoreTestEnv.hasPostgres, "set SNIFF_TEST_PG_URL (scripts/test.sh starts a server)"))
struct PostgresStoreTests {
    @Test("round trip of every field for every capture")
    func roundTrip() async throws {
        try await TestDatabase.withPostgres("roundtrip") { url in
            for f in StoreTestEnv.captures { try await expectRoundTrip(f, url) }
        }
    }

    @Test("report totals equal the API's on every capture",
          .enabled(if: TestPaths.sharedPcaps != nil, "needs ../shared/pcaps beside the repository"))
    func reportEqualsAPI() async throws {
        try await TestDatabase.withPostgres("summary") { try await SummaryConsistencyTests.expectReportEqualsAPI($0) }
    }

    @Test("migrations apply from an empty database and are idempotent")
    func migrations() async throws {
        try await TestDatabase.withPostgres("migrate") { try await StoreChecks.migrations($0) }
    }

    @Test("a database stopped at version 6 migrates with its packets kept")
    func migrateFromVersion6() async throws {
        try await TestDatabase.withPostgres("v6") { try await MigrationRegistryTests.fromVersion6($0) }
    }

    @Test("flow TLS/QUIC handshake columns stored and searched with tls=")
    func handshake() async throws {
        try await TestDatabase.withPostgres("handshake") { try await FlowHandshakeStoreTests.storedAndSearched($0) }
    }

    @Test("flow tunnel columns stored from the tunnel fixtures and searched with tunnel=")
    func tunnels() async throws {
        try await TestDatabase.withPostgres("tunnels") { try await FlowTunnelStoreTests.storedAndSearched($0) }
    }

    @Test("protocol logs: every field, filters and paging")
    func logs() async throws {
        try await TestDatabase.withPostgres("logs") { try await LogStoreTests.roundTrip($0) }
    }

    @Test("protocol logs: keyed reads over several segments, rows out of time order")
    func logSegments() async throws {
        try await TestDatabase.withPostgres("logsegments") { try await LogStoreTests.segmentReads($0) }
    }

    @Test(
        "protocol logs: rows written before the segment-keyed indexes are found by uid and address after the migration")
    func logsBeforeSegments() async throws {
        try await TestDatabase.withPostgres("logsbefore") { try await LogStoreTests.beforeLogSegments($0) }
    }

    @Test("protocol logs: a capture's rows equal --logs JSON")
    func logsCapture() async throws {
        try await TestDatabase.withPostgres("logscap") { try await LogStoreTests.captureEqualsLogFiles($0) }
    }

    @Test("protocol logs: journaled batches replayed once")
    func logsJournal() async throws {
        try await TestDatabase.withPostgres("logsjournal") { try await LogStoreTests.journalReplay($0) }
    }

    @Test("flow names, countries, ASNs and processes; the hosts tables")
    func hosts() async throws {
        try await TestDatabase.withPostgres("hosts") { try await HostStoreTests.storedAndRead($0) }
    }

    @Test("hosts: the MAC of local addresses and its vendor",
          .enabled(if: HostStoreTests.hasVendorCapture, "needs ieee-data (/usr/share/ieee-data) and ../shared/pcaps"))
    func hostMACs() async throws {
        try await TestDatabase.withPostgres("hostmacs") { try await HostStoreTests.macsStoredAndRead($0) }
    }

    @Test("types: inet addresses, bigint nanoseconds, day partitions with a default")
    func types() async throws {
        try await TestDatabase.withPostgres("types") { url in
            let store = StoreFactory.open(try StoreURL(url))
            try await store.migrate()
            var rows = syntheticRows(count: 3, start: 1_700_000_000_123_456_789)
            rows[1].src = IPAddress("2001:db8::1")!
            rows[1].dst = IPAddress("::ffff:10.1.2.3")!
            rows[1].ipVersion = 6
            try await store.write(
                StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "t", captureID: 1, content: .packets(rows)))
            let types = try await TestDatabase.query(url, """
                SELECT pg_typeof(src)::text, pg_typeof(ts)::text, pg_typeof(eth_src)::text, min(ts)::text FROM packets GROUP BY 1, 2, 3
                """)
            #expect(types.first?[0] == "inet" && types.first?[1] == "bigint" && types.first?[2] == "macaddr")
            #expect(types.first?[3] == "1700000000123456789")
            let v6 = try await TestDatabase.query(
                url, "SELECT count(*)::text FROM packets WHERE src << '2001:db8::/32'::inet")
            #expect(v6.first?[0] == "1")
            let parts = try await TestDatabase.query(url, """
                SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'packets' ORDER BY 1
                """).compactMap { $0[0] }
            #expect(parts.contains("packets_p20231114") && parts.contains("packets_default"))
            #expect(try await TestDatabase.count(url, "packets_p20231114") == 3)
            // A batch spanning more distinct days than partitions made per batch: the
            // rest lands in the default partition, nothing is refused.
            let day: Int64 = 86_400_000_000_000
            let spread = (0..<40).map { i -> PacketRow in
                var r = syntheticRows(
                    count: 1, start: 1_500_000_000_000_000_000 + Int64(i) * day, firstNumber: UInt64(i + 10))[0]
                r.n = UInt64(i + 10)
                return r
            }
            try await store.write(
                StoreBatch(id: BatchID(writer: 1, seq: 2), sensor: "t", captureID: 1, content: .packets(spread)))
            #expect(try await TestDatabase.count(url, "packets") == 43)
            #expect(try await TestDatabase.count(url, "packets_default") == 40 - PostgresStore.maxNewPartitionsPerBatch)
            // Partitions of today and the next two days exist before their packets.
            let m = try await store.maintain(now: Timestamp.now().totalNanoseconds, retentionCutoff: nil)
            #expect(m.partitionsCreated.count == 9)
            let info = try await store.info()
            #expect(
                info.partitions.first { $0.table == "packets" }!.count >= 3 + PostgresStore.maxNewPartitionsPerBatch)
            await store.close()
        }
    }

    @Test("several sensors write into one database at once")
    func concurrentSensors() async throws {
        try await TestDatabase.withPostgres("concurrent") { try await StoreChecks.concurrentSensors($0) }
    }

    @Test("retention drops old day partitions")
    func retention() async throws {
        try await TestDatabase.withPostgres("retention") { try await StoreChecks.retention($0) }
    }

    @Test("SQL injection in sensor names, COPY text and filter values does nothing")
    func injection() async throws {
        try await TestDatabase.withPostgres("injection") { try await StoreChecks.injection($0) }
    }

    @Test("filters, pagination, summary, time series, talkers and stats")
    func queries() async throws {
        try await TestDatabase.withPostgres("queries") { try await StoreChecks.queries($0) }
    }

    @Test("an unreachable database: journal, then a duplicate-safe replay")
    func journal() async throws {
        try await TestDatabase.withPostgres("journal") { try await StoreChecks.journalAndReplay($0) }
    }

    @Test("the server killed mid-load (pg_ctl stop -m immediate) and restarted: every row stored once")
    func killedMidLoad() async throws {
        let env = StoreTestEnv.env
        let data = try #require(env["SNIFF_TEST_PG_DATA"])
        let pgctl = try #require(env["SNIFF_TEST_PG_CTL"])
        try await TestDatabase.withPostgres("kill") { url in
            let store = StoreFactory.open(try StoreURL(url))
            // A COPY whose server died may never be answered: give up on it quickly.
            (store as? PostgresStore)?.operationTimeoutSeconds = 5
            let writer = StoreChecks.outageWriter(store, journal: "kill", memoryLimitRows: 100_000)
            let batches = 120, rows = 5000
            let now = Timestamp.now().totalNanoseconds
            // Submitted from a plain thread, as the capture thread does, while the
            // server goes away and comes back.
            let producer = Task.detached {
                for b in 0..<batches {
                    writer.submit(
                        StoreBatch(
                            id: writer.makeBatchID(), sensor: "kill", captureID: 9,
                            content: .packets(
                                syntheticRows(
                                    count: rows, start: now + Int64(b * rows) * 1000,
                                    firstNumber: UInt64(b * rows + 1)))))
                    try? await Task.sleep(nanoseconds: 5_000_000)
                }
            }
            // Wait until part of it is stored, then kill the server.
            var waited = 0
            while writer.currentStats.packetsStored < UInt64(rows * 10) && waited < 600 {
                try await Task.sleep(nanoseconds: 50_000_000)
                waited += 1
            }
            let storedBefore = writer.currentStats.packetsStored
            #expect(storedBefore > 0 && storedBefore < UInt64(batches * rows), "the kill comes mid-load")
            try shell("\(pgctl) -D '\(data)' stop -m immediate", capture: false)
            // The writer notices (a refused connection, or a COPY left unanswered past
            // the operation timeout) and keeps the batches meanwhile.
            waited = 0
            while !writer.currentStats.failing && waited < 300 {
                try await Task.sleep(nanoseconds: 100_000_000)
                waited += 1
            }
            let during = writer.currentStats
            #expect(during.failing, "the writer noticed")
            #expect(during.packetsPending > 0)
            try await Task.sleep(nanoseconds: 1_000_000_000)
            try shell("\(pgctl) -D '\(data)' -w -t 60 start -l '\(data)/../restart.log'", capture: false)
            await producer.value
            let report = await writer.finishing(timeoutSeconds: 120)
            #expect(report.complete)
            #expect(report.stats.packetsStored == UInt64(batches * rows))
            #expect(try await TestDatabase.count(url, "packets") == batches * rows)
            // Each row once: no frame number twice.
            #expect(try await TestDatabase.count(url, "(SELECT n FROM packets GROUP BY n HAVING count(*) > 1) d") == 0)
            #expect(try await TestDatabase.count(url, "sniff_batches") == batches)
            await store.close()
        }
    }
}

@Suite("Store parts")
struct StorePartsTests {
    @Test("URLs: sqlite paths, postgres URLs, PG* variables")
    func urls() throws {
        #expect(try StoreURL("sqlite:") == .sqlite(path: "sniff.db"))
        #expect(try StoreURL("sqlite:/var/lib/sniff.db") == .sqlite(path: "/var/lib/sniff.db"))
        #expect(try StoreURL("sqlite://rel/x.db") == .sqlite(path: "rel/x.db"))
        guard
            case .postgres(let t) = try StoreURL(
                "postgres://u%40x:p%3Ass@db.example:6543/sniff?sslmode=disable", environment: [:])
        else {
            Issue.record("not postgres"); return
        }
        #expect(
            t.user == "u@x" && t.password == "p:ss" && t.host == "db.example" && t.port == 6543 && t.database == "sniff"
                && t.sslMode == "disable")
        #expect(t.redacted == "postgres://u@x@db.example:6543/sniff")
        let env = ["PGHOST": "/run/postgresql", "PGPORT": "5433", "PGUSER": "sn", "PGPASSWORD": "pw", "PGDATABASE": "d"]
        guard case .postgres(let e) = try StoreURL("postgresql://", environment: env) else {
            Issue.record("not postgres"); return
        }
        #expect(
            e.isUnixSocket && e.socketPath == "/run/postgresql/.s.PGSQL.5433" && e.user == "sn" && e.password == "pw"
                && e.database == "d")
        guard case .postgres(let v6) = try StoreURL("postgres://[::1]:5432/x", environment: ["USER": "me"]) else {
            Issue.record("not postgres"); return
        }
        #expect(v6.host == "::1" && v6.user == "me")
        #expect(throws: StoreError.self) { try StoreURL("mysql://x") }
        #expect(throws: StoreError.self) { try StoreURL("postgres://h:notaport/x", environment: [:]) }
        #expect(throws: StoreError.self) { try StoreURL("postgres://h/x?sslmode=maybe", environment: [:]) }
    }

    @Test("times in parameters: epoch seconds and RFC 3339, exact to the nanosecond")
    func times() {
        #expect(TimeText.nanoseconds("1700000000") == 1_700_000_000_000_000_000)
        #expect(TimeText.nanoseconds("1700000000.123456789") == 1_700_000_000_123_456_789)
        #expect(TimeText.nanoseconds("1700000000.5") == 1_700_000_000_500_000_000)
        #expect(TimeText.nanoseconds("2023-11-14T22:13:20Z") == 1_700_000_000_000_000_000)
        #expect(TimeText.nanoseconds("2023-11-14T23:13:20.25+01:00") == 1_700_000_000_250_000_000)
        for bad in ["", "x", "1.2.3", "1700000000.1234567891", "2023-13-01T00:00:00Z", "1e9", "0x10"] {
            #expect(TimeText.nanoseconds(bad) == nil, "\(bad)")
        }
        #expect(TimeText.dayName(19_675) == "20231114")
        #expect(TimeText.daysFromCivil(2023, 11, 14) == 19_675)
        #expect(PostgresStore.day(fromPartition: "packets_p20231114", table: "packets") == 19_675)
        #expect(RetentionText.nanoseconds("7d") == Int64(7 * 86_400_000_000_000))
        #expect(RetentionText.nanoseconds("12h") == Int64(12 * 3_600_000_000_000))
        #expect(
            RetentionText.nanoseconds("0d") == nil && RetentionText.nanoseconds("7") == nil
                && RetentionText.nanoseconds("d") == nil)
        #expect(
            PacketPolicy("all") == .all && PacketPolicy("none") == PacketPolicy.none
                && PacketPolicy("sample:10") == .sample(10))
        #expect(PacketPolicy("sample:0") == nil && PacketPolicy("some") == nil)
    }

    @Test("a batch survives the journal's binary form unchanged")
    func codec() throws {
        var rows = syntheticRows(count: 5, start: -5_000)
        rows[2].dnsQuery = "é\u{FFFD}\t."; rows[2].present.insert(.dnsQuery)
        rows[3].flowUID = "Cabc"; rows[3].present.insert(.flowUID)
        rows[4].src = IPAddress("2001:db8::5")!
        var flow = FlowRow()
        flow.uid = "C1"; flow.localOrig = true; flow.localResp = false; flow.durationNanos = 5; flow.vlan = 7;
        flow.history = "ShAD"
        var alert = AlertRow()
        alert.hosts = [IPAddress("10.0.0.1")!, IPAddress("::1")!]; alert.uid = "C2"
        var info = CaptureInfo(id: 3, sensor: "s", source: "file x", start: 1)
        info.end = 9; info.kernelDropped = 4
        for content in [BatchContent.packets(rows), .flows([flow]), .alerts([alert]), .capture(info),
                        .traffic([TrafficRow(ts: 5, transport: .udp, app: .dns, packets: 2, bytes: 3)])] {
            let b = StoreBatch(
                id: BatchID(writer: -4, seq: 9), sensor: "sënsor", captureID: 12, content: content, createdAt: 77)
            var w = BinaryWriter()
            BatchCodec.encode(b, into: &w)
            let back = try w.bytes.withUnsafeBytes { raw -> StoreBatch in
                var r = BinaryReader(raw)
                let d = try BatchCodec.decode(&r)
                #expect(r.isAtEnd)
                return d
            }
            #expect(back == b)
            // Every shorter prefix is an error, never a trap.
            for cut in stride(from: 0, to: w.bytes.count, by: max(1, w.bytes.count / 50)) {
                #expect(throws: (any Error).self) {
                    try w.bytes.prefix(cut).withUnsafeBytes { raw in
                        var r = BinaryReader(raw); _ = try BatchCodec.decode(&r)
                    }
                }
            }
        }
    }

    @Test("stored text: invalid UTF-8 and NUL become U+FFFD as in the NDJSON")
    func text() {
        func s(_ b: [UInt8]) -> String { b.withUnsafeBytes { StoreText.string($0) } }
        #expect(s(Array("plain.example".utf8)) == "plain.example")
        #expect(s([0x61, 0xFF, 0x62]) == "a\u{FFFD}b")
        #expect(s([0x61, 0x00, 0x62]) == "a\u{FFFD}b")
        #expect(s([0xE2, 0x82]) == "\u{FFFD}\u{FFFD}")
        #expect(s(Array("é".utf8)) == "é")
        #expect(StoreText.clean("a\u{0}b") == "a\u{FFFD}b")
    }

    @Test("COPY text escapes what the format needs and nothing else")
    func copyText() {
        var c = CopyText()
        c.text("a\\b\tc\nd\re\\N")
        c.tab(); c.text(nil as String?); c.tab(); c.int(-5)
        #expect(c.sink.string == "a\\\\b\\tc\\nd\\re\\\\N\t\\N\t-5")
    }

    @Test("API parameters are checked and named in errors")
    func parameters() throws {
        let q = try PacketQuery(parameters: [
            "ip": "10.0.0.0/8", "port": "53", "transport": "UDP", "app": "dns", "limit": "1000",
            "from": "1700000000", "sensor": "a"
        ])
        #expect(
            q.filter.ip == IPNetwork("10.0.0.0/8") && q.filter.port == 53 && q.filter.transport == .udp
                && q.filter.app == .dns)
        #expect(q.limit == 1000 && q.filter.from == 1_700_000_000_000_000_000)
        #expect(try PacketQuery(parameters: ["ip": "192.168.1.7"]).filter.ip?.prefixLength == 32)
        for (name, value) in [
            ("limit", "1001"), ("limit", "0"), ("port", "65536"), ("ip", "10.0.0.0/33"), ("transport", "sctp"),
            ("app", "nope"), ("capture", "x"), ("sensor", String(repeating: "s", count: 129))
        ] {
            do {
                _ = try PacketQuery(parameters: [name: value])
                Issue.record("\(name)=\(value) accepted")
            } catch let e as APIError {
                #expect(e.parameter == name && e.status == .badRequest)
            }
        }
        #expect(try Cursor.parse("p.1.2.3", kind: "p", count: 3) == Cursor(kind: "p", values: [1, 2, 3]))
        #expect(throws: StoreError.self) { try Cursor.parse("p.1.2", kind: "p", count: 3) }
        #expect(throws: StoreError.self) { try Cursor.parse("f.1.2", kind: "p", count: 2) }
        #expect(throws: StoreError.self) { try Cursor.parse("p.1;DROP.2", kind: "p", count: 2) }
    }
}
