import Foundation
import Hummingbird
import Logging
import SniffCore
import SniffDecode
import SniffStore

/// The JSON API over a `PacketStore`.
struct APIRoutes {
    let store: any PacketStore
    let broadcaster: LiveBroadcaster
    let control: CaptureControl?
    let metrics: ServerMetrics
    let configuration: ServerConfiguration
    let dashboard: DashboardFiles
    let logger: Logger
    /// The per-process secret that state-changing requests send in X-Sniff-CSRF.
    let csrfToken: String

    static let filterNames = [
        "ip", "src", "dst", "port", "sport", "dport", "transport", "app", "from", "to", "capture", "sensor", "q"
    ]
    static let rangeNames = ["from", "to", "sensor", "capture"]

    /// The query string as a dictionary, rejecting names the route does not know and
    /// repeated names (which would be ambiguous).
    static func parameters(_ request: Request, allowed: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        let allowedSet = Set(allowed + ["token"])
        for (k, v) in request.uri.queryParameters {
            let name = String(k)
            guard allowedSet.contains(name) else {
                throw APIError.badParameter(
                    String(name.prefix(40)), "unknown parameter; this route takes " + allowed.joined(separator: ", "))
            }
            guard out[name] == nil else { throw APIError.badParameter(name, "given more than once") }
            guard v.utf8.count <= 1024 else { throw APIError.badParameter(name, "longer than 1024 bytes") }
            out[name] = String(v)
        }
        out["token"] = nil
        return out
    }

