import SniffCore
import SniffDecode

/// GET /api/hosts: the addresses enrichment learned about, most recently seen first.
public struct HostQuery: Sendable, Equatable {
    public var from: Int64? = nil
    public var to: Int64? = nil
    public var sensor: String? = nil
    public var capture: Int64? = nil
    /// `name`: a name of the address (a DNS answer's or a reverse lookup's) contains this
    /// (case-insensitive).
    public var name: String? = nil
    public var country: String? = nil
    public var asn: UInt32? = nil
    /// `AddressCategory`'s names: public, private, loopback, link-local ...
    public var category: String? = nil
    public var cursor: String? = nil
    public var limit = 100

    public static let parameterNames = [
        "from", "to", "sensor", "capture", "name", "country", "asn", "category", "cursor",
        "limit"
    ]
    public static let categories = [
        "unspecified", "loopback", "private", "link-local", "multicast", "broadcast", "CGNAT",
        "documentation", "public"
    ]

    public init() {}

}

/// GET /api/processes.
public struct ProcessQuery: Sendable, Equatable {
    public var range = RangeQuery()
    /// A command name (exact) or a pid.
    public var process: String? = nil
    public var limit = 100

    public static let parameterNames = RangeQuery.names + ["process", "limit"]

    public init(range: RangeQuery = RangeQuery(), process: String? = nil, limit: Int = 100) {
        self.range = range; self.process = process; self.limit = limit
    }

}

/// GET /api/countries and /api/asns: stored flows' bytes per country or autonomous
/// system of their endpoints, with the range, capture and traffic filters of talkers.
public struct NetworkShareQuery: Sendable, Equatable {
    public enum Key: String, Sendable { case country, asn }
    public var by: Key
    public var range = RangeQuery()
    public var limit = 20

    public static let parameterNames = RangeQuery.names + RangeQuery.flowNames + ["limit"]

    public init(by: Key, range: RangeQuery = RangeQuery(), limit: Int = 20) {
        self.by = by; self.range = range; self.limit = limit
    }

}

/// One country or autonomous system: the flows with an endpoint in it. A flow between
/// two hosts of the same country (or AS) counts once; between two countries, once in each.
public struct NetworkShare: Sendable, Equatable {
    /// The ISO 3166 code (`by: .country`).
    public var country: String?
    /// The AS number and its organisation (`by: .asn`).
    public var asn: UInt32?
    public var org: String?
    /// Wire bytes of those flows, both directions.
    public var bytes: UInt64
    public var flows: UInt64

    public init(country: String? = nil, asn: UInt32? = nil, org: String? = nil, bytes: UInt64, flows: UInt64) {
        self.country = country; self.asn = asn; self.org = org; self.bytes = bytes; self.flows = flows
    }
}

/// A name of an address, with where it came from and when: for a DNS answer seen on
/// the wire its first and last answer; for a reverse lookup (`--resolve`) the first and
/// last flow time of the address while it had that name.
public struct HostName: Sendable, Equatable {
    public var name: String
    public var firstSeen: Int64
    public var lastSeen: Int64
    public var source: HostNameSource = .dns
}

/// Where a stored name came from: `host_names.source` (migration 14) and the API's
/// `source` of each name.
public enum HostNameSource: String, Sendable, Equatable, CaseIterable {
    /// An A/AAAA answer or CNAME chain seen on the wire (passive DNS).
    case dns
    /// A PTR lookup through the system resolver (`--resolve`).
    case ptr
}

/// One address in `hosts`: merged over the captures the query covers.
public struct HostSummary: Sendable, Equatable {
    public var address: IPAddress
    public var firstTs: Int64
    public var lastTs: Int64
    public var country: String?
    public var asn: UInt32?
    public var org: String?
    public var category: String
    /// Most recently answered first.
    public var names: [HostName] = []
    /// A local address's MAC and its vendor (see `HostRow`).
    public var mac: String? = nil
    public var vendor: String? = nil
}

/// GET /api/hosts/{ip}: the host and its traffic in the range.
public struct HostDetail: Sendable, Equatable {
    public struct Share: Sendable, Equatable {
        /// A peer's address or an application's name.
        public var key: String
        /// A peer's most recent name.
        public var name: String?
        public var bytes: UInt64
        public var flows: UInt64
    }
    /// Nil when enrichment never wrote the address (its flows may still be stored).
    public var host: HostSummary?
    /// Wire bytes the address sent and received in its stored flows.
    public var sent: UInt64 = 0
    public var received: UInt64 = 0
    public var flows: UInt64 = 0
    public var peers: [Share] = []
    public var apps: [Share] = []
}

