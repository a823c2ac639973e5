import CPrefetch
import SniffCore
import SniffDecode

/// Counters of a flow table, for the report.
public struct FlowTableStats: Sendable, Equatable {
    public var packets: UInt64 = 0
    /// Packets without a flow: not IP, or IP fragments after the first.
    public var packetsWithoutFlow: UInt64 = 0
    public var flowsCreated: UInt64 = 0
    public var flowsEnded: UInt64 = 0
    public var endedBy: [UInt64] = Array(repeating: 0, count: FlowEndReason.allCases.count)
    public var peakFlows: Int = 0

    public init() {}

    public func ended(_ r: FlowEndReason) -> UInt64 { endedBy[Int(r.rawValue)] }
}

/// The flow table: open addressing over flows stored inline, idle lists per timeout
/// class, timers on the time passed in.
///
/// One instance is owned by one thread. After warm-up (once the storage has grown to
/// the number of live flows) a packet allocates nothing: flows live in one contiguous
/// buffer reused through a free list, and the index is an array of 8-byte slots
/// (32-bit hash tag, 32-bit flow index) probed linearly. Each timeout class keeps its
/// flows in a doubly linked list ordered by last activity, so expiry only looks at list
/// heads, and eviction at the cap takes the head idle the longest.
public final class FlowTable: PacketConsumer {
    public let config: FlowTableConfig
    /// Receives started, updated and finished flows. Kept in the state behind the
    /// pointer: a class's stored `var` pays a dynamic exclusivity check per access.
    public var observer: FlowObserver? {
        get { st.pointee.observer }
        set { st.pointee.observer = newValue }
    }
    /// Take `now` from the wall clock instead of the packet (live capture). Kept in the
    /// state behind the pointer: it is read for every packet.
    public var useWallClock: Bool {
        get { st.pointee.useWallClock }
        set { st.pointee.useWallClock = newValue }
    }
    public var stats: FlowTableStats { st.pointee.stats }
    /// TCP stream reassembly's counters, and the bytes its streams hold now.
    public var reassemblyStats: TCPReassemblyStats { st.pointee.inspection.streams.stats }
    public var reassemblyHeld: Int { st.pointee.inspection.streams.held }
    public var reassemblyStreams: Int { st.pointee.inspection.streams.count }
    /// Flows with sequence holes tracked now, and holes left untracked (too many flows).
    public var holeFlows: Int { st.pointee.inspection.gaps.count }
    public var untrackedHoles: UInt64 { st.pointee.inspection.gaps.untracked }
    /// Server certificates (TLS 1.2 and older) that did not parse.
    public var malformedCertificates: UInt64 { st.pointee.inspection.malformedCertificates }
    public var count: Int { st.pointee.count }
    /// Follows DNS and HTTP transactions (dns.log, http.log) when set; off by default,
    /// so that runs without protocol logs read no payload past the first packets.
    public var transactions: TransactionTracker? {
        get { st.pointee.transactions }
        set { st.pointee.transactions = newValue }
    }

    /// The mutable state lives behind one pointer: class stored properties would pay a
    /// dynamic exclusivity check on every access, several times per packet.
    struct Store {
        var flows: UnsafeMutablePointer<Flow>
        var flowBytes: Int
        var capacity: Int
        /// Flows ever placed (indices below this are initialised memory).
        var highWater: Int32 = 0
        var freeList: [Int32] = []
        var count = 0
        var slots: UnsafeMutablePointer<UInt64>
        var slotBytes: Int
        var slotMask: Int
        var heads: [Int32] = Array(repeating: -1, count: FlowTable.classCount)
        var tails: [Int32] = Array(repeating: -1, count: FlowTable.classCount)
        var timeouts: [Int64]
        /// No flow can expire before this time: expiry is a single comparison per
        /// packet until then.
        var nextDue: Int64 = .min
        var stats = FlowTableStats()
        var inspection = InspectionState()
        var useWallClock = false
        var observer: FlowObserver?
        /// DNS and HTTP transactions for the protocol logs; nil unless asked for.
        var transactions: TransactionTracker?
        /// The frame whose slot `prefetch` fetched last, and its key hash, which the
        /// next call reuses when that frame has become the next one.
        var aheadFrame: UnsafeRawPointer? = nil
        var aheadHash: UInt64 = 0
        /// The flows' memory below this byte offset has been handed to `prefaulter`.
        var prefaultedBytes = 0
        /// When `highWater` reaches this, the next stretch of the flows' memory is
        /// faulted in ahead (`prefaultAhead`); never when the table may grow.
        var prefaultAt: Int32 = .max
    }
    private let st: UnsafeMutablePointer<Store>
    /// The helper thread faulting in the flows' next pages (see `prefaultAhead`).
    private var prefaulter: WorkerThread? = nil

    private var flows: UnsafeMutablePointer<Flow> { st.pointee.flows }
    private var slots: UnsafeMutablePointer<UInt64> { st.pointee.slots }
    private var slotMask: Int { st.pointee.slotMask }
    private var highWater: Int32 { st.pointee.highWater }

    private static let classCount = 5
    private static let deadClass: UInt8 = 255
    /// Slot layout: 38 bits of the key hash (whose low bits are the home slot) above a
    /// 26-bit flow index + 1, so probing and deletion never touch the flows.
    private static let indexBits: UInt64 = 26
    private static let indexMask: UInt64 = (1 << 26) - 1
    public static let maximumFlows = (1 << 26) - 2

