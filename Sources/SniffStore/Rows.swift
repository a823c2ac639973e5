import SniffCore
import SniffDecode

/// One stored packet: the flat per-packet fields of `DecodedPacket` that the schema
/// keeps, with a presence set standing in for SQL NULL, so that a row is a plain value
/// (one optional String, the DNS name) and a batch of rows is one array.
public struct PacketRow: Sendable, Equatable {
    /// Which nullable columns have a value; the same rule as the NDJSON writer's
    /// "a field a packet lacks is left out".
    public struct Fields: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let ethSrc = Fields(rawValue: 1 << 0)
        public static let ethDst = Fields(rawValue: 1 << 1)
        public static let vlan = Fields(rawValue: 1 << 2)
        /// ip, src, dst, proto
        public static let ip = Fields(rawValue: 1 << 3)
        public static let ports = Fields(rawValue: 1 << 4)
        /// seq, ack, tcp_flags, window
        public static let tcp = Fields(rawValue: 1 << 5)
        public static let payloadLen = Fields(rawValue: 1 << 6)
        public static let icmp = Fields(rawValue: 1 << 7)
        public static let dnsQuery = Fields(rawValue: 1 << 8)
        public static let flowUID = Fields(rawValue: 1 << 9)
        /// The captured bytes are kept (`--store-raw`): `frameOffset`/`frameLength` in
        /// the batch's `frames` on the way in; the `raw` column once stored.
        public static let frame = Fields(rawValue: 1 << 10)
        /// `app` came from the flow's payload (`app_source` "payload"; else "port").
        public static let appPayload = Fields(rawValue: 1 << 11)
        /// `info` holds the Info line the frame gave (`PacketInfo.writeFrameLine`).
        public static let info = Fields(rawValue: 1 << 12)
    }

    public var present: Fields = []
    /// Frame number within the capture (1-based): with the capture id, the row's identity.
    public var n: UInt64 = 0
    /// Nanoseconds since the epoch, exact.
    public var ts: Int64 = 0
    public var len: UInt32 = 0
    public var caplen: UInt32 = 0
    public var iface: UInt32 = 0
    public var link: LinkType = .ethernet
    public var ethSrc = MACAddress(0)
    public var ethDst = MACAddress(0)
    public var vlan: UInt16 = 0
    public var ipVersion: UInt8 = 0
    public var proto: UInt8 = 0
    public var src = IPAddress.none
    public var dst = IPAddress.none
    /// `.none` is stored as NULL.
    public var transport = TransportKind.none
    public var sport: UInt16 = 0
    public var dport: UInt16 = 0
    public var seq: UInt32 = 0
    public var ack: UInt32 = 0
    public var tcpFlags: UInt16 = 0
    public var window: UInt16 = 0
    public var payloadLen: UInt32 = 0
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0
    /// `.unknown` is stored as NULL.
    public var app = AppProtocol.unknown
    public var dnsQuery: String? = nil
    /// The Info line when only the frame could give it (DNS, TLS, HTTP, ARP, ICMP echo,
    /// malformed ...); nil when the header fields render it (`infoLine`).
    public var info: String? = nil
    /// The Zeek-style uid of the flow the packet belongs to ("C" and 17 base62 digits).
    public var flowUID: String? = nil
    /// Where this row's captured bytes sit in its batch's `frames` (with `.frame`).
    /// Offsets rather than an array per row, so that keeping bytes costs no allocation
    /// per packet.
    public var frameOffset: UInt32 = 0
    public var frameLength: UInt32 = 0

    public init() {}

    @inlinable public func has(_ f: Fields) -> Bool { present.contains(f) }

    public var appSource: AppSource { has(.appPayload) ? .payload : .port }

    /// The header fields the Info line is made of when the frame adds nothing.
    public var infoHeader: PacketInfo.Header {
        var h = PacketInfo.Header()
        h.transport = transport; h.ipProto = proto
        h.hasPorts = has(.ports); h.sport = sport; h.dport = dport
        h.hasTCP = has(.tcp); h.tcpFlags = tcpFlags; h.seq = seq; h.ack = ack; h.window = window
        h.hasPayloadLength = has(.payloadLen); h.payloadLength = payloadLen
        h.hasICMP = has(.icmp); h.icmpType = icmpType; h.icmpCode = icmpCode
        return h
    }

    /// The packet's Info line, as `PacketInfo.write` rendered it from the frame.
    public func writeInfo(into s: inout ByteSink) {
        if has(.info), let i = info { s.append(i) } else { PacketInfo.writeHeaderLine(infoHeader, into: &s) }
    }

    public var infoLine: String {
        var s = ByteSink(capacity: 96)
        writeInfo(into: &s)
        return s.string
    }
}