/// GET /api/processes: a local process's flows (live capture), busiest first.
public struct ProcessUsage: Sendable, Equatable {
    public var process: String
    public var pid: Int32
    public var user: String?
    public var container: String?
    /// Wire bytes its sockets sent and received.
    public var sent: UInt64
    public var received: UInt64
    public var flows: UInt64

    public init(process: String, pid: Int32, user: String?, container: String?, sent: UInt64, received: UInt64,
                flows: UInt64) {
        self.process = process; self.pid = pid; self.user = user; self.container = container
        self.sent = sent; self.received = received; self.flows = flows
    }
}

/// One result cell of the host and process queries, whichever database answered.
enum Cell: Sendable, Equatable {
    case null, int(Int64), text(String), blob([UInt8])

    var int: Int64? { if case .int(let v) = self { return v }; return nil }
    var text: String? { if case .text(let v) = self { return v }; return nil }
    /// An address column: SQLite keeps bytes (its hosts text before schema 19); PostgreSQL text (host()).
    var address: IPAddress? {
        switch self {
        case .text(let s): return IPAddress(s)
        case .blob(let b): return b.withUnsafeBytes { CompactPacket.address($0) }
        default: return nil
        }
    }
}

/// The SQL of the host and process queries, shared by the three databases: each store
/// runs the statements (`run`) and hands back cells. Addresses are bytes in SQLite
/// (`compactAddress`; the hosts tables' since `SQLiteSchema.hostBytesVersion`), inet in
/// PostgreSQL and 16 bytes in ClickHouse. ClickHouse reads each table through `SQLDialect.from` (FINAL, and the
/// Distributed table on a cluster).
struct HostQueries {
    let dialect: SQLDialect
    /// Runs one statement and returns its rows.
    let run: (String, [SQLValue]) async throws -> [[Cell]]

    /// A column holding an address, as the statement should return it.
    private func addressOut(_ column: String) -> String { dialect.addressText(column) }
    private func sum(_ e: String) -> String { dialect.sum(e) }
    private func table(_ name: String) -> String { dialect.from(name) }
    /// ClickHouse keeps each update of a host as a row (`ClickHouseStore.hostFold`).
    private var hostsTable: String { dialect == .clickhouse ? ClickHouseStore.hostFold : "hosts" }

    /// The address alone, as a network.
    private func exact(_ a: IPAddress) -> IPNetwork { IPNetwork(address: a, prefixLength: a.isIPv6 ? 128 : 32) }

    /// `hosts.address` and `host_names.address` equal to `a`: bytes in SQLite
    /// (`SQLiteSchema.hostBytesVersion`), the leading column of their keys.
    private func hostAddress(_ b: inout SQLBuilder, _ a: IPAddress) -> String {
        dialect == .sqlite ? b.compactAddress("address", exact(a)) : b.address("address", exact(a))
    }

    /// A flow's address column equal to `a`: bytes in SQLite.
    private func flowAddress(_ b: inout SQLBuilder, _ column: String, _ a: IPAddress) -> String {
        dialect == .sqlite ? b.compactAddress(column, exact(a)) : b.address(column, exact(a))
    }

    /// An address as a value of `hosts.address` and `host_names.address`.
    private func hostAddressValue(_ b: inout SQLBuilder, _ a: IPAddress) -> String {
        switch dialect {
        case .sqlite: return b.param(.blob(CompactPacket.bytes(a)))
        case .postgres: return b.param(a.description) + "::inet"
        case .clickhouse: return b.param(.blob(ClickHouseSchema.bytes16(a)))
        }
    }

    /// `IN` with a subquery: on a ClickHouse cluster both sides are Distributed tables,
    /// which the server refuses unless the subquery is run once and sent to the shards.
    private var inSubquery: String { dialect == .clickhouse ? "GLOBAL IN" : "IN" }