    func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("/api/packets") { req, _ in try await self.packets(req) }
        router.get("/api/filter") { req, _ in try await self.packets(req) }
        router.get("/api/flows") { req, _ in try await self.flows(req) }
        router.get("/api/protocol_summary") { req, _ in try await self.protocolSummary(req) }
        router.get("/api/timeseries") { req, _ in try await self.timeSeries(req) }
        router.get("/api/talkers") { req, _ in try await self.talkers(req) }
        router.get("/api/alerts") { req, _ in try await self.alerts(req) }
        for kind in LogKind.allCases {
            router.get("/api/\(kind.table)") { req, _ in try await self.logs(req, kind) }
        }
        router.get("/api/captures") { req, _ in try await self.captures(req) }
        addHostRoutes(to: router)
        router.get("/api/stats") { req, _ in try await self.stats(req) }
        router.get("/api/session") { req, _ in try self.session(req) }
        router.get("/api/openapi.json") { _, _ in try self.dashboard.response(for: "openapi.json") }
        router.get("/api/export") { req, _ in
            try await Exporter(store: self.store, limit: self.configuration.exportLimit, logger: self.logger).response(
                req)
        }
        for action in ["pause", "resume", "stop"] {
            router.post("/api/capture/\(action)") { req, _ in try await self.captureControl(req, action) }
        }
        router.get("/metrics") { _, _ in
            if let s = try? await self.store.stats() { self.metrics.recordStore(s) }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: self.metrics.text())))
        }
        router.get("/") { _, _ in try self.dashboard.response(for: "index.html") }
        // Browsers ask for /favicon.ico on their own: the dashboard's icon (SVG).
        router.get("/favicon.ico") { _, _ in try self.dashboard.response(for: "favicon.svg") }
        router.get("/ui/{file}") { _, ctx in try self.dashboard.response(for: ctx.parameters.get("file") ?? "") }
    }

    func packets(_ req: Request) async throws -> Response {
        let q = try PacketQuery(parameters: Self.parameters(req, allowed: Self.filterNames + ["cursor", "limit"]))
        let page = try await store.packets(q)
        return Self.pageResponse(page.rows, next: page.nextCursor, limit: q.limit, rowBytes: 400) { r, s in
            r.writeJSON(into: &s)
        }
    }

    /// A page of rows: `rows`, `count`, `next_cursor` and `limit`.
    static func pageResponse<Row>(_ rows: [Row], next: String?, limit: Int, rowBytes: Int,
                                  _ write: (Row, inout ByteSink) -> Void) -> Response {
        var o = JSONObject(capacity: 1024 + rows.count * rowBytes)
        o.raw("rows") { s in JSONArray.write(rows, into: &s, write) }
        o.number("count", rows.count)
        o.string("next_cursor", next)
        o.number("limit", limit)
        return JSONResponse.make(o.finish())
    }

    func flows(_ req: Request) async throws -> Response {
        let names =
            Self.filterNames + ["conn_state", "min_bytes", "tls", "tunnel", "sort", "cursor", "limit"]
            + FlowQuery.enrichmentNames
        let q = try FlowQuery(parameters: Self.parameters(req, allowed: names))
        let page = try await store.flows(q)
        // The first page on a server beside a capture also lists the flows still in
        // progress (not stored until they end), less any that ended meanwhile.
        var open: [StoredFlow]? = nil
        if q.cursor == nil, let outbox = broadcaster.outbox {
            let stored = Set(page.rows.map(\.row.uid))
            let matching = outbox.openFlows.filter { !stored.contains($0.row.uid) && OpenFlows.matches($0, q) }
            open = Array(OpenFlows.sorted(matching, by: q.sort).prefix(min(max(q.limit, 1), PacketQuery.maximumLimit)))
        }
        var o = JSONObject(capacity: 1024 + (page.rows.count + (open?.count ?? 0)) * 800)
        o.raw("rows") { s in JSONArray.write(page.rows, into: &s) { r, s in r.writeJSON(into: &s) } }
        o.number("count", page.rows.count)
        o.string("next_cursor", page.nextCursor)
        o.number("limit", q.limit)
        if let open { o.raw("open_rows") { s in JSONArray.write(open, into: &s) { r, s in r.writeJSON(into: &s) } } }
        return JSONResponse.make(o.finish())
    }

    func protocolSummary(_ req: Request) async throws -> Response {
        let q = try RangeQuery(parameters: Self.parameters(req, allowed: Self.rangeNames + RangeQuery.flowNames),
                               trafficNames: RangeQuery.flowNames)
        let t = try await store.protocolSummary(q)
        func entries(_ e: [ProtocolSummaryTable.Entry]) -> (inout ByteSink) -> Void {
            { s in
                JSONArray.write(e, into: &s) { x, s in
                    var o = JSONObject(capacity: 96)
                    o.string("name", x.name); o.number("packets", x.packets); o.number("bytes", x.bytes);
                    o.number("flows", x.flows)
                    o.finish(into: &s)
                }
            }
        }
        var o = JSONObject(capacity: 2048)
        o.raw("transports", entries(t.transports))
        o.raw("apps", entries(t.apps))
        // "packets": each packet in the range once (per-second rollups); "flows": an
        // address or port filter, answered from the flows that start in the range.
        o.string("counted", t.countedFromFlows ? "flows" : "packets")
        return JSONResponse.make(o.finish())
    }

    func timeSeries(_ req: Request) async throws -> Response {
        let q = try TimeSeriesQuery(
            parameters: Self.parameters(req, allowed: Self.rangeNames + RangeQuery.rollupNames + ["step", "by"]))
        let points = try await store.timeSeries(q)
        var o = JSONObject(capacity: 256 + points.count * 80)
        o.string("step", q.step.rawValue)
        o.string("by", q.by.rawValue)
        o.raw("points") { s in
            JSONArray.write(points, into: &s) { p, s in
                var x = JSONObject(capacity: 96)
                x.seconds("ts", nanos: p.ts); x.string("key", p.key); x.number("packets", p.packets);
                x.number("bytes", p.bytes)
                s.bytes.append(contentsOf: x.finish().bytes)
            }
        }
        return JSONResponse.make(o.finish())
    }

    func talkers(_ req: Request) async throws -> Response {
        let q = try TalkersQuery(
            parameters: Self.parameters(req, allowed: Self.rangeNames + RangeQuery.flowNames + ["limit"]))
        var t = try await store.talkers(q)
        if let outbox = broadcaster.outbox {
            let match = FlowQuery(filter: q.range.asFilter)
            let open = outbox.openFlows.filter { OpenFlows.matches($0, match) }
            t = OpenFlows.talkers(t, open: open, limit: min(max(q.limit, 1), PacketQuery.maximumLimit))
        }
        var o = JSONObject(capacity: 4096)
        o.raw("pairs") { s in JSONArray.write(t.pairs, into: &s) { p, s in
            var x = JSONObject(capacity: 128)
            x.string("address", p.address.description); x.number("port", Int(p.port)); x.string("proto", p.proto)
            x.number("packets", p.packets); x.number("bytes", p.bytes); x.number("flows", p.flows)
            s.bytes.append(contentsOf: x.finish().bytes)
        } }
        o.raw("hosts") { s in JSONArray.write(t.hosts, into: &s) { p, s in
            var x = JSONObject(capacity: 128)
            x.string("address", p.address.description)
            x.number("packets", p.packets); x.number("bytes", p.bytes); x.number("flows", p.flows)
            s.bytes.append(contentsOf: x.finish().bytes)
        } }
        return JSONResponse.make(o.finish())
    }

    func alerts(_ req: Request) async throws -> Response {
        let q = try AlertQuery(
            parameters: Self.parameters(req, allowed: Self.rangeNames + ["severity", "rule", "cursor", "limit"]))
        let page = try await store.alerts(q)
        var o = JSONObject(capacity: 1024 + page.rows.count * 400)
        o.raw("rows") { s in JSONArray.write(page.rows, into: &s) { r, s in r.writeJSON(into: &s) } }
        o.number("count", page.rows.count)
        o.string("next_cursor", page.nextCursor)
        return JSONResponse.make(o.finish())
    }

    /// /api/dns, /api/http, /api/tls: the protocol logs, newest first.
    func logs(_ req: Request, _ kind: LogKind) async throws -> Response {
        let q = try LogQuery(
            kind: kind, parameters: Self.parameters(req, allowed: LogQuery.names + ["cursor", "limit"]))
        let page = try await store.logs(q)
        return Self.pageResponse(page.rows, next: page.nextCursor, limit: q.limit, rowBytes: 500) { r, s in
            r.writeJSON(into: &s)
        }
    }

    func captures(_ req: Request) async throws -> Response {
        let q = try CaptureQuery(parameters: Self.parameters(req, allowed: ["sensor", "limit"]))
        let list = try await store.captures(q)
        var o = JSONObject(capacity: 1024 + list.count * 600)
        o.raw("rows") { s in JSONArray.write(list, into: &s) { c, s in c.writeJSON(into: &s) } }
        o.number("count", list.count)
        return JSONResponse.make(o.finish())
    }

    func stats(_ req: Request) async throws -> Response {
        let p = try Self.parameters(req, allowed: ["capture"])
        // capture=ID: that capture's row beside the totals (the header of a page that
        // shows one capture); an id the database does not hold is an error.
        var chosen: CaptureInfo? = nil
        if let id = try RangeQuery(parameters: p).capture {
            chosen = try await store.captures(CaptureQuery(limit: PacketQuery.maximumLimit)).first { $0.id == id }
            guard chosen != nil else { throw APIError.badParameter("capture", "no capture \(id) in this database") }
        }
        let s = try await store.stats()
        metrics.recordStore(s)
        let live = broadcaster.liveSummary
        var o = JSONObject(capacity: 1024)
        o.string("backend", store.backend)
        o.string("source", broadcaster.outbox?.source ?? "database " + store.location)
        o.string("state", broadcaster.outbox?.state ?? "idle")
        o.bool("live", broadcaster.outbox != nil)
        o.bool("live_capture", broadcaster.outbox?.liveCapture ?? false)
        // The capture this process writes (a string: ids exceed 2^53); null without one.
        o.string("live_capture_id", broadcaster.outbox.map { String($0.captureID) })
        let span = broadcaster.outbox?.packetSpan
        o.seconds("first_packet", nanos: span?.first)
        o.seconds("last_packet", nanos: span?.last)
        o.bool("capture_control", control != nil)
        o.raw("store") { sink in
            var x = JSONObject(capacity: 512)
            x.number("packets", s.packets); x.number("flows", s.flows); x.number("alerts", s.alerts)
            x.number("captures", s.captures); x.number("batches", s.batches)
            x.seconds("last_write", nanos: s.lastWrite)
            if let l = s.lagNanos { x.double("lag_seconds", Double(l) / 1e9) } else { x.string("lag_seconds", nil) }
            x.number("packets_seen", s.packetsSeen)
            x.number("kernel_dropped", s.kernelDropped); x.number("interface_dropped", s.interfaceDropped);
            x.number("sniff_dropped", s.sniffDropped)
            sink.bytes.append(contentsOf: x.finish().bytes)
        }
        if let chosen { o.raw("capture") { sink in chosen.writeJSON(into: &sink) } }
        o.raw("live_stats") { sink in
            var x = JSONObject(capacity: 512)
            x.number("packets", live.packets); x.number("bytes", live.bytes)
            x.number("packets_per_second", live.packetsPerSecond); x.number("bytes_per_second", live.bytesPerSecond)
            x.number("kernel_dropped", live.kernelDropped); x.number("interface_dropped", live.interfaceDropped);
            x.number("sniff_dropped", live.sniffDropped)
            x.number("active_flows", live.activeFlows)
            x.number("clients", broadcaster.clientCount)
            x.number("slow_clients_disconnected", broadcaster.slowDisconnects)
            sink.bytes.append(contentsOf: x.finish().bytes)
        }
        return JSONResponse.make(o.finish())
    }

    /// What the dashboard needs before it may change anything: the CSRF token. Pages of
    /// other sites cannot read it (same-origin policy, and their Origin is refused).
    func session(_ req: Request) throws -> Response {
        _ = try Self.parameters(req, allowed: [])
        var o = JSONObject()
        o.string("csrf_token", csrfToken)
        o.string("csrf_header", "X-Sniff-CSRF")
        o.bool("token_required", configuration.token != nil)
        return JSONResponse.make(o.finish())
    }

    /// Answers the state of the capture after the action, as the capture loop reports
    /// it: a pause or resume waits (up to 2 s) until the loop has applied it, a stop
    /// (up to 5 s) until the capture has really stopped.
    func captureControl(_ req: Request, _ action: String) async throws -> Response {
        _ = try Self.parameters(req, allowed: [])
        guard let control else {
            throw APIError(.conflict, "no live capture runs in this process; start one with sniff -i IFACE --serve")
        }
        let state: CaptureControl.State
        switch action {
        case "pause", "resume":
            guard (action == "pause" ? control.pause() : control.resume()) != nil else {
                throw APIError(
                    .conflict,
                    "the capture was stopped, so it cannot be paused or resumed; the server still "
                        + "serves what was stored. Start a new capture with sniff -i IFACE --serve")
            }
            state = await control.waitUntilApplied(seconds: 2)
        default:
            control.stop()
            state = await control.waitUntilStopped(seconds: 5)
        }
        var o = JSONObject()
        o.string("state", state.rawValue)
        return JSONResponse.make(o.finish())
    }
}

