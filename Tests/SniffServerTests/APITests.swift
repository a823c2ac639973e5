import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import SniffCore
import SniffDecode
import SniffStore
@testable import SniffServer
import SniffTestSupport

/// Every route, in-process (.router) and over a real socket (.live), with the same body.
@Suite("API")
struct APITests {
    /// Fetches every page of /api/packets with `query`, checking order and page sizes.
    static func allPages(
        _ client: some TestClientProtocol, _ query: String, limit: Int = 400
    ) async throws -> [[String: Any]] {
        var rows: [[String: Any]] = []
        var cursor: String? = nil
        var pages = 0
        repeat {
            var uri = "/api/packets?limit=\(limit)" + (query.isEmpty ? "" : "&" + query)
            if let c = cursor { uri += "&cursor=" + c }
            let (status, body) = try await client.execute(uri: uri, method: .get) { r in
                (r.status, jsonObject(r.body))
            }
            #expect(status == .ok, "\(uri): \(body)")
            let page = body["rows"] as? [[String: Any]] ?? []
            #expect(page.count <= limit)
            rows += page
            cursor = body["next_cursor"] as? String
            pages += 1
        } while cursor != nil && pages < 10_000
        // Newest first.
        let ts = rows.compactMap { $0["ts"] as? Double }
        #expect(zip(ts, ts.dropFirst()).allSatisfy { $0 >= $1 }, "\(query): not newest first")
        return rows
    }