    func hosts(_ q: HostQuery, address: IPAddress? = nil) async throws -> Page<HostSummary> {
        let offset = try Cursor.parse(q.cursor, kind: "h", count: 1)?.values[0] ?? 0
        var b = SQLBuilder(dialect)
        if let a = address { b.add(hostAddress(&b, a)) }
        if let s = q.sensor { b.add("sensor = \(b.param(s))") }
        if let c = q.capture { b.add("capture_id = \(b.param(c))") }
        if let f = q.from { b.add("last_ts >= \(b.param(f))") }
        if let t = q.to { b.add("first_ts < \(b.param(t))") }
        if let c = q.country { b.add("country = \(b.param(c))") }
        if let a = q.asn { b.add("asn = \(b.param(Int64(a)))") }
        if let c = q.category { b.add("category = \(b.param(c))") }
        if let n = q.name {
            b.add("address \(inSubquery) (SELECT address FROM \(table("host_names")) WHERE \(b.contains("name", n)))")
        }
        let limit = min(max(q.limit, 1), PacketQuery.maximumLimit)
        let sql = "SELECT \(addressOut("address")), MIN(first_ts), MAX(last_ts), MAX(country), MAX(asn), MAX(org), "
            + "MAX(category), MAX(mac), MAX(vendor) FROM \(hostsTable)\(b.whereClause) GROUP BY address "
            + "ORDER BY MAX(last_ts) DESC, address "
            + "LIMIT \(limit + 1) OFFSET \(max(offset, 0))"
        var hosts = try await run(sql, b.binds).compactMap { r -> HostSummary? in
            guard let a = r[0].address else { return nil }
            return HostSummary(
                address: a, firstTs: r[1].int ?? 0, lastTs: r[2].int ?? 0, country: r[3].text,
                asn: r[4].int.map { UInt32(truncatingIfNeeded: $0) }, org: r[5].text, category: r[6].text ?? "",
                mac: r[7].text, vendor: r[8].text)
        }
        let more = hosts.count > limit
        hosts = Array(hosts.prefix(limit))
        let names = try await self.names(hosts.map(\.address), sensor: q.sensor, capture: q.capture)
        for i in hosts.indices { hosts[i].names = names[hosts[i].address] ?? [] }
        return Page(rows: hosts, nextCursor: more ? Cursor(kind: "h", values: [offset + Int64(limit)]).text : nil)
    }

    /// The names of each address, most recently answered first.
    func names(
        _ addresses: [IPAddress], sensor: String? = nil, capture: Int64? = nil
    ) async throws -> [IPAddress: [HostName]] {
        guard !addresses.isEmpty else { return [:] }
        var b = SQLBuilder(dialect)
        let list = addresses.map { hostAddressValue(&b, $0) }
        b.add("address IN (\(list.joined(separator: ", ")))")
        if let s = sensor { b.add("sensor = \(b.param(s))") }
        if let c = capture { b.add("capture_id = \(b.param(c))") }
        // A name both sources gave counts as a DNS answer ('dns' sorts first).
        let sql = "SELECT \(addressOut("address")), name, MIN(first_seen), MAX(last_seen), MIN(source) FROM \(table("host_names"))"
            + "\(b.whereClause) GROUP BY address, name ORDER BY MAX(last_seen) DESC, name"
        var out: [IPAddress: [HostName]] = [:]
        for r in try await run(sql, b.binds) {
            guard let a = r[0].address, let n = r[1].text else { continue }
            out[a, default: []].append(HostName(name: n, firstSeen: r[2].int ?? 0, lastSeen: r[3].int ?? 0,
                                                source: r[4].text.flatMap(HostNameSource.init(rawValue:)) ?? .dns))
        }
        return out
    }

    /// The host's row and its flows' totals, peers and applications in `range`. The
    /// flows are read with a plain WHERE (a scan of the range's flows: SQLite keeps no
    /// address index on them; a host page is asked for one address at a time).
    func detail(_ a: IPAddress, range: RangeQuery, peerLimit: Int = 10) async throws -> HostDetail {
        var q = HostQuery()
        q.from = range.from; q.to = range.to; q.sensor = range.sensor; q.capture = range.capture
        var d = HostDetail()
        d.host = try await hosts(q, address: a).rows.first

        func where_(_ b: inout SQLBuilder) -> String {
            b.add("(\(flowAddress(&b, "orig_h", a)) OR \(flowAddress(&b, "resp_h", a)))")
            b.rangeFilter(
                RangeQuery(from: range.from, to: range.to, sensor: range.sensor, capture: range.capture).asFilter,
                ts: "ts")
            return b.whereClause
        }
        var b = SQLBuilder(dialect)
        let isOrig = flowAddress(&b, "orig_h", a)
        var w = where_(&b)
        let totals = "SELECT \(sum("CASE WHEN \(isOrig) THEN orig_l2_bytes ELSE resp_l2_bytes END")), "
            + "\(sum("CASE WHEN \(isOrig) THEN resp_l2_bytes ELSE orig_l2_bytes END")), COUNT(*) FROM \(table("flows"))\(w)"
        if let r = try await run(totals, b.binds).first {
            d.sent = UInt64(clamping: r[0].int ?? 0); d.received = UInt64(clamping: r[1].int ?? 0)
            d.flows = UInt64(clamping: r[2].int ?? 0)
        }
        b = SQLBuilder(dialect)
        let isOrig2 = flowAddress(&b, "orig_h", a)
        w = where_(&b)
        let peer = "CASE WHEN \(isOrig2) THEN resp_h ELSE orig_h END"
        let peers = "SELECT \(addressOut("peer")), b, n FROM (SELECT \(peer) AS peer, \(sum("total_bytes")) AS b, "
            + "COUNT(*) AS n FROM \(table("flows"))\(w) GROUP BY peer) t ORDER BY b DESC LIMIT \(peerLimit)"
        let peerRows = try await run(peers, b.binds).compactMap { r -> (IPAddress, UInt64, UInt64)? in
            guard let p = r[0].address else { return nil }
            return (p, UInt64(clamping: r[1].int ?? 0), UInt64(clamping: r[2].int ?? 0))
        }
        let peerNames = try await names(peerRows.map(\.0), sensor: range.sensor, capture: range.capture)
        d.peers = peerRows.map {
            HostDetail.Share(
                key: $0.0.description, name: peerNames[$0.0]?.first?.name, bytes: $0.1,
                flows: $0.2)
        }
        b = SQLBuilder(dialect)
        w = where_(&b)
        let apps = "SELECT app, \(sum("total_bytes")) AS b, COUNT(*) FROM \(table("flows"))\(w) GROUP BY app ORDER BY b DESC LIMIT 20"
        d.apps = try await run(apps, b.binds).map {
            HostDetail.Share(key: $0[0].text ?? "", name: nil, bytes: UInt64(clamping: $0[1].int ?? 0),
                             flows: UInt64(clamping: $0[2].int ?? 0))
        }
        return d
    }

