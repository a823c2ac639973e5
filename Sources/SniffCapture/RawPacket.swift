import SniffCore

/// One captured frame as read from a file or a live handle. `bytes` is borrowed: it is
/// valid only until the next call to the source that produced it.
public struct RawPacket {
    public var bytes: UnsafeRawBufferPointer
    public var timestamp: Timestamp
    public var wireLength: UInt32
    public var interfaceID: UInt32
    public var link: LinkType

    @inlinable
    public init(
        bytes: UnsafeRawBufferPointer, timestamp: Timestamp, wireLength: UInt32, interfaceID: UInt32, link: LinkType
    ) {
        self.bytes = bytes
        self.timestamp = timestamp
        self.wireLength = wireLength
        self.interfaceID = interfaceID
        self.link = link
    }

    @inlinable public var capturedLength: UInt32 { UInt32(bytes.count) }
}

/// One interface of a capture: its link type and snaplen (pcapng IDB or pcap header).
public struct CaptureInterface: Sendable, Equatable {
    public var link: LinkType
    public var snaplen: UInt32
    public var name: String?
    /// Units per second of the timestamps (pcapng if_tsresol; pcap: 10^6 or 10^9).
    public var unitsPerSecond: UInt64
    /// Seconds added to every timestamp (pcapng if_tsoffset).
    public var offsetSeconds: Int64

    public init(
        link: LinkType, snaplen: UInt32, name: String? = nil, unitsPerSecond: UInt64 = 1_000_000,
        offsetSeconds: Int64 = 0
    ) {
        self.link = link
        self.snaplen = snaplen
        self.name = name
        self.unitsPerSecond = unitsPerSecond
        self.offsetSeconds = offsetSeconds
    }

    /// Converts a 64-bit tick count to a timestamp exactly (to the nanosecond), without
    /// overflow for any resolution.
    @inlinable
    public func timestamp(ticks: UInt64) -> Timestamp {
        let ups = unitsPerSecond
        let secs = ticks / ups
        let rem = ticks % ups
        let ns: UInt64
        if ups == 1_000_000_000 {
            ns = rem
        } else if ups == 1_000_000 {
            ns = rem &* 1000
        } else {
            let wide = rem.multipliedFullWidth(by: 1_000_000_000)
            ns = ups.dividingFullWidth((high: wide.high, low: wide.low)).quotient
        }
        let s = Int64(clamping: secs).addingReportingOverflow(offsetSeconds)
        return Timestamp(seconds: s.overflow ? .max : s.partialValue, nanoseconds: UInt32(truncatingIfNeeded: ns))
    }
}
