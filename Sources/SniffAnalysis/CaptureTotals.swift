import SniffCore
import SniffDecode

/// Counters over the whole capture, for the report's totals and the exit summary.
public struct CaptureTotals: Sendable, Equatable {
    public var packetsSeen: UInt64 = 0
    public var packetsMatched: UInt64 = 0
    public var bytesSeen: UInt64 = 0
    public var bytesMatched: UInt64 = 0
    public var undecoded: UInt64 = 0
    public var malformed: UInt64 = 0
    public var truncated: UInt64 = 0
    /// Matching packets per TransportKind raw value.
    public var perTransport: [UInt64] = Array(repeating: 0, count: TransportKind.allCases.count)
    public var firstTimestamp: Timestamp? = nil
    public var lastTimestamp: Timestamp? = nil
    /// Live capture only: what the kernel dropped, and what Sniff itself dropped.
    public var kernelDropped: UInt64 = 0
    public var interfaceDropped: UInt64 = 0
    public var sniffDropped: UInt64 = 0
    /// Packets seen while paused (counted, not analysed).
    public var skippedWhilePaused: UInt64 = 0
    /// IP fragment reassembly (all zero when it is off or there were no fragments).
    public var reassembly = IPReassembler.Counters()

    public init() {}

    @inlinable
    public mutating func recordSeen(_ p: DecodedPacket) {
        packetsSeen &+= 1
        bytesSeen &+= UInt64(p.wireLength)
        if firstTimestamp == nil { firstTimestamp = p.timestamp }
        lastTimestamp = p.timestamp
    }

    @inlinable
    public mutating func recordMatched(_ p: DecodedPacket) {
        packetsMatched &+= 1
        bytesMatched &+= UInt64(p.wireLength)
        perTransport[Int(p.transport.rawValue)] &+= 1
        if p.undecoded { undecoded &+= 1 }
        if p.malformed != nil { malformed &+= 1 }
        if p.truncated { truncated &+= 1 }
    }
}
