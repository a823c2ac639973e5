import SniffCore
import SniffDecode

/// A set of application protocols as a bitmap (AppProtocol raw values are below 128).
public struct AppSet: Sendable, Equatable {
    public var low: UInt64 = 0
    public var high: UInt64 = 0
    public init() {}

    @inlinable
    public mutating func insert(_ a: AppProtocol) {
        let r = a.rawValue
        if r < 64 { low |= 1 << UInt64(r) } else { high |= 1 << UInt64(r - 64) }
    }

    public var members: [AppProtocol] {
        AppProtocol.allCases.filter { a in
            let r = a.rawValue
            return r < 64 ? low & (1 << UInt64(r)) != 0 : high & (1 << UInt64(r - 64)) != 0
        }
    }
}

/// An address and, for TCP/UDP, a port: the unit of the report's list.
public struct Endpoint: Hashable, Sendable, Comparable {
    public var address: IPAddress
    /// The port, or -1 for traffic without ports (ICMP, other IP protocols).
    public var port: Int32

    public init(address: IPAddress, port: Int32) {
        self.address = address
        self.port = port
    }

    public static func < (a: Endpoint, b: Endpoint) -> Bool {
        a.address != b.address ? a.address < b.address : a.port < b.port
    }

    public func write(into s: inout ByteSink) {
        if address.isIPv6 && port >= 0 {
            s.append(UInt8(ascii: "["))
            address.write(into: &s)
            s.append(UInt8(ascii: "]"))
        } else {
            address.write(into: &s)
        }
        if port >= 0 {
            s.append(UInt8(ascii: ":"))
            s.append(decimal: Int64(port))
        }
    }

    public var description: String {
        var s = ByteSink(capacity: 48)
        write(into: &s)
        return s.string
    }
}

/// Traffic seen by one endpoint, as sniffnet's report lists it.
public struct EndpointStat: Sendable, Equatable {
    public var sentPackets: UInt64 = 0
    public var sentBytes: UInt64 = 0
    public var receivedPackets: UInt64 = 0
    public var receivedBytes: UInt64 = 0
    public var first = Timestamp.zero
    public var last = Timestamp.zero
    /// Bitmap of TransportKind raw values.
    public var transports: UInt16 = 0
    public var apps = AppSet()

    public init() {}

    public var totalPackets: UInt64 { sentPackets + receivedPackets }

    public var transportKinds: [TransportKind] {
        TransportKind.allCases.filter { $0 != .none && transports & (1 << UInt16($0.rawValue)) != 0 }
    }
}

/// Per address:port counters. Each IP packet updates its source (sent) and its
/// destination (received).
public struct EndpointTable: Sendable {
    public private(set) var entries: [Endpoint: EndpointStat] = [:]

    public init(expectedEndpoints: Int = 1024) {
        entries.reserveCapacity(expectedEndpoints)
    }

    public var count: Int { entries.count }

    mutating func touch(_ e: Endpoint, sent: Bool, bytes: UInt64, p: DecodedPacket) {
        let bit = UInt16(1) << UInt16(p.transport.rawValue)
        let app = p.app
        let ts = p.timestamp
        entries[e, default: EndpointStat()].update(sent: sent, bytes: bytes, ts: ts, transportBit: bit, app: app)
    }

    /// Records one packet; packets without an IP layer are not in the list.
    public mutating func record(_ p: DecodedPacket) {
        guard p.ipVersion != 0 else { return }
        let bytes = UInt64(p.wireLength)
        let sp: Int32 = p.hasPorts ? Int32(p.sport) : -1
        let dp: Int32 = p.hasPorts ? Int32(p.dport) : -1
        touch(Endpoint(address: p.src, port: sp), sent: true, bytes: bytes, p: p)
        touch(Endpoint(address: p.dst, port: dp), sent: false, bytes: bytes, p: p)
    }

    /// Entries with at least `minPackets`, sorted by sent + received packets, then by
    /// bytes, then by endpoint so that the order is stable.
    public func sorted(minPackets: UInt64 = 0, limit: Int? = nil) -> [(Endpoint, EndpointStat)] {
        var list = entries.filter { $0.value.totalPackets >= minPackets }.map { ($0.key, $0.value) }
        list.sort { a, b in
            let pa = a.1.totalPackets, pb = b.1.totalPackets
            if pa != pb { return pa > pb }
            let ba = a.1.sentBytes + a.1.receivedBytes, bb = b.1.sentBytes + b.1.receivedBytes
            if ba != bb { return ba > bb }
            return a.0 < b.0
        }
        if let limit, list.count > limit { list.removeSubrange(limit...) }
        return list
    }
}

extension EndpointStat {
    mutating func update(sent: Bool, bytes: UInt64, ts: Timestamp, transportBit: UInt16, app: AppProtocol) {
        if sentPackets == 0 && receivedPackets == 0 {
            first = ts
            last = ts
        } else {
            if ts < first { first = ts }
            if last < ts { last = ts }
        }
        if sent {
            sentPackets &+= 1
            sentBytes &+= bytes
        } else {
            receivedPackets &+= 1
            receivedBytes &+= bytes
        }
        transports |= transportBit
        if app != .unknown { apps.insert(app) }
    }
}