/// One finished flow, with Zeek's conn.log fields as `FlowNDJSONWriter` writes them,
/// plus Sniff's extras. Times are nanoseconds; NULL where the NDJSON leaves a field out.
public struct FlowRow: Sendable, Equatable {
    public var ts: Int64 = 0
    /// Last packet time (start + duration).
    public var lastTs: Int64 = 0
    public var uid: String = ""
    public var origH = IPAddress.none
    public var origP: UInt16 = 0
    public var respH = IPAddress.none
    public var respP: UInt16 = 0
    /// "tcp", "udp", "icmp" or "unknown_transport".
    public var proto: String = ""
    /// The IP protocol number (6, 17, 1, 58 ...).
    public var ipProto: UInt8 = 0
    public var service: String? = nil
    /// Nanoseconds; nil when Zeek would not log a duration (zero length).
    public var durationNanos: Int64? = nil
    public var origBytes: UInt64? = nil
    public var respBytes: UInt64? = nil
    public var connState: String = ""
    public var localOrig: Bool? = nil
    public var localResp: Bool? = nil
    public var missedBytes: UInt64 = 0
    public var history: String? = nil
    public var origPkts: UInt64 = 0
    public var origIPBytes: UInt64 = 0
    public var respPkts: UInt64 = 0
    public var respIPBytes: UInt64 = 0
    public var communityID: String = ""
    public var vlan: UInt16? = nil
    public var app: String = ""
    public var appSource: String = ""
    public var dnsQuery: String? = nil
    public var tlsSNI: String? = nil
    public var tlsVersion: String? = nil
    public var httpHost: String? = nil
    public var httpMethod: String? = nil
    public var httpURI: String? = nil
    public var sshClient: String? = nil
    public var sshServer: String? = nil
    public var quicVersion: String? = nil
    /// The TLS handshake (TCP or QUIC): the version chosen as ssl.log writes it ("TLSv13"),
    /// the cipher suite's name, the ALPN protocol chosen, the versions and ALPN names the
    /// client offered (comma-separated), and the fingerprints.
    public var tlsChosenVersion: String? = nil
    public var tlsCipher: String? = nil
    public var tlsNextProtocol: String? = nil
    public var tlsClientVersions: String? = nil
    public var tlsClientALPN: String? = nil
    public var ja3: String? = nil
    public var ja3s: String? = nil
    public var ja4: String? = nil
    public var origTCPFlags: String? = nil
    public var respTCPFlags: String? = nil
    public var origL2Bytes: UInt64 = 0
    public var respL2Bytes: UInt64 = 0
    public var endReason: String? = nil

    public init() {}

    /// Who each end is (names from passive DNS, country, ASN and its organisation from
    /// GeoIP) and the local process that owns the flow's socket (live capture): see
    /// `Schema.flowEnrichmentColumns`. `processIsOrig`: the process owns the
    /// originator's socket (its bytes sent are the originator's).
    public var origName: String? = nil
    public var respName: String? = nil
    public var origCC: String? = nil
    public var respCC: String? = nil
    public var origASN: UInt32? = nil
    public var respASN: UInt32? = nil
    public var origOrg: String? = nil
    public var respOrg: String? = nil
    public var pid: Int32? = nil
    public var process: String? = nil
    public var user: String? = nil
    public var container: String? = nil
    public var processIsOrig: Bool? = nil
    /// A flow carried in a tunnel (`Schema.flowTunnelColumns`): the tunnel's kind
    /// ("vxlan", "gre" ...), its VNI, key or TEID, and the uids of the flows that carried
    /// it (Zeek's `tunnel_parents`, a set), comma-separated. All nil for other flows.
    public var tunnel: String? = nil
    public var tunnelID: UInt32? = nil
    public var tunnelParents: String? = nil
    /// Both directions' wire bytes: what `min_bytes` and the bytes sort use.
    public var totalBytes: UInt64 { origL2Bytes &+ respL2Bytes }
    public var totalPackets: UInt64 { origPkts &+ respPkts }