    public init(config: FlowTableConfig = FlowTableConfig(), observer: FlowObserver? = nil) {
        var config = config
        config.maxFlows = Swift.min(Swift.max(1, config.maxFlows), FlowTable.maximumFlows)
        self.config = config
        // Up to a few million flows the whole cap is reserved at once: the pages are
        // mapped lazily, so memory grows with use, and the table never copies or rehashes.
        let reserveAll = config.maxFlows <= FlowTable.reserveLimit
        let capacity = reserveAll ? config.maxFlows : Swift.max(16, Swift.min(config.initialCapacity, config.maxFlows))
        let flowBytes = capacity * MemoryLayout<Flow>.stride
        let slotCount = FlowTable.slotCount(for: capacity)
        let slotBytes = slotCount * MemoryLayout<UInt64>.stride
        st = .allocate(capacity: 1)
        st.initialize(
            to: Store(
                flows: LargeAllocation.allocateZeroed(bytes: flowBytes).bindMemory(to: Flow.self, capacity: capacity),
                flowBytes: flowBytes, capacity: capacity,
                slots: LargeAllocation.allocateZeroed(bytes: slotBytes).bindMemory(
                    to: UInt64.self, capacity: slotCount),
                slotBytes: slotBytes, slotMask: slotCount - 1,
                timeouts: [
                    config.tcpEstablishedTimeout, config.tcpClosedTimeout, config.udpTimeout, config.icmpTimeout,
                    config.otherTimeout
                ]))
        st.pointee.freeList.reserveCapacity(Swift.min(capacity, 1 << 16))
        // A table that reserved its whole cap never moves its flows, so their pages can
        // be faulted in ahead; the first stretch only once a few thousand flows exist,
        // so that small captures do not pay for memory they never use.
        if reserveAll {
            st.pointee.prefaultAt = Int32(clamping: FlowTable.prefaultBytes / 2 / MemoryLayout<Flow>.stride)
        }
        st.pointee.observer = observer
        st.pointee.inspection.streams = TCPStreams(limits: config.tcpReassembly)
    }

    /// Caps up to this many flows are reserved up front (about 900 MB of address space).
    public static let reserveLimit = 4_000_000

    deinit {
        prefaulter?.join()
        for i in 0..<Int(highWater) { (flows + i).deinitialize(count: 1) }
        LargeAllocation.free(UnsafeMutableRawPointer(flows), bytes: st.pointee.flowBytes)
        LargeAllocation.free(UnsafeMutableRawPointer(slots), bytes: st.pointee.slotBytes)
        st.deinitialize(count: 1)
        st.deallocate()
    }

    private static func slotCount(for capacity: Int) -> Int {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        return n
    }

    /// Bytes the table holds per flow of capacity: the flow record plus its share of
    /// the index (for the memory figure in docs/FLOWS.md).
    public var bytesPerFlowSlot: Double {
        Double(MemoryLayout<Flow>.stride) + Double((slotMask + 1) * MemoryLayout<UInt64>.stride)
            / Double(st.pointee.capacity)
    }

    // MARK: packets

    public func consume(_ packet: DecodedPacket, frame: UnsafeRawBufferPointer) {
        process(packet, frame: frame, now: useWallClock ? Timestamp.now() : packet.timestamp)
    }

    /// Accounts the packet, then gives it its flow's current app (the payload finding
    /// once there is one), so that every later reader counts it under the flow's name.
    /// A packet in no flow (ARP, non-IP, later fragments) keeps the decoder's port guess.
    /// Returns the index of the packet's flow, or -1 (for `processCarried`).
    @discardableResult
    public func label(_ packet: inout DecodedPacket, frame: UnsafeRawBufferPointer) -> Int32 {
        let i = process(packet, frame: frame, now: useWallClock ? Timestamp.now() : packet.timestamp)
        guard i >= 0 else { return i }
        packet.app = flows[Int(i)].app
        packet.appSource = flows[Int(i)].appSource
        return i
    }

    /// Accounts the packet that `carrier` (the packet of the flow at `parent`, just
    /// processed) carries in its tunnel: its own flow, which records the tunnel and its
    /// parent when it starts. `frame` is the carried packet's bytes. Returns the index
    /// of the carried packet's flow, or -1.
    public func processCarried(_ p: DecodedPacket, frame: UnsafeRawBufferPointer, carrier: DecodedPacket,
                               parent: Int32) -> Int32 {
        let by = CarriedBy(kind: carrier.tunnel, id: carrier.hasTunnelID ? carrier.tunnelID : nil, parent: parent)
        return process(p, frame: frame, now: useWallClock ? Timestamp.now() : p.timestamp, carriedBy: by)
    }

    /// The tunnel a carried packet came in, and its carrier's flow; a `FlowTunnel` is
    /// made of it only when the carried packet starts a flow.
    struct CarriedBy {
        var kind: TunnelKind
        var id: UInt32?
        var parent: Int32
    }

    /// Adds the carrier's flow to a carried flow's parents when another outer flow than
    /// before brings it a packet (Zeek's `tunnel_parents` set). Only carried packets
    /// come here; a known parent costs one key comparison or a few.
    private func noteParent(_ f: UnsafeMutablePointer<Flow>, _ c: CarriedBy) {
        guard let t = f.pointee.detailsBox?.value.tunnel else { return }
        let p = flows + Int(c.parent)
        guard !t.hasParent(key: p.pointee.key, startNanos: p.pointee.startNanos),
              let more = t.adding(key: p.pointee.key, startNanos: p.pointee.startNanos) else { return }
        f.pointee.updateDetails { $0.tunnel = more }
    }

    /// Accounts one decoded packet. `frame` is the captured bytes (for payload
    /// inspection); `now` drives the timers: the packet time for files, the wall clock
    /// live. Returns the index of the packet's flow, or -1 when it has none.
    @discardableResult
    public func process(_ p: DecodedPacket, frame: UnsafeRawBufferPointer, now: Timestamp) -> Int32 {
        process(p, frame: frame, now: now, carriedBy: nil)
    }

