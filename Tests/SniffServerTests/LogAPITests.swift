import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import SniffCore
import SniffStore
@testable import SniffServer
import SniffTestSupport

/// /api/dns, /api/http and /api/tls over a database loaded from logs.pcap (DNS over UDP
/// and TCP, pipelined HTTP) and tls.pcap, on SQLite and (when the test server is up,
/// SNIFF_TEST_PG_URL) PostgreSQL: the rows are the store's, pages join up, filters hold,
/// bad parameters get a 400 naming them.
@Suite("protocol log routes")
struct LogAPITests {
    static let pgURL = ProcessInfo.processInfo.environment["SNIFF_TEST_PG_URL"]
    static let backends = ["sqlite"] + (pgURL == nil ? [] : ["postgresql"])

    static func get(
        _ client: some TestClientProtocol, _ uri: String
    ) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(uri: uri, method: .get) { r in (r.status, jsonObject(r.body)) }
    }

    @Test("rows, paging, filters and errors", arguments: backends)
    func routes(_ backend: String) async throws {
        let dir = ServerTestEnv.tempDirectory("logsapi")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // PostgreSQL: the test server's database, shared; every query names its capture.
        let db = try await loadDatabase(["logs.pcap", "tls.pcap"].map { TestPaths.fixtures.appendingPathComponent($0) },
                                        path: dir + "/logs.db", url: backend == "sqlite" ? nil : Self.pgURL)
        defer { Task { await db.store.close() } }
        let (logsCapture, tlsCapture) = (db.captureIDs[0], db.captureIDs[1])
        let (_, app) = makeApp(db.store)
        try await app.test(.router) { client in
            for kind in LogKind.allCases {
                let capture = kind == .tls ? tlsCapture : logsCapture
                let base = "/api/\(kind.table)?capture=\(capture)"
                let (status, body) = try await Self.get(client, base + "&limit=1000")
                #expect(status == .ok, "\(kind): \(body)")
                let rows = body["rows"] as? [[String: Any]] ?? []
                let stored = try await db.store.logs(
                    LogQuery(kind: kind, parameters: ["capture": String(capture), "limit": "1000"]))
                #expect(rows.count == stored.rows.count && rows.count > 2, "\(kind): \(rows.count) rows")
                #expect(rows.map { $0["uid"] as? String ?? "" } == stored.rows.map(\.row.uid))
                // Each row: the connection, the kind's columns by name, sensor and capture.
                let names =
                    ["ts", "uid", "orig_h", "orig_p", "resp_h", "resp_p", "proto"] + kind.columns.map(\.name)
                        + ["sensor", "capture"]
                #expect(rows.allSatisfy { Set($0.keys) == Set(names) }, "\(kind): \(rows.first?.keys.sorted() ?? [])")
                #expect(rows.allSatisfy { $0["capture"] as? String == String(capture) })
                let ts = rows.compactMap { $0["ts"] as? Double }
                #expect(zip(ts, ts.dropFirst()).allSatisfy { $0 >= $1 }, "newest first")

                // Two rows a page: the same rows, in the same order.
                var paged: [String] = []
                var cursor: String? = nil
                repeat {
                    let (s, page) = try await Self.get(
                        client, base + "&limit=2" + (cursor.map { "&cursor=" + $0 } ?? ""))
                    #expect(s == .ok)
                    paged += (page["rows"] as? [[String: Any]] ?? []).map { $0["uid"] as? String ?? "" }
                    cursor = page["next_cursor"] as? String
                } while cursor != nil && paged.count <= rows.count
                #expect(paged == rows.map { $0["uid"] as? String ?? "" })

                // A flow's records (what the dashboard's flow details ask for). Within the
                // capture: uids follow from the packets, so the same file stored again into the
                // shared PostgreSQL database (test.sh runs the server suites twice) repeats them.
                let uid = try #require(rows.first?["uid"] as? String)
                let (_, byFlow) = try await Self.get(client, "/api/\(kind.table)?flow=\(uid)&capture=\(capture)")
                let flowRows = byFlow["rows"] as? [[String: Any]] ?? []
                #expect(!flowRows.isEmpty && flowRows.allSatisfy { $0["uid"] as? String == uid })
                #expect(flowRows.count == rows.filter { $0["uid"] as? String == uid }.count)

                // q: a substring of the query, host or server name, any case.
                if let text = rows.compactMap({ $0[kind.textColumn] as? String }).first(where: { $0.count > 3 }) {
                    let part = String(text.dropFirst().prefix(3)).uppercased()
                    let q = part.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? part
                    let (_, found) = try await Self.get(client, base + "&limit=1000&q=" + q)
                    let hits = found["rows"] as? [[String: Any]] ?? []
                    #expect(!hits.isEmpty)
                    #expect(
                        hits.count
                            == rows.filter { ($0[kind.textColumn] as? String)?.uppercased().contains(part) == true }
                            .count)
                }
                // Address and port of the first row's responder.
                let resp = try #require(rows.first?["resp_h"] as? String)
                let port = try #require(rows.first?["resp_p"] as? Int)
                let (_, byAddress) = try await Self.get(client, base + "&limit=1000&dst=\(resp)&dport=\(port)")
                #expect((byAddress["rows"] as? [[String: Any]] ?? []).count
                        == rows.filter { $0["resp_h"] as? String == resp && $0["resp_p"] as? Int == port }.count)

                for (query, name) in [("transport=icmp", "transport"), ("sort=bytes", "sort"), ("limit=0", "limit"),
                                      ("cursor=zzz", "cursor"), ("app=DNS", "app"), ("uid=", "uid"), ("ip=x", "ip"),
                                      ("from=soon", "from")] {
                    let (s, e) = try await Self.get(client, "/api/\(kind.table)?" + query)
                    #expect(s == .badRequest, "\(kind) \(query)")
                    #expect(e["parameter"] as? String == name, "\(kind) \(query): \(e)")
                }
            }
            // DNS over TCP and UDP both reach dns (logs.pcap has both).
            let (_, tcp) = try await Self.get(client, "/api/dns?capture=\(logsCapture)&transport=tcp")
            let (_, udp) = try await Self.get(client, "/api/dns?capture=\(logsCapture)&transport=udp")
            #expect(
                !(tcp["rows"] as? [[String: Any]] ?? []).isEmpty && !(udp["rows"] as? [[String: Any]] ?? []).isEmpty)
        }
    }
}
