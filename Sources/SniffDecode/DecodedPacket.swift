import SniffCore

/// The transport-level classification reported as NDJSON `transport`.
public enum TransportKind: UInt8, Sendable, CaseIterable {
    case none = 0, tcp, udp, icmp, icmpv6, arp, gre, other

    /// The NDJSON spelling; nil for frames without an IP or ARP layer.
    public var name: StaticString? {
        switch self {
        case .none: return nil
        case .tcp: return "TCP"
        case .udp: return "UDP"
        case .icmp: return "ICMP"
        case .icmpv6: return "ICMPv6"
        case .arp: return "ARP"
        case .gre: return "GRE"
        case .other: return "OTHER"
        }
    }

    public var label: String { name.map { "\($0)" } ?? "none" }

    /// The transport of an IP protocol number (a flow's or a stored row's): ARP and
    /// non-IP frames have no protocol number, so never come from here.
    public init(ipProto: UInt8) {
        switch ipProto {
        case 6: self = .tcp
        case 17: self = .udp
        case 1: self = .icmp
        case 58: self = .icmpv6
        case 47: self = .gre
        default: self = .other
        }
    }

    /// Parses a user's `--transport` / `transport=` value, case-insensitively: a name of
    /// `userNames`, or icmp6 for ICMPv6.
    public init?(userValue: String) {
        let v = userValue.lowercased()
        if v == "icmp6" { self = .icmpv6; return }
        guard let k = Self.allCases.first(where: { $0 != .none && $0.label.lowercased() == v }) else { return nil }
        self = k
    }

    /// What a user may write for a transport (the CLI, the API and the feed's filter
    /// take these and list them in their messages).
    public static let userNames: [String] = allCases.filter { $0 != .none }.map { $0.label.lowercased() }
}

/// The encapsulation a packet carries another packet in; its `name` is what flows,
/// the store and the API call it.
public enum TunnelKind: UInt8, Sendable, CaseIterable {
    /// `ipip`: IPv4 in IP (protocol 4); `6in4`: IPv6 in IP (protocol 41, Linux's sit).
    case none = 0, vxlan, geneve, gre, ipip, ip6in4, pim, gtpu

    public var name: StaticString {
        switch self {
        case .none: return "none"
        case .vxlan: return "vxlan"
        case .geneve: return "geneve"
        case .gre: return "gre"
        case .ipip: return "ipip"
        case .ip6in4: return "6in4"
        case .pim: return "pim"
        case .gtpu: return "gtpu"
        }
    }

    public var label: String { "\(name)" }

    public init?(name: String) {
        guard let k = TunnelKind.allCases.first(where: { $0 != .none && $0.label == name.lowercased() }) else {
            return nil
        }
        self = k
    }
}

/// Up to eight 802.1Q/802.1ad tags, stored inline.
public struct VLANStack: Sendable, Equatable {
    public private(set) var count: Int = 0
    private var ids: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var tpids: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16, UInt16) = (0, 0, 0, 0, 0, 0, 0, 0)
    public static let capacity = 8

    public init() {}

    public static func == (a: VLANStack, b: VLANStack) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i] != b[i] || a.tpid(i) != b.tpid(i) { return false }
        return true
    }

    /// Appends a tag; returns false once the stack is full.
    @discardableResult
    public mutating func append(id: UInt16, tpid: UInt16) -> Bool {
        guard count < VLANStack.capacity else { return false }
        withUnsafeMutableBytes(of: &ids) { $0.storeBytes(of: id, toByteOffset: count * 2, as: UInt16.self) }
        withUnsafeMutableBytes(of: &tpids) { $0.storeBytes(of: tpid, toByteOffset: count * 2, as: UInt16.self) }
        count += 1
        return true
    }

    public subscript(i: Int) -> UInt16 {
        withUnsafeBytes(of: ids) { $0.load(fromByteOffset: i * 2, as: UInt16.self) }
    }

    public func tpid(_ i: Int) -> UInt16 {
        withUnsafeBytes(of: tpids) { $0.load(fromByteOffset: i * 2, as: UInt16.self) }
    }

    /// The outermost 802.1Q (TPID 0x8100) id; with only 802.1ad tags, the outermost tag.
    public var primary: UInt16? {
        guard count > 0 else { return nil }
        for i in 0..<count where tpid(i) == 0x8100 { return self[i] }
        return self[0]
    }
}

