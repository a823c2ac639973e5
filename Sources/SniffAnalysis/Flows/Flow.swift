import SniffCore
import SniffDecode

/// The TCP header fields the state machine needs from one segment.
public struct TCPSegment: Sendable, Equatable {
    public var flags: UInt16
    public var seq: UInt32
    public var ack: UInt32
    public var window: UInt16
    /// Payload length as the headers state it.
    public var payloadLength: Int

    public init(flags: UInt16, seq: UInt32 = 0, ack: UInt32 = 0, window: UInt16 = 1024, payloadLength: Int = 0) {
        self.flags = flags; self.seq = seq; self.ack = ack; self.window = window; self.payloadLength = payloadLength
    }
}

/// One flow record in Zeek's model: a pure value updated by `packet(...)`, with the time
/// passed in, so that tests drive it without a clock. 232 bytes (see docs/FLOWS.md).
public struct Flow: Sendable {
    /// The canonical key; `origIsA` says which side is the originator.
    public var key: FlowKey
    /// First and last packet times in nanoseconds since the epoch. For TCP `last` stops
    /// moving once both sides have closed, as Zeek's duration does.
    public var startNanos: Int64
    public var lastNanos: Int64
    public var orig = FlowEndpoint()
    public var resp = FlowEndpoint()
    public var history = FlowHistory()
    /// Zeek's `hist_seen`: once-per-direction letters already recorded (orig low byte).
    @usableFromInline var historySeen: UInt16 = 0
    public var app: AppProtocol
    @usableFromInline var bits: UInt8 = 0
    /// Payload-carrying packets inspected so far.
    @usableFromInline var inspected: UInt8 = 0
    // Table bookkeeping: the idle list this flow is on, and its neighbours there.
    @usableFromInline var timeoutClass: UInt8 = 0
    @usableFromInline var lruPrev: Int32 = -1
    @usableFromInline var lruNext: Int32 = -1
    var detailsBox: FlowDetailsBox?
    /// Zeek's `missed_bytes`: TCP bytes in content gaps (see `TCPGaps`).
    public internal(set) var missedBytes: UInt64 = 0

    @usableFromInline static let origIsABit: UInt8 = 1
    @usableFromInline static let payloadAppBit: UInt8 = 2
    @usableFromInline static let flippedBit: UInt8 = 4
    // TCP reassembly (FlowTable): a direction's stream is buffered; a direction's
    // parsers have what they need (or it could not be buffered); the flow has holes.
    static let origStreamBit: UInt8 = 8
    static let respStreamBit: UInt8 = 16
    static let origStreamDoneBit: UInt8 = 32
    static let respStreamDoneBit: UInt8 = 64
    static let holesBit: UInt8 = 128

    /// A new flow whose first packet came at `nanos`; the originator is endpoint A when
    /// `origIsA`. `app` is the port guess.
    public init(key: FlowKey, origIsA: Bool, nanos: Int64, app: AppProtocol = .unknown) {
        self.key = key
        startNanos = nanos
        lastNanos = nanos
        self.app = app
        if origIsA { bits |= Flow.origIsABit }
    }

    // MARK: identity

    @inlinable public var origIsA: Bool { bits & Flow.origIsABit != 0 }
    /// True when Sniff swapped the roles (a SYN-ACK first, or a server port as source).
    @inlinable public var flipped: Bool { bits & Flow.flippedBit != 0 }
    @inlinable public var origAddress: IPAddress { origIsA ? key.a : key.b }
    @inlinable public var respAddress: IPAddress { origIsA ? key.b : key.a }
    @inlinable public var origPort: UInt16 { origIsA ? key.portA : key.portB }
    @inlinable public var respPort: UInt16 { origIsA ? key.portB : key.portA }
    @inlinable public var proto: UInt8 { key.proto }
    @inlinable public var isTCP: Bool { key.proto == 6 }
    @inlinable public var isUDP: Bool { key.proto == 17 }
    @inlinable public var isICMP: Bool { IPProtocol(rawValue: key.proto).isICMP }

    public var start: Timestamp { Timestamp(totalNanoseconds: startNanos) }
    public var last: Timestamp { Timestamp(totalNanoseconds: lastNanos) }
    public var durationNanos: Int64 { lastNanos &- startNanos }