    /// The handshake fields in the order of `Schema.flowHandshakeColumns`, so that every
    /// codec writes and reads them in one loop.
    var handshakeColumns: [String?] {
        get { [tlsChosenVersion, tlsCipher, tlsNextProtocol, tlsClientVersions, tlsClientALPN, ja3, ja3s, ja4] }
        set {
            guard newValue.count == 8 else { return }
            (tlsChosenVersion, tlsCipher, tlsNextProtocol, tlsClientVersions) = (newValue[0], newValue[1], newValue[2],
                                                                                 newValue[3])
            (tlsClientALPN, ja3, ja3s, ja4) = (newValue[4], newValue[5], newValue[6], newValue[7])
        }
    }
}

/// What enrichment knew of one address when a flow of it ended: written to `hosts`
/// (and `host_names` when passive DNS or a reverse lookup named it) as an upsert.
public struct HostRow: Sendable, Equatable {
    public var address: IPAddress
    /// The first and last flow time of the address in this capture.
    public var firstTs: Int64
    public var lastTs: Int64
    public var country: String? = nil
    public var asn: UInt32? = nil
    public var org: String? = nil
    /// `AddressCategory`'s name ("public", "private" ...).
    public var category: String
    /// The name passive DNS gave, with its first and last answer; or, when none did,
    /// the one a reverse lookup gave, with the address's flow times (`HostName`).
    public var name: String? = nil
    public var nameFirstSeen: Int64 = 0
    public var nameLastSeen: Int64 = 0
    public var nameSource: HostNameSource = .dns
    /// A local address's MAC ("00:11:22:33:44:55"), from the first packet of one of its
    /// flows, and the vendor the IEEE registry (ieee-data) gives it.
    public var mac: String? = nil
    public var vendor: String? = nil

    public init(address: IPAddress, firstTs: Int64, lastTs: Int64, category: String) {
        self.address = address; self.firstTs = firstTs; self.lastTs = lastTs; self.category = category
    }
}

/// One alert, as `Alert` carries it.
public struct AlertRow: Sendable, Equatable {
    public var id: String = ""
    public var ts: Int64 = 0
    public var severity: String = ""
    public var rule: String = ""
    public var kind: String = ""
    public var message: String = ""
    public var uid: String? = nil
    /// Addresses as text, comma separated in storage.
    public var hosts: [IPAddress] = []
    public var suppressed: UInt64 = 0

    public init() {}
}

/// Packets and bytes of one second for one (transport, app): counted from every
/// matching packet, whatever `--store-packets` keeps, so that the protocol summary and
/// the time series stay exact when packets are sampled or not stored.
///
/// Counts are signed: when a payload decides a flow's app, a pair of rows moves the
/// flow's earlier packets from the port guess to the finding (see
/// `FlowObserver.flowAppChanged`), so sums per app equal the report's.
public struct TrafficRow: Sendable, Equatable, Hashable {
    /// Start of the second, in nanoseconds.
    public var ts: Int64
    public var transport: TransportKind
    public var app: AppProtocol
    public var packets: Int64
    public var bytes: Int64

    public init(ts: Int64, transport: TransportKind, app: AppProtocol, packets: Int64, bytes: Int64) {
        self.ts = ts; self.transport = transport; self.app = app; self.packets = packets; self.bytes = bytes
    }
}

/// A capture run: what was read or listened on, and its counters. Written when the
/// capture starts, updated while it runs (live) and when it ends.
public struct CaptureInfo: Sendable, Equatable {
    public var id: Int64
    public var sensor: String
    /// "file /path/x.pcap" or "interface eth0".
    public var source: String
    /// Wall-clock start and end (nanoseconds); end is nil while running.
    public var start: Int64
    public var end: Int64? = nil
    /// The BPF expression and the report filters, as the user gave them.
    public var filters: String = ""
    /// Times of the first and last packet seen.
    public var firstPacket: Int64? = nil
    public var lastPacket: Int64? = nil
    public var packetsSeen: UInt64 = 0
    public var packetsMatched: UInt64 = 0
    public var bytesSeen: UInt64 = 0
    /// Packet rows handed to storage (after sampling).
    public var packetsStored: UInt64 = 0
    public var flows: UInt64 = 0
    public var alerts: UInt64 = 0
    public var kernelDropped: UInt64 = 0
    public var interfaceDropped: UInt64 = 0
    public var sniffDropped: UInt64 = 0
    /// "packets all", "packets none", "packets sample:10".
    public var storePackets: String = "all"

