import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import SniffCore
import SniffAnalysis
import SniffTestSupport
@testable import SniffStore
@testable import SniffServer

/// The API on ClickHouse against the API on SQLite, the same captures loaded into both
/// with the same capture ids: every served route answers the same JSON.
@Suite(
    "API on ClickHouse equals SQLite", .serialized,
    .enabled(
        if: ServerTestEnv.env["SNIFF_TEST_CH_URL"] != nil, "set SNIFF_TEST_CH_URL (scripts/test.sh starts a server)"))
struct ClickHouseAPITests {
    /// The server this suite loads: the test cluster's first shard when there is one,
    /// as a plain server (its own databases, no Distributed tables), since no test stops
    /// it; the store suite kills the plain server mid-load while this suite runs, which
    /// failed reads here (503) and made the loads retry.
    static var serverURL: String? {
        ServerTestEnv.env["SNIFF_TEST_CH_SHARD1_URL"] ?? ServerTestEnv.env["SNIFF_TEST_CH_URL"]
    }

    /// A fresh database on the test server, dropped by `drop`.
    static func databaseURL() throws -> (url: String, name: String) {
        let base = try #require(serverURL)
        let slash = try #require(base.lastIndex(of: "/"))
        let name = "sniff_api_\(UInt32.random(in: 0...UInt32.max))"
        return (String(base[..<slash]) + "/" + name, name)
    }

    static func drop(_ name: String) async throws {
        let base = try #require(serverURL)
        let store = StoreFactory.open(try StoreURL(base))
        if let ch = store as? ClickHouseStore {
            _ = try? await ch.http.run("DROP DATABASE IF EXISTS \(name)", database: "default", what: "test cleanup")
        }
        await store.close()
    }

    /// Each route's body from both stores.
    static func bodies(
        _ uris: [String], sqlite: any PacketStore, clickhouse: any PacketStore
    ) async throws -> [(String, ByteBuffer, ByteBuffer)] {
        func fetch(_ store: any PacketStore) async throws -> [ByteBuffer] {
            let (_, app) = makeApp(store)
            return try await app.test(.router) { client in
                var out: [ByteBuffer] = []
                for uri in uris {
                    out.append(try await client.execute(uri: uri, method: .get) { r in
                        #expect(r.status == .ok, "\(store.backend) \(uri): \(String(buffer: r.body).prefix(300))")
                        return r.body
                    })
                }
                return out
            }
        }
        let a = try await fetch(sqlite), b = try await fetch(clickhouse)
        return zip(uris, zip(a, b)).map { ($0, $1.0, $1.1) }
    }

    /// Every page of a list route, following `next_cursor`.
    static func allRows(_ store: any PacketStore, _ route: String, _ query: String) async throws -> [[String: Any]] {
        let (_, app) = makeApp(store)
        return try await app.test(.router) { client in
            var rows: [[String: Any]] = [], cursor: String? = nil, pages = 0
            repeat {
                let uri =
                    route + "?limit=50" + (query.isEmpty ? "" : "&" + query) + (cursor.map { "&cursor=" + $0 } ?? "")
                let body = try await client.execute(uri: uri, method: .get) { r in
                    #expect(r.status == .ok, "\(store.backend) \(uri): \(String(buffer: r.body).prefix(300))")
                    return jsonObject(r.body)
                }
                rows += body["rows"] as? [[String: Any]] ?? []
                cursor = body["next_cursor"] as? String
                pages += 1
            } while cursor != nil && pages < 1000
            return rows
        }
    }

    /// A body with its `"next_cursor":"…"` value emptied.
    static func withoutCursor(_ body: [UInt8]) -> [UInt8] {
        let key = Array("\"next_cursor\":\"".utf8)
        guard
            let start = (0...max(0, body.count - key.count)).first(where: {
                body[$0..<min(body.count, $0 + key.count)].elementsEqual(key)
            }),
            let end = body[(start + key.count)...].firstIndex(of: UInt8(ascii: "\""))
        else { return body }
        return Array(body[..<(start + key.count)]) + Array(body[end...])
    }

