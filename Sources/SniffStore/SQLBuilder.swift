import SniffCore
import SniffDecode

/// ClickHouse (18.16 has no bound parameters over HTTP) takes each value as a literal
/// that `ClickHouseSchema.literal` writes; the other two bind them.
enum SQLDialect: Sendable { case sqlite, postgres, clickhouse }

/// A bound value. Queries are built from fixed SQL text and these; user input never
/// becomes SQL text.
enum SQLValue: Sendable, Equatable {
    case int(Int64)
    case text(String)
    /// SQLite's compact packet columns (addresses as 4 or 16 bytes); never sent to PostgreSQL.
    case blob([UInt8])
}

/// Builds a WHERE clause with numbered placeholders (`?1` for SQLite, `$1` for
/// PostgreSQL) and collects the values to bind; on ClickHouse each value is written
/// in place by `ClickHouseSchema.literal`, the one function that turns a value into
/// SQL text, and nothing is bound.
struct SQLBuilder {
    let dialect: SQLDialect
    private(set) var binds: [SQLValue] = []
    private(set) var conditions: [String] = []

    init(_ dialect: SQLDialect) { self.dialect = dialect }

    mutating func param(_ v: SQLValue) -> String {
        if dialect == .clickhouse { return ClickHouseSchema.literal(v) }
        binds.append(v)
        return (dialect == .postgres ? "$" : "?") + String(binds.count)
    }

    mutating func param(_ v: Int64) -> String { param(.int(v)) }
    mutating func param(_ v: String) -> String { param(.text(v)) }

    mutating func add(_ condition: String) { conditions.append(condition) }

