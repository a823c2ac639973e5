import Foundation
import Testing
import SniffCore
import SniffDecode
@testable import SniffStore
import SniffServer
import SniffTestSupport

/// The tunnel columns of flows (`Schema.flowTunnelVersion`): every tunnel fixture (Tests/Fixtures/
/// tunnel-*.pcap) stored, read back with the `tunnel`, `tunnel_id` and `tunnel_parents`
/// that --flows writes for the same run, and searched with `tunnel=`. The PostgreSQL run
/// is in `PostgresStoreTests` (the one suite that uses the server).
struct FlowTunnelStoreTests {
    @Test func sqlite() async throws {
        try await TestDatabase.withSQLite("tunnels") { try await Self.storedAndSearched($0) }
    }

    /// The kinds of the fixtures, each file with the number of flows carried in it.
    static let fixtures: [(file: String, kind: TunnelKind)] = [
        ("tunnel-vxlan.pcap", .vxlan), ("tunnel-geneve.pcap", .geneve), ("tunnel-gre.pcap", .gre),
        ("tunnel-ipip.pcap", .ipip), ("tunnel-6in4.pcap", .ip6in4), ("tunnel-pim.pcap", .pim),
        ("tunnel-gtpu.pcap", .gtpu),
    ]

    static func storedAndSearched(_ url: String) async throws {
        let store = StoreFactory.open(try StoreURL(url))
        defer { Task { await store.close() } }
        let dir = TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures")
        var carried: [TunnelKind: Set<String>] = [:]
        var plain = Set<String>()
        for (file, kind) in fixtures {
            let loaded = try await load(dir.appendingPathComponent(file), into: store)
            let stored = try await allFlows(store, capture: loaded.captureID)
            #expect(stored.count == loaded.flowLines.count, "\(file)")
            let byUID = Dictionary(stored.map { ($0.row.uid, $0.row) }, uniquingKeysWith: { a, _ in a })
            for line in loaded.flowLines {
                let ndjson = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let uid = try #require(ndjson["uid"] as? String)
                let row = try #require(byUID[uid], "\(file): \(uid) not stored")
                // Stored as --flows wrote it, and served (RowJSON) under the same names.
                #expect(row.tunnel == ndjson["tunnel"] as? String, "\(file) \(uid)")
                #expect(row.tunnelID.map { Int($0) } == (ndjson["tunnel_id"] as? NSNumber)?.intValue, "\(file) \(uid)")
                let parents = ndjson["tunnel_parents"] as? [String]
                #expect(row.tunnelParents?.split(separator: ",").map(String.init) == parents, "\(file) \(uid)")
                let served = try #require(
                    try JSONSerialization.jsonObject(
                        with: Data(StoredFlow(sensor: "s", captureID: 1, row: row).json.utf8))
                        as? [String: Any])
                #expect(served["tunnel"] as? String == ndjson["tunnel"] as? String)
                #expect((served["tunnel_id"] as? NSNumber)?.intValue == (ndjson["tunnel_id"] as? NSNumber)?.intValue)
                #expect(served["tunnel_parents"] as? [String] == parents)
                if let t = row.tunnel {
                    #expect(t == kind.label, "\(file) \(uid)")
                    carried[kind, default: []].insert(uid)
                    // Each parent is a flow of the same capture, itself outside the tunnel.
                    for p in parents ?? [] {
                        let parent = try #require(byUID[p], "\(file): parent \(p) not stored")
                        #expect(parent.tunnel == nil)
                    }
                } else {
                    plain.insert(uid)
                }
            }
            #expect(!(carried[kind] ?? []).isEmpty, "\(file) stored no carried flow")
            // The summary counts each carried flow under its own application, and the
            // outer flows under the tunnel's, as the report does.
            let summary = try await store.protocolSummary(RangeQuery(capture: loaded.captureID))
            let flowsPerApp = Dictionary(summary.apps.map { ($0.name, $0.flows) }, uniquingKeysWith: +)
            var want: [String: UInt64] = [:]
            for f in stored { want[f.row.app, default: 0] += 1 }
            #expect(flowsPerApp.filter { $0.value > 0 } == want, "\(file)")
            let reportFlows = Dictionary(
                loaded.summary.appsByBytes.map { ($0.0.name, $0.1.flows) }, uniquingKeysWith: +)
            #expect(reportFlows.filter { $0.value > 0 } == want, "\(file)")
        }

        // VXLAN picks the outer UDP source port per inner flow and direction: the inner TCP
        // connection came in two outer flows, and both are its parents (Zeek's set).
        let vxlanTCP = try await store.flows(FlowQuery(parameters: ["tunnel": "vxlan", "transport": "tcp"])).rows
        #expect(vxlanTCP.count == 1)
        #expect(vxlanTCP.first?.row.tunnelParents?.split(separator: ",").count == 2)
        #expect(vxlanTCP.first?.row.tunnelID == 42)

        func uids(_ p: [String: String]) async throws -> Set<String> {
            var q = try FlowQuery(parameters: p)
            q.limit = 1000
            return Set(try await store.flows(q).rows.map(\.row.uid))
        }
        for (_, kind) in fixtures {
            #expect(try await uids(["tunnel": kind.label]) == carried[kind] ?? [], "\(kind.label)")
            #expect(try await uids(["tunnel": kind.label.uppercased()]) == carried[kind] ?? [])
        }
        #expect(try await uids(["tunnel": "any"]) == carried.values.reduce(into: Set<String>()) { $0.formUnion($1) })
        #expect(try await uids(["tunnel": "none"]) == plain)
        for bad in ["", "mpls", "vxlan6"] {
            #expect(throws: APIError.self) { try FlowQuery(parameters: ["tunnel": bad]) }
        }
    }

    /// Journals: flows are written as kind 11 (with the tunnel) and read back equal.
    @Test func journalCodec() throws {
        var f = FlowRow()
        f.uid = "Cabc"; f.proto = "tcp"; f.connState = "SF"; f.communityID = "1:x"; f.app = "HTTP"
        f.appSource = "port"; f.tunnel = "gtpu"; f.tunnelID = 0xFFFF_FFFF; f.tunnelParents = "Cparent1,Cparent2"
        let batch = StoreBatch(id: BatchID(writer: 1, seq: 2), sensor: "s", captureID: 3, content: .flows([f]),
                               createdAt: 4)
        #expect(try JournalCodec.roundTrip(batch) == batch)
    }
}
