import Foundation
import Testing
import SniffCore
import SniffDecode
@testable import SniffStore

@Suite("Migration registry")
struct MigrationRegistryTests {
    @Test("versions are numbered 1, 2, 3 ... without gaps, each with its own name")
    func numbering() {
        #expect(Schema.versions.map(\.version) == Array(1...Schema.versions.count))
        #expect(Set(Schema.versions.map(\.name)).count == Schema.versions.count)
        #expect(Schema.latestVersion == Schema.versions.count)
        // SQLite's table conversions sit at the versions their code is named for.
        let conversions = Schema.versions.compactMap { v -> Int? in
            if case .convert = v.sqlite { return v.version } else { return nil }
        }
        #expect(conversions == [SQLiteSchema.compactPacketsVersion, SQLiteSchema.segmentedFlowsVersion,
                                SQLiteSchema.coldColumnsVersion, PacketCodes.version])
    }

    @Test("a database newer than this Sniff is refused")
    func tooNew() throws {
        #expect(throws: StoreError.self) { try Schema.pending(applied: [Schema.latestVersion + 1]) }
        #expect(try Schema.pending(applied: Set(1...Schema.latestVersion)).isEmpty)
        #expect(try Schema.pending(applied: [1, 2], through: 4).map(\.version) == [3, 4])
    }

    @Test("SQLite: a database stopped at version 6 (text packets) migrates with its packets kept")
    func sqliteFromVersion6() async throws {
        try await TestDatabase.withSQLite("v6") { url in
            try await MigrationRegistryTests.fromVersion6(url)
            // The migrations run with `legacy_alter_table` (no view checks on RENAME and ADD
            // COLUMN): every view must still read the tables it names, and the setting
            // must be off again on the connection that migrated.
            guard case .sqlite(let path) = try StoreURL(url) else {
                Issue.record("not SQLite: \(url)")
                return
            }
            let c = try SQLiteConnection(path: path)
            let views = try c.query("SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name", []) {
                $0.text(0)
            }
            #expect(views == ["dns_v", "flows_v", "host_names_v", "hosts_v", "http_v", "packets_v", "tls_v"])
            for v in views { #expect(try c.scalar("SELECT count(*) FROM \(v)") != nil, "\(v)") }
            #expect(try c.scalar("SELECT count(*) FROM packets_v WHERE sensor = 'old'") == 2)
            #expect(try SQLiteStore.migrate(c, segmentRows: 8, flowSegmentRows: 8).isEmpty)
            #expect(try c.scalar("PRAGMA legacy_alter_table") == 0)
        }
    }

    /// Stops a new database at version 6 (the last version whose packets table both
    /// databases share: text link, transport and app, addresses as text or inet), writes
    /// packets there with plain SQL as a Sniff of that version did, migrates the rest and
    /// reads them back through the API.
    static func fromVersion6(_ url: String) async throws {
        let store = StoreFactory.open(try StoreURL(url))
        defer { Task { await store.close() } }
        let older: [Migration]
        if let s = store as? SQLiteStore {
            older = try await s.migrate(through: 6)
        } else {
            older = try await #require(store as? PostgresStore).migrate(through: 6)
        }
        #expect(older.map(\.version) == [1, 2, 3, 4, 5, 6])
        #expect(try await store.info().schemaVersion == 6)
        let (tcp, udp) = (TransportKind.tcp.label, TransportKind.udp.label)
        let (tls, dns) = (AppProtocol.tls.name, AppProtocol.dns.name)
        let insert =
            "INSERT INTO packets (capture_id, sensor, n, ts, len, caplen, iface, link, ip, src, dst, proto, transport, "
            + "sport, dport, app, app_payload) VALUES "
            + "(7, 'old', 1, 1700000000000000001, 74, 74, 0, 'ethernet', 4, '10.0.0.1', '10.0.0.2', 6, '\(tcp)', 40000, 443, '\(tls)', 1), "
            + "(7, 'old', 2, 1700000000000000002, 90, 90, 0, 'ethernet', 6, '2001:db8::1', '2001:db8::2', 17, '\(udp)', 5353, 53, '\(dns)', 0)"
        if url.hasPrefix("sqlite:") {
            _ = try TestDatabase.sqlite(url, insert)
        } else {
            try await TestDatabase.admin(url, insert)
        }
        let rest = try await store.migrate()
        #expect(rest.map(\.version) == Array(7...Schema.latestVersion))
        #expect(try await store.info().schemaVersion == Schema.latestVersion)
        let packets = try await allPackets(store, capture: 7)
        #expect(packets.map(\.row.n) == [1, 2])
        #expect(packets.map(\.sensor) == ["old", "old"])
        #expect(packets.map(\.row.ts) == [1_700_000_000_000_000_001, 1_700_000_000_000_000_002])
        #expect(packets.map(\.row.src.description) == ["10.0.0.1", "2001:db8::1"])
        #expect(packets.map(\.row.dst.description) == ["10.0.0.2", "2001:db8::2"])
        #expect(packets.map(\.row.sport) == [40000, 5353])
        #expect(packets.map(\.row.dport) == [443, 53])
        #expect(packets.map(\.row.transport) == [.tcp, .udp])
        #expect(packets.map(\.row.app) == [.tls, .dns])
        // The tables of the later versions are there and writable.
        for t in ["hosts", "host_names"] + LogKind.allCases.map(\.table) {
            #expect(try await TestDatabase.count(url, t) == 0, "\(t)")
        }
        let batch = StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "new", captureID: 8,
                               content: .packets(syntheticRows(count: 5, start: 1_700_000_001_000_000_000)))
        #expect(try await store.write(batch))
        #expect(try await allPackets(store, capture: 8).count == 5)
        // Flows too, with the columns of the latest versions (the tunnel's, `Schema.flowTunnelVersion`).
        var f = FlowRow()
        f.ts = 1_700_000_001_000_000_000; f.lastTs = f.ts; f.uid = "Cmigrated"; f.proto = "udp"; f.connState = "S0"
        f.origH = IPAddress("10.0.0.1")!; f.respH = IPAddress("10.0.0.2")!; f.communityID = "1:x"; f.app = "DNS"
        f.appSource = "port"; f.tunnel = "vxlan"; f.tunnelID = 42; f.tunnelParents = "Cone,Ctwo"
        #expect(
            try await store.write(
                StoreBatch(id: BatchID(writer: 1, seq: 2), sensor: "new", captureID: 8, content: .flows([f]))))
        #expect(try await allFlows(store, capture: 8).map(\.row) == [f])
    }
}
