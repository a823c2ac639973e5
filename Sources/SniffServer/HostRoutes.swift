import Hummingbird
import SniffCore
import SniffAnalysis
import SniffStore

/// The routes that answer "who is that?" and "which process?": /api/hosts,
/// /api/hosts/{ip}, /api/countries, /api/asns and /api/processes.
extension APIRoutes {
    func addHostRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/api/hosts") { req, _ in try await self.hosts(req) }
        router.get("/api/hosts/{ip}") { req, ctx in try await self.host(req, ctx.parameters.get("ip") ?? "") }
        router.get("/api/processes") { req, _ in try await self.processes(req) }
        router.get("/api/countries") { req, _ in try await self.networkShares(req, by: .country) }
        router.get("/api/asns") { req, _ in try await self.networkShares(req, by: .asn) }
    }

    /// /api/countries, /api/asns: stored flows per country or AS of their ends, and the
    /// running capture's flows in progress (as /api/talkers adds them).
    func networkShares(_ req: Request, by: NetworkShareQuery.Key) async throws -> Response {
        let q = try NetworkShareQuery(
            by: by, parameters: Self.parameters(req, allowed: NetworkShareQuery.parameterNames))
        var list = try await store.networkShares(q)
        if let outbox = broadcaster.outbox {
            let match = FlowQuery(filter: q.range.asFilter)
            list = OpenFlows.networkShares(list, open: outbox.openFlows.filter { OpenFlows.matches($0, match) }, by: by,
                                           limit: min(max(q.limit, 1), PacketQuery.maximumLimit))
        }
        var o = JSONObject(capacity: 512 + list.count * 128)
        o.raw("rows") { s in JSONArray.write(list, into: &s) { n, s in
            var x = JSONObject(capacity: 128)
            if by == .country { x.string("country", n.country) } else {
                x.number("asn", n.asn.map { Int64($0) }); x.string("org", n.org)
            }
            x.number("bytes", n.bytes); x.number("flows", n.flows)
            s.bytes.append(contentsOf: x.finish().bytes)
        } }
        o.number("count", list.count)
        return JSONResponse.make(o.finish())
    }

    func hosts(_ req: Request) async throws -> Response {
        let q = try HostQuery(parameters: Self.parameters(req, allowed: HostQuery.parameterNames))
        let page = try await store.hosts(q)
        var o = JSONObject(capacity: 1024 + page.rows.count * 300)
        o.raw("rows") { s in JSONArray.write(page.rows, into: &s) { h, s in Self.writeHost(h, into: &s) } }
        o.number("count", page.rows.count)
        o.string("next_cursor", page.nextCursor)
        o.number("limit", q.limit)
        return JSONResponse.make(o.finish())
    }

    static func writeHost(_ h: HostSummary, into s: inout ByteSink) {
        var x = JSONObject(capacity: 256)
        x.string("address", h.address.description)
        x.string("name", h.names.first?.name)
        x.raw("names") { s in JSONArray.write(h.names, into: &s) { n, s in
            var y = JSONObject(capacity: 128)
            y.string("name", n.name); y.string("source", n.source.rawValue)
            y.seconds("first_seen", nanos: n.firstSeen); y.seconds("last_seen", nanos: n.lastSeen)
            s.bytes.append(contentsOf: y.finish().bytes)
        } }
        x.string("country", h.country)
        x.number("asn", h.asn.map { Int64($0) })
        x.string("org", h.org)
        x.string("category", h.category)
        x.string("mac", h.mac); x.string("vendor", h.vendor)
        x.seconds("first_seen", nanos: h.firstTs); x.seconds("last_seen", nanos: h.lastTs)
        s.bytes.append(contentsOf: x.finish().bytes)
    }

    func host(_ req: Request, _ text: String) async throws -> Response {
        guard let address = IPAddress(text) else { throw APIError.badParameter("ip", "an IPv4 or IPv6 address") }
        let range = try RangeQuery(parameters: Self.parameters(req, allowed: Self.rangeNames))
        let d = try await store.host(address, range: range)
        var aq = AlertQuery(range: range, limit: 50)
        aq.host = address
        let alerts = try await store.alerts(aq)
        var o = JSONObject(capacity: 4096)
        o.string("address", address.description)
        o.string("category", AddressCategory(address).rawValue)
        if let h = d.host { o.raw("host") { s in Self.writeHost(h, into: &s) } }
        o.number("sent", d.sent); o.number("received", d.received); o.number("flows", d.flows)
        func shares(_ list: [HostDetail.Share], key: String) -> (inout ByteSink) -> Void {
            { s in JSONArray.write(list, into: &s) { p, s in
                var x = JSONObject(capacity: 128)
                x.string(key, p.key)
                if key == "address" { x.string("name", p.name) }
                x.number("bytes", p.bytes); x.number("flows", p.flows)
                s.bytes.append(contentsOf: x.finish().bytes)
            } }
        }
        o.raw("peers", shares(d.peers, key: "address"))
        o.raw("apps", shares(d.apps, key: "app"))
        o.raw("alerts") { s in JSONArray.write(alerts.rows, into: &s) { r, s in r.writeJSON(into: &s) } }
        return JSONResponse.make(o.finish())
    }

    func processes(_ req: Request) async throws -> Response {
        let q = try ProcessQuery(parameters: Self.parameters(req, allowed: ProcessQuery.parameterNames))
        var list = try await store.processes(q.range, process: q.process, limit: q.limit)
        if let outbox = broadcaster.outbox {
            // The running capture's flows in progress count too, as in /api/talkers.
            var match = FlowQuery(filter: q.range.asFilter)
            match.process = q.process
            list = OpenFlows.processes(list, open: outbox.openFlows.filter { OpenFlows.matches($0, match) },
                                       limit: min(max(q.limit, 1), PacketQuery.maximumLimit))
        }
        var o = JSONObject(capacity: 1024 + list.count * 200)
        o.raw("rows") { s in JSONArray.write(list, into: &s) { u, s in
            var x = JSONObject(capacity: 192)
            x.string("process", u.process); x.number("pid", Int64(u.pid)); x.string("user", u.user)
            x.string("container", u.container)
            x.number("sent", u.sent); x.number("received", u.received); x.number("flows", u.flows)
            s.bytes.append(contentsOf: x.finish().bytes)
        } }
        o.number("count", list.count)
        return JSONResponse.make(o.finish())
    }
}