    @inline(__always)
    private func process(
        _ p: DecodedPacket, frame: UnsafeRawBufferPointer, now: Timestamp, carriedBy: CarriedBy?
    ) -> Int32 {
        let nowNanos = now.totalNanoseconds
        st.pointee.stats.packets &+= 1
        expire(nanos: nowNanos)
        guard let (key, srcIsA) = FlowKey.canonical(packet: p) else {
            st.pointee.stats.packetsWithoutFlow &+= 1
            return -1
        }
        let proto = p.ipProto
        let hash = key.fastHash
        let packetNanos = p.timestamp.totalNanoseconds
        let tcp: TCPSegment? =
            p.hasTCP
            ? TCPSegment(
                flags: p.tcp.flags, seq: p.tcp.seq, ack: p.tcp.ack, window: p.tcp.window,
                payloadLength: Int(p.payloadLength))
            : nil

        var index = find(key, hash: hash)
        var continuedOrigIsA: Bool? = nil
        if index >= 0 {
            let f = flows + Int(index)
            let isOrig = srcIsA == f.pointee.origIsA
            if let tcp, tcp.flags & TCP.syn != 0,
                FlowTable.isReuse(orig: f.pointee.orig, resp: f.pointee.resp, isOrig: isOrig, tcp) {
                end(index, hash: hash, reason: .reuse)
                index = -1
            } else if config.activeTimeout != .max, nowNanos &- f.pointee.startNanos >= config.activeTimeout {
                continuedOrigIsA = f.pointee.origIsA
                end(index, hash: hash, reason: .active)
                index = -1
            }
        }
        var isNew = false
        if index < 0 {
            // The parent is read before an eviction could take its place.
            let tunnel = carriedBy.map { c in
                FlowTunnel(kind: c.kind, id: c.id, parentKey: flows[Int(c.parent)].key,
                           parentStartNanos: flows[Int(c.parent)].startNanos)
            }
            if st.pointee.count >= config.maxFlows { evictOldest() }
            var origIsA = continuedOrigIsA ?? srcIsA
            var flip = false
            // The packet's own ports (ICMP's mapped ones), sender first.
            let sport = srcIsA ? key.portA : key.portB
            let dport = srcIsA ? key.portB : key.portA
            if continuedOrigIsA == nil, FlowTable.shouldFlip(proto: proto, sport: sport, dport: dport, tcp: tcp) {
                origIsA = !srcIsA
                flip = true
            }
            let app: AppProtocol = proto == IPProtocol.tcp.rawValue || proto == IPProtocol.udp.rawValue
                ? AppProtocol.forPorts(sport, dport, udp: proto == IPProtocol.udp.rawValue) : .unknown
            var flow = Flow(key: key, origIsA: origIsA, nanos: packetNanos, app: app)
            if flip { flow.markFlipped() }
            if let tunnel { flow.updateDetails { $0.tunnel = tunnel } }
            index = insert(flow, hash: hash)
            isNew = true
            st.pointee.stats.flowsCreated &+= 1
        }
        let f = flows + Int(index)
        if !isNew, let c = carriedBy { noteParent(f, c) }
        let isOrig = srcIsA == f.pointee.origIsA
        let payload: UInt32
        switch proto {
        case IPProtocol.tcp, IPProtocol.udp: payload = p.payloadLength
        case IPProtocol.icmp, IPProtocol.icmpv6:
            payload = UInt32(clamping: Int(p.ipTotalLength) - Int(p.ipHeaderLength) - 8)
        default: payload = UInt32(clamping: Int(p.ipTotalLength) - Int(p.ipHeaderLength))
        }
        let lastBefore = f.pointee.lastNanos
        // The side's highest sequence number before this segment, for holes.
        let seqBefore = isOrig ? f.pointee.orig.lastSeq : f.pointee.resp.lastSeq
        let sideState = isOrig ? f.pointee.orig.state : f.pointee.resp.state
        f.pointee.packet(isOrig: isOrig, nanos: packetNanos, ipBytes: p.ipTotalLength, wireBytes: p.wireLength,
                         payloadLength: payload, tcp: tcp)
        if let tcp { trackHoles(index, isOrig: isOrig, tcp, seqBefore: seqBefore, sideState: sideState) }
        var updated = false
        var appChange: (old: AppProtocol, packets: UInt64, bytes: UInt64)? = nil
        // A flow whose start is being reassembled may take more segments: a header block
        // of small segments needs them; the byte budget and the parsers' needs bound it.
        let streaming = f.pointee.bits & (Flow.origStreamBit | Flow.respStreamBit) != 0
        let inspectLimit = streaming ? config.inspectPackets * FlowTable.streamSegmentsFactor : config.inspectPackets
        if Int(f.pointee.inspected) < inspectLimit && (p.payloadCaptured > 0 || p.hasDNS) {
            f.pointee.inspected &+= 1
            let appBefore = f.pointee.app
            if let tcp, p.payloadCaptured > 0, st.pointee.inspection.streams.isEnabled {
                updated = inspectStream(index, isOrig: isOrig, p, seq: tcp.seq, frame: frame)
                if Int(f.pointee.inspected) >= config.inspectPackets * FlowTable.streamSegmentsFactor {
                    releaseStreams(index)
                }
            } else {
                updated = PayloadInspector.inspect(&f.pointee, index: index, isOrig: isOrig, p, frame: frame,
                                                   state: &st.pointee.inspection)
            }
            let before = UInt64(f.pointee.orig.packets) &+ UInt64(f.pointee.resp.packets) &- 1
            if f.pointee.app != appBefore && before > 0 {
                let bytes = f.pointee.orig.wireBytes &+ f.pointee.resp.wireBytes &- UInt64(p.wireLength)
                appChange = (appBefore, before, bytes)
            }
        }
        if let t = st.pointee.transactions, p.payloadCaptured > 0,
           p.hasDNS || f.pointee.app == .dns || f.pointee.app == .http {
            t.packet(f.pointee, index: index, isOrig: isOrig, p, frame: frame)
        }
        let cls = FlowTable.timeoutClass(
            proto: f.pointee.key.proto, orig: f.pointee.orig.state, resp: f.pointee.resp.state)
        // A new flow is on no idle list yet: link it even when its class is the
        // initial 0 and its first packet left lastNanos as it was (TCP first seen
        // midstream), or it never expires, is never evicted, and the table grows past
        // its cap one flow at a time (found by the flows fuzz target).
        // A flow already at the tail of its list stays there.
        if isNew || cls != f.pointee.timeoutClass
            || (f.pointee.lastNanos != lastBefore && st.pointee.tails[Int(cls)] != index) {
            unlink(index)
            link(index, cls)
        }
        if isNew {
            observer?.flowStarted(f.pointee)
        } else if updated {
            observer?.flowUpdated(f.pointee)
        }
        if let c = appChange {
            observer?.flowAppChanged(f.pointee, from: c.old, packets: c.packets, bytes: c.bytes, at: packetNanos)
        }
        return index
    }