    public init(id: Int64, sensor: String, source: String, start: Int64) {
        self.id = id; self.sensor = sensor; self.source = source; self.start = start
    }
}

/// Identifies a batch across retries and journal replays: the writer that made it (a
/// random id per run) and its sequence number. Storing a batch records the pair in the
/// same transaction as the rows, so a replayed batch is recognised and skipped.
public struct BatchID: Sendable, Hashable, CustomStringConvertible {
    public var writer: Int64
    public var seq: Int64
    public init(writer: Int64, seq: Int64) { self.writer = writer; self.seq = seq }
    public var description: String { "\(writer).\(seq)" }
}

/// What a batch carries.
public enum BatchContent: Sendable, Equatable {
    /// Insert or update the capture row (idempotent by capture id).
    case capture(CaptureInfo)
    case packets([PacketRow])
    case flows([FlowRow])
    case alerts([AlertRow])
    case traffic([TrafficRow])
    case hosts([HostRow])
    /// Protocol log rows (dns, http, tls), of any kinds.
    case logs([LogRow])

    public var kindName: String {
        switch self {
        case .capture: return "capture"
        case .packets: return "packets"
        case .flows: return "flows"
        case .alerts: return "alerts"
        case .traffic: return "traffic"
        case .hosts: return "hosts"
        case .logs: return "logs"
        }
    }

    /// Rows in the batch (1 for a capture update).
    public var rowCount: Int {
        switch self {
        case .capture: return 1
        case .packets(let r): return r.count
        case .flows(let r): return r.count
        case .alerts(let r): return r.count
        case .traffic(let r): return r.count
        case .hosts(let r): return r.count
        case .logs(let r): return r.count
        }
    }
}

/// The unit of writing: rows of one kind from one capture of one sensor.
public struct StoreBatch: Sendable, Equatable {
    public var id: BatchID
    public var sensor: String
    public var captureID: Int64
    public var content: BatchContent
    /// Wall-clock time the batch was closed (nanoseconds): the start of its write lag.
    public var createdAt: Int64
    /// Packet batches with `--store-raw`: the captured bytes of the rows that have
    /// `.frame`, back to back (each row says where its own are). Empty otherwise.
    public var frames: [UInt8]

    public init(id: BatchID, sensor: String, captureID: Int64, content: BatchContent, createdAt: Int64? = nil,
                frames: [UInt8] = []) {
        self.id = id; self.sensor = sensor; self.captureID = captureID; self.content = content
        self.createdAt = createdAt ?? Timestamp.now().totalNanoseconds
        self.frames = frames
    }

    /// What the batch counts for in the writer's memory bound (`--store-memory`, in
    /// rows): its rows, plus its kept bytes at one row per 512 bytes (about what a
    /// stored row takes).
    public var memoryWeight: Int { content.rowCount + frames.count / 512 }

    /// True when `row`'s frame range lies inside `frames` (a decoded journal is checked
    /// with this before any byte is read).
    func frameInBounds(_ row: PacketRow) -> Bool {
        !row.has(.frame) || UInt64(row.frameOffset) + UInt64(row.frameLength) <= UInt64(frames.count)
    }

    /// Packet rows in the batch (0 for other kinds): what "stored" and "pending" count.
    public var packetCount: Int {
        if case .packets(let r) = content { return r.count }
        return 0
    }

    /// First and last row time, for the batches table and the write-lag figure.
    public var timeRange: (Int64, Int64)? {
        func range<S: Sequence>(_ s: S) -> (Int64, Int64)? where S.Element == Int64 {
            var lo = Int64.max, hi = Int64.min
            for t in s { lo = min(lo, t); hi = max(hi, t) }
            return lo <= hi ? (lo, hi) : nil
        }
        switch content {
        case .capture(let c): return c.lastPacket.map { (c.firstPacket ?? $0, $0) }
        case .packets(let r): return range(r.lazy.map(\.ts))
        case .flows(let r): return range(r.lazy.map(\.ts))
        case .alerts(let r): return range(r.lazy.map(\.ts))
        case .traffic(let r): return range(r.lazy.map(\.ts))
        case .hosts(let r): return range(r.lazy.map(\.lastTs))
        case .logs(let r): return range(r.lazy.map(\.ts))
        }
    }
}
