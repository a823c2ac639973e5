import SniffCore
import SniffDecode
import SniffAnalysis

/// The filters shared by packet and flow queries. For flows, `src`/`sport` are the
/// originator and `dst`/`dport` the responder.
public struct TrafficFilter: Sendable, Equatable {
    /// Source or destination equal to an address, or inside a CIDR.
    public var ip: IPNetwork? = nil
    public var src: IPNetwork? = nil
    public var dst: IPNetwork? = nil
    /// Either port.
    public var port: UInt16? = nil
    public var sport: UInt16? = nil
    public var dport: UInt16? = nil
    public var transport: TransportKind? = nil
    public var app: AppProtocol? = nil
    /// Time range in nanoseconds: `from` inclusive, `to` exclusive.
    public var from: Int64? = nil
    public var to: Int64? = nil
    public var capture: Int64? = nil
    public var sensor: String? = nil
    /// Case-insensitive substring of the DNS query name or of the host (flows: TLS
    /// SNI and HTTP Host; packets: those of the packet's flow).
    public var text: String? = nil

    public init() {}

}

/// GET /api/packets.
public struct PacketQuery: Sendable, Equatable {
    public static let maximumLimit = 1000
    public var filter = TrafficFilter()
    /// From the previous page's `nextCursor`.
    public var cursor: String? = nil
    public var limit = 100

    public init(filter: TrafficFilter = TrafficFilter(), cursor: String? = nil, limit: Int = 100) {
        self.filter = filter; self.cursor = cursor; self.limit = limit
    }


}

public enum FlowSort: String, Sendable, CaseIterable {
    case bytes, packets, time
}

/// GET /api/flows.
public struct FlowQuery: Sendable, Equatable {
    public var filter = TrafficFilter()
    /// Zeek's conn_state ("SF", "S0", "REJ" ...).
    public var connState: String? = nil
    /// Both directions' bytes at least this.
    public var minBytes: UInt64? = nil
    /// `tls`: the TLS/QUIC server name contains this text, or a fingerprint (JA3, JA3S,
    /// JA4) equals it.
    public var tls: String? = nil
    /// `process`: the local process's command name (exact), or its pid when a number.
    public var process: String? = nil
    /// `country`: either end's ISO country code (GeoIP).
    public var country: String? = nil
    /// `asn`: either end's autonomous system number (GeoIP); "AS" prefix allowed.
    public var asn: UInt32? = nil
    /// `tunnel`: flows carried in a tunnel of this kind, or in any ("any"), or in none.
    public var tunnel: TunnelChoice? = nil
    /// Largest first for bytes and packets, newest first for time.
    public var sort = FlowSort.time
    public var cursor: String? = nil
    public var limit = 100

    public init(filter: TrafficFilter = TrafficFilter(), connState: String? = nil, minBytes: UInt64? = nil,
                sort: FlowSort = .time, cursor: String? = nil, limit: Int = 100) {
        self.filter = filter; self.connState = connState; self.minBytes = minBytes
        self.sort = sort; self.cursor = cursor; self.limit = limit
    }

}

/// `/api/flows?tunnel=`: the flows carried in one kind of tunnel, in any, or outside
/// every tunnel.
public enum TunnelChoice: Sendable, Equatable {
    case any, none
    case kind(TunnelKind)

    public init?(_ text: String) {
        switch text.lowercased() {
        case "any": self = .any
        case "none": self = .none
        default:
            guard let k = TunnelKind(name: text) else { return nil }
            self = .kind(k)
        }
    }

    /// The kinds' names as stored ("vxlan, geneve, ..."), for the error message.
    public static let kindNames = TunnelKind.allCases.filter { $0 != .none }.map(\.label).joined(separator: ", ")
}

extension FlowQuery {
    /// The names the host and process filters take (flows, hosts, processes).
    public static let enrichmentNames = ["process", "country", "asn"]


}