    @Test("filters and pagination match counts from the NDJSON", arguments: bothSetups)
    func filtersMatchNDJSON(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        #expect(db.packets.count > 100)
        let (_, app) = makeApp(db.store)
        // Pick an address and a port that occur, from the NDJSON itself.
        let someIP = db.packets.compactMap { $0["src"] }.first ?? "10.0.0.1"
        let somePort = db.packets.first { $0["transport"]?.lowercased() == "udp" }?["dport"] ?? "53"
        let cases: [(String, @Sendable ([String: String]) -> Bool)] = [
            ("", { _ in true }),
            ("transport=tcp", { $0["transport"]?.lowercased() == "tcp" }),
            ("transport=udp", { $0["transport"]?.lowercased() == "udp" }),
            ("port=\(somePort)", { $0["sport"] == somePort || $0["dport"] == somePort }),
            ("dport=\(somePort)", { $0["dport"] == somePort }),
            ("ip=\(someIP)", { $0["src"] == someIP || $0["dst"] == someIP }),
            ("src=\(someIP)", { $0["src"] == someIP }),
            ("app=DNS", { $0["app"] == "DNS" }),
            ("transport=udp&app=DNS", { $0["transport"]?.lowercased() == "udp" && $0["app"] == "DNS" }),
        ]
        try await app.test(setup) { client in
            for (query, predicate) in cases {
                let want = db.packets.filter(predicate).count
                let got = try await Self.allPages(client, query, limit: query.isEmpty ? 1000 : 137)
                #expect(got.count == want, "\(query): API \(got.count), NDJSON \(want)")
            }
            // The alias.
            let f = try await client.execute(uri: "/api/filter?transport=udp&limit=5", method: .get) {
                jsonObject($0.body)
            }
            #expect(
                (f["rows"] as? [[String: Any]])?.allSatisfy { ($0["transport"] as? String)?.lowercased() == "udp" }
                    == true)
        }
    }

    @Test("every route answers JSON", arguments: bothSetups)
    func everyRoute(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        let (_, app) = makeApp(db.store)
        try await app.test(setup) { client in
            for uri in [
                "/api/packets", "/api/filter", "/api/flows?sort=bytes", "/api/flows?sort=time&limit=3",
                "/api/protocol_summary",
                "/api/timeseries?step=1m&by=transport", "/api/timeseries?step=1s&by=app", "/api/timeseries?step=1h",
                "/api/talkers", "/api/alerts", "/api/captures", "/api/stats", "/api/openapi.json", "/api/session"
            ] {
                try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == .ok, "\(uri)")
                    #expect(r.headers[.contentType]?.hasPrefix("application/json") == true, "\(uri)")
                    #expect(!jsonObject(r.body).isEmpty, "\(uri)")
                }
            }
            let summary = try await client.execute(uri: "/api/protocol_summary", method: .get) { jsonObject($0.body) }
            let tcp = (summary["transports"] as? [[String: Any]])?.first {
                ($0["name"] as? String)?.lowercased() == "tcp"
            }
            #expect(
                (tcp?["packets"] as? Int ?? 0) == db.packets.filter { $0["transport"]?.lowercased() == "tcp" }.count)
            try await client.execute(uri: "/", method: .get) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("<canvas id=\"chart\""))
                #expect(r.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            }
            for f in ["app.js", "api.js", "chart.js", "style.css"] {
                try await client.execute(uri: "/ui/" + f, method: .get) { #expect($0.status == .ok, "\(f)") }
            }
            try await client.execute(uri: "/metrics", method: .get) { r in
                #expect(r.status == .ok)
                let text = String(buffer: r.body)
                for m in ["sniff_packets_total", "sniff_bytes_total", "sniff_dropped_packets", "sniff_active_flows",
                          "sniff_db_write_lag_seconds", "sniff_websocket_clients"] {
                    #expect(text.contains(m), "\(m)")
                }
            }
            // Unknown route: JSON 404.
            try await client.execute(uri: "/api/nope", method: .get) { r in
                #expect(r.status == .notFound)
                #expect(jsonObject(r.body)["error"] != nil)
            }
            // No live capture here: control is a 409 (once the CSRF token is given).
            try await client.execute(uri: "/api/capture/pause", method: .post) { #expect($0.status == .forbidden) }
            let csrf = try await client.execute(uri: "/api/session", method: .get) {
                jsonObject($0.body)["csrf_token"] as? String
            }
            try await client.execute(
                uri: "/api/capture/pause", method: .post, headers: [SecurityTests.csrf: csrf ?? ""]
            ) {
                #expect($0.status == .conflict)
            }
            // No packet bytes in the database: pcap is a 409 that says why.
            try await client.execute(uri: "/api/export?format=pcap", method: .get) { r in
                #expect(r.status == .conflict)
                #expect((jsonObject(r.body)["error"] as? String)?.contains("-w") == true)
            }
        }
    }

    @Test("the summaries take the dashboard's filters; stats take a capture", arguments: bothSetups)
    func filteredSummaries(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        let (_, app) = makeApp(db.store)
        let udp = db.packets.filter { $0["transport"]?.lowercased() == "udp" }.count
        let someIP = db.packets.compactMap { $0["src"] }.first ?? "10.0.0.1"
        try await app.test(setup) { client in
            func get(_ uri: String) async throws -> [String: Any] {
                try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == .ok, "\(uri): \(String(buffer: r.body))")
                    return jsonObject(r.body)
                }
            }
            func packets(_ list: Any?) -> Int {
                (list as? [[String: Any]] ?? []).reduce(0) { $0 + ($1["packets"] as? Int ?? 0) }
            }
            #expect(packets(try await get("/api/timeseries?step=1s&transport=udp")["points"]) == udp)
            let s = try await get("/api/protocol_summary?transport=udp")
            #expect(s["counted"] as? String == "packets")
            #expect((s["transports"] as? [[String: Any]])?.map { $0["name"] as? String } == ["UDP"])
            #expect(packets(s["transports"]) == udp && packets(s["apps"]) == udp)
            let byIP = try await get("/api/protocol_summary?ip=\(someIP)")
            #expect(byIP["counted"] as? String == "flows")
            #expect(packets(byIP["transports"]) > 0 && packets(byIP["transports"]) < db.packets.count)
            let talkers = try await get("/api/talkers?limit=1000&ip=\(someIP)")
            #expect((talkers["hosts"] as? [[String: Any]])?.contains { $0["address"] as? String == someIP } == true)
            let caps = try await get("/api/captures")["rows"] as? [[String: Any]] ?? []
            let id = try #require(caps.first?["id"] as? String)
            let stats = try await get("/api/stats?capture=\(id)")
            #expect((stats["capture"] as? [String: Any])?["id"] as? String == id)
            #expect((stats["store"] as? [String: Any])?["packets"] as? Int == db.packets.count)
        }
    }

    @Test("HEAD answers as GET does, without a body", arguments: bothSetups)
    func head(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        let (_, app) = makeApp(db.store)
        try await app.test(setup) { client in
            for uri in [
                "/", "/ui/app.js", "/api/stats", "/api/packets?limit=5", "/api/flows?limit=3",
                "/api/timeseries?step=1s",
                "/api/protocol_summary", "/api/captures", "/api/openapi.json", "/api/export?format=csv&limit=2",
                "/api/packets?limit=0", "/nope"
            ] {
                let get = try await client.execute(uri: uri, method: .get) {
                    ($0.status, $0.headers, $0.body.readableBytes)
                }
                try await client.execute(uri: uri, method: .head) { r in
                    #expect(r.status == get.0, "\(uri)")
                    #expect(r.headers[.contentType] == get.1[.contentType], "\(uri)")
                    #expect(r.body.readableBytes == 0, "\(uri)")
                    if get.0 == .ok, let length = get.1[.contentLength] {
                        #expect(r.headers[.contentLength] == length, "\(uri)")
                        #expect(length == String(get.2), "\(uri)")
                    }
                }
            }
            try await client.execute(uri: "/", method: .head) { #expect($0.headers[.contentSecurityPolicy] != nil) }
            // The Prometheus text changes with every request: status and type only.
            try await client.execute(uri: "/metrics", method: .head) { r in
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("text/plain") == true)
                #expect(r.body.readableBytes == 0)
            }
        }
    }

    @Test("bad parameters are 400 with the parameter named", arguments: bothSetups)
    func badParameters(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        let (_, app) = makeApp(db.store)
        let cases: [(String, String)] = [
            ("/api/packets?limit=1001", "limit"), ("/api/packets?limit=0", "limit"),
            ("/api/packets?port=70000", "port"),
            ("/api/packets?ip=300.1.1.1", "ip"), ("/api/packets?transport=tcpx", "transport"),
            ("/api/packets?app=nope", "app"),
            ("/api/packets?from=yesterday", "from"), ("/api/packets?cursor=zzz", "cursor"),
            ("/api/packets?bogus=1", "bogus"),
            ("/api/flows?sort=size", "sort"), ("/api/flows?conn_state=XX", "conn_state"),
            ("/api/flows?min_bytes=-1", "min_bytes"),
            ("/api/timeseries?step=2s", "step"), ("/api/timeseries?by=host", "by"),
            ("/api/alerts?severity=huge", "severity"),
            ("/api/export?format=doc", "format"), ("/api/export", "format"), ("/api/packets?port=1&port=2", "port"),
            // The summaries' filters: as the packets' are parsed; the time series has no address or port.
            ("/api/protocol_summary?ip=10.0.0.300", "ip"), ("/api/protocol_summary?port=70000", "port"),
            ("/api/talkers?transport=tcpx", "transport"), ("/api/talkers?app=nope", "app"),
            ("/api/talkers?dport=x", "dport"),
            ("/api/timeseries?transport=tcpx", "transport"), ("/api/timeseries?ip=10.0.0.1", "ip"),
            ("/api/timeseries?port=53", "port"), ("/api/stats?capture=abc", "capture"),
            ("/api/stats?capture=12345", "capture"),
        ]
        try await app.test(setup) { client in
            for (uri, parameter) in cases {
                try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == .badRequest, "\(uri)")
                    let body = jsonObject(r.body)
                    #expect(body["parameter"] as? String == parameter, "\(uri): \(body)")
                    #expect(body["error"] is String)
                }
            }
        }
    }

    @Test("injection strings in every parameter never reach SQL or a 500", arguments: bothSetups)
    func injection(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        let before = try await db.store.stats().packets
        let (_, app) = makeApp(db.store)
        let attacks = [
            "' OR 1=1 --", "1; DROP TABLE packets; --", "\" onmouseover=alert(1)", "<script>alert(1)</script>",
            "../../etc/passwd", "%00", "1' UNION SELECT * FROM captures --", String(repeating: "A", count: 1000),
            "$(reboot)", "😀"
        ]
        let params =
            APIRoutes.filterNames + [
                "cursor", "limit", "conn_state", "min_bytes", "sort", "step", "by", "severity", "rule", "format"
            ]
        try await app.test(setup) { client in
            for route in [
                "/api/packets", "/api/flows", "/api/protocol_summary", "/api/timeseries", "/api/talkers", "/api/alerts",
                "/api/captures", "/api/export"
            ] {
                for p in params {
                    for a in attacks {
                        let v = a.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                        try await client.execute(uri: "\(route)?\(p)=\(v)", method: .get) { r in
                            #expect(r.status.code < 500, "\(route) \(p)=\(a): \(r.status)")
                            if r.status == .ok && route != "/api/export" {
                                // Only text filters accept these, and they match nothing.
                                #expect(["q", "sensor", "rule"].contains(p), "\(route) \(p)=\(a) accepted")
                            }
                        }
                    }
                }
            }
        }
        #expect(try await db.store.stats().packets == before)
    }

    @Test("a non-loopback bind needs the token on every API request", arguments: bothSetups)
    func token(_ setup: TestingSetup) async throws {
        var c = ServerConfiguration()
        c.host = "0.0.0.0"
        #expect(c.problem != nil)
        c.token = "s3cret-token-1"
        #expect(c.problem == nil)
        let db = try await SharedDatabase.shared.get()
        let (_, app) = makeApp(db.store) { $0.host = "0.0.0.0"; $0.token = "s3cret-token-1" }
        try await app.test(setup) { client in
            for uri in ["/api/packets", "/api/stats", "/api/export?format=csv", "/metrics", "/ws/live", "/api/nope"] {
                try await client.execute(uri: uri, method: .get) { #expect($0.status == .unauthorized, "\(uri)") }
                try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer wrong-token-xx"]) {
                    #expect($0.status == .unauthorized, "\(uri)")
                }
            }
            try await client.execute(uri: "/api/capture/stop", method: .post) { #expect($0.status == .unauthorized) }
            try await client.execute(
                uri: "/api/stats", method: .get, headers: [.authorization: "Bearer s3cret-token-1"]
            ) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/stats?token=s3cret-token-1", method: .get) { #expect($0.status == .ok) }
            // The dashboard's files hold no data.
            try await client.execute(uri: "/", method: .get) { #expect($0.status == .ok) }
        }
    }

    @Test("the OpenAPI document is valid in structure and lists every route")
    func openAPI() async throws {
        let path = TestPaths.packageRoot.appendingPathComponent("docs/openapi.json").path
        let data = try #require(FileManager.default.contents(atPath: path))
        let spec = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((spec["openapi"] as? String)?.hasPrefix("3.") == true)
        #expect((spec["info"] as? [String: Any])?["title"] != nil)
        let paths = try #require(spec["paths"] as? [String: [String: Any]])
        for route in [
            "/api/packets", "/api/filter", "/api/flows", "/api/protocol_summary", "/api/timeseries", "/api/talkers",
            "/api/alerts", "/api/captures", "/api/stats", "/api/session", "/api/openapi.json", "/api/export",
            "/api/capture/pause",
            "/api/capture/resume", "/api/capture/stop", "/ws/live", "/metrics", "/", "/api/hosts", "/api/hosts/{ip}",
            "/api/processes", "/api/countries", "/api/asns", "/api/dns", "/api/http", "/api/tls"
        ] {
            #expect(paths[route] != nil, "\(route) missing from openapi.json")
        }
        // Every $ref resolves.
        let text = String(decoding: data, as: UTF8.self)
        let components = spec["components"] as? [String: [String: Any]] ?? [:]
        for match in text.split(separator: "\"").filter({ $0.hasPrefix("#/components/") }) {
            let parts = match.split(separator: "/")
            #expect(components[String(parts[2])]?[String(parts[3])] != nil, "\(match)")
        }
        // Every parameter the code accepts is documented.
        let packetParams = Set(
            ((paths["/api/packets"]?["get"] as? [String: Any])?["parameters"] as? [[String: Any]] ?? []).compactMap {
                $0["name"] as? String
            })
        #expect(packetParams == Set(APIRoutes.filterNames + ["cursor", "limit"]))
        func params(_ route: String) -> Set<String> {
            Set(
                ((paths[route]?["get"] as? [String: Any])?["parameters"] as? [[String: Any]] ?? []).compactMap {
                    $0["name"] as? String
                })
        }
        #expect(params("/api/hosts") == Set(HostQuery.parameterNames))
        #expect(params("/api/processes") == Set(ProcessQuery.parameterNames))
        #expect(params("/api/countries") == Set(NetworkShareQuery.parameterNames))
        #expect(params("/api/asns") == Set(NetworkShareQuery.parameterNames))
        #expect(params("/api/flows").isSuperset(of: FlowQuery.enrichmentNames))
        for kind in LogKind.allCases {
            #expect(params("/api/\(kind.table)") == Set(LogQuery.names + ["cursor", "limit"]), "/api/\(kind.table)")
        }
        // The transports a user may write are TransportKind.userNames: every traffic
        // route's `transport` lists them all (the log routes, whose transports are the
        // TCP and UDP their protocols run on, a part of them).
        for (route, item) in paths {
            let parameters = (item["get"] as? [String: Any])?["parameters"] as? [[String: Any]] ?? []
            guard let t = parameters.first(where: { $0["name"] as? String == "transport" }) else { continue }
            let names = (t["schema"] as? [String: Any])?["enum"] as? [String] ?? []
            if LogKind.allCases.contains(where: { "/api/\($0.table)" == route }) {
                #expect(Set(names).isSubset(of: TransportKind.userNames) && !names.isEmpty, "\(route): \(names)")
            } else {
                #expect(names == TransportKind.userNames, "\(route): \(names)")
            }
        }
    }

    /// The dashboard's Transport choice offers exactly the names the API takes.
    @Test func dashboardTransportChoiceIsTheAPIs() throws {
        let html = try String(
            contentsOf: TestPaths.packageRoot.appendingPathComponent("Sources/SniffServer/Dashboard/index.html"),
            encoding: .utf8)
        let start = try #require(html.range(of: "id=\"f-transport\""))
        let end = try #require(html.range(of: "</select>", range: start.upperBound..<html.endIndex))
        let values = html[start.upperBound..<end.lowerBound].components(separatedBy: "<option value=\"").dropFirst()
            .compactMap {
                $0.split(separator: "\"", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
            }
        #expect(values == [""] + TransportKind.userNames)
    }
}
