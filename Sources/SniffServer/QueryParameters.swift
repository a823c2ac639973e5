import SniffCore
import SniffDecode
import SniffAnalysis
import SniffStore

/// The API's query parameters read into the store's typed queries. Every value is
/// checked here, and a wrong one is a 400 naming the parameter (`APIError`); the store
/// only ever sees typed queries. `sniff export`'s options and the live streams' filters
/// go through the same readers, so the words and messages are the API's everywhere.
struct QueryParameters {
    let p: [String: String]

    init(_ p: [String: String]) { self.p = p }

    subscript(_ name: String) -> String? { p[name] }

    func bad(_ name: String, _ message: String) -> APIError { APIError.badParameter(name, message) }

    /// An address (a /32 or /128) or a CIDR.
    func network(_ name: String) throws -> IPNetwork? {
        guard let v = p[name] else { return nil }
        guard
            let n = IPNetwork(v) ?? IPAddress(v).map({ IPNetwork(address: $0, prefixLength: $0.isIPv6 ? 128 : 32) })
        else {
            throw bad(name, "expected an IPv4 or IPv6 address or CIDR such as 10.0.0.0/8")
        }
        return n
    }

    func port(_ name: String) throws -> UInt16? {
        guard let v = p[name] else { return nil }
        guard let n = UInt16(v) else { throw bad(name, "a port is a number from 0 to 65535") }
        return n
    }

    /// A time as `TimeText` reads it (epoch seconds or ISO 8601), in nanoseconds.
    func time(_ name: String) throws -> Int64? {
        guard let v = p[name] else { return nil }
        guard let t = TimeText.nanoseconds(v) else { throw bad(name, TimeText.help) }
        return t
    }

    /// Text of at most `maximum` bytes; `nonEmpty` refuses "" with `message` too.
    func text(_ name: String, maximum: Int, nonEmpty: Bool = false, _ message: String? = nil) throws -> String? {
        guard let v = p[name] else { return nil }
        guard v.utf8.count <= maximum, !nonEmpty || !v.isEmpty else {
            throw bad(name, message ?? "at most \(maximum) bytes")
        }
        return v
    }

    /// One of `values`, compared without case; answers the value as listed.
    func choice(_ name: String, _ values: [String]) throws -> String? {
        guard let v = p[name] else { return nil }
        guard let known = values.first(where: { $0.lowercased() == v.lowercased() }) else {
            throw bad(name, "valid values are " + values.joined(separator: ", "))
        }
        return known
    }

    /// `limit`: 1 to `PacketQuery.maximumLimit`.
    func limit(default d: Int = 100) throws -> Int {
        guard let l = p["limit"] else { return d }
        guard let v = Int(l), (1...PacketQuery.maximumLimit).contains(v) else {
            throw bad("limit", "between 1 and \(PacketQuery.maximumLimit)")
        }
        return v
    }

    /// `process`: a command name or a pid.
    func process() throws -> String? {
        try text("process", maximum: 255, nonEmpty: true, "a command name or pid, 1 to 255 bytes")
    }

    /// `country` (an ISO 3166 code) and `asn` (15169 or AS15169).
    func geo() throws -> (country: String?, asn: UInt32?) {
        var country: String? = nil, asn: UInt32? = nil
        if let c = p["country"] {
            guard let code = GeoFilter.countryCode(c) else {
                throw bad("country", "a two-letter ISO 3166 code (DE, US ...)")
            }
            country = code
        }
        if let a = p["asn"] {
            guard let v = GeoFilter.asNumber(a) else { throw bad("asn", "an AS number (15169 or AS15169)") }
            asn = v
        }
        return (country, asn)
    }

    /// Only the parameters named in `names`.
    func only(_ names: some Sequence<String>) -> [String: String] {
        let keep = Set(names)
        return p.filter { keep.contains($0.key) }
    }
}

extension TrafficFilter {
    /// The parameters below that a single row can be tested against (not the time range,
    /// capture or sensor): what the live streams' filters accept.
    public static let rowParameterNames: Set<String> = [
        "ip", "src", "dst", "port", "sport", "dport", "transport", "app", "q",
    ]

    /// Reads the API's query parameters (`ip`, `src`, `dst`, `port`, `sport`, `dport`,
    /// `transport`, `app`, `from`, `to`, `capture`, `sensor`, `q`); unknown names are
    /// left to the caller. Throws `APIError` (400) naming the parameter.
    public init(parameters: [String: String]) throws {
        let q = QueryParameters(parameters)
        self.init()
        ip = try q.network("ip"); src = try q.network("src"); dst = try q.network("dst")
        port = try q.port("port"); sport = try q.port("sport"); dport = try q.port("dport")
        if let t = q["transport"] {
            guard let k = TransportKind(userValue: t) else {
                throw q.bad("transport", "valid values are " + TransportKind.userNames.joined(separator: ", "))
            }
            transport = k
        }
        if let a = q["app"] {
            guard let k = AppProtocol.allCases.first(where: { $0.name.lowercased() == a.lowercased() }) else {
                throw q.bad("app", "unknown application '\(a.prefix(40))'")
            }
            app = k
        }
        from = try q.time("from"); to = try q.time("to")
        if let c = q["capture"] {
            guard let v = Int64(c) else { throw q.bad("capture", "a capture id is a number") }
            capture = v
        }
        sensor = try q.text("sensor", maximum: 128)
        if let t = try q.text("q", maximum: 256), !t.isEmpty { text = t }
    }
}