    /// Bytes and flows per country or AS of the flows' endpoints in the range, largest
    /// first. One branch per side of the flow; the responder's side leaves out a flow
    /// whose originator is in the same country (or AS), which the first branch counted.
    func networkShares(_ q: NetworkShareQuery) async throws -> [NetworkShare] {
        // (key column, organisation column) of the originator's and the responder's side.
        let (orig, resp) = q.by == .country ? (("orig_cc", "NULL"), ("resp_cc", "NULL"))
            : (("orig_asn", "orig_org"), ("resp_asn", "resp_org"))
        var b = SQLBuilder(dialect)
        var branches: [String] = []
        for (side, other) in [(orig, resp), (resp, orig)] {
            b.flowFilter(q.range.asFilter)
            b.add("\(side.0) IS NOT NULL")
            if side == resp { b.add("(\(other.0) IS NULL OR \(other.0) <> \(side.0))") }
            branches.append(
                "SELECT \(side.0) AS k, \(side.1) AS o, total_bytes AS b FROM \(table("flows"))" + b.takeWhereClause())
        }
        let limit = min(max(q.limit, 1), PacketQuery.maximumLimit)
        // A subquery: PostgreSQL's ORDER BY takes an output name alone, not in an expression.
        let sql = "SELECT * FROM (SELECT k, MAX(o) AS o, \(sum("b")) AS b, COUNT(*) AS n FROM ("
            + branches.joined(separator: " UNION ALL ") + ") t GROUP BY k) u ORDER BY b DESC, k LIMIT \(limit)"
        return try await run(sql, b.binds).map { r in
            let bytes = UInt64(clamping: r[2].int ?? 0), flows = UInt64(clamping: r[3].int ?? 0)
            return q.by == .country
                ? NetworkShare(country: r[0].text, bytes: bytes, flows: flows)
                : NetworkShare(
                    asn: r[0].int.map { UInt32(truncatingIfNeeded: $0) }, org: r[1].text, bytes: bytes, flows: flows)
        }
    }

    /// Flows per local process in `range`, busiest first.
    func processes(_ range: RangeQuery, process: String?, limit: Int) async throws -> [ProcessUsage] {
        var b = SQLBuilder(dialect)
        b.add("process IS NOT NULL")
        b.rangeFilter(RangeQuery(from: range.from, to: range.to, sensor: range.sensor, capture: range.capture).asFilter,
                      ts: "ts")
        if let p = process {
            var f = FlowQuery()
            f.process = p
            b.enrichmentFilter(f)
        }
        let sent = sum("CASE WHEN process_orig THEN orig_l2_bytes ELSE resp_l2_bytes END")
        let received = sum("CASE WHEN process_orig THEN resp_l2_bytes ELSE orig_l2_bytes END")
        // A subquery: PostgreSQL's ORDER BY takes an output name alone, not in an expression.
        let sql =
            "SELECT * FROM (SELECT process, pid, \"user\", container, \(sent) AS s, \(received) AS r, COUNT(*) AS n "
            + "FROM \(table("flows"))\(b.whereClause) GROUP BY process, pid, \"user\", container) t ORDER BY s + r DESC, pid "
            + "LIMIT \(min(max(limit, 1), PacketQuery.maximumLimit))"
        return try await run(sql, b.binds).map {
            ProcessUsage(process: $0[0].text ?? "", pid: Int32(truncatingIfNeeded: $0[1].int ?? 0), user: $0[2].text,
                         container: $0[3].text, sent: UInt64(clamping: $0[4].int ?? 0),
                         received: UInt64(clamping: $0[5].int ?? 0), flows: UInt64(clamping: $0[6].int ?? 0))
        }
    }
}