    // MARK: prefetch

    /// Fetches the memory the next packets' flows will need while the current packet is
    /// processed: the index slot of the packet after next, and then, from that slot
    /// (fetched by the call before), the record of the next packet's flow, or for a new
    /// flow the record it will take. With a million flows nearly every lookup and every
    /// record missed the caches (`find` was 11% of a read of small packets, its misses
    /// mostly). `next` and `after` are the raw frames of the next two packets
    /// (`CaptureFileReader.upcoming()`), nil when unknown. A hint only: it changes no
    /// state that a packet reads, and a frame read wrongly wastes a fetch.
    public func prefetch(next: UnsafeRawBufferPointer?, after: UnsafeRawBufferPointer?, link: LinkType) {
        let s = st
        var nearHash: UInt64? = nil
        if let next {
            if let a = s.pointee.aheadFrame, a == next.baseAddress {
                nearHash = s.pointee.aheadHash
            } else {
                nearHash = FlowKey.peekHash(next, link: link)
            }
        }
        s.pointee.aheadFrame = nil
        if let after, let h = FlowKey.peekHash(after, link: link) {
            s.pointee.aheadFrame = after.baseAddress
            s.pointee.aheadHash = h
            sniff_prefetch_read(slots + (Int(truncatingIfNeeded: h) & slotMask))
        }
        if let h = nearHash { prefetchFlow(hash: h) }
    }

    /// The record behind the first slot of the probe run whose hash bits match, or,
    /// when the run has none (a new flow), the place a new flow will take.
    @inline(__always)
    private func prefetchFlow(hash: UInt64) {
        let tag = (hash << FlowTable.indexBits) >> FlowTable.indexBits
        let mask = slotMask, sl = slots
        var slot = Int(truncatingIfNeeded: hash) & mask
        for _ in 0..<4 {
            let v = sl[slot]
            if v == 0 { break }
            if v >> FlowTable.indexBits == tag {
                prefetchRecord(Int(truncatingIfNeeded: (v & FlowTable.indexMask) - 1))
                return
            }
            slot = (slot + 1) & mask
        }
        let s = st
        if s.pointee.count >= config.maxFlows {
            // At the cap the flow idle the longest, a list's head, is evicted first and
            // its place taken: its index slot, and the record after it in its list,
            // which unlinking writes. The heads' records were fetched when the flows
            // before them were evicted (`evictOldest`).
            for c in 0..<FlowTable.classCount where s.pointee.heads[c] >= 0 {
                let h = flows + Int(s.pointee.heads[c])
                sniff_prefetch_write(slots + (Int(truncatingIfNeeded: h.pointee.key.fastHash) & mask))
                if h.pointee.lruNext >= 0 { prefetchRecord(Int(h.pointee.lruNext)) }
            }
        } else if let i = s.pointee.freeList.last {
            prefetchRecord(Int(i))
        }
    }

    /// Every cache line of one flow record.
    @inline(__always)
    private func prefetchRecord(_ i: Int) {
        let start = UnsafeRawPointer(flows + i)
        let end = start + (MemoryLayout<Flow>.size - 1)
        var line = start
        while line <= end {
            sniff_prefetch_write(line)
            line += 64
        }
        // The last line, when the record does not start on a line boundary.
        sniff_prefetch_write(end)
    }

    // MARK: TCP reassembly