    static func canonical(_ o: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [o], options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("packets, flows, alerts, protocol logs, summaries, time series, talkers and pcap export: the same answers as SQLite")
    func sameAsSQLite() async throws {
        let files = ServerTestEnv.captures
        let ids = files.map { _ in Int64.random(in: 1...Int64.max) }
        let dir = ServerTestEnv.tempDirectory("ch-api")
        let (url, name) = try Self.databaseURL()
        defer { Task { try? await Self.drop(name) } }
        let lite = try await loadDatabase(files, path: dir + "/api.db", storeFrames: true, fixedCaptureIDs: ids)
        let ch = try await loadDatabase(files, path: "", url: url, storeFrames: true, fixedCaptureIDs: ids)
        #expect(lite.packets.count > 100)
        let p = lite.packets
        let someIP = p.compactMap { $0["src"] }.first ?? "10.0.0.1"
        let someV6 = p.compactMap { $0["src"] }.first { $0.contains(":") } ?? "::1"
        let somePort = p.first { $0["transport"]?.lowercased() == "udp" }?["dport"] ?? "53"
        let tsValues = p.compactMap { $0["ts"].flatMap(Double.init) }.sorted()
        let mid = tsValues.isEmpty ? "0" : String(tsValues[tsValues.count / 2])
        let net =
            someIP.contains(":")
            ? someIP + "/64" : someIP.split(separator: ".").prefix(2).joined(separator: ".") + ".0.0/16"
        let packetFilters = [
            "", "transport=tcp", "transport=udp", "app=DNS", "app=unknown", "port=\(somePort)",
            "sport=\(somePort)", "dport=\(somePort)", "ip=\(someIP)", "ip=\(someV6)", "src=\(someIP)",
            "dst=\(someIP)", "ip=\(net)", "to=\(mid)", "from=\(mid)", "capture=\(ids[0])", "sensor=test",
            "transport=udp&app=DNS", "q=example", "ip=\(someIP)&port=\(somePort)"
        ]
        var uris = packetFilters.map { "/api/packets?limit=40" + ($0.isEmpty ? "" : "&" + $0) }
        for f in ["", "transport=udp", "ip=\(someIP)", "port=\(somePort)", "app=DNS", "ip=\(net)"] {
            let q = f.isEmpty ? "" : "?" + f
            uris += ["/api/protocol_summary" + q, "/api/talkers" + q]
        }
        for f in ["", "transport=udp", "app=DNS", "from=\(mid)"] {
            uris += [
                "/api/timeseries?step=1s" + (f.isEmpty ? "" : "&" + f),
                "/api/timeseries?by=app&step=1m" + (f.isEmpty ? "" : "&" + f)
            ]
        }
        uris += [
            "/api/export?format=pcap", "/api/export?format=pcap&transport=udp", "/api/export?format=pcap&ip=\(someIP)"
        ]
        for (uri, a, b) in try await Self.bodies(uris, sqlite: lite.store, clickhouse: ch.store) {
            // Cursors are each store's own (SQLite's packets page by segment); paging is compared below.
            let x = Self.withoutCursor(Array(a.readableBytesView)), y = Self.withoutCursor(Array(b.readableBytesView))
            let at = (0..<min(x.count, y.count)).first { x[$0] != y[$0] } ?? min(x.count, y.count)
            func around(_ v: [UInt8]) -> String {
                String(decoding: v[max(0, at - 200)..<min(v.count, at + 200)], as: UTF8.self)
            }
            if x != y {
                Issue.record(
                    "\(uri): first difference at byte \(at):\nSQLite     \(around(x))\nClickHouse \(around(y))")
            }
        }
        // Every page of packets, and of flows and alerts: their cursors tie-break on a
        // row id that each database makes its own way (SQLite's insertion order, a hash
        // of the row's identity here), so rows with equal sort keys may come in another
        // order; the rows are the same and in the same order of their keys.
        for (route, query, key) in [
            ("/api/packets", "", "ts"), ("/api/packets", "transport=udp", "ts"),
            ("/api/flows", "", "ts"), ("/api/flows", "sort=bytes", "total_bytes"),
            ("/api/flows", "sort=packets", "total_pkts"), ("/api/flows", "transport=udp&ip=\(someIP)", "ts"),
            ("/api/flows", "tunnel=any", "ts"), ("/api/flows", "tunnel=none", "ts"), ("/api/flows", "q=example", "ts"),
            ("/api/flows", "conn_state=SF", "ts"), ("/api/flows", "min_bytes=1000", "ts"),
            ("/api/alerts", "", "ts"), ("/api/alerts", "severity=medium", "ts"),
            ("/api/dns", "", "ts"), ("/api/dns", "q=example", "ts"), ("/api/dns", "ip=\(someIP)", "ts"),
            ("/api/dns", "transport=tcp", "ts"), ("/api/dns", "port=\(somePort)&from=\(mid)", "ts"),
            ("/api/http", "", "ts"), ("/api/http", "ip=\(net)", "ts"), ("/api/tls", "", "ts"),
            ("/api/tls", "q=example", "ts"), ("/api/tls", "capture=\(ids[0])&sensor=test", "ts")
        ] {
            let a = try await Self.allRows(lite.store, route, query), b = try await Self.allRows(ch.store, route, query)
            if query.isEmpty && route.hasPrefix("/api/") && ["dns", "http", "tls"].contains(route.dropFirst(5)) {
                #expect(!a.isEmpty, "\(route): the captures have rows to compare")
            }
            #expect(a.count == b.count, "\(route)?\(query): SQLite \(a.count) rows, ClickHouse \(b.count)")
            // Compared into Bools first: an expectation on the arrays themselves would
            // print every row of both sides when they differ.
            let sameKeys = a.map { Self.canonical($0[key] ?? 0) } == b.map { Self.canonical($0[key] ?? 0) }
            #expect(sameKeys, "\(route)?\(query): key order")
            let rowsA = a.map(Self.canonical), rowsB = b.map(Self.canonical)
            let onlyA = Set(rowsA).subtracting(rowsB), onlyB = Set(rowsB).subtracting(rowsA)
            let sameRows = rowsA.sorted() == rowsB.sorted()
            #expect(sameRows, "\(route)?\(query): rows only in SQLite \(onlyA.count), only in ClickHouse \(onlyB.count); first: \(onlyA.sorted().first?.prefix(300) ?? "")")
        }
        await lite.store.close()
        await ch.store.close()
    }

    /// Hosts (with names from DNS answers and a reverse lookup, countries and ASes from
    /// the test GeoIP databases), a host's page, processes and countries/ASes, loaded
    /// into both databases as the same rows: the same answers. Host lists tie-break on
    /// the address, which SQLite orders as text and ClickHouse as bytes, so their pages
    /// are compared as `sameAsSQLite` compares flows (the same rows, in the same order of
    /// `last_seen`).
    @Test(
        "hosts, host pages, processes, countries and ASes: the same answers as SQLite",
        .enabled(
            if: TestMMDB.writerInstalled && HostAPITests.hasGeoCaptures,
            "needs libmaxmind-db-writer-perl and ../shared/pcaps"))
    func hostsSameAsSQLite() async throws {
        let dir = try TestMMDB.write().path
        let geo = try GeoIPDatabases.open(path: dir)
        let files = HostAPITests.geoCaptures.map { TestPaths.sharedPcaps!.appendingPathComponent($0) }
            + [TestPaths.sample]
        let ids = files.map { _ in Int64.random(in: 1...Int64.max) }
        let (url, name) = try Self.databaseURL()
        defer { Task { try? await Self.drop(name) } }
        let lite = try await loadDatabase(
            files, path: dir + "/hosts.db", hosts: HostEnrichment(geo: geo), fixedCaptureIDs: ids)
        let ch = try await loadDatabase(
            files, path: "", url: url, hosts: HostEnrichment(geo: geo), fixedCaptureIDs: ids)
        // A live capture's flows with their processes, and a reverse lookup's name, as
        // `sniff -i --resolve` writes them.
        let live: Int64 = 77
        var f = FlowRow()
        f.ts = 1_700_000_000_000_000_000; f.lastTs = f.ts + 5; f.uid = "Cproc1"; f.proto = "tcp"; f.connState = "SF"
        f.communityID = "1:x"; f.app = "TLS"; f.appSource = "payload"; f.ipProto = 6
        f.origH = IPAddress("192.168.1.5")!; f.origP = 40000; f.respH = IPAddress("81.2.69.142")!; f.respP = 443
        f.origL2Bytes = 700; f.respL2Bytes = 9000; f.origPkts = 5; f.respPkts = 7
        f.pid = 4242; f.process = "curl"; f.user = "alice"; f.container = "docker:0123456789ab"; f.processIsOrig = true
        var g = f
        g.uid = "Cproc2"; g.ts += 10; g.lastTs = g.ts + 1; g.respH = IPAddress("2001:db8::7")!; g.pid = 77;
        g.process = "sshd"
        g.user = "root"; g.container = nil; g.processIsOrig = false; g.origL2Bytes = 100; g.respL2Bytes = 50
        var ptr = HostRow(address: f.origH, firstTs: f.ts, lastTs: f.lastTs, category: "private")
        ptr.name = "laptop.lan"; ptr.nameSource = .ptr; ptr.nameFirstSeen = f.ts; ptr.nameLastSeen = f.lastTs
        for store in [lite.store, ch.store] {
            let info = CaptureInfo(id: live, sensor: "live", source: "interface lo", start: f.ts)
            _ = try await store.write(
                StoreBatch(id: BatchID(writer: 9, seq: 1), sensor: "live", captureID: live, content: .capture(info)))
            _ = try await store.write(
                StoreBatch(id: BatchID(writer: 9, seq: 2), sensor: "live", captureID: live, content: .flows([f, g])))
            _ = try await store.write(
                StoreBatch(id: BatchID(writer: 9, seq: 3), sensor: "live", captureID: live, content: .hosts([ptr])))
        }

        let hosts = try await Self.allRows(lite.store, "/api/hosts", "")
        #expect(
            hosts.count > 10 && hosts.contains { $0["country"] is String } && hosts.contains { $0["name"] is String })
        let seen = hosts.compactMap { $0["last_seen"] as? Double }.sorted()
        let mid = seen.isEmpty ? "0" : String(seen[seen.count / 2])
        let named = hosts.first { $0["name"] is String && ($0["name"] as? String)?.hasSuffix(".lan") == false }
        let part = String((named?["name"] as? String ?? "sniff").suffix(5))
        for query in [
            "", "category=private", "category=public", "country=US", "asn=64500", "name=\(part)", "name=LAPTOP",
            "capture=\(ids[0])", "sensor=live", "from=\(mid)", "to=\(mid)", "capture=\(ids[3])&category=private"
        ] {
            let a = try await Self.allRows(lite.store, "/api/hosts", query),
                b = try await Self.allRows(ch.store, "/api/hosts", query)
            #expect(query.hasPrefix("to=") || !a.isEmpty, "/api/hosts?\(query): SQLite has rows to compare")
            #expect(a.count == b.count, "/api/hosts?\(query): SQLite \(a.count) rows, ClickHouse \(b.count)")
            let sameKeys =
                a.map { Self.canonical($0["last_seen"] ?? 0) } == b.map { Self.canonical($0["last_seen"] ?? 0) }
            #expect(sameKeys, "/api/hosts?\(query): order of last_seen")
            let rowsA = a.map(Self.canonical), rowsB = b.map(Self.canonical)
            let onlyA = Set(rowsA).subtracting(rowsB)
            #expect(
                rowsA.sorted() == rowsB.sorted(),
                "/api/hosts?\(query): \(onlyA.count) rows differ; first: \(onlyA.sorted().first?.prefix(400) ?? "")")
        }

