import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import SniffCore
import SniffAnalysis
import SniffStore
@testable import SniffServer

/// /api/hosts, /api/hosts/{ip}, /api/processes and the flows' host and process
/// filters, over the shipped sample stored with passive DNS (in-process and live).
@Suite("Host API")
struct HostAPITests {
    static func database() async throws -> LoadedDatabase {
        let dir = ServerTestEnv.tempDirectory("hostdb")
        let sample = ServerTestEnv.packageRoot.appendingPathComponent("samples/sample.pcapng")
        return try await loadDatabase([sample], path: dir + "/hosts.db", hosts: HostEnrichment())
    }

    @Test("hosts, a host's page and processes answer from the stored sample", arguments: bothSetups)
    func hostsAndHostPage(_ setup: TestingSetup) async throws {
        let db = try await Self.database()
        let (_, app) = makeApp(db.store)
        try await app.test(setup) { client in
            func get(_ uri: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await client.execute(uri: uri, method: .get) { r in (r.status, jsonObject(r.body)) }
            }
            let (status, body) = try await get("/api/hosts?limit=1000")
            #expect(status == .ok)
            let rows = body["rows"] as? [[String: Any]] ?? []
            let named = rows.filter { $0["name"] is String }
            #expect(!named.isEmpty, "the sample's DNS answers name some hosts")
            // Every named host's name is one a flow stored for it carries.
            let flows = try await db.store.flows(FlowQuery(limit: 1000)).rows
            for h in named {
                let a = h["address"] as? String ?? ""
                let name = h["name"] as? String
                #expect(flows.contains { ($0.row.respH.description == a && $0.row.respName == name)
                    || ($0.row.origH.description == a && $0.row.origName == name) }, "\(a) \(name ?? "")")
                #expect((h["names"] as? [[String: Any]])?.first?["first_seen"] is Double)
            }
            // Filters: a part of a name, a category, a bad country.
            let first = named[0]["name"] as! String
            let part = String(first.suffix(6))
            let (_, byName) = try await get("/api/hosts?name=" + (part.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? part))
            #expect((byName["rows"] as? [[String: Any]] ?? []).contains { $0["name"] as? String == first })
            let (_, priv) = try await get("/api/hosts?category=private&limit=1000")
            let privRows = priv["rows"] as? [[String: Any]] ?? []
            #expect(privRows.allSatisfy { $0["category"] as? String == "private" })
            #expect(try await get("/api/hosts?country=XYZ").0 == .badRequest)
            #expect(try await get("/api/hosts?category=moon").0 == .badRequest)
            #expect(try await get("/api/hosts?bogus=1").0 == .badRequest)

            // A host's page: totals equal its stored flows'.
            let address = named[0]["address"] as! String
            let (ds, d) = try await get("/api/hosts/" + address)
            #expect(ds == .ok)
            let mine = flows.filter { $0.row.origH.description == address || $0.row.respH.description == address }
            #expect(d["flows"] as? Int == mine.count)
            let sent = mine.reduce(UInt64(0)) { $0 + ($1.row.origH.description == address ? $1.row.origL2Bytes : $1.row.respL2Bytes) }
            #expect((d["sent"] as? NSNumber)?.uint64Value == sent)
            #expect(((d["host"] as? [String: Any])?["name"] as? String) == first)
            #expect(!(d["peers"] as? [[String: Any]] ?? []).isEmpty)
            #expect(!(d["apps"] as? [[String: Any]] ?? []).isEmpty)
            #expect(d["alerts"] is [Any])
            #expect(try await get("/api/hosts/not-an-address").0 == .badRequest)
            // An address never seen: an empty page, not an error.
            let (us, unknown) = try await get("/api/hosts/192.0.2.77")
            #expect(us == .ok && unknown["flows"] as? Int == 0 && unknown["host"] == nil)

            // Flows carry the names, and take the new filters.
            let (_, fl) = try await get("/api/flows?limit=1000")
            let flowRows = fl["rows"] as? [[String: Any]] ?? []
            #expect(flowRows.contains { $0["resp_name"] as? String == first || $0["orig_name"] as? String == first })
            #expect(try await get("/api/flows?country=DE").0 == .ok)
            #expect(try await get("/api/flows?country=D1").0 == .badRequest)
            #expect(try await get("/api/flows?asn=AS15169").0 == .ok)
            let (_, byProcess) = try await get("/api/flows?process=curl")
            #expect((byProcess["rows"] as? [Any])?.isEmpty == true, "a file has no processes")

            // Processes: none for a file; the route answers.
            let (ps, procs) = try await get("/api/processes")
            #expect(ps == .ok && (procs["rows"] as? [Any])?.isEmpty == true)
            #expect(try await get("/api/processes?limit=0").0 == .badRequest)
        }
    }
}