    /// Gives one TCP segment to the parsers through its direction's stream. The first
    /// in-order segment is read where it lies; only when the parsers still want more
    /// is it copied into a stream, and later segments join it in sequence order; the
    /// parsers then read the stream's contiguous start. A direction whose parsers are
    /// done, or that could not be buffered, goes back to one segment at a time.
    private func inspectStream(_ index: Int32, isOrig: Bool, _ p: DecodedPacket, seq: UInt32,
                               frame: UnsafeRawBufferPointer) -> Bool {
        let f = flows + Int(index)
        let streamBit = isOrig ? Flow.origStreamBit : Flow.respStreamBit
        let doneBit = isOrig ? Flow.origStreamDoneBit : Flow.respStreamDoneBit
        let bits = f.pointee.bits
        if bits & doneBit != 0 {
            return PayloadInspector.inspect(&f.pointee, index: index, isOrig: isOrig, p, frame: frame,
                                            state: &st.pointee.inspection)
        }
        guard p.payloadOffset >= 0, p.payloadOffset + p.payloadCaptured <= frame.count else { return false }
        let payload = UnsafeRawBufferPointer(rebasing: frame[p.payloadOffset ..< p.payloadOffset + p.payloadCaptured])
        // The sequence number of the side's first byte: after its SYN, or, seen
        // midstream, the first segment's (the state machine numbers it so).
        let start = (isOrig ? f.pointee.orig.startSeq : f.pointee.resp.startSeq) &+ 1
        var updated = false
        if bits & streamBit == 0 {
            if seq == start {
                updated = PayloadInspector.inspect(&f.pointee, index: index, isOrig: isOrig, p, frame: frame,
                                                   state: &st.pointee.inspection)
                if !PayloadInspector.wantsStream(f.pointee, isOrig: isOrig, payload) {
                    f.pointee.bits |= doneBit
                    return updated
                }
            }
            let r = st.pointee.inspection.streams.add(index, isOrig: isOrig, seq: seq, start: start, payload: payload)
            f.pointee.bits |= r == .notBuffered ? doneBit : streamBit
            return updated
        }
        guard st.pointee.inspection.streams.add(index, isOrig: isOrig, seq: seq, start: start,
                                                payload: payload) == .grew else { return false }
        let (changed, prefix, wanted) = st.pointee.inspection.streams.withPrefix(index, isOrig: isOrig) { bytes in
            let changed = PayloadInspector.inspectStream(
                &f.pointee, isOrig: isOrig, bytes, state: &st.pointee.inspection)
            return (changed, bytes.count, PayloadInspector.wantsStream(f.pointee, isOrig: isOrig, bytes))
        }
        if !wanted || prefix >= config.tcpReassembly.budget {
            st.pointee.inspection.streams.release(index, isOrig: isOrig)
            f.pointee.bits = (f.pointee.bits & ~streamBit) | doneBit
        }
        return changed
    }

    /// How many times `inspectPackets` segments a flow may give its streams.
    static let streamSegmentsFactor = 4

    /// Frees both streams of a flow (its inspection budget is spent, or it ended).
    private func releaseStreams(_ index: Int32) {
        let f = flows + Int(index)
        let both = Flow.origStreamBit | Flow.respStreamBit
        guard f.pointee.bits & both != 0 else { return }
        st.pointee.inspection.streams.release(index)
        f.pointee.bits = (f.pointee.bits & ~both) | Flow.origStreamDoneBit | Flow.respStreamDoneBit
    }

    /// Opens, fills and closes the sequence holes behind `missed_bytes` (see TCPGaps).
    /// Costs one comparison per segment of a flow without holes.
    @inline(__always)
    private func trackHoles(_ index: Int32, isOrig: Bool, _ tcp: TCPSegment, seqBefore: UInt32,
                            sideState: TCPEndpointState) {
        let f = flows + Int(index)
        let hasHoles = f.pointee.bits & Flow.holesBit != 0
        if tcp.payloadLength > 0 && tcp.flags & (TCP.syn | TCP.rst) == 0
            && sideState != .inactive && sideState != .reset {
            let d = Flow.seqDelta(tcp.seq, seqBefore)
            if d > 0 {
                let (tracked, found) = st.pointee.inspection.gaps.open(
                    index, isOrig: isOrig, from: seqBefore, to: tcp.seq)
                if tracked { f.pointee.bits |= Flow.holesBit }
                addGaps(index, isOrig: isOrig, found)
            } else if d < 0 && hasHoles {
                st.pointee.inspection.gaps.fill(index, isOrig: isOrig, seq: tcp.seq, length: tcp.payloadLength)
            }
        }
        if hasHoles && tcp.flags & TCP.ack != 0 && tcp.flags & TCP.rst == 0 {
            let found = st.pointee.inspection.gaps.acked(index, isOrig: !isOrig, ack: tcp.ack)
            addGaps(index, isOrig: !isOrig, found)
        }
    }

    private func addGaps(_ index: Int32, isOrig: Bool, _ found: TCPGaps.Found) {
        guard found.gaps > 0 else { return }
        let f = flows + Int(index)
        f.pointee.missedBytes &+= found.bytes
        st.pointee.inspection.gaps.letters(index, isOrig: isOrig, gaps: found.gaps, into: &f.pointee.history)
    }

    /// Zeek's heuristics for a first packet sent by the server: a SYN-ACK always flips
    /// (the rule; Zeek itself also looks at the ports), and for TCP without SYN
    /// or for UDP, a likely server port as the source (and not as the destination, or
    /// for TCP a lower one) flips.
    static func shouldFlip(proto: UInt8, sport: UInt16, dport: UInt16, tcp: TCPSegment?) -> Bool {
        if proto == 6 {
            guard let tcp else { return false }
            let syn = tcp.flags & TCP.syn != 0, ack = tcp.flags & TCP.ack != 0
            if syn && ack { return true }
            if syn { return false }
            guard likelyServerPort(sport, udp: false) else { return false }
            return likelyServerPort(dport, udp: false) ? sport < dport : true
        }
        if proto == 17 { return likelyServerPort(sport, udp: true) && !likelyServerPort(dport, udp: true) }
        return false
    }

    @inlinable
    static func likelyServerPort(_ port: UInt16, udp: Bool) -> Bool { AppProtocol.forPort(port, udp: udp) != .unknown }

    /// Zeek's TCPSessionAdapter::IsReuse for a SYN arriving on an existing flow, from
    /// the flow's two endpoints (plain values: a whole `Flow` read from the table is a
    /// copy of the record and a retain of its details).
    static func isReuse(orig: FlowEndpoint, resp: FlowEndpoint, isOrig: Bool, _ s: TCPSegment) -> Bool {
        var connOrig = orig
        if s.flags & TCP.ack != 0 {
            if orig.state != .inactive { return false }
            connOrig = resp
        }
        if !(orig.didClose || resp.didClose) {
            if s.seq == connOrig.startSeq { return false }
            if s.flags & TCP.ack == 0 && connOrig.state == .synAckSent && resp.state == .inactive
                && s.seq == resp.startSeq {
                return false
            }
        }
        return true
    }