    var whereClause: String { conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ") }

    /// The WHERE clause so far, with the conditions cleared and the bound values kept:
    /// the next branch of a UNION numbers its parameters after this one's.
    mutating func takeWhereClause() -> String {
        defer { conditions.removeAll() }
        return whereClause
    }

    /// Which part of an "either column" filter (`port`, or `ip` as one address) a
    /// query reads. `whole` is the OR. A UNION ALL of `first` and `second` returns the
    /// same rows, each once, and each branch is one index range in time order —
    /// (sport, ts) then (dport, ts) — where the OR made SQLite and PostgreSQL collect
    /// every matching row and sort them before taking a page.
    enum Branch { case whole, first, second }

    /// Whether `packetFilter` can be split into branches for `f`: a port, or an exact
    /// address (a CIDR has no index to read in order).
    static func canSplit(_ f: TrafficFilter) -> Bool {
        f.port != nil || f.ip.map { $0.prefixLength == ($0.address.isIPv6 ? 128 : 32) } == true
    }

    /// A page of packets: `select` (which ends in its FROM) with `filter` and what
    /// `more` adds (a cursor, a column test), then `order` (ORDER BY and LIMIT). A filter
    /// that `canSplit` becomes a UNION ALL of two branches, each one index range read in
    /// order and stopped at a page, then ordered and limited again. `whole` makes the
    /// statement of an unsplit page from its WHERE clause (`SQLReading.pageStatement`).
    mutating func packetPage(
        _ select: String, _ filter: TrafficFilter, order: String,
        _ more: (inout SQLBuilder) -> Void = { _ in }, whole: ((String) -> String)? = nil
    ) -> SQLQuery {
        func branch(_ part: Branch) -> String {
            packetFilter(filter, branch: part)
            more(&self)
            return takeWhereClause()
        }
        // ClickHouse has no index on ports or addresses to read in order: one scan.
        guard dialect != .clickhouse, Self.canSplit(filter) else {
            let w = branch(.whole)
            return SQLQuery(sql: whole?(w) ?? select + w + order, binds: binds)
        }
        let first = branch(.first), second = branch(.second)
        let sql =
            "SELECT * FROM (\(select)\(first)\(order)) AS a UNION ALL SELECT * FROM (\(select)\(second)\(order)) AS b"
            + order
        return SQLQuery(sql: sql, binds: binds)
    }

    /// `column` equal to the address, or inside the network.
    mutating func address(_ column: String, _ net: IPNetwork) -> String {
        let full = net.prefixLength == (net.address.isIPv6 ? 128 : 32)
        switch dialect {
        case .postgres:
            return full
                ? "\(column) = \(param(net.address.description))::inet"
                : "\(column) <<= \(param(net.description))::inet"
        case .sqlite:
            // Addresses are stored in their canonical text form, so equality is exact.
            return full
                ? "\(column) = \(param(net.address.description))"
                : "sniff_in_network(\(column), \(param(net.description)))"
        case .clickhouse:
            return compactAddress(column, net)
        }
    }

    /// SQLite's packets keep an address as its 4 or 16 network-order bytes (`CompactPacket`),
    /// so equality is exact and a CIDR is one byte range; the length test keeps IPv6
    /// addresses that begin with the same bytes out of an IPv4 range.
    /// ClickHouse keeps every address in 16 bytes (IPv4 mapped), so a CIDR is one byte range.
    mutating func compactAddress(_ column: String, _ net: IPNetwork) -> String {
        let full = net.prefixLength == (net.address.isIPv6 ? 128 : 32)
        if dialect == .clickhouse {
            if full { return "\(column) = \(param(.blob(ClickHouseSchema.bytes16(net.address))))" }
            let (lo, hi) = CompactPacket.range(net)
            return "\(column) BETWEEN \(param(.blob(ClickHouseSchema.bytes16(lo)))) AND \(param(.blob(ClickHouseSchema.bytes16(hi))))"
        }
        if full { return "\(column) = \(param(.blob(CompactPacket.bytes(net.address))))" }
        let (lo, hi) = CompactPacket.range(net)
        return "(\(column) BETWEEN \(param(.blob(lo))) AND \(param(.blob(hi))) AND length(\(column)) = \(lo.count))"
    }

    /// The filters of packet queries on SQLite's compact table (schema 7): addresses as
    /// bytes, transport and app as their codes. The key runs only narrow the rows a
    /// query visits; this is the exact condition every returned row meets.
    mutating func compactPacketFilter(_ f: TrafficFilter) {
        if let n = f.ip { add("(\(compactAddress("src", n)) OR \(compactAddress("dst", n)))") }
        if let n = f.src { add(compactAddress("src", n)) }
        if let n = f.dst { add(compactAddress("dst", n)) }
        if let p = f.port { let v = param(Int64(p)); add("(sport = \(v) OR dport = \(v))") }
        if let p = f.sport { add("sport = \(param(Int64(p)))") }
        if let p = f.dport { add("dport = \(param(Int64(p)))") }
        codeFilter(f)
        originRangeFilter(f, ts: "ts")
        if let q = f.text {
            let host = contains("http_host", q), sni = contains("tls_sni", q), dq = contains("flows.dns_query", q)
            add("(\(contains("dns_query", q)) OR flow_uid IN (SELECT uid FROM flows WHERE \(host) OR \(sni) OR \(dq)))")
        }
    }

    /// A case-insensitive substring match of `column` (LIKE wildcards in the value are literal).
    mutating func contains(_ column: String, _ text: String) -> String {
        var escaped = ""
        for c in text {
            if c == "\\" || c == "%" || c == "_" { escaped.append("\\") }
            escaped.append(c)
        }
        if dialect == .clickhouse { return "positionCaseInsensitive(\(column), \(param(text))) > 0" }
        let p = param("%" + escaped + "%")
        return dialect == .postgres ? "\(column) ILIKE \(p) ESCAPE '\\'" : "\(column) LIKE \(p) ESCAPE '\\'"
    }

    /// The filters of packet queries; `branch` splits `port`, or else an exact `ip`.
    mutating func packetFilter(_ f: TrafficFilter, branch: Branch = .whole) {
        let splitPort = branch != .whole && f.port != nil
        if let n = f.ip {
            if branch == .whole || splitPort {
                add("(\(address("src", n)) OR \(address("dst", n)))")
            } else if branch == .first {
                add(address("src", n))
            } else {
                // A packet from and to the address is the first branch's.
                add(address("dst", n)); add("NOT (\(address("src", n)))")
            }
        }
        if let n = f.src { add(address("src", n)) }
        if let n = f.dst { add(address("dst", n)) }
        if let p = f.port {
            let v = param(Int64(p))
            switch branch {
            case .whole: add("(sport = \(v) OR dport = \(v))")
            case .first: add("sport = \(v)")
            case .second: add("dport = \(v)"); add("sport <> \(v)")
            }
        }
        if let p = f.sport { add("sport = \(param(Int64(p)))") }
        if let p = f.dport { add("dport = \(param(Int64(p)))") }
        if dialect == .clickhouse {
            codeFilter(f)
        } else {
            if let t = f.transport { add(t == .none ? "transport IS NULL" : "transport = \(param(t.label))") }
            if let a = f.app { add(a == .unknown ? "app IS NULL" : "app = \(param(a.name))") }
        }
        rangeFilter(f, ts: "ts")
        if let q = f.text {
            let host = contains("http_host", q), sni = contains("tls_sni", q), dq = contains("flows.dns_query", q)
            add("(\(contains("dns_query", q)) OR flow_uid IN (SELECT uid FROM flows WHERE \(host) OR \(sni) OR \(dq)))")
        }
    }

    /// The filters of flow queries (src/sport are the originator's).
    mutating func flowFilter(_ f: TrafficFilter) {
        // SQLite's flows keep addresses as bytes since schema 9, like its packets.
        func address(_ column: String, _ n: IPNetwork) -> String {
            dialect == .sqlite ? compactAddress(column, n) : self.address(column, n)
        }
        if let n = f.ip { add("(\(address("orig_h", n)) OR \(address("resp_h", n)))") }
        if let n = f.src { add(address("orig_h", n)) }
        if let n = f.dst { add(address("resp_h", n)) }
        if let p = f.port { let v = param(Int64(p)); add("(orig_p = \(v) OR resp_p = \(v))") }
        if let p = f.sport { add("orig_p = \(param(Int64(p)))") }
        if let p = f.dport { add("resp_p = \(param(Int64(p)))") }
        flowProtoFilter(f)
        rangeFilter(f, ts: "ts")
        if let q = f.text {
            add("(\(contains("dns_query", q)) OR \(contains("http_host", q)) OR \(contains("tls_sni", q)))")
        }
    }

    /// The IP protocol of a flow of each transport (ARP and "none" have no flows).
    static let flowIPProtos: [TransportKind: Int64] = [.tcp: 6, .udp: 17, .icmp: 1, .icmpv6: 58, .gre: 47]

    /// Whether a flow with this IP protocol is of transport `t` (as the condition below says).
    static func flowTransport(_ t: TransportKind, matches ipProto: UInt8) -> Bool {
        if let p = flowIPProtos[t] { return Int64(ipProto) == p }
        return t == .other && !flowIPProtos.values.contains(Int64(ipProto))
    }

    /// Transport and app on tables of flows (`flows`, `flow_counts`): the IP protocol
    /// number and the app's name.
    mutating func flowProtoFilter(_ f: TrafficFilter) {
        if let t = f.transport {
            if let p = Self.flowIPProtos[t] {
                add("ip_proto = \(p)")
            } else if t == .other {
                add(
                    "ip_proto NOT IN (" + Self.flowIPProtos.values.sorted().map(String.init).joined(separator: ", ")
                        + ")")
            } else {
                add("1 = 0")
            }
        }
        if let a = f.app { add("app = \(param(a.name))") }
    }

    /// Transport and app on the per-second `traffic` rollup, written as the labels and
    /// names with NULL for "none" and "unknown".
    mutating func trafficRollupFilter(_ f: TrafficFilter) {
        if dialect == .clickhouse { return codeFilter(f) }
        if let t = f.transport { add(t == .none ? "transport IS NULL" : "transport = \(param(t.label))") }
        if let a = f.app { add(a == .unknown ? "app IS NULL" : "app = \(param(a.name))") }
    }

    /// Transport and app as their codes (SQLite's compact packets, every ClickHouse
    /// table); SQLite writes NULL for "none" and "unknown", ClickHouse their code 0.
    mutating func codeFilter(_ f: TrafficFilter) {
        let nulls = dialect != .clickhouse
        if let t = f.transport {
            add(t == .none && nulls ? "transport IS NULL" : "transport = \(param(Int64(t.rawValue)))")
        }
        if let a = f.app { add(a == .unknown && nulls ? "app IS NULL" : "app = \(param(Int64(a.rawValue)))") }
    }

    /// Alerts naming `a` among their hosts (a comma-separated column).
    mutating func alertHost(_ a: IPAddress) -> String {
        "(',' || hosts || ',') LIKE \(param("%," + a.description + ",%"))"
    }

    /// Every filter of `/api/flows` and its keyset cursor (after `key`, then the row id),
    /// as each store's flow listing applies them.
    mutating func flowListing(_ q: FlowQuery, key: FlowSortKey, cursor: Cursor?) {
        flowFilter(q.filter)
        if let s = q.connState { add("conn_state = \(param(s))") }
        if let m = q.minBytes { add("total_bytes >= \(param(Int64(clamping: m)))") }
        if let t = q.tls { tlsFilter(t) }
        enrichmentFilter(q)
        tunnelFilter(q.tunnel)
        if let cursor { add("(\(key.column), id) < (\(param(cursor.values[0])), \(param(cursor.values[1])))") }
    }

    /// The process, country and ASN filters of flows (`FlowQuery`).
    mutating func enrichmentFilter(_ q: FlowQuery) {
        if let p = q.process {
            if let pid = Int32(p) { add("pid = \(param(Int64(pid)))") } else { add("process = \(param(p))") }
        }
        if let c = q.country {
            let v = param(c)
            add("(orig_cc = \(v) OR resp_cc = \(v))")
        }
        if let a = q.asn {
            let v = param(Int64(a))
            add("(orig_asn = \(v) OR resp_asn = \(v))")
        }
    }

    /// Flows carried in a tunnel of a kind, in any, or in none (`tunnel` is NULL outside).
    mutating func tunnelFilter(_ t: TunnelChoice?) {
        switch t {
        case nil: break
        case .any?: add("tunnel IS NOT NULL")
        case .none?: add("tunnel IS NULL")
        case .kind(let k)?: add("tunnel = \(param(k.label))")
        }
    }

    /// Flows whose server name contains `t`, or whose JA3, JA3S or JA4 is `t`.
    mutating func tlsFilter(_ t: String) {
        let sni = contains("tls_sni", t)
        let v = param(t.lowercased())
        add("(\(sni) OR ja3 = \(v) OR ja3s = \(v) OR ja4 = \(v))")
    }

    /// `rangeFilter` on a SQLite table that names capture and sensor by an `origin` code
    /// (packets since schema 23, `PacketCodes`; dns since 24, `DNSTable`).
    mutating func originRangeFilter(_ f: TrafficFilter, ts: String) {
        var time = f
        time.capture = nil; time.sensor = nil
        rangeFilter(time, ts: ts)
        let capture = f.capture.map { param($0) }, sensor = f.sensor.map { param($0) }
        if let o = PacketCodes.originFilter(capture: capture, sensor: sensor) { add(o) }
    }

    mutating func rangeFilter(_ f: TrafficFilter, ts: String) {
        if let v = f.from { add("\(ts) >= \(param(v))") }
        if let v = f.to { add("\(ts) < \(param(v))") }
        if let v = f.capture { add("capture_id = \(param(v))") }
        if let v = f.sensor { add("sensor = \(param(v))") }
    }
}
