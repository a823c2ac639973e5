import SniffCore
import SniffDecode
import SniffCapture

/// Something that wants every matching packet after decoding (flows, storage, live
/// feeds). Called on the analysis thread, in order; must not block.
public protocol PacketConsumer: AnyObject {
    func consume(_ packet: DecodedPacket, frame: UnsafeRawBufferPointer)
}

/// A consumer held without a reference count, by a pipeline whose `consumers` array
/// holds the same consumer strongly for as long as this is read.
struct UnownedConsumer {
    unowned(unsafe) let consumer: PacketConsumer
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
        var keepsPacket = true
        var consumers: [PacketConsumer] = []
        /// The same consumers, read per packet: `consumers` keeps them alive, and
        /// iterating the strong array cost a retain and a release of the array and of
        /// each consumer per packet.
        var readers: [UnownedConsumer] = []
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
        /// Packets carried in tunnels get flows of their own (the default).
        var carriedFlows = true
        /// The packet carried in a tunnel, reused.
        var carried = DecodedPacket()
    }
    private let st: UnsafeMutablePointer<State>

    public var totals: CaptureTotals { st.pointee.totals }
    /// The frames seen so far: read per packet by the file loop, where `totals` copied
    /// the whole record (its array retained and released) for one counter.
    public var packetsSeen: UInt64 { st.pointee.totals.packetsSeen }
    /// The packet just decoded; valid until the next call to `process`, and kept only
    /// while `keepsPacket` is on.
    public var packet: DecodedPacket {
        _read { yield st.pointee.packet }
    }
    /// Whether `process` keeps its packet for `packet` (on by default). A run that
    /// prints no packets turns it off: keeping it is a copy of the whole record per
    /// packet that nothing reads.
    public var keepsPacket: Bool {
        get { st.pointee.keepsPacket }
        set { st.pointee.keepsPacket = newValue }
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

    /// Whether the packets carried in tunnels (VXLAN, GENEVE, GRE, IP in IP, PIM
    /// Register, GTP-U) are given flows of their own, whose `tunnel` names the tunnel
    /// and the flow that carried them. Only the flow table sees them: every other
    /// reader counts the frame once, by its outer headers.
    public var carriedFlows: Bool {
        get { st.pointee.carriedFlows }
        set { st.pointee.carriedFlows = newValue }
    }

    public var consumers: [PacketConsumer] {
        get { st.pointee.consumers }
        set {
            st.pointee.consumers = newValue
            st.pointee.readers = newValue.map { UnownedConsumer(consumer: $0) }
            st.pointee.flowTableIndex = newValue.firstIndex { $0 is FlowTable } ?? -1
            st.pointee.flowTable =
                st.pointee.flowTableIndex >= 0 ? newValue[st.pointee.flowTableIndex] as? FlowTable : nil
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
        // Decoded into a local, which the readers below borrow. Decoded into the state
        // (behind a pointer), the 421-byte record was reset there and then copied out
        // for the readers, since the compiler cannot prove that a callee leaves the
        // state's memory alone; the copy back is made only when someone reads `packet`.
        var packet = DecodedPacket()
        packet.number = s.pointee.frameNumber
        packet.timestamp = raw.timestamp
        packet.wireLength = raw.wireLength
        packet.capturedLength = UInt32(raw.bytes.count)
        packet.interfaceID = raw.interfaceID
        packet.link = raw.link
        let matched = analyse(&packet, raw)
        if s.pointee.keepsPacket { s.pointee.packet = packet }
        return matched
    }

    /// Hands the flow table the raw frames of the next two packets, so that it fetches
    /// their flows' memory while this one is processed (see `FlowTable.prefetch`).
    @inline(__always)
    public func prefetch(next: UnsafeRawBufferPointer?, after: UnsafeRawBufferPointer?, link: LinkType) {
        guard next != nil, let table = st.pointee.flowTable else { return }
        table.prefetch(next: next, after: after, link: link)
    }

    @inline(__always)
    private func analyse(_ packet: inout DecodedPacket, _ raw: RawPacket) -> Bool {
        let s = st
        if let bpf, !bpf.matches(raw) {
            s.pointee.totals.recordSeen(packet)
            return false
        }
        PacketDecoder.decode(raw.bytes, link: raw.link, into: &packet, holdFragments: s.pointee.reassembles)
        var frame = raw.bytes
        // Fragments only: any other packet pays this one branch.
        if packet.isFragment, let r = s.pointee.reassembler {
            if let whole = r.process(&packet, frame: raw.bytes) { frame = whole }
            s.pointee.totals.reassembly = r.counters
        }
        s.pointee.frame = frame
        s.pointee.totals.recordSeen(packet)
        guard filter.matches(packet) else { return false }
        if let g = s.pointee.geoFilter, !g.matches(packet) { return false }
        s.pointee.totals.recordMatched(packet)
        if packet.hasDNS, packet.dns.isResponse, packet.dns.answerCount > 0, let d = s.pointee.dnsAnswers {
            d.consume(packet, frame: frame)
        }
        let tableAt = s.pointee.flowTableIndex
        for i in 0..<s.pointee.readers.count {
            if i == tableAt, let table = s.pointee.flowTable {
                let index = table.label(&packet, frame: frame)
                if packet.tunnel != .none, index >= 0, s.pointee.carriedFlows {
                    processCarried(packet, frame: frame, parent: index, table: table)
                }
            } else {
                s.pointee.readers[i].consumer.consume(packet, frame: frame)
            }
        }
        // After the flow table, so that the report's apps per endpoint use flow names.
        if s.pointee.tracksEndpoints { endpoints.record(packet) }
        return true
    }

    /// Gives the flow table the packets a tunnelled frame carries, tunnel inside tunnel
    /// down to `InnerDecoder.maximumDepth`, each decoded on its own from where its
    /// carrier's header ends. Each keeps its frame's time, number and length on the
    /// wire, so that a carried flow's `*_l2_bytes` count whole frames, as tshark's
    /// conversation table does for the conversations inside a tunnel.
    @inline(never)
    private func processCarried(_ outer: DecodedPacket, frame: UnsafeRawBufferPointer, parent: Int32, table: FlowTable)
    {
        let s = st
        var carrier = outer
        var bytes = frame
        var parent = parent
        for _ in 0..<InnerDecoder.maximumDepth {
            let offset = Int(carrier.tunnelOffset)
            guard offset >= 0, offset < bytes.count else { return }
            let inner = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            s.pointee.carried.reset()
            s.pointee.carried.number = outer.number
            s.pointee.carried.timestamp = outer.timestamp
            s.pointee.carried.wireLength = outer.wireLength
            s.pointee.carried.capturedLength = UInt32(clamping: inner.count)
            s.pointee.carried.interfaceID = outer.interfaceID
            PacketDecoder.decode(
                inner, link: carrier.tunnelCarriesEthernet ? .ethernet : .raw, into: &s.pointee.carried)
            let p = s.pointee.carried
            let index = table.processCarried(p, frame: inner, carrier: carrier, parent: parent)
            guard index >= 0, p.tunnel != .none else { return }
            carrier = p
            bytes = inner
            parent = index
        }
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