extension PacketQuery {
    /// The filters plus `cursor` and `limit` (1...1000).
    public init(parameters p: [String: String]) throws {
        self.init(
            filter: try TrafficFilter(parameters: p), cursor: p["cursor"], limit: try QueryParameters(p).limit())
    }
}

extension FlowQuery {
    public static let connStates = [
        "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH",
    ]

    public init(parameters p: [String: String]) throws {
        let q = QueryParameters(p)
        self.init(filter: try TrafficFilter(parameters: p), cursor: p["cursor"], limit: try q.limit())
        connState = try q.choice("conn_state", Self.connStates)
        if let m = q["min_bytes"] {
            guard let v = UInt64(m), v <= UInt64(Int64.max) else { throw q.bad("min_bytes", "a number of bytes") }
            minBytes = v
        }
        tls = try q.text("tls", maximum: 255, nonEmpty: true, "a server name or fingerprint, 1 to 255 bytes")
        process = try q.process()
        (country, asn) = try q.geo()
        if let t = q["tunnel"] {
            guard let v = TunnelChoice(t) else {
                throw q.bad("tunnel", "valid values are any, none, " + TunnelChoice.kindNames)
            }
            tunnel = v
        }
        if let s = try q.choice("sort", FlowSort.allCases.map(\.rawValue)) { sort = FlowSort(rawValue: s)! }
    }
}

extension RangeQuery {
    /// The range parameters, plus those of `trafficNames` (a subset of `flowNames`)
    /// that the caller's route takes.
    public init(parameters p: [String: String], trafficNames: [String] = []) throws {
        var traffic = try TrafficFilter(parameters: QueryParameters(p).only(Self.names + trafficNames))
        self.init(from: traffic.from, to: traffic.to, sensor: traffic.sensor, capture: traffic.capture)
        traffic.from = nil; traffic.to = nil; traffic.sensor = nil; traffic.capture = nil
        self.traffic = traffic
    }
}

extension TimeSeriesQuery {
    public init(parameters p: [String: String]) throws {
        let q = QueryParameters(p)
        self.init(range: try RangeQuery(parameters: p, trafficNames: RangeQuery.rollupNames))
        if let s = try q.choice("step", TimeStep.allCases.map(\.rawValue)) { step = TimeStep(rawValue: s)! }
        if let b = try q.choice("by", SeriesKey.allCases.map(\.rawValue)) { by = SeriesKey(rawValue: b)! }
    }
}

extension TalkersQuery {
    public init(parameters p: [String: String]) throws {
        self.init(
            range: try RangeQuery(parameters: p, trafficNames: RangeQuery.flowNames),
            limit: try QueryParameters(p).limit(default: 20))
    }
}

extension AlertQuery {
    public init(parameters p: [String: String]) throws {
        let q = QueryParameters(p)
        self.init(
            range: try RangeQuery(parameters: p), minSeverity: try q.choice("severity", Self.severities),
            rule: try q.text("rule", maximum: 128), cursor: p["cursor"], limit: try q.limit())
    }
}

extension CaptureQuery {
    public init(parameters p: [String: String]) throws {
        let q = QueryParameters(p)
        self.init(sensor: try q.text("sensor", maximum: 128), limit: try q.limit())
    }
}

extension HostQuery {
    public init(parameters p: [String: String]) throws {
        let q = QueryParameters(p)
        let range = try RangeQuery(parameters: q.only(RangeQuery.names))
        self.init()
        from = range.from; to = range.to; sensor = range.sensor; capture = range.capture
        name = try q.text("name", maximum: 255, nonEmpty: true, "a name or part of one, 1 to 255 bytes")
        (country, asn) = try q.geo()
        category = try q.choice("category", Self.categories)
        cursor = p["cursor"]
        limit = try q.limit()
    }
}

extension ProcessQuery {
    public init(parameters p: [String: String]) throws {
        let q = QueryParameters(p)
        self.init(
            range: try RangeQuery(parameters: q.only(RangeQuery.names)), process: try q.process(),
            limit: try q.limit())
    }
}

extension NetworkShareQuery {
    public init(by: Key, parameters p: [String: String]) throws {
        self.init(
            by: by, range: try RangeQuery(parameters: p, trafficNames: RangeQuery.flowNames),
            limit: try QueryParameters(p).limit(default: 20))
    }
}

extension LogQuery {
    public init(kind: LogKind, parameters p: [String: String]) throws {
        let q = QueryParameters(p)
        let filter = try TrafficFilter(parameters: p.filter { $0.key != "app" })
        if let t = filter.transport, t != .tcp && t != .udp {
            throw q.bad("transport", "protocol logs are over tcp or udp")
        }
        var uid: String? = nil
        for name in ["uid", "flow"] {
            guard let u = q[name] else { continue }
            guard !u.isEmpty, u.utf8.count <= 64, u.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw q.bad(name, "a flow uid such as CHhAvVGS1DHFjwGM9")
            }
            if let other = uid, other != u { throw q.bad(name, "uid and flow name the same thing; give one") }
            uid = u
        }
        if let s = q["sort"], s.lowercased() != "time" {
            throw q.bad("sort", "protocol logs are sorted by time (newest first); valid value: time")
        }
        self.init(kind: kind, filter: filter, uid: uid, cursor: p["cursor"], limit: try q.limit())
    }
}
