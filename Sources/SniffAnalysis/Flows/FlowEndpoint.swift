/// One direction of a flow: counters for everything, and Zeek's TCP endpoint state for
/// TCP. 64 bytes.
public struct FlowEndpoint: Sendable, Equatable {
    /// IP-level bytes (the IP total length), as Zeek's `*_ip_bytes`.
    public var ipBytes: UInt64 = 0
    /// Frame bytes on the wire, as tshark's conversation table counts them.
    public var wireBytes: UInt64 = 0
    public var packets: UInt32 = 0
    /// The OR of the TCP flags this endpoint sent (FIN SYN RST PSH ACK URG ECE CWR AE).
    public var tcpFlags: UInt16 = 0
    public var state: TCPEndpointState = .inactive
    public var previousState: TCPEndpointState = .inactive

    // TCP sequence space, as in Zeek's TCP_Endpoint. For UDP and ICMP, `startSeq` and
    // `lastSeq` hold the payload byte count instead (see `datagramBytes`).
    @usableFromInline var startSeq: UInt32 = 0
    @usableFromInline var lastSeq: UInt32 = 0
    @usableFromInline var ackSeq: UInt32 = 0
    @usableFromInline var seqWraps: UInt16 = 0
    @usableFromInline var ackWraps: UInt16 = 0
    @usableFromInline var lastSYN: UInt32 = 0
    @usableFromInline var lastFIN: UInt32 = 0
    @usableFromInline var lastRST: UInt32 = 0
    @usableFromInline var retransmits: UInt32 = 0
    @usableFromInline var zeroWindows: UInt32 = 0
    /// log10 of the next threshold at which 't' / 'w' is added again (1, 10, 100 ...).
    @usableFromInline var retransmitExponent: UInt8 = 0
    @usableFromInline var zeroWindowExponent: UInt8 = 0
    @usableFromInline var finCount: UInt8 = 0
    /// Zeek's `did_close`: this endpoint's close was reported.
    public var didClose: Bool = false

    public init() {}

    /// Payload bytes of a UDP or ICMP endpoint (shares storage with the TCP sequence
    /// numbers, which those transports do not use).
    @inlinable
    public var datagramBytes: UInt64 {
        get { UInt64(startSeq) << 32 | UInt64(lastSeq) }
        set { startSeq = UInt32(truncatingIfNeeded: newValue >> 32); lastSeq = UInt32(truncatingIfNeeded: newValue) }
    }

    @inlinable
    mutating func setState(_ s: TCPEndpointState) {
        if s != state { previousState = state; state = s }
    }

    @inlinable
    static func fullSeq(_ seq: UInt32, _ wraps: UInt16) -> UInt64 { UInt64(wraps) << 32 | UInt64(seq) }

    @inlinable
    var noDataAcked: Bool {
        let ack = FlowEndpoint.fullSeq(ackSeq, ackWraps)
        let start = UInt64(startSeq)
        return ack == start || ack == start &+ 1
    }

    /// Payload bytes from the sequence numbers, as Zeek's `TCP_Endpoint::Size()`.
    func tcpSize(peerState: TCPEndpointState) -> UInt64 {
        if previousState == .synSent && state == .reset && peerState == .inactive && !noDataAcked { return 0 }
        let last = FlowEndpoint.fullSeq(lastSeq, seqWraps)
        let ack = FlowEndpoint.fullSeq(ackSeq, ackWraps)
        let top = last > ack ? last : ack
        let start = UInt64(startSeq)
        // A sequence number below the start (bad or out-of-order initial values) would
        // be a huge unsigned size; report nothing instead.
        guard top >= start else { return 0 }
        var size = top - start
        if size != 0 { size -= 1 }                  // the SYN octet
        if finCount > 0 && size != 0 { size -= 1 }  // the FIN octet
        return size
    }

    @inlinable
    mutating func updateLastSeq(_ seq: UInt32) {
        if seq < lastSeq { seqWraps &+= 1 }
        lastSeq = seq
    }

    @inlinable
    mutating func updateAckSeq(_ seq: UInt32) {
        if seq < ackSeq { ackWraps &+= 1 }
        ackSeq = seq
    }

    @inlinable
    mutating func initSequence(start: UInt32, ack: UInt32, last: UInt32) {
        startSeq = start; ackSeq = ack; lastSeq = last
        seqWraps = 0; ackWraps = 0
    }
}