    /// Zeek's `proto`: tcp, udp, icmp (also for ICMPv6) or unknown_transport.
    public var transportName: StaticString {
        switch key.proto {
        case 6: return "tcp"
        case 17: return "udp"
        case 1, 58: return "icmp"
        default: return "unknown_transport"
        }
    }

    /// The transport classification used by the protocol summary.
    public var transport: TransportKind { TransportKind(ipProto: key.proto) }

    // MARK: application

    @inlinable public var appSource: AppSource { bits & Flow.payloadAppBit != 0 ? .payload : .port }

    /// The application details learned from payloads (empty when none).
    public var details: FlowDetails { detailsBox?.value ?? FlowDetails() }

    /// Zeek's `service`, set only when a payload confirmed the protocol.
    public var service: StaticString? {
        guard appSource == .payload else { return nil }
        switch app {
        case .dns, .mdns, .llmnr: return "dns"
        case .http, .prometheus, .elasticsearch: return "http"
        case .tls, .ldaps, .ftps, .dot, .smtps, .imaps, .pop3s: return "ssl"
        case .ssh: return "ssh"
        case .quic: return "quic"
        // Zeek's analyzer names where Zeek has one, else the protocol's own.
        case .smtp, .submission: return "smtp"
        case .ftp: return "ftp"
        case .imap: return "imap"
        case .pop: return "pop3"
        case .telnet: return "telnet"
        case .dhcp: return "dhcp"
        case .ntp: return "ntp"
        case .snmp: return "snmp"
        case .syslog: return "syslog"
        case .ldap: return "ldap"
        case .sip: return "sip"
        case .rtsp: return "rtsp"
        case .radius: return "radius"
        case .mysql: return "mysql"
        case .postgresql: return "postgresql"
        case .redis: return "redis"
        case .mqtt: return "mqtt"
        case .socks: return "socks"
        case .stun: return "stun"
        case .bgp: return "bgp"
        case .netbios: return "netbios"
        case .tftp: return "tftp"
        case .isakmp, .ipsecNAT: return "ike"
        case .openvpn: return "openvpn"
        case .memcached: return "memcached"
        case .coap: return "coap"
        case .babel: return "babel"
        case .pptp: return "pptp"
        case .ssdp: return "ssdp"
        case .dhcpv6: return "dhcpv6"
        case .vxlan: return "vxlan"
        case .kerberos: return "krb"
        case .irc: return "irc"
        case .xmpp: return "xmpp"
        case .bittorrent: return "bittorrent"
        default: return nil
        }
    }

    /// Records what a payload showed; the first result wins over the port guess and is
    /// not replaced by later ones. A port name more precise than the finding (IMAPS for
    /// TLS, mDNS for DNS) is kept.
    public mutating func setPayloadApp(_ app: AppProtocol) {
        guard appSource == .port else { return }
        self.app = AppProtocol.payloadName(app, portGuess: self.app)
        bits |= Flow.payloadAppBit
    }

    /// Changes the details. A box that no copy of this flow shares (an observer that
    /// kept one) is changed where it lies; otherwise the change goes into a new box, so
    /// that the copies keep what they saw. Copying the details out, comparing them and
    /// boxing them again for every finding was 3% of a read of short flows in
    /// reference counting and destroying the copies.
    public mutating func updateDetails(_ body: (inout FlowDetails) -> Void) {
        guard detailsBox != nil else {
            var d = FlowDetails()
            body(&d)
            // Moved into the box, not copied (a flow's first finding is a copy per flow).
            if d != FlowDetails() { detailsBox = FlowDetailsBox(consume d) }
            return
        }
        if isKnownUniquelyReferenced(&detailsBox) {
            body(&detailsBox.unsafelyUnwrapped.value)
            return
        }
        var d = details
        body(&d)
        if d != details { detailsBox = FlowDetailsBox(d) }
    }

    // MARK: sizes and state

    /// Zeek's `orig_bytes`: from sequence numbers for TCP, payload sums otherwise.
    public var origBytes: UInt64 { isTCP ? orig.tcpSize(peerState: resp.state) : orig.datagramBytes }
    public var respBytes: UInt64 { isTCP ? resp.tcpSize(peerState: orig.state) : resp.datagramBytes }