/// A time range with the sensor and capture filters (protocol summary, talkers), and
/// the traffic filters a summary can honour.
public struct RangeQuery: Sendable, Equatable {
    public var from: Int64? = nil
    public var to: Int64? = nil
    public var sensor: String? = nil
    public var capture: Int64? = nil
    /// Address, port, transport and app filters (`ip` ... `app`; time, capture and
    /// sensor are the fields above). The per-second rollups keep transport and app
    /// only; an address or a port makes the protocol summary count flows instead.
    public var traffic = TrafficFilter()

    public static let names = ["from", "to", "sensor", "capture"]
    /// What flows carry: a flow-based summary or talkers list can honour all of these.
    public static let flowNames = ["ip", "src", "dst", "port", "sport", "dport", "transport", "app"]
    /// What the per-second rollups (`traffic`, `flow_counts`) carry.
    public static let rollupNames = ["transport", "app"]

    public init(from: Int64? = nil, to: Int64? = nil, sensor: String? = nil, capture: Int64? = nil,
                traffic: TrafficFilter = TrafficFilter()) {
        self.from = from; self.to = to; self.sensor = sensor; self.capture = capture; self.traffic = traffic
    }


    /// An address or port filter: only flows can answer it.
    public var needsFlows: Bool {
        traffic.ip != nil || traffic.src != nil || traffic.dst != nil || traffic.port != nil
            || traffic.sport != nil || traffic.dport != nil
    }

    public var asFilter: TrafficFilter {
        var f = traffic
        f.from = from; f.to = to; f.sensor = sensor; f.capture = capture
        return f
    }
}

public enum TimeStep: String, Sendable, CaseIterable {
    case second = "1s", minute = "1m", hour = "1h"
    public var nanoseconds: Int64 {
        switch self {
        case .second: return 1_000_000_000
        case .minute: return 60_000_000_000
        case .hour: return 3_600_000_000_000
        }
    }
}

public enum SeriesKey: String, Sendable, CaseIterable { case transport, app }

/// GET /api/timeseries.
public struct TimeSeriesQuery: Sendable, Equatable {
    public var range = RangeQuery()
    public var step = TimeStep.minute
    public var by = SeriesKey.transport
    /// At most this many points are returned (newest buckets kept).
    public var maxPoints = 100_000

    public init(range: RangeQuery = RangeQuery(), step: TimeStep = .minute, by: SeriesKey = .transport) {
        self.range = range; self.step = step; self.by = by
    }

}

/// GET /api/talkers.
public struct TalkersQuery: Sendable, Equatable {
    public var range = RangeQuery()
    public var limit = 20

    public init(range: RangeQuery = RangeQuery(), limit: Int = 20) { self.range = range; self.limit = limit }

}

/// GET /api/alerts.
public struct AlertQuery: Sendable, Equatable {
    public var range = RangeQuery()
    /// This severity or higher.
    public var minSeverity: String? = nil
    public var rule: String? = nil
    /// Alerts that name this address among their hosts (a host page's alerts).
    public var host: IPAddress? = nil
    public var cursor: String? = nil
    public var limit = 100

    public init(
        range: RangeQuery = RangeQuery(), minSeverity: String? = nil, rule: String? = nil, cursor: String? = nil,
        limit: Int = 100
    ) {
        self.range = range; self.minSeverity = minSeverity; self.rule = rule; self.cursor = cursor; self.limit = limit
    }

    public static let severities = ["info", "low", "medium", "high", "critical"]

}

/// GET /api/captures.
public struct CaptureQuery: Sendable, Equatable {
    public var sensor: String? = nil
    public var limit = 100
    public init(sensor: String? = nil, limit: Int = 100) { self.sensor = sensor; self.limit = limit }

}

/// Opaque keyset cursors: a letter for the kind, then integers, dot-separated
/// ("p.1700000000123456789.42.7"). Parsed strictly; a malformed one is a 400.
struct Cursor: Equatable {
    var kind: Character
    var values: [Int64]

    var text: String { String(kind) + values.map { "." + String($0) }.joined() }