/// The 5-tuple carried inside a tunnel (GRE, IP-in-IP, VXLAN, GENEVE, GTP-U, PIM) or quoted by an
/// ICMP error.
public struct InnerTuple: Sendable, Equatable {
    public var src: IPAddress
    public var dst: IPAddress
    public var proto: UInt8
    public var sport: UInt16
    public var dport: UInt16
    public var hasPorts: Bool

    public init(
        src: IPAddress, dst: IPAddress, proto: UInt8, sport: UInt16 = 0, dport: UInt16 = 0, hasPorts: Bool = false
    ) {
        self.src = src; self.dst = dst; self.proto = proto
        self.sport = sport; self.dport = dport; self.hasPorts = hasPorts
    }
}

/// What a DNS decoder found, as offsets into the frame so that names are rendered only
/// when someone asks for them (no String per packet).
public struct DNSSummary: Sendable, Equatable {
    public var id: UInt16 = 0
    public var flags: UInt16 = 0
    /// Offset of the DNS header within the frame, and the message length available.
    public var messageOffset: Int = 0
    public var messageLength: Int = 0
    /// Offset of the first question's name relative to the message, or -1.
    public var questionOffset: Int = -1
    public var qtype: UInt16 = 0
    public var questionCount: UInt16 = 0
    public var answerCount: UInt16 = 0
    /// Offset of the answer section relative to the message, or -1 if not reachable.
    public var answersOffset: Int = -1

    public init() {}
    public var isResponse: Bool { flags & 0x8000 != 0 }
    public var rcode: UInt8 { UInt8(flags & 0x000F) }
    public var hasQuestion: Bool { questionOffset >= 0 }
}

/// Where a fragment's pieces lie in its frame, for reassembly (`IPReassembler`); set
/// by the decoder on every IPv4 and IPv6 fragment. Offsets are into the frame.
public struct FragmentInfo: Sendable, Equatable {
    /// IPv4 identification (16 bits) or IPv6 Fragment header identification.
    public var id: UInt32 = 0
    /// Offset of this fragment's data within the datagram's fragmentable part, in bytes.
    public var offset: UInt16 = 0
    /// The More Fragments flag.
    public var more = false
    /// The protocol of the fragmentable part: IPv4's protocol, or the Fragment header's
    /// next header (which may be a further extension header).
    public var nextHeader: UInt8 = 0
    /// Where the IP header starts.
    public var ipOffset: Int32 = 0
    /// Where the fragment's data starts (after the IPv4 header, or after the IPv6
    /// Fragment header), and how long the header says it is.
    public var dataOffset: Int32 = 0
    public var dataLength: Int32 = 0
    /// IPv6: where the next-header byte that names the Fragment header (44) is.
    public var nextHeaderField: Int32 = -1

    public init() {}

    /// An IPv6 fragment with offset 0 and no more fragments (RFC 6946): a whole datagram.
    @inlinable public var isAtomic: Bool { offset == 0 && !more }
}

/// TCP header fields worth keeping (raw, not relative or scaled).
public struct TCPSummary: Sendable, Equatable {
    public var seq: UInt32 = 0
    public var ack: UInt32 = 0
    /// The low 9 bits of the flags field: FIN SYN RST PSH ACK URG ECE CWR AE.
    public var flags: UInt16 = 0
    public var window: UInt16 = 0
    public var headerLength: UInt8 = 0
    public var mss: UInt16 = 0
    public var windowScale: UInt8 = 0xFF
    public var sackPermitted = false
    public var sackBlocks: UInt8 = 0
    public var hasTimestamps = false
    public var tsVal: UInt32 = 0
    public var tsEcr: UInt32 = 0
    public init() {}
}

/// One decoded frame: flat metadata fields, no references, reused across packets.
///
/// Absent fields are marked by flags or sentinel values rather than optionals of
/// classes, so that decoding into a reused value never allocates.
public struct DecodedPacket: Sendable {
    // Frame
    public var number: UInt64 = 0
    public var timestamp = Timestamp.zero
    public var wireLength: UInt32 = 0
    public var capturedLength: UInt32 = 0
    public var interfaceID: UInt32 = 0
    public var link = LinkType.ethernet

    // Link layer
    public var hasEthernet = false
    public var ethSrc = MACAddress(0)
    public var ethDst = MACAddress(0)
    public var hasEthSrc = false
    public var vlans = VLANStack()
    /// The innermost ethertype (after tags and SNAP); 0 when none.
    public var ethertype: UInt16 = 0
    public var arpOp: UInt16 = 0
    public var isARP = false

