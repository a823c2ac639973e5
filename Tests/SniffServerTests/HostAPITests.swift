import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import SniffCore
import SniffAnalysis
import SniffStore
@testable import SniffServer
import SniffTestSupport

/// /api/hosts, /api/hosts/{ip}, /api/processes and the flows' host and process
/// filters, over the shipped sample stored with passive DNS (in-process and live).
@Suite("Host API")
struct HostAPITests {
    static func database() async throws -> LoadedDatabase {
        let dir = ServerTestEnv.tempDirectory("hostdb")
        let sample = TestPaths.packageRoot.appendingPathComponent("samples/sample.pcapng")
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
            // Every named host's name is one a flow stored for it carries (a host only a
            // DNS answer named has no flow: see 10.77.0.80 below).
            let flows = try await db.store.flows(FlowQuery(limit: 1000)).rows
            for h in named {
                let a = h["address"] as? String ?? ""
                let name = h["name"] as? String
                let hasFlows = flows.contains { $0.row.origH.description == a || $0.row.respH.description == a }
                #expect(!hasFlows || flows.contains { ($0.row.respH.description == a && $0.row.respName == name)
                    || ($0.row.origH.description == a && $0.row.origName == name) }, "\(a) \(name ?? "")")
                #expect((h["names"] as? [[String: Any]])?.first?["first_seen"] is Double)
                // Without --resolve every name is a DNS answer's.
                #expect((h["names"] as? [[String: Any]])?.allSatisfy { $0["source"] as? String == "dns" } == true)
            }
            // Filters: a part of a name, a category, a bad country.
            // The host the rest looks at: a named one with flows of its own.
            let flowAddresses = Set(flows.flatMap { [$0.row.origH.description, $0.row.respH.description] })
            let chosen = try #require(named.first { flowAddresses.contains($0["address"] as? String ?? "") })
            let first = chosen["name"] as! String
            let part = String(first.suffix(6))
            let (_, byName) = try await get(
                "/api/hosts?name=" + (part.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? part))
            #expect((byName["rows"] as? [[String: Any]] ?? []).contains { $0["name"] as? String == first })
            let (_, priv) = try await get("/api/hosts?category=private&limit=1000")
            let privRows = priv["rows"] as? [[String: Any]] ?? []
            #expect(privRows.allSatisfy { $0["category"] as? String == "private" })
            #expect(try await get("/api/hosts?country=XYZ").0 == .badRequest)
            #expect(try await get("/api/hosts?category=moon").0 == .badRequest)
            #expect(try await get("/api/hosts?bogus=1").0 == .badRequest)

            // A host's page: totals equal its stored flows'.
            let address = chosen["address"] as! String
            let (ds, d) = try await get("/api/hosts/" + address)
            #expect(ds == .ok)
            let mine = flows.filter { $0.row.origH.description == address || $0.row.respH.description == address }
            #expect(d["flows"] as? Int == mine.count)
            let sent = mine.reduce(UInt64(0)) {
                $0 + ($1.row.origH.description == address ? $1.row.origL2Bytes : $1.row.respL2Bytes)
            }
            #expect((d["sent"] as? NSNumber)?.uint64Value == sent)
            #expect(((d["host"] as? [String: Any])?["name"] as? String) == first)
            #expect(!(d["peers"] as? [[String: Any]] ?? []).isEmpty)
            #expect(!(d["apps"] as? [[String: Any]] ?? []).isEmpty)
            #expect(d["alerts"] is [Any])
            #expect(try await get("/api/hosts/not-an-address").0 == .badRequest)
            // An address the sample's DNS answers name (www.sniff.test, through a CNAME)
            // but which sends nothing: its page has the name, and no traffic.
            let (ns, named80) = try await get("/api/hosts/10.77.0.80")
            let names80 = ((named80["host"] as? [String: Any])?["names"] as? [[String: Any]] ?? []).compactMap {
                $0["name"] as? String
            }
            #expect(ns == .ok && names80.contains("www.sniff.test") && named80["flows"] as? Int == 0, "\(named80)")
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

    static var hasVendorCapture: Bool {
        FileManager.default.fileExists(atPath: MACVendors.standardFolder + "/oui.csv") && hasGeoCaptures
    }

    /// A local address's MAC and vendor in /api/hosts and on its page; none for a public
    /// address, whose frames carry a router's MAC.
    @Test(.enabled(if: hasVendorCapture, "needs ieee-data (/usr/share/ieee-data) and ../shared/pcaps"),
          arguments: bothSetups)
    func macVendors(_ setup: TestingSetup) async throws {
        let dir = ServerTestEnv.tempDirectory("macs")
        let db = try await loadDatabase([TestPaths.sharedPcaps!.appendingPathComponent("dns_tcp.pcap")],
                                        path: dir + "/macs.db", hosts: HostEnrichment(), vendors: MACVendors.load())
        let (_, app) = makeApp(db.store)
        try await app.test(setup) { client in
            func get(_ uri: String) async throws -> [String: Any] {
                try await client.execute(uri: uri, method: .get) { r in jsonObject(r.body) }
            }
            let rows = try await get("/api/hosts")["rows"] as? [[String: Any]] ?? []
            let local = rows.first { $0["address"] as? String == "192.168.1.11" }
            #expect(
                local?["mac"] as? String == "00:11:22:33:44:55" && local?["vendor"] as? String == "CIMSYS Inc",
                "\(rows)")
            let remote = rows.first { $0["address"] as? String == "209.87.249.18" }
            #expect(remote != nil && !(remote?["mac"] is String) && !(remote?["vendor"] is String), "\(rows)")
            let page = try await get("/api/hosts/192.168.1.11")["host"] as? [String: Any]
            #expect(page?["vendor"] as? String == "CIMSYS Inc")
        }
    }

    static let geoCaptures = ["dns_tcp.pcap", "tcp-handshake-nano.pcap", "icmp-rfc8335.pcap"]
    static var hasGeoCaptures: Bool {
        guard let d = TestPaths.sharedPcaps else { return false }
        return geoCaptures.allSatisfy { FileManager.default.fileExists(atPath: d.appendingPathComponent($0).path) }
    }

    /// Public addresses from three shared captures, with test GeoIP databases
    /// (scripts/gen/write-test-mmdb.pl): /api/countries and /api/asns answer what the
    /// stored flows' countries and ASes add up to, each flow once per distinct country.
    @Test(
        .enabled(if: TestMMDB.writerInstalled && hasGeoCaptures, "needs libmaxmind-db-writer-perl and ../shared/pcaps"),
        arguments: bothSetups)
    func countriesAndASNs(_ setup: TestingSetup) async throws {
        let dir = try TestMMDB.write().path
        let geo = try GeoIPDatabases.open(path: dir)
        let files = Self.geoCaptures.map { TestPaths.sharedPcaps!.appendingPathComponent($0) }
        let db = try await loadDatabase(files, path: dir + "/geo.db", hosts: HostEnrichment(geo: geo))
        let flows = try await db.store.flows(FlowQuery(limit: 1000)).rows.map(\.row)
        // The expected shares, summed here from the stored flows.
        var byCountry: [String: (bytes: UInt64, flows: Int)] = [:], byASN: [Int: (bytes: UInt64, flows: Int)] = [:]
        for f in flows {
            for c in Set([f.origCC, f.respCC].compactMap { $0 }) {
                byCountry[c, default: (0, 0)].bytes += f.totalBytes; byCountry[c, default: (0, 0)].flows += 1
            }
            for a in Set([f.origASN, f.respASN].compactMap { $0 }) {
                byASN[Int(a), default: (0, 0)].bytes += f.totalBytes; byASN[Int(a), default: (0, 0)].flows += 1
            }
        }
        let countries = byCountry, asns = byASN
        #expect(Set(countries.keys) == ["CA", "NL", "IE", "US"])
        #expect(
            countries["US"]?.flows == flows.filter { $0.proto == "icmp" }.count, "both ends of the ICMP flows are in US"
        )
        let (_, app) = makeApp(db.store)
        try await app.test(setup) { client in
            func get(_ uri: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await client.execute(uri: uri, method: .get) { r in (r.status, jsonObject(r.body)) }
            }
            let (cs, c) = try await get("/api/countries")
            #expect(cs == .ok)
            let crows = c["rows"] as? [[String: Any]] ?? []
            #expect(
                crows.map { $0["country"] as? String ?? "" }
                    == countries.sorted { ($0.value.bytes, $1.key) > ($1.value.bytes, $0.key) }.map(\.key))
            for r in crows {
                let want = countries[r["country"] as? String ?? ""]
                #expect(
                    (r["bytes"] as? NSNumber)?.uint64Value == want?.bytes && r["flows"] as? Int == want?.flows, "\(r)")
                #expect(r["asn"] == nil)
            }
            let (_, a) = try await get("/api/asns")
            let arows = a["rows"] as? [[String: Any]] ?? []
            #expect(Set(arows.compactMap { $0["asn"] as? Int }) == Set(asns.keys))
            for r in arows {
                let want = asns[r["asn"] as? Int ?? -1]
                #expect(
                    (r["bytes"] as? NSNumber)?.uint64Value == want?.bytes && r["flows"] as? Int == want?.flows, "\(r)")
            }
            #expect(arows.contains { $0["asn"] as? Int == 64504 && $0["org"] as? String == "Sniff Test <b>ISP</b>" })
            // Filters as talkers take them; bad ones are refused.
            let (_, tcp) = try await get("/api/countries?transport=tcp")
            #expect(
                Set((tcp["rows"] as? [[String: Any]] ?? []).compactMap { $0["country"] as? String })
                    == ["CA", "NL", "IE"])
            let (_, one) = try await get("/api/asns?ip=209.87.249.18")
            #expect((one["rows"] as? [[String: Any]] ?? []).map { $0["asn"] as? Int } == [64500])
            #expect(try await get("/api/countries?limit=0").0 == .badRequest)
            #expect(try await get("/api/asns?country=US").0 == .badRequest)
            #expect(try await get("/api/countries?from=soon").0 == .badRequest)
        }
    }

    /// Beside a running capture, its flows in progress join the stored shares as the
    /// store counts them: once per distinct country (or AS) of their ends.
    @Test func openFlowsJoinTheStoredShares() {
        func flow(_ occ: String?, _ rcc: String?, _ oasn: UInt32?, _ rasn: UInt32?, bytes: UInt64) -> StoredFlow {
            var r = FlowRow()
            r.origCC = occ; r.respCC = rcc; r.origASN = oasn; r.respASN = rasn; r.respOrg = rasn.map { "Org \($0)" }
            r.origL2Bytes = bytes; r.respL2Bytes = 0
            return StoredFlow(sensor: "s", captureID: 1, row: r)
        }
        let open = [
            flow("GB", "GB", 1, 2, bytes: 500), flow("DE", "GB", 3, 2, bytes: 40), flow(nil, nil, nil, nil, bytes: 9)
        ]
        let stored = [
            NetworkShare(country: "DE", bytes: 1000, flows: 3), NetworkShare(country: "FR", bytes: 10, flows: 1)
        ]
        #expect(OpenFlows.networkShares(stored, open: open, by: .country, limit: 10) == [
            NetworkShare(country: "DE", bytes: 1040, flows: 4), NetworkShare(country: "GB", bytes: 540, flows: 2),
            NetworkShare(country: "FR", bytes: 10, flows: 1),
        ])
        #expect(OpenFlows.networkShares(stored, open: open, by: .country, limit: 1).map(\.country) == ["DE"])
        #expect(OpenFlows.networkShares([], open: open, by: .asn, limit: 10) == [
            NetworkShare(asn: 2, org: "Org 2", bytes: 540, flows: 2), NetworkShare(asn: 1, bytes: 500, flows: 1),
            NetworkShare(asn: 3, bytes: 40, flows: 1),
        ])
    }

    /// The flows in progress whose socket a scan placed count in /api/processes beside
    /// the stored usage: bytes sent from the side the socket is on.
    @Test func openFlowsJoinTheStoredProcesses() {
        func flow(_ pid: Int32?, isOrig: Bool, orig: UInt64, resp: UInt64) -> StoredFlow {
            var r = FlowRow()
            r.pid = pid; r.process = pid.map { "p\($0)" }; r.user = "u"; r.processIsOrig = isOrig
            r.origL2Bytes = orig; r.respL2Bytes = resp
            return StoredFlow(sensor: "s", captureID: 1, row: r)
        }
        let stored = [ProcessUsage(process: "p7", pid: 7, user: "u", container: nil, sent: 100, received: 5, flows: 2)]
        let open = [flow(7, isOrig: true, orig: 10, resp: 1), flow(8, isOrig: false, orig: 300, resp: 20),
                    flow(nil, isOrig: true, orig: 999, resp: 999)]
        #expect(OpenFlows.processes(stored, open: open, limit: 10) == [
            ProcessUsage(process: "p8", pid: 8, user: "u", container: nil, sent: 20, received: 300, flows: 1),
            ProcessUsage(process: "p7", pid: 7, user: "u", container: nil, sent: 110, received: 6, flows: 3),
        ])
        #expect(OpenFlows.processes(stored, open: open, limit: 1).map(\.pid) == [8])
    }
}
