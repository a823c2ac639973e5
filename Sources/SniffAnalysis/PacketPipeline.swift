import SniffCore
import SniffDecode
import SniffCapture

/// Something that wants every matching packet after decoding (flows, storage, live
/// feeds). Called on the analysis thread, in order; must not block.
public protocol PacketConsumer: AnyObject {
    func consume(_ packet: DecodedPacket, frame: UnsafeRawBufferPointer)
}

/// The per-packet path shared by file reading and live capture: BPF, decode, counters,
/// the report's filters, the address:port table, then the consumers.
///
/// One instance is owned by one thread; nothing in here locks.
public final class PacketPipeline {
    public let filter: PacketFilter
    public let bpf: BPFFilter?
    public private(set) var totals = CaptureTotals()
    public let endpoints = EndpointTable()
    /// Whether packets update `endpoints`. Only the report reads that table; a run that
    /// prints no report (`-q` without `--report`) turns this off, since on captures with
    /// millions of address:port pairs the table's growth is the largest cost of a read.
    public var tracksEndpoints = true
    /// The packet just decoded; valid until the next call to `process`.
    public private(set) var packet = DecodedPacket()
    public var consumers: [PacketConsumer] = []
    private var frameNumber: UInt64 = 0

    public init(filter: PacketFilter = PacketFilter(), bpf: BPFFilter? = nil) {
        self.filter = filter
        self.bpf = bpf
    }

    /// Decodes and accounts one frame; returns true when it passed every filter.
    @inline(__always)
    @discardableResult
    public func process(_ raw: RawPacket) -> Bool {
        frameNumber &+= 1
        packet.reset()
        packet.number = frameNumber
        packet.timestamp = raw.timestamp
        packet.wireLength = raw.wireLength
        packet.capturedLength = UInt32(raw.bytes.count)
        packet.interfaceID = raw.interfaceID
        packet.link = raw.link
        if let bpf, !bpf.matches(raw) {
            totals.recordSeen(packet)
            return false
        }
        PacketDecoder.decode(raw.bytes, link: raw.link, into: &packet)
        totals.recordSeen(packet)
        guard filter.matches(packet) else { return false }
        totals.recordMatched(packet)
        if tracksEndpoints { endpoints.record(packet) }
        for c in consumers { c.consume(packet, frame: raw.bytes) }
        return true
    }

    /// Counts a frame that was captured but not analysed (live capture while paused).
    public func skip(_ raw: RawPacket) {
        frameNumber &+= 1
        totals.packetsSeen &+= 1
        totals.bytesSeen &+= UInt64(raw.wireLength)
        totals.skippedWhilePaused &+= 1
    }

    public func setDrops(kernel: UInt64, interface: UInt64, sniff: UInt64) {
        totals.kernelDropped = kernel
        totals.interfaceDropped = interface
        totals.sniffDropped = sniff
    }
}