    /// Zeek's `conn_state` function, over the endpoint states.
    public var connState: ConnState {
        if isTCP {
            let os = orig.state, rs = resp.state
            if rs == .reset {
                if os == .synSent || os == .synAckSent || (os == .reset && origBytes == 0 && respBytes == 0) {
                    return .rej
                }
                return os.isInactiveOrPartial ? .rstrh : .rstr
            }
            if os == .reset {
                if rs.isInactiveOrPartial { return history.matchesRSTOS0 ? .rstos0 : .oth }
                return .rsto
            }
            if rs == .closed && os == .closed { return .sf }
            if os == .closed { return rs.isInactiveOrPartial ? .sh : .s2 }
            if rs == .closed { return os.isInactiveOrPartial ? .shr : .s3 }
            if os == .synSent && rs == .inactive { return .s0 }
            if os == .established && rs == .established { return .s1 }
            return .oth
        }
        if isUDP {
            if orig.packets > 0 { return resp.packets > 0 ? .sf : .s0 }
            return resp.packets > 0 ? .shr : .oth
        }
        return .oth
    }

    /// Swaps originator and responder and records '^' as Zeek's FlipRoles does (earlier
    /// letters keep their case, as in Zeek).
    public mutating func flipRoles() {
        swap(&orig, &resp)
        bits ^= Flow.origIsABit
        bits |= Flow.flippedBit
        history.append(UInt8(ascii: "^"))
    }

    /// Marks a new flow whose roles were decided against its first packet's direction
    /// (Zeek's '^').
    public mutating func markFlipped() {
        bits |= Flow.flippedBit
        history.append(UInt8(ascii: "^"))
    }

    // MARK: packets

    /// Accounts one packet. `isOrig` says which side sent it; `nanos` is its time.
    /// `tcp` is nil for other transports and for TCP headers cut short by the capture,
    /// which are counted but do not move the state machine.
    public mutating func packet(isOrig: Bool, nanos: Int64, ipBytes: UInt32, wireBytes: UInt32,
                                payloadLength: UInt32, tcp: TCPSegment?) {
        if isOrig {
            orig.packets &+= 1; orig.ipBytes &+= UInt64(ipBytes); orig.wireBytes &+= UInt64(wireBytes)
        } else {
            resp.packets &+= 1; resp.ipBytes &+= UInt64(ipBytes); resp.wireBytes &+= UInt64(wireBytes)
        }
        if isTCP {
            guard let tcp else {
                if !(orig.didClose && resp.didClose) && nanos > lastNanos { lastNanos = nanos }
                return
            }
            if isOrig { orig.tcpFlags |= tcp.flags } else { resp.tcpFlags |= tcp.flags }
            tcpPacket(isOrig: isOrig, nanos: nanos, segment: tcp)
            return
        }
        if nanos > lastNanos { lastNanos = nanos }
        if isOrig { orig.datagramBytes &+= UInt64(payloadLength) } else { resp.datagramBytes &+= UInt64(payloadLength) }
        if isUDP {
            // Zeek's UDP analyzer: 'D' once per direction.
            checkHistory(isOrig: isOrig, mask: HistoryMask.data, letter: UInt8(ascii: "D"))
        }
    }

    /// Adds `letter` the first time `mask` is seen from this side; returns true when it
    /// had been seen before (Zeek's `CheckHistory`).
    @inlinable
    @discardableResult
    mutating func checkHistory(isOrig: Bool, mask: UInt16, letter: UInt8) -> Bool {
        Flow.checkHistory(&history, &historySeen, isOrig: isOrig, mask: mask, letter: letter)
    }

    /// The same on a history and its seen bits passed apart from their flow, as the TCP
    /// state machine holds them while it also changes both endpoints.
    @inlinable
    @discardableResult
    static func checkHistory(_ history: inout FlowHistory, _ seen: inout UInt16, isOrig: Bool, mask: UInt16,
                             letter: UInt8) -> Bool {
        let m = isOrig ? mask : mask << 8
        if seen & m == 0 {
            seen |= m
            history.append(letter, originator: isOrig)
            return false
        }
        return true
    }
}

/// Bits of `Flow.historySeen` for the once-per-direction letters.
@usableFromInline
enum HistoryMask {
    @usableFromInline static let syn: UInt16 = 0x01
    @usableFromInline static let fin: UInt16 = 0x02
    @usableFromInline static let rst: UInt16 = 0x04
    @usableFromInline static let finRst: UInt16 = 0x08
    @usableFromInline static let data: UInt16 = 0x10
    @usableFromInline static let ack: UInt16 = 0x20
    @usableFromInline static let multi: UInt16 = 0x40
}
