import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
@testable import SniffStore

/// The ClickHouse server `scripts/test.sh` starts (scripts/ch-temp.sh): a new database
/// per test on it, dropped afterwards.
enum ClickHouseTestEnv {
    static var url: String? { StoreTestEnv.env["SNIFF_TEST_CH_URL"] }
    static var has: Bool { url != nil }

    static func withDatabase<T>(_ name: String, _ body: (String, ClickHouseStore) async throws -> T) async throws -> T {
        let base = try #require(url)
        let slash = try #require(base.lastIndex(of: "/"))
        let db = "sniff_\(name)_\(UInt32.random(in: 0...UInt32.max))"
        let dbURL = String(base[..<slash]) + "/" + db
        guard case .clickhouse(let target) = try StoreURL(dbURL) else { throw StoreError.badURL(dbURL) }
        let store = ClickHouseStore(target: target)
        do {
            let r = try await body(dbURL, store)
            _ = try? await store.http.run("DROP DATABASE IF EXISTS \(db)", database: "default", what: "test cleanup")
            await store.close()
            return r
        } catch {
            _ = try? await store.http.run("DROP DATABASE IF EXISTS \(db)", database: "default", what: "test cleanup")
            await store.close()
            throw error
        }
    }

    static func count(_ store: ClickHouseStore, _ sql: String) async throws -> Int {
        Int(try await store.http.rows(sql, what: "test").first?.first??.description ?? "") ?? -1
    }

    /// Deletes the `sniff_batches` rows `condition` selects, as a connection broken
    /// between a batch's rows and its id leaves it, and waits for the mutation.
    static func forgetBatches(
        _ store: ClickHouseStore, where condition: String, table: String = "sniff_batches"
    ) async throws {
        try await store.http.run("ALTER TABLE \(table) DELETE WHERE \(condition)", what: "test")
        var waited = 0
        while try await count(store, "SELECT count() FROM \(table) WHERE \(condition)") != 0 && waited < 100 {
            try await Task.sleep(nanoseconds: 100_000_000)
            waited += 1
        }
        #expect(try await count(store, "SELECT count() FROM \(table) WHERE \(condition)") == 0)
    }

    /// Flows inserted as the writer of schema versions 14-17 sent them: without their
    /// batch and position.
    static func insertFlowsOfVersion17(
        _ store: ClickHouseStore, _ flows: [FlowRow], captureID: Int64 = 1, sensor: String = "m"
    ) async throws {
        var out = RowBinary(capacity: 1 << 16)
        for f in flows { ClickHouseRows.flow(f, captureID: captureID, sensor: sensor, into: &out) }
        let columns = (ClickHouseSchema.flowColumns + ClickHouseSchema.flowTunnelColumns).map(\.name)
            .joined(separator: ", ")
        try await store.http.run("INSERT INTO flows (\(columns)) FORMAT RowBinary", body: out.bytes, what: "test")
    }

    static func sortingKey(_ store: ClickHouseStore, _ table: String) async throws -> String? {
        try await store.http.rows("""
            SELECT sorting_key FROM system.tables WHERE database = \(ClickHouseSchema.literal(store.target.database))
            AND name = \(ClickHouseSchema.literal(table))
            """, what: "test").first?.first ?? nil
    }

    /// What tells a flow record apart in the API's answer.
    static func identity(_ f: StoredFlow) -> String {
        "\(f.row.uid) \(f.row.ts) \(f.row.lastTs) \(f.row.origPkts) \(f.row.endReason ?? "")"
    }
}

