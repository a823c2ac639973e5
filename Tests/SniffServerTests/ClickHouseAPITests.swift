import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import SniffCore
@testable import SniffStore
@testable import SniffServer

/// The API on ClickHouse against the API on SQLite, the same captures loaded into both
/// with the same capture ids: every served route answers the same JSON.
@Suite("API on ClickHouse equals SQLite", .serialized,
       .enabled(if: ServerTestEnv.env["SNIFF_TEST_CH_URL"] != nil, "set SNIFF_TEST_CH_URL (scripts/test.sh starts a server)"))
struct ClickHouseAPITests {
    /// The server this suite loads: the test cluster's first shard when there is one,
    /// as a plain server (its own databases, no Distributed tables), since no test stops
    /// it; the store suite kills the plain server mid-load while this suite runs, which
    /// failed reads here (503) and made the loads retry.
    static var serverURL: String? { ServerTestEnv.env["SNIFF_TEST_CH_SHARD1_URL"] ?? ServerTestEnv.env["SNIFF_TEST_CH_URL"] }

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
        if let ch = store as? ClickHouseStore { _ = try? await ch.http.run("DROP DATABASE IF EXISTS \(name)", database: "default", what: "test cleanup") }
        await store.close()
    }

    /// Each route's body from both stores.
    static func bodies(_ uris: [String], sqlite: any PacketStore, clickhouse: any PacketStore) async throws -> [(String, ByteBuffer, ByteBuffer)] {
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
                let uri = route + "?limit=50" + (query.isEmpty ? "" : "&" + query) + (cursor.map { "&cursor=" + $0 } ?? "")
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
        guard let start = (0...max(0, body.count - key.count)).first(where: { body[$0..<min(body.count, $0 + key.count)].elementsEqual(key) }),
              let end = body[(start + key.count)...].firstIndex(of: UInt8(ascii: "\"")) else { return body }
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
        let net = someIP.contains(":") ? someIP + "/64" : someIP.split(separator: ".").prefix(2).joined(separator: ".") + ".0.0/16"
        let packetFilters = ["", "transport=tcp", "transport=udp", "app=DNS", "app=unknown", "port=\(somePort)",
                             "sport=\(somePort)", "dport=\(somePort)", "ip=\(someIP)", "ip=\(someV6)", "src=\(someIP)",
                             "dst=\(someIP)", "ip=\(net)", "to=\(mid)", "from=\(mid)", "capture=\(ids[0])", "sensor=test",
                             "transport=udp&app=DNS", "q=example", "ip=\(someIP)&port=\(somePort)"]
        var uris = packetFilters.map { "/api/packets?limit=40" + ($0.isEmpty ? "" : "&" + $0) }
        for f in ["", "transport=udp", "ip=\(someIP)", "port=\(somePort)", "app=DNS", "ip=\(net)"] {
            let q = f.isEmpty ? "" : "?" + f
            uris += ["/api/protocol_summary" + q, "/api/talkers" + q]
        }
        for f in ["", "transport=udp", "app=DNS", "from=\(mid)"] {
            uris += ["/api/timeseries?step=1s" + (f.isEmpty ? "" : "&" + f), "/api/timeseries?by=app&step=1m" + (f.isEmpty ? "" : "&" + f)]
        }
        uris += ["/api/export?format=pcap", "/api/export?format=pcap&transport=udp", "/api/export?format=pcap&ip=\(someIP)"]
        for (uri, a, b) in try await Self.bodies(uris, sqlite: lite.store, clickhouse: ch.store) {
            // Cursors are each store's own (SQLite's packets page by segment); paging is compared below.
            let x = Self.withoutCursor(Array(a.readableBytesView)), y = Self.withoutCursor(Array(b.readableBytesView))
            let at = (0..<min(x.count, y.count)).first { x[$0] != y[$0] } ?? min(x.count, y.count)
            func around(_ v: [UInt8]) -> String { String(decoding: v[max(0, at - 200)..<min(v.count, at + 200)], as: UTF8.self) }
            if x != y { Issue.record("\(uri): first difference at byte \(at):\nSQLite     \(around(x))\nClickHouse \(around(y))") }
        }
        // Every page of packets, and of flows and alerts: their cursors tie-break on a
        // row id that each database makes its own way (SQLite's insertion order, a hash
        // of the row's identity here), so rows with equal sort keys may come in another
        // order; the rows are the same and in the same order of their keys.
        for (route, query, key) in [("/api/packets", "", "ts"), ("/api/packets", "transport=udp", "ts"),
                                    ("/api/flows", "", "ts"), ("/api/flows", "sort=bytes", "total_bytes"),
                                    ("/api/flows", "sort=packets", "total_pkts"), ("/api/flows", "transport=udp&ip=\(someIP)", "ts"),
                                    ("/api/flows", "tunnel=any", "ts"), ("/api/flows", "tunnel=none", "ts"), ("/api/flows", "q=example", "ts"),
                                    ("/api/flows", "conn_state=SF", "ts"), ("/api/flows", "min_bytes=1000", "ts"),
                                    ("/api/alerts", "", "ts"), ("/api/alerts", "severity=medium", "ts"),
                                    ("/api/dns", "", "ts"), ("/api/dns", "q=example", "ts"), ("/api/dns", "ip=\(someIP)", "ts"),
                                    ("/api/dns", "transport=tcp", "ts"), ("/api/dns", "port=\(somePort)&from=\(mid)", "ts"),
                                    ("/api/http", "", "ts"), ("/api/http", "ip=\(net)", "ts"), ("/api/tls", "", "ts"),
                                    ("/api/tls", "q=example", "ts"), ("/api/tls", "capture=\(ids[0])&sensor=test", "ts")] {
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
}