        // Processes and shares are ordered by their sums, then by pid or key: whole bodies.
        var uris = [
            "/api/processes", "/api/processes?process=curl", "/api/processes?process=77",
            "/api/processes?capture=\(live)",
            "/api/processes?capture=\(ids[0])", "/api/processes?sensor=live&from=1700000000"
        ]
        for q in ["", "?transport=tcp", "?ip=209.87.249.18", "?ip=81.2.69.0/24", "?capture=\(ids[1])", "?limit=2"] {
            uris += ["/api/countries" + q, "/api/asns" + q]
        }
        for (uri, a, b) in try await Self.bodies(uris, sqlite: lite.store, clickhouse: ch.store) {
            #expect(
                String(buffer: a) == String(buffer: b),
                "\(uri):\nSQLite     \(String(buffer: a).prefix(600))\nClickHouse \(String(buffer: b).prefix(600))")
        }
        let procs = jsonObject(try await Self.bodies(["/api/processes"], sqlite: lite.store, clickhouse: ch.store)[0].2)
        #expect((procs["rows"] as? [[String: Any]])?.compactMap { $0["process"] as? String } == ["curl", "sshd"])

        // Host pages: every host, and addresses with no host row. Peers, applications and
        // alerts tie on their bytes or time, broken differently by each database: compared
        // as sets where the page lists them all, by their bytes where a limit cut them.
        let addresses = hosts.compactMap { $0["address"] as? String } + ["2001:db8::7", "192.0.2.77"]
        let pages = try await Self.bodies(
            addresses.map { "/api/hosts/" + $0 }, sqlite: lite.store, clickhouse: ch.store)
        var withPeers = 0
        for (uri, a, b) in pages {
            var x = jsonObject(a), y = jsonObject(b)
            for (key, limit, value) in [("peers", 10, "bytes"), ("apps", 20, "bytes"), ("alerts", 50, "ts")] {
                let l = x[key] as? [[String: Any]] ?? [], r = y[key] as? [[String: Any]] ?? []
                #expect(
                    l.map { Self.canonical($0[value] ?? 0) } == r.map { Self.canonical($0[value] ?? 0) },
                    "\(uri) \(key) order")
                if l.count < limit {
                    #expect(l.map(Self.canonical).sorted() == r.map(Self.canonical).sorted(), "\(uri) \(key)")
                }
                x[key] = nil; y[key] = nil
                if key == "peers" && !l.isEmpty { withPeers += 1 }
            }
            #expect(
                Self.canonical(x) == Self.canonical(y),
                "\(uri):\nSQLite     \(Self.canonical(x).prefix(600))\nClickHouse \(Self.canonical(y).prefix(600))")
        }
        #expect(withPeers > 5, "host pages with traffic compared")
        await lite.store.close()
        await ch.store.close()
    }
}