    // Network layer
    /// 0 when there is no IP header, else 4 or 6.
    public var ipVersion: UInt8 = 0
    public var src = IPAddress.none
    public var dst = IPAddress.none
    public var ttl: UInt8 = 0
    /// The upper-layer protocol number after any IPv6 extension headers.
    public var ipProto: UInt8 = 0
    public var isFragment = false
    /// Where the fragment's pieces are; meaningful when `isFragment`.
    public var fragment = FragmentInfo()
    /// On the frame that completed a reassembled datagram: how many frames it took and
    /// the datagram's IP payload length (tshark's `ip.reassembled.length`); 0 otherwise.
    /// The transport fields of that frame are then the whole datagram's.
    /// A fragment kept for reassembly: its datagram is accounted (in flows, as one
    /// packet) on the frame that completes it, so this frame belongs to no flow.
    public var heldFragment = false
    public var reassembledFrames: UInt16 = 0
    public var reassembledLength: UInt32 = 0
    /// IP header length (IPv4 ihl*4, or IPv6 40 + extension headers) and IP total length.
    public var ipHeaderLength: UInt16 = 0
    public var ipTotalLength: UInt32 = 0
    public var transport = TransportKind.none

    // Transport layer
    public var hasPorts = false
    public var sport: UInt16 = 0
    public var dport: UInt16 = 0
    public var hasTCP = false
    public var tcp = TCPSummary()
    public var hasPayloadLength = false
    /// Transport payload length as the headers state it (not limited to captured bytes).
    public var payloadLength: UInt32 = 0
    /// Where the captured transport payload starts in the frame, and how much of it
    /// was captured; payload inspection (DNS, TLS, HTTP) reads from here.
    public var payloadOffset: Int = 0
    public var payloadCaptured: Int = 0
    public var hasICMP = false
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0
    /// Where the ICMP or ICMPv6 header, and the ARP body, start in the frame (-1 when
    /// none): the Info line reads echo ids and ARP addresses there.
    public var icmpOffset: Int = -1
    public var arpOffset: Int = -1

    // Application
    /// The decoder's port guess; once the flow table has seen the packet, its flow's
    /// current app (see `appSource`).
    public var app = AppProtocol.unknown
    /// `.payload` when `app` is its flow's payload finding.
    public var appSource = AppSource.port
    public var hasDNS = false
    public var dns = DNSSummary()

    // Tunnels and ICMP quotes
    public var hasInner = false
    public var inner = InnerTuple(src: .none, dst: .none, proto: 0)
    /// The tunnel this packet carries a packet in (none for ICMP quotes), where the
    /// carried packet starts in the frame, whether it starts with an Ethernet header
    /// (else IP), and the tunnel's id when it has one: VXLAN's and GENEVE's VNI, GRE's
    /// key, GTP-U's TEID. Only the outermost tunnel; the carried packet, decoded on
    /// its own, names the next.
    public var tunnel = TunnelKind.none
    public var tunnelOffset: Int32 = -1
    public var tunnelCarriesEthernet = false
    public var hasTunnelID = false
    public var tunnelID: UInt32 = 0

    // Health
    public var truncated = false
    public var malformed: Malformation? = nil
    /// True when the link type is not one Sniff decodes.
    public var undecoded = false

    public init() {}

    /// Clears everything decoded from bytes, keeping nothing from the previous packet.
    @inlinable
    public mutating func reset() { self = DecodedPacket() }

    /// Records the outermost tunnel and the innermost 5-tuple found through it.
    @inlinable
    public mutating func setTunnel(_ kind: TunnelKind, inner t: InnerTuple, at offset: Int, ethernet: Bool = false,
                                   id: UInt32? = nil) {
        hasInner = true
        inner = t
        tunnel = kind
        tunnelOffset = Int32(truncatingIfNeeded: offset)
        tunnelCarriesEthernet = ethernet
        if let id { hasTunnelID = true; tunnelID = id }
    }

    /// Records the first malformation only: later ones are usually consequences.
    @inlinable
    public mutating func markMalformed(_ m: Malformation) {
        if malformed == nil { malformed = m }
    }

    /// Marks a header cut short. When the capture's snaplen explains it, the packet is
    /// only truncated; when the whole frame was captured, the packet is also malformed.
    @inlinable
    public mutating func markShort(_ layer: Malformation.Layer, have: Int, need: Int) {
        truncated = true
        if capturedLength >= wireLength {
            markMalformed(Malformation(.short, layer, UInt32(clamping: have), UInt32(clamping: need)))
        }
    }
}
