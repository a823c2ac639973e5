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
    public let endpoints = EndpointTable()

    /// The mutable state lives behind one pointer, as in FlowTable: stored `var`s of a
    /// class pay a dynamic exclusivity check on every access (swift_beginAccess and a
    /// thread-local access set), several times per packet, which a profile of
    /// `sniff -r -q` showed at about 5% of the run.
    struct State {
        var totals = CaptureTotals()
        var packet = DecodedPacket()
        var frameNumber: UInt64 = 0
        var tracksEndpoints = true
        var consumers: [PacketConsumer] = []
        /// The flow table among the consumers, and its place: it labels each packet
        /// with its flow's app for the consumers after it. Unowned: `consumers` holds
        /// it, and a strong reference here cost a retain and release per packet.
        unowned(unsafe) var flowTable: FlowTable? = nil
        var flowTableIndex = -1
        var dnsAnswers: PacketConsumer? = nil
        var geoFilter: GeoFilter? = nil
        /// IP fragments are reassembled when set (the default).
        var reassembler: IPReassembler? = nil
        var reassembles = false
        /// What the packet's offsets point into: the frame, or the reassembled datagram.
        var frame = UnsafeRawBufferPointer(start: nil, count: 0)
    }
    private let st: UnsafeMutablePointer<State>

    public var totals: CaptureTotals { st.pointee.totals }
    /// The packet just decoded; valid until the next call to `process`.
    public var packet: DecodedPacket {
        _read { yield st.pointee.packet }
    }
    /// Whether packets update `endpoints`. Only the report reads that table; a run that
    /// prints no report (`-q` without `--report`) turns this off, since on captures with
    /// millions of address:port pairs the table's growth is the largest cost of a read.
    public var tracksEndpoints: Bool {
        get { st.pointee.tracksEndpoints }
        set { st.pointee.tracksEndpoints = newValue }
    }
    /// The bytes the packet's payload, DNS and ICMP offsets point into: the captured
    /// frame, or for a frame that completed a fragmented datagram, the reassembled
    /// datagram. Valid until the next call to `process`.
    public var frame: UnsafeRawBufferPointer { st.pointee.frame }

    /// The IP fragment reassembler; nil turns reassembly off (fragments then keep what
    /// the decoder gives each on its own: the first has the transport header).
    public var reassembler: IPReassembler? {
        get { st.pointee.reassembler }
        set {
            st.pointee.reassembler = newValue
            st.pointee.reassembles = newValue != nil
        }
    }

    public var consumers: [PacketConsumer] {
        get { st.pointee.consumers }
        set {
            st.pointee.consumers = newValue
            st.pointee.flowTableIndex = newValue.firstIndex { $0 is FlowTable } ?? -1
            st.pointee.flowTable = st.pointee.flowTableIndex >= 0 ? newValue[st.pointee.flowTableIndex] as? FlowTable : nil
        }
    }

    /// Sees the DNS responses that carry answers (passive DNS), before the consumers.
    /// Not a consumer: a consumer is called for every packet, and that call (a retain,
    /// a release and a copy of the record) made a whole read 5% slower for a hook that
    /// returns at once for everything but DNS answers; here it is a branch on the packet.
    public var dnsAnswers: PacketConsumer? {
        get { st.pointee.dnsAnswers }
        set { st.pointee.dnsAnswers = newValue }
    }

    /// `--country`/`--asn`: asked after the packet filter, only when set.
    public var geoFilter: GeoFilter? {
        get { st.pointee.geoFilter }
        set { st.pointee.geoFilter = newValue }
    }

    public init(filter: PacketFilter = PacketFilter(), bpf: BPFFilter? = nil,
                reassembly: IPReassembler.Limits? = IPReassembler.Limits()) {
        self.filter = filter
        self.bpf = bpf
        st = .allocate(capacity: 1)
        st.initialize(to: State())
        reassembler = reassembly.map { IPReassembler(limits: $0) }
    }

    deinit {
        st.deinitialize(count: 1)
        st.deallocate()
    }

    /// Decodes and accounts one frame; returns true when it passed every filter.
    @inline(__always)
    @discardableResult
    public func process(_ raw: RawPacket) -> Bool {
        let s = st
        s.pointee.frameNumber &+= 1
        s.pointee.packet.reset()
        s.pointee.packet.number = s.pointee.frameNumber
        s.pointee.packet.timestamp = raw.timestamp
        s.pointee.packet.wireLength = raw.wireLength
        s.pointee.packet.capturedLength = UInt32(raw.bytes.count)
        s.pointee.packet.interfaceID = raw.interfaceID
        s.pointee.packet.link = raw.link
        if let bpf, !bpf.matches(raw) {
            s.pointee.totals.recordSeen(s.pointee.packet)
            return false
        }
        PacketDecoder.decode(raw.bytes, link: raw.link, into: &s.pointee.packet, holdFragments: s.pointee.reassembles)
        var frame = raw.bytes
        // Fragments only: any other packet pays this one branch.
        if s.pointee.packet.isFragment, let r = s.pointee.reassembler {
            if let whole = r.process(&s.pointee.packet, frame: raw.bytes) { frame = whole }
            s.pointee.totals.reassembly = r.counters
        }
        s.pointee.frame = frame
        // One copy out of the state, then borrowed by every reader: passing
        // `s.pointee.packet` itself makes the compiler copy the whole record for each
        // call (it cannot prove the callee leaves that memory alone), which was 7% of a
        // read in memmove.
        var packet = s.pointee.packet
        s.pointee.totals.recordSeen(packet)
        guard filter.matches(packet) else { return false }
        if let g = s.pointee.geoFilter, !g.matches(packet) { return false }
        s.pointee.totals.recordMatched(packet)
        if packet.hasDNS, packet.dns.isResponse, packet.dns.answerCount > 0, let d = s.pointee.dnsAnswers {
            d.consume(packet, frame: frame)
        }
        let tableAt = s.pointee.flowTableIndex
        var i = 0
        for c in s.pointee.consumers {
            if i == tableAt, let table = s.pointee.flowTable {
                table.label(&packet, frame: frame)
                s.pointee.packet.app = packet.app
                s.pointee.packet.appSource = packet.appSource
            } else {
                c.consume(packet, frame: frame)
            }
            i &+= 1
        }
        // After the flow table, so that the report's apps per endpoint use flow names.
        if s.pointee.tracksEndpoints { endpoints.record(packet) }
        return true
    }

    /// The capture ended: datagrams still waiting for fragments are counted unfinished.
    public func finishReassembly() {
        guard let r = st.pointee.reassembler else { return }
        r.finish()
        st.pointee.totals.reassembly = r.counters
    }

    /// Counts a frame that was captured but not analysed (live capture while paused).
    public func skip(_ raw: RawPacket) {
        st.pointee.frameNumber &+= 1
        st.pointee.totals.packetsSeen &+= 1
        st.pointee.totals.bytesSeen &+= UInt64(raw.wireLength)
        st.pointee.totals.skippedWhilePaused &+= 1
    }

    public func setDrops(kernel: UInt64, interface: UInt64, sniff: UInt64) {
        st.pointee.totals.kernelDropped = kernel
        st.pointee.totals.interfaceDropped = interface
        st.pointee.totals.sniffDropped = sniff
    }
}