    /// 0 TCP established, 1 TCP closed or half-open, 2 UDP, 3 ICMP, 4 other. Takes the
    /// fields it reads, not the `Flow`: passing a flow from the table copied the whole
    /// record (and retained its details) on every packet.
    static func timeoutClass(proto: UInt8, orig o: TCPEndpointState, resp r: TCPEndpointState) -> UInt8 {
        switch proto {
        case 6:
            if o == .closed || o == .reset || r == .closed || r == .reset { return 1 }
            if o == .synSent || o == .synAckSent || r == .synSent || r == .synAckSent { return 1 }
            if o == .inactive && r == .inactive { return 1 }
            return 0
        case 17: return 2
        case 1, 58: return 3
        default: return 4
        }
    }

    // MARK: timers

    /// Emits every flow whose idle timeout has passed at `now`.
    public func expire(now: Timestamp) { expire(nanos: now.totalNanoseconds) }

    func expire(nanos now: Int64) {
        guard now >= st.pointee.nextDue else { return }
        var due = Int64.max
        defer { st.pointee.nextDue = due }
        for c in 0..<FlowTable.classCount {
            let timeout = st.pointee.timeouts[c]
            if timeout == .max { continue }
            while st.pointee.heads[c] >= 0 {
                let i = st.pointee.heads[c]
                let f = flows + Int(i)
                guard now &- f.pointee.lastNanos >= timeout else {
                    let d = f.pointee.lastNanos.addingReportingOverflow(timeout)
                    due = Swift.min(due, d.overflow ? .max : d.partialValue)
                    break
                }
                if f.pointee.lruNext >= 0 { prefetchRecord(Int(f.pointee.lruNext)) }
                end(i, hash: f.pointee.key.fastHash, reason: .idle)
            }
        }
    }

    /// Emits every open flow (end of capture), oldest first.
    public func flush(reason: FlowEndReason = .end) {
        var open: [(Int64, Int32)] = []
        open.reserveCapacity(st.pointee.count)
        for i in 0..<Int(highWater) where flows[i].timeoutClass != FlowTable.deadClass {
            open.append((flows[i].startNanos, Int32(i)))
        }
        open.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        // Every flow leaves, so the hash index and the idle lists are dropped whole
        // afterwards instead of being kept up flow by flow: taking each flow out of the
        // index is a cache miss at a random slot, 4% of a read of a million flows.
        // In start order the records lie scattered (places are reused): each is fetched
        // a few flows ahead.
        let ahead = 8
        for n in 0..<open.count {
            if n + ahead < open.count { prefetchRecord(Int(open[n + ahead].1)) }
            end(open[n].1, hash: 0, reason: reason, indexed: false)
        }
        let fresh = LargeAllocation.allocateZeroed(bytes: st.pointee.slotBytes)
        LargeAllocation.free(UnsafeMutableRawPointer(slots), bytes: st.pointee.slotBytes)
        st.pointee.slots = fresh.bindMemory(to: UInt64.self, capacity: st.pointee.slotMask + 1)
        for c in 0..<FlowTable.classCount { st.pointee.heads[c] = -1; st.pointee.tails[c] = -1 }
    }

    /// The open flows, copied (for a live view or a test).
    public func openFlows() -> [Flow] {
        var out: [Flow] = []
        for i in 0..<Int(highWater) where flows[i].timeoutClass != FlowTable.deadClass { out.append(flows[i]) }
        return out
    }

    /// Calls `body` with each open flow where it lies, copying none: a pass over a live
    /// table of a million flows for a view's totals.
    public func forEachOpen(_ body: (Flow) -> Void) {
        for i in 0..<Int(highWater) where flows[i].timeoutClass != FlowTable.deadClass { body(flows[i]) }
    }

    /// The slots `forEachOpen(slots:)` ranges over: those used since the table began.
    public var slotCount: Int { Int(highWater) }

    /// As `forEachOpen`, over the slots in `range` only (clamped), with each flow's slot:
    /// one step of a pass that a live view spreads over several calls, so that no call
    /// holds the analysis thread for a million flows.
    public func forEachOpen(slots range: Range<Int>, _ body: (Int, Flow) -> Void) {
        for i in range.clamped(to: 0..<Int(highWater)) where flows[i].timeoutClass != FlowTable.deadClass {
            body(i, flows[i])
        }
    }

    /// The `limit` open flows with the most bytes (both directions), largest first:
    /// a live view's snapshot.
    public func openFlows(largest limit: Int) -> [Flow] {
        openFlows(top: Greatest(.largest, limit: limit))
    }

    /// The `limit` open flows that began last, newest first: a live view's snapshot.
    public func openFlows(newest limit: Int) -> [Flow] {
        openFlows(top: Greatest(.newest, limit: limit))
    }

    private func openFlows(top: Greatest) -> [Flow] {
        var g = top
        forEachOpen(slots: 0..<Int(highWater)) { g.offer($1, slot: $0) }
        return g.flows
    }

    /// The `limit` flows with the greatest key of those offered, greatest first (equal
    /// keys: the lower slot first). A bounded min-heap of keys, so that a table of a
    /// million flows costs one pass and at most a few thousand copies, not a copy of
    /// every flow; fed by one pass or by the steps of one (`forEachOpen(slots:)`).
    public struct Greatest {
        public enum Order: Sendable { case largest, newest }
        public let order: Order
        public let limit: Int
        private var heap: [(key: UInt64, slot: Int32, at: Int32)] = []
        /// The flows kept, where the heap's `at` says; a flow pushed out is overwritten.
        private var kept: [Flow] = []

        public init(_ order: Order, limit: Int) {
            self.order = order
            self.limit = max(0, limit)
        }