@Suite("ClickHouse URLs")
struct ClickHouseURLTests {
    @Test("clickhouse:// and clickhouses:// URLs, defaults and clear errors")
    func urls() throws {
        guard case .clickhouse(let t) = try StoreURL("clickhouse://u%40x:p%3Ass@ch.example:9123/sniff") else {
            Issue.record("not clickhouse"); return
        }
        #expect(
            t.user == "u@x" && t.password == "p:ss" && t.host == "ch.example" && t.port == 9123 && t.database == "sniff"
                && !t.tls)
        #expect(t.redacted == "clickhouse://u@x@ch.example:9123/sniff")
        #expect(!"\(t)".contains("p:ss") && !String(reflecting: t).contains("p:ss"))
        guard case .clickhouse(let d) = try StoreURL("clickhouse://db1") else { Issue.record("not clickhouse"); return }
        #expect(d.user == "default" && d.password == nil && d.port == 8123 && d.database == "default")
        guard case .clickhouse(let s) = try StoreURL("clickhouses://[::1]/x_1") else {
            Issue.record("not clickhouse"); return
        }
        #expect(s.tls && s.host == "::1" && s.port == 8443 && s.database == "x_1" && s.baseURL == "https://[::1]:8443/")
        for bad in ["clickhouse://", "clickhouse://h:0/db", "clickhouse://h:port/db", "clickhouse://h/db?x=1",
                    "clickhouse://h/bad-name", "clickhouse://h/1db", "clickhouse://[::1/db"] {
            #expect(throws: StoreError.self, "\(bad)") { try StoreURL(bad) }
        }
        do {
            _ = try StoreURL("clickhouse://u:secret@h:x/db")
            Issue.record("accepted a bad port")
        } catch let e as StoreError {
            #expect(e.userMessage.contains("clickhouse://user:password@host:8123/database"))
            #expect(!e.userMessage.contains("secret"))
            #expect(e.exitCode == 64)
        }
    }

    /// ClickHouse identifies a flow count by its position in its batch: a batch written
    /// again (a retry, a replay) must list its counts in the same order to fold.
    @Test("a batch's flow counts come in one order, whatever the order of its flows")
    func flowCountOrder() {
        let rows = (0..<300).map { k -> FlowRow in
            var f = WriterPathTests.flow(k % 8 == 1 ? k + 1 : k, start: Int64(k % 17) * 1_000_000_000)
            f.app = ["dns", "TLS", "HTTP", "unknown"][k % 4]
            return f
        }
        let keys = FlowCounts.count(rows).map(\.key)
        #expect(keys.count > 20)
        for _ in 0..<5 { #expect(FlowCounts.count(rows.shuffled()).map(\.key) == keys) }
    }

    @Test("literals: quotes, backslashes and control characters escaped")
    func literals() {
        #expect(ClickHouseSchema.literal("a'b\\c\nd") == "'a\\'b\\\\c\\nd'")
        #expect(
            ClickHouseHTTP.parseTSV(Array("1\t\\N\ta\\tb\n2\t\t\\\\\n".utf8)) == [["1", nil, "a\tb"], ["2", "", "\\"]])
    }
}

@Suite(
    "ClickHouse store", .serialized,
    .enabled(if: ClickHouseTestEnv.has, "set SNIFF_TEST_CH_URL (scripts/test.sh starts a server)"))
struct ClickHouseStoreTests {
    @Test("migrations: every version once, idempotent, info lists the tables")
    func migrations() async throws {
        try await ClickHouseTestEnv.withDatabase("migrate") { _, store in
            let first = try await store.migrate()
            #expect(first.map(\.version) == Schema.versions.map(\.version))
            #expect(try await store.migrate().isEmpty)
            let info = try await store.info()
            #expect(info.backend == "clickhouse" && info.serverVersion.hasPrefix("1"))
            #expect(info.schemaVersion == Schema.latestVersion)
            #expect(Set(info.tables.map(\.name)) == Set(Schema.infoTables))
            #expect(info.migrations.allSatisfy { $0.appliedAt != nil })
        }
    }

    /// A packet with every field set, IPv6 and IPv4 addresses, kept bytes; the stored
    /// row read back column by column equals it.
    static func fullPackets() -> ([PacketRow], [UInt8]) {
        var a = PacketRow()
        a.present = [
            .ethSrc, .ethDst, .vlan, .ip, .ports, .tcp, .payloadLen, .icmp, .dnsQuery, .flowUID, .frame,
            .appPayload, .info
        ]
        a.n = 7; a.ts = 1_765_000_000_123_456_789; a.len = 1514; a.caplen = 6; a.iface = 2; a.link = .ethernet
        a.ethSrc = MACAddress(0x0011_2233_4455); a.ethDst = MACAddress(0xFFEE_DDCC_BBAA); a.vlan = 4094
        a.ipVersion = 6; a.proto = 17; a.src = IPAddress(v6High: 0x2001_0db8_0000_0001, low: 0x0000_0000_0000_0042)
        a.dst = IPAddress(v6High: 0, low: 1); a.transport = .udp; a.sport = 65535; a.dport = 53
        a.seq = 0xFFFF_FFFF; a.ack = 12345; a.tcpFlags = 0x1FF; a.window = 65535; a.payloadLen = 1400
        a.icmpType = 3; a.icmpCode = 13; a.app = .dns; a.dnsQuery = "ex'ample\\.org\t";
        a.info = "Standard query 0x1 A é"
        a.flowUID = "CAbcdefghijklmnopq"; a.frameOffset = 0; a.frameLength = 6
        var b = PacketRow()
        b.present = [.ip]
        b.n = 8; b.ts = -5; b.ipVersion = 4; b.proto = 6; b.src = IPAddress(v4: 1); b.dst = IPAddress(v4: 0xC0A8_0001)
        return ([a, b], [1, 2, 3, 0, 255, 10])
    }