    static func parse(_ text: String?, kind: Character, count: Int) throws -> Cursor? {
        guard let text else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard text.utf8.count <= 200, parts.count == count + 1, parts[0] == Substring(String(kind)) else {
            throw StoreError.badParameter(
                name: "cursor", message: "not a cursor from this listing; start again without one")
        }
        var values: [Int64] = []
        for p in parts.dropFirst() {
            guard let v = Int64(p) else {
                throw StoreError.badParameter(
                    name: "cursor", message: "not a cursor from this listing; start again without one")
            }
            values.append(v)
        }
        return Cursor(kind: kind, values: values)
    }
}

/// Times in API parameters: epoch seconds with up to nine decimals ("1700000000.25"),
/// or RFC 3339 ("2023-11-14T22:13:20Z", "2023-11-14T22:13:20.5+01:00").
public enum TimeText {
    public static let help = "expected epoch seconds (1700000000.5) or RFC 3339 (2023-11-14T22:13:20Z)"

    public static func nanoseconds(_ s: String) -> Int64? {
        if s.contains("-") && s.contains("T") { return rfc3339(s) }
        return epoch(Substring(s))
    }

    static func epoch(_ s: Substring) -> Int64? {
        var s = s
        var negative = false
        if s.first == "-" { negative = true; s = s.dropFirst() }
        let parts = s.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.count <= 11, whole.allSatisfy(\.isASCIIDigit),
              let secs = Int64(whole) else { return nil }
        var frac: Int64 = 0
        if parts.count == 2 {
            let f = parts[1]
            guard !f.isEmpty, f.count <= 9, f.allSatisfy(\.isASCIIDigit), let v = Int64(f) else { return nil }
            frac = v
            for _ in f.count..<9 { frac *= 10 }
        }
        let ns = secs * 1_000_000_000 + frac
        return negative ? -ns : ns
    }

    static func rfc3339(_ s: String) -> Int64? {
        let u = Array(s.utf8)
        func num(_ at: Int, _ n: Int) -> Int? {
            guard at + n <= u.count else { return nil }
            var v = 0
            for i in at..<(at + n) {
                guard (48...57).contains(u[i]) else { return nil }
                v = v * 10 + Int(u[i] - 48)
            }
            return v
        }
        guard u.count >= 20, let y = num(0, 4), u[4] == 45, let mo = num(5, 2), u[7] == 45, let d = num(8, 2),
            u[10] == 84 || u[10] == 116 || u[10] == 32, let h = num(11, 2), u[13] == 58, let mi = num(14, 2),
            u[16] == 58,
            let sec = num(17, 2), (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, sec < 61
        else { return nil }
        var i = 19
        var frac: Int64 = 0
        if i < u.count && u[i] == 46 {
            i += 1
            var digits = 0
            while i < u.count, (48...57).contains(u[i]) {
                if digits < 9 { frac = frac * 10 + Int64(u[i] - 48) }
                digits += 1; i += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 9)..<9 { frac *= 10 }
        }
        guard i < u.count else { return nil }
        var offset = 0
        if u[i] == 90 || u[i] == 122 {
            i += 1
        } else if u[i] == 43 || u[i] == 45, let oh = num(i + 1, 2), i + 3 < u.count, u[i + 3] == 58,
            let om = num(i + 4, 2) {
            offset = (oh * 60 + om) * 60 * (u[i] == 45 ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == u.count else { return nil }
        let days = daysFromCivil(y, mo, d)
        let secs = Int64(days) * 86_400 + Int64(h * 3600 + mi * 60 + sec) - Int64(offset)
        return secs * 1_000_000_000 + frac
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// "20231114" for the day containing `nanos` (UTC).
    static func dayName(_ day: Int64) -> String {
        // Inverse of daysFromCivil.
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ n: Int) -> String {
            let s = String(v); return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return (y < 0 ? "m" + pad(-y, 4) : pad(y, 4)) + pad(m, 2) + pad(d, 2)
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