        @inline(__always)
        func key(_ f: Flow) -> UInt64 {
            switch order {
            case .largest: f.orig.wireBytes &+ f.resp.wireBytes
            // Order-preserving from Int64 to UInt64.
            case .newest: UInt64(bitPattern: f.startNanos) ^ (1 << 63)
            }
        }

        @inline(__always)
        private func less(_ a: Int, _ b: Int) -> Bool { heap[a].key < heap[b].key }

        public mutating func offer(_ f: Flow, slot: Int) {
            guard limit > 0 else { return }
            let k = key(f)
            if heap.count < limit {
                heap.append((k, Int32(slot), Int32(kept.count)))
                kept.append(f)
                var c = heap.count - 1
                while c > 0, less(c, (c - 1) / 2) { heap.swapAt(c, (c - 1) / 2); c = (c - 1) / 2 }
            } else if k > heap[0].key {
                let at = heap[0].at
                heap[0] = (k, Int32(slot), at)
                kept[Int(at)] = f
                var p = 0
                while true {
                    let l = 2 * p + 1, r = l + 1
                    var m = p
                    if l < heap.count, less(l, m) { m = l }
                    if r < heap.count, less(r, m) { m = r }
                    if m == p { break }
                    heap.swapAt(p, m); p = m
                }
            }
        }

        /// The flows kept, greatest first.
        public var flows: [Flow] {
            heap.sorted { $0.key != $1.key ? $0.key > $1.key : $0.slot < $1.slot }.map { kept[Int($0.at)] }
        }
    }

    private func evictOldest() {
        var best: Int32 = -1
        var bestLast = Int64.max
        for c in 0..<FlowTable.classCount where st.pointee.heads[c] >= 0 {
            let h = st.pointee.heads[c]
            let l = flows[Int(h)].lastNanos
            if l < bestLast { bestLast = l; best = h }
        }
        guard best >= 0 else { return }
        // The next flow to be evicted from this list, for `prefetchFlow`.
        if flows[Int(best)].lruNext >= 0 { prefetchRecord(Int(flows[Int(best)].lruNext)) }
        end(best, hash: flows[Int(best)].key.fastHash, reason: .evicted)
    }

    /// `indexed: false` (a flush): the caller drops the whole index and the idle lists
    /// once every flow has ended, so this flow only leaves its list marked unlinked.
    private func end(_ index: Int32, hash: UInt64, reason: FlowEndReason, indexed: Bool = true) {
        let f = flows + Int(index)
        if indexed {
            unlink(index)
            removeSlot(index: index, hash: hash)
        } else {
            f.pointee.lruPrev = -2
            f.pointee.lruNext = -1
        }
        st.pointee.count -= 1
        st.pointee.stats.flowsEnded &+= 1
        st.pointee.stats.endedBy[Int(reason.rawValue)] &+= 1
        releaseStreams(index)
        if f.pointee.bits & Flow.holesBit != 0 {
            f.pointee.missedBytes &+= st.pointee.inspection.gaps.finish(index, history: &f.pointee.history)
        }
        // The observers read the flow where it lies (no copy of the record): it has
        // left the index and the idle lists, and its place is not on the free list
        // yet, so nothing an observer does to the table can overwrite it.
        st.pointee.transactions?.flowEnded(f.pointee, index: index)
        observer?.flowEnded(f.pointee, reason: reason)
        // The entry stays initialised, marked dead, holding no reference.
        f.pointee.detailsBox = nil
        if !st.pointee.inspection.quic.isEmpty { st.pointee.inspection.quic[index] = nil }
        f.pointee.timeoutClass = FlowTable.deadClass
        st.pointee.freeList.append(index)
    }

    // MARK: storage

    @inline(__always)
    private static func slotValue(hash: UInt64, index: Int32) -> UInt64 {
        (hash << FlowTable.indexBits) | (UInt64(UInt32(index)) + 1)
    }

    private func insert(_ flow: Flow, hash: UInt64) -> Int32 {
        let index: Int32
        if let free = st.pointee.freeList.popLast() {
            index = free
            flows[Int(free)] = flow
        } else {
            if Int(highWater) == st.pointee.capacity { grow() }
            index = highWater
            if index >= st.pointee.prefaultAt { prefaultAhead() }
            (flows + Int(index)).initialize(to: flow)
            st.pointee.highWater += 1
        }
        flows[Int(index)].lruPrev = -2
        st.pointee.count += 1
        if st.pointee.count > st.pointee.stats.peakFlows { st.pointee.stats.peakFlows = st.pointee.count }
        let mask = slotMask, sl = slots
        var s = Int(truncatingIfNeeded: hash) & mask
        while sl[s] != 0 { s = (s + 1) & mask }
        sl[s] = FlowTable.slotValue(hash: hash, index: index)
        return index
    }

    private func find(_ key: FlowKey, hash: UInt64) -> Int32 {
        let tag = (hash << FlowTable.indexBits) >> FlowTable.indexBits
        let mask = slotMask, sl = slots, fl = flows
        var s = Int(truncatingIfNeeded: hash) & mask
        while true {
            let v = sl[s]
            if v == 0 { return -1 }
            if v >> FlowTable.indexBits == tag {
                let i = Int32(truncatingIfNeeded: (v & FlowTable.indexMask) - 1)
                if fl[Int(i)].key == key { return i }
            }
            s = (s + 1) & mask
        }
    }