    @Test("round trip of every packet field; flows, alerts, rollups, logs, captures, hosts stored")
    func roundTrip() async throws {
        try await ClickHouseTestEnv.withDatabase("roundtrip") { _, store in
            try await store.migrate()
            let (rows, frames) = Self.fullPackets()
            let w = Int64.random(in: 1...Int64.max)
            #expect(try await store.write(StoreBatch(id: BatchID(writer: w, seq: 1), sensor: "s'1", captureID: 42,
                                                     content: .packets(rows), frames: frames)))
            let back = try await store.http.rows("""
                SELECT capture_id, sensor, n, ts, present, len, caplen, iface, link, eth_src, eth_dst, vlan, ip, proto,
                       hex(src), hex(dst), transport, sport, dport, seq, ack, tcp_flags, tcp_window, payload_len,
                       icmp_type, icmp_code, app, dns_query, info, flow_uid, hex(raw)
                FROM packets ORDER BY n
                """, what: "test")
            #expect(back.count == 2)
            for (r, want) in zip(back, rows) {
                func int(_ i: Int) -> Int64 { Int64(r[i] ?? "") ?? Int64(bitPattern: UInt64(r[i] ?? "") ?? 0) }
                func addr(_ i: Int, v6: Bool) -> IPAddress {
                    let hex = r[i] ?? ""
                    let hi = UInt64(hex.prefix(16), radix: 16) ?? 0, lo = UInt64(hex.suffix(16), radix: 16) ?? 0
                    return v6 ? IPAddress(v6High: hi, low: lo) : IPAddress(v4: UInt32(truncatingIfNeeded: lo))
                }
                #expect(r[0] == "42" && r[1] == "s'1")
                var g = PacketRow()
                g.n = UInt64(int(2)); g.ts = int(3); g.present = PacketRow.Fields(rawValue: UInt32(int(4)))
                g.len = UInt32(int(5)); g.caplen = UInt32(int(6)); g.iface = UInt32(int(7));
                g.link = LinkType(UInt32(int(8)))
                if g.has(.ethSrc) { g.ethSrc = MACAddress(UInt64(int(9))) }
                if g.has(.ethDst) { g.ethDst = MACAddress(UInt64(int(10))) }
                g.vlan = UInt16(int(11)); g.ipVersion = UInt8(int(12)); g.proto = UInt8(int(13))
                g.src = addr(14, v6: g.ipVersion == 6); g.dst = addr(15, v6: g.ipVersion == 6)
                g.transport = TransportKind(rawValue: UInt8(int(16))) ?? .none
                g.sport = UInt16(int(17)); g.dport = UInt16(int(18)); g.seq = UInt32(int(19)); g.ack = UInt32(int(20))
                g.tcpFlags = UInt16(int(21)); g.window = UInt16(int(22)); g.payloadLen = UInt32(int(23))
                g.icmpType = UInt8(int(24)); g.icmpCode = UInt8(int(25));
                g.app = AppProtocol(rawValue: UInt8(int(26))) ?? .unknown
                g.dnsQuery = g.has(.dnsQuery) ? r[27] : nil; g.info = g.has(.info) ? r[28] : nil
                g.flowUID = g.has(.flowUID) ? r[29] : nil
                if g.has(.frame) {
                    #expect(r[30] == "01020300FF0A")
                    g.frameOffset = want.frameOffset; g.frameLength = want.frameLength
                }
                #expect(g == want)
            }

            // Flows: every column of the row as ClickHouse prints it.
            var f = FlowRow()
            f.ts = 1_765_000_000_000_000_001; f.lastTs = f.ts + 5; f.uid = "Cuid"; f.origH = IPAddress(v4: 0x0A00_0001)
            f.origP = 1234; f.respH = IPAddress(v6High: 0x2001_0db8_0000_0000, low: 2); f.respP = 443; f.proto = "tcp";
            f.ipProto = 6
            f.service = "ssl"; f.durationNanos = 5; f.origBytes = 10; f.respBytes = 20; f.connState = "SF";
            f.localOrig = true
            f.localResp = false; f.missedBytes = 3; f.history = "ShADadFf"; f.origPkts = 4; f.origIPBytes = 400;
            f.respPkts = 5
            f.respIPBytes = 500; f.communityID = "1:abc"; f.vlan = 7; f.app = "TLS"; f.appSource = "payload";
            f.dnsQuery = "q"
            f.tlsSNI = "sni"; f.tlsVersion = "1.3"; f.httpHost = "h"; f.httpMethod = "GET"; f.httpURI = "/";
            f.sshClient = "c"
            f.sshServer = "s"; f.quicVersion = "1"; f.origTCPFlags = "SA"; f.respTCPFlags = "F"; f.origL2Bytes = 600
            f.respL2Bytes = 700; f.endReason = "fin";
            f.handshakeColumns = ["TLSv13", "c", "h2", "a,b", "x", "j3", "j3s", "j4"]
            f.origName = "on"; f.respName = "rn"; f.origCC = "DE"; f.respCC = "US"; f.origASN = 1;
            f.respASN = 4_000_000_000
            f.origOrg = "oo"; f.respOrg = "ro"; f.pid = -1; f.process = "curl"; f.user = "root"; f.container = "k"
            f.processIsOrig = true; f.tunnel = "vxlan"; f.tunnelID = 4_000_000_000; f.tunnelParents = "Cp1,Cp2"
            #expect(
                try await store.write(
                    StoreBatch(id: BatchID(writer: w, seq: 2), sensor: "s", captureID: 42, content: .flows([f]))))
            let cols = (ClickHouseSchema.flowColumns + ClickHouseSchema.flowTunnelColumns).map {
                $0.type == "FixedString(16)" ? "IPv6NumToString(\($0.name))" : $0.name
            }
            let flow = try #require(
                try await store.http.rows("SELECT \(cols.joined(separator: ", ")) FROM flows", what: "test").first)
            let want: [String?] = [
                "42", "s", "\(f.ts)", "\(f.lastTs)", "Cuid", "::ffff:10.0.0.1", "1234", "2001:db8::2", "443", "tcp",
                "6", "ssl", "5", "10", "20", "SF", "1", "0", "3", "ShADadFf", "4", "400", "5", "500", "1:abc", "7",
                "TLS", "payload", "q", "sni", "1.3", "h", "GET", "/", "c", "s", "1", "SA", "F", "600", "700", "fin",
                "1300", "9"
            ] + f.handshakeColumns
                + ["on", "rn", "DE", "US", "1", "4000000000", "oo", "ro", "-1", "curl", "root", "k", "1"]
                + ["vxlan", "4000000000", "Cp1,Cp2"]
            #expect(flow == want)
            #expect(try await ClickHouseTestEnv.count(store, "SELECT sum(flows) FROM flow_counts") == 1)

            var alert = AlertRow()
            alert.id = "a1"; alert.ts = f.ts; alert.severity = "high"; alert.rule = "r"; alert.kind = "k";
            alert.message = "m"
            alert.uid = "Cuid"; alert.hosts = [f.origH, f.respH]; alert.suppressed = 2
            #expect(
                try await store.write(
                    StoreBatch(id: BatchID(writer: w, seq: 3), sensor: "s", captureID: 42, content: .alerts([alert]))))
            #expect(
                try await store.http.rows("SELECT alert_id, severity, uid, hosts, suppressed FROM alerts", what: "test")
                    == [["a1", "high", "Cuid", "10.0.0.1,2001:db8::2", "2"]])

            let traffic = [TrafficRow(ts: 1_000_000_000, transport: .tcp, app: .tls, packets: 3, bytes: 300),
                           TrafficRow(ts: 1_000_000_000, transport: .tcp, app: .tls, packets: -1, bytes: -100)]
            #expect(
                try await store.write(
                    StoreBatch(id: BatchID(writer: w, seq: 4), sensor: "s", captureID: 42, content: .traffic(traffic))))
            #expect(
                try await store.http.rows("SELECT sum(packets), sum(bytes) FROM traffic FINAL", what: "test")
                    == [["2", "200"]],
                "two rows of one second and key both kept")

            let dns = LogRow(
                kind: .dns, ts: f.ts, uid: "Cuid", origH: f.origH, origP: 5353, respH: f.respH, respP: 53, proto: "udp",
                values: LogKind.dns.columns.map { c -> LogValue in
                    switch c.kind {
                    case .int: .int(9);
                    case .bool: .bool(true);
                    case .text: .text("t");
                    case .texts, .ints: .list(["a,b", "c"])
                    }
                })
            #expect(
                try await store.write(
                    StoreBatch(id: BatchID(writer: w, seq: 5), sensor: "s", captureID: 42, content: .logs([dns]))))
            let d = try #require(
                try await store.http.rows("SELECT trans_id, query, aa, answers FROM dns", what: "test").first)
            #expect(d == ["9", "t", "1", "a\\x2cb,c"])

            var c = CaptureInfo(id: 42, sensor: "s", source: "file x.pcap", start: 100)
            c.packetsSeen = 10
            #expect(
                try await store.write(
                    StoreBatch(
                        id: BatchID(writer: w, seq: 6), sensor: "s", captureID: 42, content: .capture(c),
                    createdAt: 1)))
            c.end = 200; c.packetsSeen = 20; c.firstPacket = 5; c.lastPacket = 6; c.storePackets = "packets none"
            #expect(
                try await store.write(
                    StoreBatch(
                        id: BatchID(writer: w, seq: 7), sensor: "s", captureID: 42, content: .capture(c),
                    createdAt: 2)))
            #expect(try await store.captures(CaptureQuery()) == [c], "the updates fold into the newest")

            var h = HostRow(address: f.respH, firstTs: 1, lastTs: 2, category: "public")
            h.name = "example.org"; h.nameFirstSeen = 1; h.nameLastSeen = 2; h.mac = "00:11:22:33:44:55"
            #expect(
                try await store.write(
                    StoreBatch(id: BatchID(writer: w, seq: 8), sensor: "s", captureID: 42, content: .hosts([h]))))
            #expect(try await store.http.rows("SELECT IPv6NumToString(address), category, mac FROM hosts", what: "test")
                    == [["2001:db8::2", "public", "00:11:22:33:44:55"]])
            #expect(
                try await store.http.rows("SELECT name, source FROM host_names", what: "test")
                    == [["example.org", "dns"]])

            let stats = try await store.stats()
            #expect(
                stats.packets == 2 && stats.flows == 1 && stats.alerts == 1 && stats.batches == 8
                    && stats.captures == 1)
            #expect(stats.packetsSeen == 20)
        }
    }

    @Test("a replayed batch stores nothing twice, even when its id was lost")
    func replay() async throws {
        try await ClickHouseTestEnv.withDatabase("replay") { _, store in
            try await store.migrate()
            let rows = syntheticRows(count: 3000, start: Timestamp.now().totalNanoseconds)
            let batch = StoreBatch(id: BatchID(writer: 5, seq: 1), sensor: "r", captureID: 1, content: .packets(rows))
            #expect(try await store.write(batch))
            #expect(try await store.write(batch) == false, "the id is known: skipped")
            #expect(try await ClickHouseTestEnv.count(store, "SELECT count() FROM packets") == 3000)
            // The rows arrived but the batch's id did not (the connection broke between
            // the two inserts): the replay writes them again, and they collapse.
            try await ClickHouseTestEnv.forgetBatches(store, where: "1")
            #expect(try await store.write(batch))
            #expect(try await ClickHouseTestEnv.count(store, "SELECT count() FROM packets FINAL") == 3000)
            // The API's pages (read in two steps: ClickHouseStore.pageStatement) hold each packet once.
            var seen: [UInt64] = [], cursor: String? = nil
            repeat {
                let page = try await store.packets(PacketQuery(cursor: cursor, limit: 1000))
                seen += page.rows.map(\.row.n); cursor = page.nextCursor
            } while cursor != nil && seen.count < 10_000
            #expect(seen.count == 3000 && Set(seen).count == 3000)
            try await store.http.run("OPTIMIZE TABLE packets FINAL", what: "test")
            #expect(try await ClickHouseTestEnv.count(store, "SELECT count() FROM packets") == 3000)
        }
    }

    /// A flow ended twice with the same uid and start (here even the same end and
    /// counts in two of the records): SQLite keeps every record, and so must the
    /// ReplacingMergeTree, which folds only rows with equal sorting keys.
    @Test("flow records with the same uid and start are all kept; a replayed copy of their batch still folds")
    func sameUIDAndStart() async throws {
        try await ClickHouseTestEnv.withDatabase("sameuid") { _, store in
            try await store.migrate()
            let a = WriterPathTests.flow(1, start: Timestamp.now().totalNanoseconds)
            var b = a
            b.lastTs += 1_000_000_000; b.origPkts += 5; b.endReason = "active"
            let first = StoreBatch(id: BatchID(writer: 9, seq: 1), sensor: "s", captureID: 3, content: .flows([a, b]))
            #expect(try await store.write(first))
            #expect(
                try await store.write(
                    StoreBatch(id: BatchID(writer: 9, seq: 2), sensor: "s", captureID: 3, content: .flows([a]))))
            func stored() async throws -> [String] {
                try await store.flows(FlowQuery()).rows.map(ClickHouseTestEnv.identity).sorted()
            }
            let want = [a, b, a].map { ClickHouseTestEnv.identity(StoredFlow(sensor: "s", captureID: 3, row: $0)) }
                .sorted()
            #expect(try await stored() == want)
            // The rows of the first batch arrived, its id did not: written again, its copies fold.
            try await ClickHouseTestEnv.forgetBatches(store, where: "seq = 1")
            #expect(try await store.write(first))
            #expect(try await stored() == want)
            try await store.http.run("OPTIMIZE TABLE flows FINAL", what: "test")
            #expect(try await ClickHouseTestEnv.count(store, "SELECT count() FROM flows") == 3)
            #expect(try await stored() == want)
        }
    }

    /// 18.16 has no ADD COLUMN IF NOT EXISTS: versions 16 and 17 add their columns
    /// only to a table that lacks them, so a migration stopped between the ALTER and
    /// the version's row (or between a cluster's servers) can run again.
    @Test("versions 16 and 17 run again after a stop between their ALTER and their version's row")
    func addedColumnsRunAgain() async throws {
        try await ClickHouseTestEnv.withDatabase("addagain") { _, store in
            try await store.migrate(inCluster: nil, through: Schema.flowTunnelVersion - 1)
            for v in [Schema.flowTunnelVersion, Schema.tlsCertificateVersion] {
                let m = try #require(Schema.versions.first { $0.version == v })
                for step in m.clickhouse { try await store.http.run(step.sql, what: "test") }
            }
            #expect(try await store.migrate().map(\.version) == Array(Schema.flowTunnelVersion...Schema.latestVersion))
            #expect(try await store.migrate().isEmpty)
        }
    }

    @Test(
        "a database of schema version 17: flows gain batch and position in their key, keep every row, and migrate once")
    func flowKeyMigration() async throws {
        try await ClickHouseTestEnv.withDatabase("flowkey") { _, store in
            let version = Schema.flowRecordKeyVersion
            try await store.migrate(inCluster: nil, through: version - 1)
            #expect(try await ClickHouseTestEnv.sortingKey(store, "flows") == "sensor, ts, capture_id, uid")
            let start = Timestamp.now().totalNanoseconds
            // Days apart: the rows span partitions. The first one twice (a replay whose
            // copies had not merged yet).
            let flows = (1...8).map { k -> FlowRow in
                var f = WriterPathTests.flow(k, start: start)
                f.ts -= Int64(k) * ClickHouseStore.dayNanos; f.lastTs -= Int64(k) * ClickHouseStore.dayNanos
                return f
            }
            try await ClickHouseTestEnv.insertFlowsOfVersion17(store, flows + [flows[0]])
            #expect(try await store.migrate().map(\.version) == Array(version...Schema.latestVersion))
            #expect(try await ClickHouseTestEnv.sortingKey(store, "flows") == ClickHouseSchema.flowKey)
            let want = flows.map { ClickHouseTestEnv.identity(StoredFlow(sensor: "m", captureID: 1, row: $0)) }.sorted()
            #expect(try await store.flows(FlowQuery()).rows.map(ClickHouseTestEnv.identity).sorted() == want)
            // A record of an old flow written now, with the same uid and start: kept beside it.
            var again = flows[1]
            again.lastTs += 1
            #expect(
                try await store.write(
                    StoreBatch(id: BatchID(writer: 4, seq: 1), sensor: "m", captureID: 1, content: .flows([again]))))
            #expect(try await ClickHouseTestEnv.count(store, "SELECT count() FROM flows FINAL") == flows.count + 1)
            #expect(try await store.migrate().isEmpty)
            #expect(try await store.info().schemaVersion == Schema.latestVersion)
        }
    }

    @Test("an unreachable server: journal, then a duplicate-safe replay")
    func journal() async throws {
        try await ClickHouseTestEnv.withDatabase("journal") { url, _ in try await StoreChecks.journalAndReplay(url) }
    }

    @Test("retention drops whole day partitions")
    func retention() async throws {
        try await ClickHouseTestEnv.withDatabase("retention") { _, store in
            try await store.migrate()
            let day = ClickHouseStore.dayNanos
            let now = 20_000 * day + 3600 * 1_000_000_000
            for (i, t) in [now - 3 * day, now - 2 * day, now].enumerated() {
                #expect(
                    try await store.write(
                        StoreBatch(
                            id: BatchID(writer: 1, seq: Int64(i)), sensor: "t", captureID: 1,
                            content: .packets(syntheticRows(count: 10, start: t, firstNumber: UInt64(i * 10 + 1))))))
            }
            let report = try await store.maintain(now: now, retentionCutoff: now - 2 * day)
            #expect(report.partitionsDropped == ["packets 2024-10-01"])
            #expect(try await ClickHouseTestEnv.count(store, "SELECT count() FROM packets") == 20)
            let info = try await store.info()
            #expect(info.partitions.first { $0.table == "packets" }?.count == 2)
        }
    }

    @Test("the server stopped mid-load and started again: the journal keeps the rows, each stored once")
    func stoppedMidLoad() async throws {
        let env = StoreTestEnv.env
        let pidFile = try #require(env["SNIFF_TEST_CH_PIDFILE"])
        let start = try #require(env["SNIFF_TEST_CH_START"])
        try await ClickHouseTestEnv.withDatabase("stop") { url, _ in
            let store = StoreFactory.open(try StoreURL(url))
            try await store.migrate()
            let writer = StoreChecks.outageWriter(store, journal: "chstop", memoryLimitRows: 50_000)
            let batches = 100, rows = 5000
            let now = Timestamp.now().totalNanoseconds
            @Sendable func submit(_ range: Range<Int>) {
                for b in range {
                    writer.submit(
                        StoreBatch(
                            id: writer.makeBatchID(), sensor: "stop", captureID: 9,
                            content: .packets(
                                syntheticRows(
                                    count: rows, start: now + Int64(b * rows) * 1000,
                                    firstNumber: UInt64(b * rows + 1)))))
                }
            }
            // A first part, stored while the server runs.
            submit(0..<20)
            var waited = 0
            while writer.currentStats.packetsStored < UInt64(rows * 10) && waited < 600 {
                try await Task.sleep(nanoseconds: 50_000_000)
                waited += 1
            }
            let storedBefore = writer.currentStats.packetsStored
            #expect(storedBefore > 0 && storedBefore < UInt64(batches * rows), "the stop comes mid-load")
            // Killed, not asked to stop: an insert under way may have reached the table
            // without its batch id, which the replay must not double.
            let pid = try String(contentsOfFile: pidFile, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            try shell("kill -KILL \(pid); while kill -0 \(pid) 2>/dev/null; do sleep 0.1; done", capture: false)
            // The rest arrives while the server is away: kept in memory up to the bound,
            // then in the journal.
            submit(20..<batches)
            waited = 0
            while !writer.currentStats.failing && waited < 300 {
                try await Task.sleep(nanoseconds: 100_000_000)
                waited += 1
            }
            let during = writer.currentStats
            #expect(during.failing, "the writer noticed")
            #expect(during.packetsPending > 0)
            #expect(during.journalBatches > 0, "past the memory bound, batches went to the journal")
            try shell(start, capture: false)
            let report = await writer.finishing(timeoutSeconds: 120)
            #expect(report.complete)
            #expect(report.stats.packetsStored == UInt64(batches * rows))
            guard let ch = store as? ClickHouseStore else { Issue.record("not ClickHouse"); return }
            #expect(try await ClickHouseTestEnv.count(ch, "SELECT count() FROM packets FINAL") == batches * rows)
            #expect(try await ClickHouseTestEnv.count(ch, "SELECT count() FROM sniff_batches FINAL") == batches)
            await store.close()
        }
    }

    /// Hosts, a host's page, processes and network shares: the statements and the
    /// checks SQLite and PostgreSQL pass (`HostStoreTests`), on ClickHouse.
    @Test("hosts, host pages, processes and network shares as SQLite and PostgreSQL answer them")
    func hosts() async throws {
        try await ClickHouseTestEnv.withDatabase("hosts") { url, store in
            try await store.migrate()
            try await HostStoreTests.storedAndRead(url)
        }
    }

    @Test(.enabled(if: HostStoreTests.hasVendorCapture, "needs ieee-data (/usr/share/ieee-data) and ../shared/pcaps"))
    func hostMACs() async throws {
        try await ClickHouseTestEnv.withDatabase("hostmacs") { url, store in
            try await store.migrate()
            try await HostStoreTests.macsStoredAndRead(url)
        }
    }

    /// Values that would end a string literal, escape from it or start a second
    /// statement reach ClickHouse only through `ClickHouseSchema.literal`: each filter
    /// that takes text finds nothing with them and the tables are still there; a
    /// stored sensor named with a quote is found by its name.
    @Test("hostile filter values are data, never SQL")
    func hostileValues() async throws {
        try await ClickHouseTestEnv.withDatabase("hostile") { _, store in
            try await store.migrate()
            let (rows, frames) = Self.fullPackets()
            let w = Int64.random(in: 1...Int64.max)
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: w, seq: 1), sensor: "s'1", captureID: 42, content: .packets(rows),
                    frames: frames))
            var alert = AlertRow()
            alert.id = "a1"; alert.ts = 5; alert.severity = "warning"; alert.rule = "r"; alert.kind = "k";
            alert.message = "m"
            alert.hosts = [IPAddress(v4: 1)]
            try await store.write(
                StoreBatch(id: BatchID(writer: w, seq: 2), sensor: "s'1", captureID: 42, content: .alerts([alert])))
            let hostile = [
                "'", "\\", "\\'", "\0", "a\u{0}b", "x\ny", "'; DROP TABLE packets; --", "' OR 1=1 --", "\\' OR '1'='1",
                "%", "_", "`", "\"", "é'\t"
            ]
            for h in hostile {
                var f = TrafficFilter()
                f.sensor = h
                #expect(try await store.packets(PacketQuery(filter: f)).rows.isEmpty, "sensor \(h)")
                f = TrafficFilter(); f.text = h
                // The stored DNS query holds a quote and a backslash: those match it as text.
                let want = rows.filter { $0.dnsQuery?.lowercased().contains(h.lowercased()) == true }.map(\.n)
                #expect(try await store.packets(PacketQuery(filter: f)).rows.map(\.row.n) == want, "q \(h)")
                #expect(try await store.flows(FlowQuery(filter: f)).rows.isEmpty, "flows q \(h)")
                #expect(try await store.flows(FlowQuery(connState: h)).rows.isEmpty, "conn_state \(h)")
                var fq = FlowQuery(); fq.tls = h; fq.process = h; fq.country = h
                #expect(try await store.flows(fq).rows.isEmpty, "tls/process/country \(h)")
                #expect(try await store.alerts(AlertQuery(rule: h)).rows.isEmpty, "rule \(h)")
                var r = RangeQuery(); r.sensor = h
                #expect(try await store.alerts(AlertQuery(range: r)).rows.isEmpty, "alert sensor \(h)")
                #expect(try await store.protocolSummary(r).transports.isEmpty, "summary sensor \(h)")
                #expect(try await store.captures(CaptureQuery(sensor: h)).isEmpty, "captures sensor \(h)")
                var hq = HostQuery(); hq.name = h; hq.sensor = h; hq.country = h; hq.category = h
                #expect(try await store.hosts(hq).rows.isEmpty, "hosts \(h)")
                #expect(try await store.processes(r, process: h, limit: 10).isEmpty, "processes \(h)")
                #expect(
                    try await store.networkShares(NetworkShareQuery(by: .asn, range: r)).isEmpty, "asns sensor \(h)")
                // A cursor is parsed into integers before it reaches SQL; a bad one is refused.
                await #expect(throws: StoreError.self) { _ = try await store.packets(PacketQuery(cursor: h)) }
            }
            #expect(try await ClickHouseTestEnv.count(store, "SELECT count() FROM packets") == rows.count)
            var byName = TrafficFilter()
            byName.sensor = "s'1"
            #expect(try await store.packets(PacketQuery(filter: byName)).rows.count == rows.count)
            #expect(try await store.alerts(AlertQuery(rule: "r")).rows.map(\.row.id) == ["a1"])
            var text = TrafficFilter()
            text.text = "EX'AMPLE\\"
            #expect(
                try await store.packets(PacketQuery(filter: text)).rows.map(\.row.n) == [7],
                "a quote and a backslash found as text")
        }
    }

    @Test("every packet field read back through the API's query (the text layout RowMapping reads)")
    func packetRead() async throws {
        try await ClickHouseTestEnv.withDatabase("packetread") { _, store in
            try await store.migrate()
            var (rows, frames) = Self.fullPackets()
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 1, seq: 1), sensor: "s", captureID: 42, content: .packets(rows),
                    frames: frames))
            let page = try await store.packets(PacketQuery(limit: 1))
            #expect(page.rows.count == 1 && page.nextCursor != nil)
            let rest = try await store.packets(PacketQuery(cursor: page.nextCursor, limit: 10))
            #expect(rest.nextCursor == nil)
            let back = (page.rows + rest.rows).map(\.row)
            // The API's rows carry neither the frame's place in the batch nor its presence bit.
            for i in rows.indices { rows[i].present.remove(.frame); rows[i].frameOffset = 0; rows[i].frameLength = 0 }
            #expect(back == rows.sorted { $0.ts > $1.ts })
            var net = TrafficFilter()
            net.ip = IPNetwork("2001:db8::/32")
            #expect(try await store.packets(PacketQuery(filter: net)).rows.map(\.row.n) == [7])
            net.ip = IPNetwork("0.0.0.0/8")
            #expect(try await store.packets(PacketQuery(filter: net)).rows.map(\.row.n) == [8])
            net.ip = IPNetwork("192.168.0.1")
            #expect(try await store.packets(PacketQuery(filter: net)).rows.map(\.row.n) == [8])
            let export = try await store.frames(PacketQuery())
            #expect(export.frames.count == 1 && export.bytes == frames && export.frames.first?.link == .ethernet)
            let summary = try await store.frameSummary(TrafficFilter())
            #expect(summary.packets == 2 && summary.withoutBytes == 1)
        }
    }
}