/// The dashboard's files and the OpenAPI document, read once at start from the
/// resource bundle (or a directory given for development). Only names in the bundle
/// are served: no path from a request ever reaches the file system.
public struct DashboardFiles: Sendable {
    let files: [String: (type: String, data: [UInt8])]

    public init(directory: String? = nil) {
        var files: [String: (String, [UInt8])] = [:]
        let dir = directory ?? Bundle.module.resourceURL.map { $0.appendingPathComponent("Dashboard").path } ?? "."
        let types = [
            "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
            "css": "text/css; charset=utf-8",
            "json": "application/json; charset=utf-8", "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon"
        ]
        if let names = try? FileManager.default.contentsOfDirectory(atPath: dir) {
            for n in names {
                let ext = String(n.split(separator: ".").last ?? "")
                guard let t = types[ext], let d = FileManager.default.contents(atPath: dir + "/" + n) else { continue }
                files[n] = (t, [UInt8](d))
            }
        }
        self.files = files
    }

    func response(for name: String) throws -> Response {
        guard let f = files[name] else { throw APIError(.notFound, "no such file") }
        var headers: HTTPFields = [.contentType: f.type, .cacheControl: "no-cache"]
        if f.type.hasPrefix("text/html") {
            headers[.contentSecurityPolicy] = """
                default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                base-uri 'none'; form-action 'none'; frame-ancestors 'none'
                """
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: f.data)))
    }
}