    /// Backward-shift deletion: later entries of the probe run move up so that lookups
    /// never need tombstones. Home slots come from the slot values themselves.
    private func removeSlot(index: Int32, hash: UInt64) {
        let want = UInt64(UInt32(index)) + 1
        let mask = slotMask, sl = slots
        var s = Int(truncatingIfNeeded: hash) & mask
        while sl[s] & FlowTable.indexMask != want {
            if sl[s] == 0 { return }
            s = (s + 1) & mask
        }
        var hole = s
        var next = (hole + 1) & mask
        while sl[next] != 0 {
            let home = Int(truncatingIfNeeded: sl[next] >> FlowTable.indexBits) & mask
            // Move the entry into the hole unless its home lies cyclically in (hole, next].
            if (hole - home) & mask < (next - home) & mask {
                sl[hole] = sl[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        sl[hole] = 0
    }

    /// The flows' memory is mapped up front and zeroed by the kernel at its first write:
    /// in a profile of `sniff -r small-packets-1000000.pcap -q` (418 k flows), page
    /// faults and zeroing under the flow table were about 8% of the samples. A helper
    /// thread faults in the next `prefaultBytes` while the flows fill the memory before
    /// them (`LargeAllocation.prefault` writes nothing, so both may touch the same
    /// pages), and the next request comes when the flows are halfway into that stretch:
    /// the zeroing leaves the analysis thread for the other core, and memory is resident
    /// at most a stretch and a half ahead of use. One thread start per stretch, not per
    /// packet; the previous helper finished long before (it had half a stretch's worth
    /// of new flows to do it in).
    @inline(never)
    private func prefaultAhead() {
        let stride = MemoryLayout<Flow>.stride
        let page = 4096
        let written = (Int(highWater) * stride + page - 1) / page * page
        let from = Swift.max(st.pointee.prefaultedBytes, written)
        let to = Swift.min(from + FlowTable.prefaultBytes, st.pointee.flowBytes)
        guard from < to else {
            st.pointee.prefaultAt = .max
            return
        }
        st.pointee.prefaultedBytes = to
        // The next request when the flows are halfway into this stretch: the helper
        // keeps between half a stretch and a stretch and a half ahead.
        st.pointee.prefaultAt = Int32(clamping: (from + to) / 2 / stride)
        prefaulter?.join()
        let address = UInt(bitPattern: UnsafeMutableRawPointer(flows) + from), bytes = to - from
        prefaulter = WorkerThread(name: "sniff-prefault") {
            LargeAllocation.prefault(UnsafeMutableRawPointer(bitPattern: address)!, bytes: bytes)
        }
    }

    /// How far ahead of the flows `prefaultAhead` faults memory in.
    static let prefaultBytes = 8 << 20

    /// The bytes of the flows' memory handed to the prefaulting helper so far (tests).
    var prefaultedBytes: Int { st.pointee.prefaultedBytes }

    private func grow() {
        let oldCapacity = st.pointee.capacity
        let newCapacity = Swift.min(Swift.max(oldCapacity * 2, 16), Swift.max(config.maxFlows, oldCapacity + 1))
        let newBytes = newCapacity * MemoryLayout<Flow>.stride
        let newFlows = LargeAllocation.allocateZeroed(bytes: newBytes).bindMemory(to: Flow.self, capacity: newCapacity)
        newFlows.moveInitialize(from: flows, count: Int(highWater))
        LargeAllocation.free(UnsafeMutableRawPointer(flows), bytes: st.pointee.flowBytes)
        st.pointee.flows = newFlows
        st.pointee.flowBytes = newBytes
        st.pointee.capacity = newCapacity
        st.pointee.freeList.reserveCapacity(newCapacity)
        let slotCount = FlowTable.slotCount(for: newCapacity)
        if slotCount != slotMask + 1 {
            let old = slots, oldCount = slotMask + 1
            let bytes = slotCount * MemoryLayout<UInt64>.stride
            let sl = LargeAllocation.allocateZeroed(bytes: bytes).bindMemory(to: UInt64.self, capacity: slotCount)
            let mask = slotCount - 1
            for j in 0..<oldCount where old[j] != 0 {
                // Rehash from the stored hash bits (38 of them: enough for any table size).
                let v = old[j]
                var s = Int(truncatingIfNeeded: v >> FlowTable.indexBits) & mask
                while sl[s] != 0 { s = (s + 1) & mask }
                sl[s] = v
            }
            LargeAllocation.free(UnsafeMutableRawPointer(old), bytes: st.pointee.slotBytes)
            st.pointee.slots = sl
            st.pointee.slotBytes = bytes
            st.pointee.slotMask = mask
        }
    }

    // MARK: idle lists

    private func unlink(_ i: Int32) {
        let f = flows + Int(i)
        let c = Int(f.pointee.timeoutClass)
        guard c < FlowTable.classCount, f.pointee.lruPrev != -2 else { return }
        let prev = f.pointee.lruPrev, next = f.pointee.lruNext
        if prev >= 0 { flows[Int(prev)].lruNext = next } else if st.pointee.heads[c] == i { st.pointee.heads[c] = next }
        if next >= 0 { flows[Int(next)].lruPrev = prev } else if st.pointee.tails[c] == i { st.pointee.tails[c] = prev }
        f.pointee.lruPrev = -2
        f.pointee.lruNext = -1
    }

    private func link(_ i: Int32, _ c: UInt8) {
        let f = flows + Int(i)
        f.pointee.timeoutClass = c
        let cls = Int(c)
        let tail = st.pointee.tails[cls]
        f.pointee.lruPrev = tail
        f.pointee.lruNext = -1
        if tail >= 0 {
            flows[Int(tail)].lruNext = i
        } else {
            st.pointee.heads[cls] = i
            // A new head can only bring the next expiry forward when its list was empty.
            let timeout = st.pointee.timeouts[cls]
            if timeout != .max {
                let d = f.pointee.lastNanos.addingReportingOverflow(timeout)
                st.pointee.nextDue = Swift.min(st.pointee.nextDue, d.overflow ? .max : d.partialValue)
            }
        }
        st.pointee.tails[cls] = i
    }
}
