import Foundation
import Testing
import SniffCore
import SniffAnalysis
import SniffCapture
@testable import SniffStore
import SniffServer
import SniffTestSupport

/// Migration 10: each flow's names, countries, ASNs and process, and the hosts tables,
/// stored by both backends and read back as --flows writes them. The PostgreSQL run is
/// in `PostgresStoreTests`.
struct HostStoreTests {
    @Test func sqlite() async throws {
        try await TestDatabase.withSQLite("hosts") { try await Self.storedAndRead($0) }
    }

    /// Schema 19: a database with the text hosts tables of 10-18 (and their four
    /// indexes) converts to bytes-keyed tables; every row reads back the same through the
    /// store and as text through the views, a row whose text is no address is dropped,
    /// and upserts after the conversion merge into the converted rows.
    @Test func sqliteHostBytesMigration() async throws {
        try await TestDatabase.withSQLite("hostbytes") { url in
            let store = try #require(StoreFactory.open(try StoreURL(url)) as? SQLiteStore)
            defer { Task { await store.close() } }
            _ = try await store.migrate(through: SQLiteSchema.hostBytesVersion - 1)
            let (t0, t1) = (1_700_000_000_000_000_000 as Int64, 1_700_000_100_000_000_000 as Int64)
            _ = try TestDatabase.sqlite(url, "INSERT INTO hosts (capture_id, sensor, address, first_ts, last_ts, country, asn, org, "
                + "category, mac, vendor) VALUES (1, 'old', '10.0.0.2', \(t0), \(t1), 'GB', 64500, 'Org', 'private', "
                + "'02:00:00:00:00:01', NULL), (1, 'old', '2001:db8::7', \(t0 + 5), \(t0 + 9), NULL, NULL, NULL, 'public', NULL, NULL), "
                + "(2, 'old', '10.0.0.2', \(t0 - 7), \(t0 + 3), NULL, NULL, NULL, 'private', NULL, NULL), "
                + "(1, 'old', 'not an address', \(t0), \(t0), NULL, NULL, NULL, 'public', NULL, NULL)")
            _ = try TestDatabase.sqlite(
                url,
                "INSERT INTO host_names (capture_id, sensor, address, name, first_seen, last_seen, source) "
                    + "VALUES (1, 'old', '10.0.0.2', 'nas.lan', \(t0), \(t0 + 1), 'dns'), "
                    + "(1, 'old', '2001:db8::7', 'v6.example', \(t0 + 2), \(t0 + 3), 'ptr')")
            #expect(
                try await store.migrate().map(\.version) == Array(SQLiteSchema.hostBytesVersion...Schema.latestVersion))

            let v4 = IPAddress("10.0.0.2")!, v6 = IPAddress("2001:db8::7")!
            let all = try await store.hosts(HostQuery()).rows
            #expect(all.map(\.address) == [v4, v6], "newest first; the row that was no address is gone")
            #expect(all.first?.firstTs == t0 - 7 && all.first?.lastTs == t1, "merged over both captures")
            #expect(all.first?.country == "GB" && all.first?.asn == 64500 && all.first?.mac == "02:00:00:00:00:01")
            #expect(all.first?.names == [HostName(name: "nas.lan", firstSeen: t0, lastSeen: t0 + 1, source: .dns)])
            #expect(try await store.host(v6, range: RangeQuery()).host?.names
                == [HostName(name: "v6.example", firstSeen: t0 + 2, lastSeen: t0 + 3, source: .ptr)])
            var byName = HostQuery(); byName.name = "NAS"
            #expect(try await store.hosts(byName).rows.map(\.address) == [v4])
            // People read the views: addresses as text.
            #expect(
                try TestDatabase.sqlite(
                    url,
                    "SELECT group_concat(address || '/' || capture_id, ' ') FROM "
                        + "(SELECT address, capture_id FROM hosts_v ORDER BY capture_id, address)")
                    == "10.0.0.2/1 2001:0db8:0000:0000:0000:0000:0000:0007/1 10.0.0.2/2")
            #expect(
                try TestDatabase.sqlite(url, "SELECT address FROM host_names_v WHERE name = 'nas.lan'") == "10.0.0.2")
            // One B-tree per table: the address indexes and hosts_last are gone.
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                + "AND tbl_name IN ('hosts', 'host_names') AND name NOT LIKE 'sqlite_autoindex%'") == "0")

            // A later upsert of the same address and capture merges into the converted row.
            var h = HostRow(address: v4, firstTs: t0 - 100, lastTs: t0, category: "private")
            h.name = "nas.lan"; h.nameFirstSeen = t0 - 50; h.nameLastSeen = t0 + 1
            #expect(
                try await store.write(
                    StoreBatch(id: BatchID(writer: 3, seq: 1), sensor: "old", captureID: 1, content: .hosts([h]))))
            #expect(try await TestDatabase.count(url, "hosts") == 3)
            var one = HostQuery(); one.capture = 1
            let merged = try #require(try await store.hosts(one).rows.first { $0.address == v4 })
            #expect(merged.firstTs == t0 - 100 && merged.lastTs == t1 && merged.mac == "02:00:00:00:00:01")
            #expect(merged.names == [HostName(name: "nas.lan", firstSeen: t0 - 50, lastSeen: t0 + 1, source: .dns)])
        }
    }

    static var dnsTCP: URL? { TestPaths.sharedPcaps?.appendingPathComponent("dns_tcp.pcap") }
    static var hasVendorCapture: Bool {
        FileManager.default.fileExists(atPath: MACVendors.standardFolder + "/oui.csv")
            && dnsTCP.map { FileManager.default.fileExists(atPath: $0.path) } == true
    }

    @Test(.enabled(if: hasVendorCapture, "needs ieee-data (/usr/share/ieee-data) and ../shared/pcaps"))
    func sqliteMACs() async throws {
        try await TestDatabase.withSQLite("hostmacs") { try await Self.macsStoredAndRead($0) }
    }

    /// Migration 13: dns_tcp.pcap's frames go between 00:11:22:33:44:55 (CIMSYS Inc's
    /// block, both ways) and a local and a public address; only the local one (inside
    /// --local-nets) is that card, the public one sits behind a router. The sample's
    /// MACs (02:77:...) are locally administered: kept, with no vendor.
    static func macsStoredAndRead(_ url: String) async throws {
        let store = StoreFactory.open(try StoreURL(url))
        defer { Task { await store.close() } }
        let vendors = try #require(MACVendors.load())
        let loaded = try await load(try #require(dnsTCP), into: store, format: FlowFormat(hosts: HostEnrichment()),
                                    vendors: vendors)
        var q = HostQuery(); q.capture = loaded.captureID
        let rows = try await store.hosts(q).rows
        // The flows' two ends, and the addresses the capture's DNS answers name without
        // a flow of their own (named, no MAC).
        let ends: Set = [IPAddress("192.168.1.11")!, IPAddress("209.87.249.18")!]
        #expect(Set(rows.map(\.address)).isSuperset(of: ends))
        for r in rows where !ends.contains(r.address) { #expect(!r.names.isEmpty && r.mac == nil, "\(r)") }
        let local = try #require(rows.first { $0.address == IPAddress("192.168.1.11")! })
        #expect(local.mac == "00:11:22:33:44:55" && local.vendor == "CIMSYS Inc", "\(local)")
        let remote = try #require(rows.first { $0.address == IPAddress("209.87.249.18")! })
        #expect(remote.mac == nil && remote.vendor == nil)
        let page = try await store.host(local.address, range: RangeQuery(capture: loaded.captureID))
        #expect(page.host?.vendor == "CIMSYS Inc")

        let sample = try await load(TestPaths.packageRoot.appendingPathComponent("samples/sample.pcapng"), into: store,
                                    format: FlowFormat(hosts: HostEnrichment()), vendors: vendors)
        q.capture = sample.captureID
        let sampleRows = try await store.hosts(q).rows
        let server = try #require(sampleRows.first { $0.address == IPAddress("10.77.0.2")! })
        #expect(server.mac?.hasPrefix("02:77:") == true && server.vendor == nil, "\(server)")
        #expect(sampleRows.allSatisfy { $0.vendor == nil })
    }

    static func storedAndRead(_ url: String) async throws {
        let store = StoreFactory.open(try StoreURL(url))
        defer { Task { await store.close() } }
        // The shipped sample through the pipeline with passive DNS: the stored names are
        // the ones the NDJSON writer gives the same flows.
        let hosts = HostEnrichment()
        let sample = TestPaths.packageRoot.appendingPathComponent("samples/sample.pcapng")
        let loaded = try await load(sample, into: store, format: FlowFormat(hosts: hosts))
        let stored = try await allFlows(store, capture: loaded.captureID)
        var named = 0
        for line in loaded.flowLines {
            let f = jsonFields(line)
            guard let uid = f["uid"], let row = stored.first(where: { $0.row.uid == uid })?.row else {
                Issue.record("flow \(line) not stored"); continue
            }
            #expect(row.origName == f["orig_name"] && row.respName == f["resp_name"], "\(uid)")
            if row.respName != nil { named += 1 }
        }
        #expect(named > 0, "the sample's DNS answers name some flows' responders")
        // The hosts table: every named responder with its name.
        let page = try await store.hosts(HostQuery())
        let namedHosts = page.rows.filter { !$0.names.isEmpty }
        #expect(!namedHosts.isEmpty)
        for r in stored where r.row.respName != nil {
            let h = try #require(page.rows.first { $0.address == r.row.respH }, "\(r.row.respH)")
            #expect(h.names.contains { $0.name == r.row.respName })
            #expect(h.firstTs <= r.row.ts && h.lastTs >= r.row.lastTs - 60_000_000_000)
        }
        let someName = try #require(namedHosts.first?.names.first?.name)
        var byName = HostQuery(); byName.name = String(someName.dropFirst(1).uppercased())
        #expect(try await store.hosts(byName).rows.contains { $0.names.contains { $0.name == someName } })
        var priv = HostQuery(); priv.category = "private"
        #expect(try await store.hosts(priv).rows.allSatisfy { $0.category == "private" })

        // An address only a DNS answer named (www.sniff.test, 10.77.0.80, sends nothing)
        // has its row and name too.
        let answered = try #require(page.rows.first { $0.address == IPAddress("10.77.0.80")! })
        #expect(answered.names.contains { $0.name == "www.sniff.test" })
        #expect(!stored.contains { $0.row.origH == answered.address || $0.row.respH == answered.address })

        // One host's page: its flows' totals equal the stored flows'.
        let address = try #require(namedHosts.first { h in stored.contains { $0.row.respH == h.address } }).address
        let detail = try await store.host(address, range: RangeQuery(capture: loaded.captureID))
        let mine = stored.filter { $0.row.origH == address || $0.row.respH == address }
        #expect(detail.flows == UInt64(mine.count))
        #expect(
            detail.sent == mine.reduce(0) { $0 + ($1.row.origH == address ? $1.row.origL2Bytes : $1.row.respL2Bytes) })
        #expect(
            detail.received
                == mine.reduce(0) { $0 + ($1.row.origH == address ? $1.row.respL2Bytes : $1.row.origL2Bytes) })
        #expect(!detail.peers.isEmpty && !detail.apps.isEmpty)
        #expect(detail.host?.names.first?.name != nil)

        // GeoIP and process columns, as a live capture with a database writes them.
        var f = FlowRow()
        f.ts = 1_700_000_000_000_000_000; f.lastTs = f.ts + 5; f.uid = "Chosts1"; f.proto = "tcp"; f.connState = "SF"
        f.communityID = "1:x"; f.app = "TLS"; f.appSource = "payload"
        f.origH = IPAddress("192.168.1.5")!; f.origP = 40000; f.respH = IPAddress("81.2.69.142")!; f.respP = 443
        f.origL2Bytes = 700; f.respL2Bytes = 9000; f.origPkts = 5; f.respPkts = 7
        f.respName = "www.example.co.uk"; f.respCC = "GB"; f.respASN = 64500; f.respOrg = "Example \"Net\" Ltd"
        f.pid = 4242; f.process = "curl"; f.user = "alice"; f.container = "docker:0123456789ab"; f.processIsOrig = true
        var g = f
        g.uid = "Chosts2"; g.ts += 10; g.lastTs = g.ts + 1; g.respH = IPAddress("2001:db8::7")!; g.respCC = "DE"
        g.respASN = 64501; g.respOrg = nil; g.respName = nil; g.pid = 77; g.process = "sshd"; g.user = "root"
        g.container = nil; g.processIsOrig = false; g.origL2Bytes = 100; g.respL2Bytes = 50
        let capture: Int64 = 99
        _ = try await store.write(
            StoreBatch(
                id: BatchID(writer: 7, seq: 1), sensor: "s1", captureID: capture,
                content: .capture(
                    CaptureInfo(
                        id: capture, sensor: "s1", source: "interface lo", start: f.ts))))
        _ = try await store.write(StoreBatch(id: BatchID(writer: 7, seq: 2), sensor: "s1", captureID: capture,
                                             content: .flows([f, g])))
        var h = HostRow(address: f.respH, firstTs: f.ts, lastTs: f.lastTs, category: "public")
        h.country = "GB"; h.asn = 64500; h.org = f.respOrg; h.name = f.respName
        h.mac = "00:00:0c:12:34:56"; h.vendor = "Cisco Systems, Inc"
        h.nameFirstSeen = f.ts - 100; h.nameLastSeen = f.ts - 50
        var h2 = h
        h2.firstTs = f.ts - 1000; h2.lastTs = f.ts + 1000; h2.country = nil; h2.nameFirstSeen = f.ts - 200
        h2.mac = nil; h2.vendor = nil
        h2.nameLastSeen = f.ts - 10
        _ = try await store.write(StoreBatch(id: BatchID(writer: 7, seq: 3), sensor: "s1", captureID: capture,
                                             content: .hosts([h])))
        _ = try await store.write(StoreBatch(id: BatchID(writer: 7, seq: 4), sensor: "s1", captureID: capture,
                                             content: .hosts([h2])))

        let back = try await allFlows(store, capture: capture).sorted { $0.row.uid < $1.row.uid }
        #expect(back.map(\.row) == [f, g])
        let json = jsonFields(back[0].json)
        #expect(json["resp_cc"] == "GB" && json["resp_asn"] == "64500" && json["pid"] == "4242")
        #expect(json["process"] == "curl" && json["user"] == "alice" && json["container"] == "docker:0123456789ab")

        func uids(_ p: [String: String]) async throws -> [String] {
            try await store.flows(FlowQuery(parameters: p.merging(["capture": String(capture)]) { a, _ in a }))
                .rows.map(\.row.uid).sorted()
        }
        #expect(try await uids(["country": "gb"]) == ["Chosts1"])
        #expect(try await uids(["country": "DE"]) == ["Chosts2"])
        #expect(try await uids(["asn": "AS64501"]) == ["Chosts2"])
        #expect(try await uids(["process": "curl"]) == ["Chosts1"])
        #expect(try await uids(["process": "77"]) == ["Chosts2"])
        #expect(try await uids(["process": "cur"]).isEmpty)
        #expect(throws: APIError.self) { try FlowQuery(parameters: ["country": "GBR"]) }
        #expect(throws: APIError.self) { try FlowQuery(parameters: ["asn": "x1"]) }

        // The upserts widened the times and kept what the second row lacked.
        var q = HostQuery(); q.capture = capture; q.country = "GB"
        let gb = try await store.hosts(q).rows
        #expect(gb.count == 1)
        #expect(gb.first?.firstTs == f.ts - 1000 && gb.first?.lastTs == f.ts + 1000)
        #expect(gb.first?.asn == 64500 && gb.first?.org == f.respOrg)
        #expect(
            gb.first?.mac == "00:00:0c:12:34:56" && gb.first?.vendor == "Cisco Systems, Inc",
            "a row without a MAC keeps it")
        #expect(gb.first?.names == [HostName(name: "www.example.co.uk", firstSeen: f.ts - 200, lastSeen: f.ts - 10)])
        q.country = nil; q.asn = 64500
        #expect(try await store.hosts(q).rows.map(\.address) == [f.respH])

        // Migration 14: a reverse lookup's name (--resolve) is stored with its source; the
        // same name from a PTR lookup after a DNS answer stays a DNS answer.
        var ptr = HostRow(address: f.origH, firstTs: f.ts, lastTs: f.lastTs, category: "private")
        ptr.name = "laptop.lan"; ptr.nameSource = .ptr; ptr.nameFirstSeen = f.ts; ptr.nameLastSeen = f.lastTs
        var again = h
        again.nameSource = .ptr; again.nameFirstSeen = f.ts - 150; again.nameLastSeen = f.ts - 20
        _ = try await store.write(StoreBatch(id: BatchID(writer: 7, seq: 6), sensor: "s1", captureID: capture,
                                             content: .hosts([ptr, again])))
        var byPTRName = HostQuery(); byPTRName.capture = capture; byPTRName.name = "LAPTOP"
        let laptop = try await store.hosts(byPTRName).rows
        #expect(laptop.map(\.address) == [f.origH])
        #expect(
            laptop.first?.names == [HostName(name: "laptop.lan", firstSeen: f.ts, lastSeen: f.lastTs, source: .ptr)])
        #expect(try await store.hosts(q).rows.first?.names
            == [HostName(name: "www.example.co.uk", firstSeen: f.ts - 200, lastSeen: f.ts - 10, source: .dns)])
        #expect(try await store.host(f.origH, range: RangeQuery(capture: capture)).host?.names.first?.source == .ptr)

        // Processes: curl owns the originator (sent = orig bytes), sshd the responder.
        let procs = try await store.processes(RangeQuery(capture: capture), process: nil, limit: 10)
        #expect(procs == [
            ProcessUsage(process: "curl", pid: 4242, user: "alice", container: "docker:0123456789ab", sent: 700,
                         received: 9000, flows: 1),
            ProcessUsage(process: "sshd", pid: 77, user: "root", container: nil, sent: 50, received: 100, flows: 1),
        ])
        #expect(try await store.processes(RangeQuery(capture: capture), process: "sshd", limit: 10).map(\.pid) == [77])
        // The processes of the sample's capture: none (a file has no processes).
        #expect(try await store.processes(RangeQuery(capture: loaded.captureID), process: nil, limit: 10).isEmpty)

        // Countries and ASes (/api/countries, /api/asns): a flow counts once per distinct
        // country (or AS) of its ends; a third flow inside GB, between two ASes.
        var k = f
        k.uid = "Chosts3"; k.ts += 20; k.lastTs = k.ts + 1; k.origH = IPAddress("81.2.69.1")!
        k.origCC = "GB"; k.origASN = 64502; k.origOrg = "Other Net"; k.origL2Bytes = 10; k.respL2Bytes = 20
        _ = try await store.write(StoreBatch(id: BatchID(writer: 7, seq: 5), sensor: "s1", captureID: capture,
                                             content: .flows([k])))
        func shares(_ by: NetworkShareQuery.Key, _ p: [String: String] = [:]) async throws -> [NetworkShare] {
            try await store.networkShares(
                NetworkShareQuery(by: by, parameters: p.merging(["capture": String(capture)]) { a, _ in a }))
        }
        #expect(try await shares(.country) == [NetworkShare(country: "GB", bytes: 9730, flows: 2),
                                               NetworkShare(country: "DE", bytes: 150, flows: 1)])
        #expect(try await shares(.asn) == [NetworkShare(asn: 64500, org: f.respOrg, bytes: 9730, flows: 2),
                                           NetworkShare(asn: 64501, bytes: 150, flows: 1),
                                           NetworkShare(asn: 64502, org: "Other Net", bytes: 30, flows: 1)])
        // The traffic filters of talkers narrow them; limit cuts the list.
        #expect(
            try await shares(.country, ["ip": "2001:db8::7"]) == [NetworkShare(country: "DE", bytes: 150, flows: 1)])
        #expect(try await shares(.asn, ["limit": "1"]).map(\.asn) == [64500])
        #expect(
            try await store.networkShares(NetworkShareQuery(by: .country, range: RangeQuery(capture: loaded.captureID)))
                .isEmpty, "the sample's addresses are private: no country")
        #expect(throws: APIError.self) { try NetworkShareQuery(by: .asn, parameters: ["limit": "0"]) }
    }

    /// Journals: flows are written as kind 6 and read back equal; kind 5, as journals
    /// held before migration 10, still reads (without hosts and process); hosts batches
    /// round-trip.
    @Test func journalCodec() throws {
        var f = FlowRow()
        f.uid = "Cabc"; f.proto = "tcp"; f.connState = "SF"; f.communityID = "1:x"; f.app = "TLS"; f.appSource = "port"
        f.ja3 = "abc"; f.origName = "a.test"; f.respCC = "FR"; f.respASN = 3215; f.respOrg = "Orange"
        f.pid = 12; f.process = "firefox"; f.user = "bob"; f.processIsOrig = true
        var host = HostRow(address: IPAddress("2001:db8::1")!, firstTs: 5, lastTs: 9, category: "documentation")
        host.name = "v6.test"; host.nameFirstSeen = 1; host.nameLastSeen = 2; host.asn = 1
        host.mac = "00:11:22:33:44:55"; host.vendor = "CIMSYS Inc"
        var ptrHost = host
        ptrHost.address = IPAddress("192.0.2.9")!; ptrHost.name = "ptr.test"; ptrHost.nameSource = .ptr
        for content in [BatchContent.flows([f]), .hosts([host, ptrHost])] {
            let batch = StoreBatch(
                id: BatchID(writer: 1, seq: 2), sensor: "s", captureID: 3, content: content, createdAt: 4)
            #expect(try JournalCodec.roundTrip(batch) == batch)
        }
        var old = BinaryWriter()
        old.int64(1); old.int64(2); old.string("s"); old.int64(3); old.int64(4)
        old.uint8(5); old.uint32(1)
        BatchCodec.encode(f, into: &old)
        for s in f.handshakeColumns { old.optionalString(s) }
        let oldBack = try JournalCodec.decode(old)
        var plain = f
        plain.origName = nil; plain.respCC = nil; plain.respASN = nil; plain.respOrg = nil
        plain.pid = nil; plain.process = nil; plain.user = nil; plain.processIsOrig = nil
        #expect(oldBack.content == .flows([plain]))
        // Kind 7, as journals held before migration 13: hosts without MAC and vendor.
        var old7 = BinaryWriter()
        old7.int64(1); old7.int64(2); old7.string("s"); old7.int64(3); old7.int64(4)
        old7.uint8(7); old7.uint32(1)
        old7.address(host.address); old7.int64(host.firstTs); old7.int64(host.lastTs)
        old7.optionalString(nil); old7.optionalInt64(1); old7.optionalString(nil); old7.string(host.category)
        old7.optionalString(host.name); old7.int64(1); old7.int64(2)
        var plainHost = host
        plainHost.mac = nil; plainHost.vendor = nil
        #expect(try JournalCodec.decode(old7).content == .hosts([plainHost]))
        // Kind 9, as journals held before migration 14: names without a source are DNS answers.
        var old9 = BinaryWriter()
        old9.int64(1); old9.int64(2); old9.string("s"); old9.int64(3); old9.int64(4)
        old9.uint8(9); old9.uint32(1)
        old9.address(ptrHost.address); old9.int64(ptrHost.firstTs); old9.int64(ptrHost.lastTs)
        old9.optionalString(nil); old9.optionalInt64(1); old9.optionalString(nil); old9.string(ptrHost.category)
        old9.optionalString(ptrHost.name); old9.int64(1); old9.int64(2)
        old9.optionalString(ptrHost.mac); old9.optionalString(ptrHost.vendor)
        var dnsHost = ptrHost
        dnsHost.nameSource = .dns
        #expect(try JournalCodec.decode(old9).content == .hosts([dnsHost]))
    }

    /// The column names are the flows NDJSON's (one list), and every one is in both
    /// databases' tables after migration 10.
    @Test func columnNames() {
        let names = Schema.flowEnrichmentColumns.map { $0.replacingOccurrences(of: "\"", with: "") }
        #expect(names == FlowNDJSONWriter.hostFields + FlowNDJSONWriter.processFields + ["process_orig"])
    }

    @Test("a version-9 file written by the previous Sniff (Tests/Fixtures/store/sniff-v9.db) gains the columns")
    func migrateVersion9() async throws {
        let fixture = TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures/store/sniff-v9.db")
        let dir = StoreTestEnv.tempDirectory("v9")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/sniff.db"
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        let before = try TestDatabase.sqlite(
            "sqlite:" + path,
            "SELECT group_concat(uid || '|' || orig_l2_bytes, ',') FROM (SELECT * FROM flows ORDER BY id)")
        let store = SQLiteStore(path: path)
        defer { Task { await store.close() } }
        #expect(try await store.migrate().map(\.version) == Schema.migrations.map(\.version).filter { $0 >= 10 })
        #expect(try await store.info().schemaVersion == Schema.latestVersion)
        let flows = try await store.flows(FlowQuery(limit: 1000)).rows
        #expect(flows.count == 39)
        #expect(flows.allSatisfy { $0.row.respName == nil && $0.row.process == nil })
        let after = try TestDatabase.sqlite(
            "sqlite:" + path,
            "SELECT group_concat(uid || '|' || orig_l2_bytes, ',') FROM (SELECT * FROM flows_v ORDER BY id)")
        #expect(after == before)
        #expect(
            try TestDatabase.sqlite("sqlite:" + path, "SELECT count(*) FROM flows_v WHERE resp_name IS NULL") == "39")
        #expect(try await store.hosts(HostQuery()).rows.isEmpty)
        // New flows with names store beside the old ones.
        var f = flows[0].row
        f.uid = "Cnew"; f.respName = "new.test"; f.process = "curl"; f.pid = 1; f.processIsOrig = true
        _ = try await store.write(
            StoreBatch(
                id: BatchID(writer: 9, seq: 1), sensor: "vm", captureID: flows[0].captureID,
                content: .flows([f])))
        #expect(
            try await store.flows(FlowQuery(parameters: ["process": "curl"])).rows.map(\.row.respName) == ["new.test"])
        #expect(try await store.migrate().isEmpty)
    }
}
