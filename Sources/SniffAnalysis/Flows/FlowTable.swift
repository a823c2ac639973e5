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
    /// Receives started, updated and finished flows.
    public var observer: FlowObserver?
    /// Take `now` from the wall clock instead of the packet (live capture).
    public var useWallClock = false
    public private(set) var stats = FlowTableStats()

    private var flows: UnsafeMutablePointer<Flow>
    private var capacity: Int
    /// Flows ever placed (indices below this are initialised memory).
    private var highWater: Int32 = 0
    private var freeList: [Int32] = []
    public private(set) var count = 0

    private var slots: UnsafeMutablePointer<UInt64>
    private var slotMask: Int

    private static let classCount = 5
    private static let deadClass: UInt8 = 255
    private var heads: [Int32] = Array(repeating: -1, count: FlowTable.classCount)
    private var tails: [Int32] = Array(repeating: -1, count: FlowTable.classCount)
    private var timeouts: [Int64]

    public init(config: FlowTableConfig = FlowTableConfig(), observer: FlowObserver? = nil) {
        self.config = config
        self.observer = observer
        capacity = Swift.max(16, Swift.min(config.initialCapacity, Swift.max(16, config.maxFlows)))
        flows = .allocate(capacity: capacity)
        let slotCount = FlowTable.slotCount(for: capacity)
        slots = .allocate(capacity: slotCount)
        slots.initialize(repeating: 0, count: slotCount)
        slotMask = slotCount - 1
        freeList.reserveCapacity(capacity)
        timeouts = [config.tcpEstablishedTimeout, config.tcpClosedTimeout, config.udpTimeout, config.icmpTimeout, config.otherTimeout]
    }

    deinit {
        for i in 0..<Int(highWater) where flows[i].timeoutClass != FlowTable.deadClass {
            (flows + i).deinitialize(count: 1)
        }
        // Dead entries hold no references (their details box was released on removal).
        flows.deallocate()
        slots.deallocate()
    }

    private static func slotCount(for capacity: Int) -> Int {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        return n
    }

    /// Bytes the table holds per flow of capacity: the flow record plus its share of
    /// the index (for the memory figure in docs/FLOWS.md).
    public var bytesPerFlowSlot: Double {
        Double(MemoryLayout<Flow>.stride) + Double((slotMask + 1) * MemoryLayout<UInt64>.stride) / Double(capacity)
    }

    // MARK: packets

    public func consume(_ packet: DecodedPacket, frame: UnsafeRawBufferPointer) {
        process(packet, frame: frame, now: useWallClock ? Timestamp.now() : packet.timestamp)
    }

    /// Accounts one decoded packet. `frame` is the captured bytes (for payload
    /// inspection); `now` drives the timers: the packet time for files, the wall clock
    /// live.
    public func process(_ p: DecodedPacket, frame: UnsafeRawBufferPointer, now: Timestamp) {
        let nowNanos = now.totalNanoseconds
        stats.packets &+= 1
        expire(nanos: nowNanos)
        guard p.ipVersion != 0 else { stats.packetsWithoutFlow &+= 1; return }
        let proto = p.ipProto
        var sport: UInt16 = 0, dport: UInt16 = 0, oneWay = false
        switch proto {
        case 6, 17:
            guard p.hasPorts else { stats.packetsWithoutFlow &+= 1; return }
            sport = p.sport; dport = p.dport
        case 1, 58:
            if p.hasICMP {
                let m = FlowKey.icmpPorts(type: p.icmpType, code: p.icmpCode, v6: proto == 58)
                sport = m.sport; dport = m.dport; oneWay = m.oneWay
            } else if p.isFragment {
                stats.packetsWithoutFlow &+= 1
                return
            }
        default:
            break
        }
        let (key, srcIsA) = FlowKey.canonical(src: p.src, sport: sport, dst: p.dst, dport: dport, proto: proto,
                                              vlan: p.vlans.primary ?? 0, oneWay: oneWay)
        let hash = key.fastHash
        let packetNanos = p.timestamp.totalNanoseconds
        let tcp: TCPSegment? = p.hasTCP
            ? TCPSegment(flags: p.tcp.flags, seq: p.tcp.seq, ack: p.tcp.ack, window: p.tcp.window, payloadLength: Int(p.payloadLength))
            : nil

        var index = find(key, hash: hash)
        var continuedOrigIsA: Bool? = nil
        if index >= 0 {
            let f = flows + Int(index)
            let isOrig = srcIsA == f.pointee.origIsA
            if let tcp, tcp.flags & TCP.syn != 0, FlowTable.isReuse(f.pointee, isOrig: isOrig, tcp) {
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
            if count >= config.maxFlows { evictOldest() }
            var origIsA = continuedOrigIsA ?? srcIsA
            var flip = false
            if continuedOrigIsA == nil, FlowTable.shouldFlip(proto: proto, sport: sport, dport: dport, tcp: tcp) {
                origIsA = !srcIsA
                flip = true
            }
            let app: AppProtocol = (proto == 6 || proto == 17) ? AppProtocol.forPorts(sport, dport, udp: proto == 17) : .unknown
            var flow = Flow(key: key, origIsA: origIsA, nanos: packetNanos, app: app)
            if flip { flow.markFlipped() }
            index = insert(flow, hash: hash)
            isNew = true
            stats.flowsCreated &+= 1
        }
        let f = flows + Int(index)
        let isOrig = srcIsA == f.pointee.origIsA
        let payload: UInt32
        switch proto {
        case 6, 17: payload = p.payloadLength
        case 1, 58: payload = UInt32(clamping: Int(p.ipTotalLength) - Int(p.ipHeaderLength) - 8)
        default: payload = UInt32(clamping: Int(p.ipTotalLength) - Int(p.ipHeaderLength))
        }
        let lastBefore = f.pointee.lastNanos
        f.pointee.packet(isOrig: isOrig, nanos: packetNanos, ipBytes: p.ipTotalLength, wireBytes: p.wireLength,
                         payloadLength: payload, tcp: tcp)
        var updated = false
        if Int(f.pointee.inspected) < config.inspectPackets && (p.payloadCaptured > 0 || p.hasDNS) {
            f.pointee.inspected &+= 1
            updated = PayloadInspector.inspect(&f.pointee, isOrig: isOrig, p, frame: frame)
        }
        let cls = FlowTable.timeoutClass(of: f.pointee)
        if cls != f.pointee.timeoutClass || f.pointee.lastNanos != lastBefore {
            unlink(index)
            link(index, cls)
        }
        if isNew {
            observer?.flowStarted(f.pointee)
        } else if updated {
            observer?.flowUpdated(f.pointee)
        }
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

    /// Zeek's TCPSessionAdapter::IsReuse for a SYN arriving on an existing flow.
    static func isReuse(_ f: Flow, isOrig: Bool, _ s: TCPSegment) -> Bool {
        var connOrig = f.orig
        if s.flags & TCP.ack != 0 {
            if f.orig.state != .inactive { return false }
            connOrig = f.resp
        }
        if !(f.orig.didClose || f.resp.didClose) {
            if s.seq == connOrig.startSeq { return false }
            if s.flags & TCP.ack == 0 && connOrig.state == .synAckSent && f.resp.state == .inactive && s.seq == f.resp.startSeq {
                return false
            }
        }
        return true
    }

    /// 0 TCP established, 1 TCP closed or half-open, 2 UDP, 3 ICMP, 4 other.
    static func timeoutClass(of f: Flow) -> UInt8 {
        switch f.key.proto {
        case 6:
            let o = f.orig.state, r = f.resp.state
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
        for c in 0..<FlowTable.classCount {
            let timeout = timeouts[c]
            if timeout == .max { continue }
            while heads[c] >= 0 {
                let i = heads[c]
                let f = flows + Int(i)
                guard now &- f.pointee.lastNanos >= timeout else { break }
                end(i, hash: f.pointee.key.fastHash, reason: .idle)
            }
        }
    }

    /// Emits every open flow (end of capture), oldest first.
    public func flush(reason: FlowEndReason = .end) {
        var open: [(Int64, Int32)] = []
        open.reserveCapacity(count)
        for i in 0..<Int(highWater) where flows[i].timeoutClass != FlowTable.deadClass {
            open.append((flows[i].startNanos, Int32(i)))
        }
        open.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        for (_, i) in open { end(i, hash: flows[Int(i)].key.fastHash, reason: reason) }
    }

    /// The open flows, copied (for a live view or a test).
    public func openFlows() -> [Flow] {
        var out: [Flow] = []
        for i in 0..<Int(highWater) where flows[i].timeoutClass != FlowTable.deadClass { out.append(flows[i]) }
        return out
    }

    private func evictOldest() {
        var best: Int32 = -1
        var bestLast = Int64.max
        for c in 0..<FlowTable.classCount where heads[c] >= 0 {
            let l = flows[Int(heads[c])].lastNanos
            if l < bestLast { bestLast = l; best = heads[c] }
        }
        if best >= 0 { end(best, hash: flows[Int(best)].key.fastHash, reason: .evicted) }
    }

    private func end(_ index: Int32, hash: UInt64, reason: FlowEndReason) {
        let f = flows + Int(index)
        unlink(index)
        removeSlot(index: index, hash: hash)
        let flow = f.move()
        // Keep the slot's memory initialised as a dead entry so the storage stays one
        // typed buffer.
        var dead = Flow(key: flow.key, origIsA: true, nanos: 0)
        dead.timeoutClass = FlowTable.deadClass
        f.initialize(to: dead)
        freeList.append(index)
        count -= 1
        stats.flowsEnded &+= 1
        stats.endedBy[Int(reason.rawValue)] &+= 1
        observer?.flowEnded(flow, reason: reason)
    }

    // MARK: storage

    private func insert(_ flow: Flow, hash: UInt64) -> Int32 {
        let index: Int32
        if let free = freeList.popLast() {
            index = free
            flows[Int(free)] = flow
        } else {
            if Int(highWater) == capacity { grow() }
            index = highWater
            (flows + Int(index)).initialize(to: flow)
            highWater += 1
        }
        flows[Int(index)].lruPrev = -2
        count += 1
        if count > stats.peakFlows { stats.peakFlows = count }
        var s = Int(truncatingIfNeeded: hash) & slotMask
        while slots[s] != 0 { s = (s + 1) & slotMask }
        slots[s] = (hash >> 32) << 32 | UInt64(UInt32(index) + 1)
        return index
    }

    private func find(_ key: FlowKey, hash: UInt64) -> Int32 {
        let tag = hash >> 32
        var s = Int(truncatingIfNeeded: hash) & slotMask
        while true {
            let v = slots[s]
            if v == 0 { return -1 }
            if v >> 32 == tag {
                let i = Int32(truncatingIfNeeded: (v & 0xFFFF_FFFF) - 1)
                if flows[Int(i)].key == key { return i }
            }
            s = (s + 1) & slotMask
        }
    }

    /// Backward-shift deletion: later entries of the probe run move up so that lookups
    /// never need tombstones.
    private func removeSlot(index: Int32, hash: UInt64) {
        let want = UInt64(UInt32(index) + 1)
        var s = Int(truncatingIfNeeded: hash) & slotMask
        while slots[s] & 0xFFFF_FFFF != want {
            if slots[s] == 0 { return }
            s = (s + 1) & slotMask
        }
        var hole = s
        var next = (hole + 1) & slotMask
        while slots[next] != 0 {
            let i = Int((slots[next] & 0xFFFF_FFFF) - 1)
            let home = Int(truncatingIfNeeded: flows[i].key.fastHash) & slotMask
            // Move the entry into the hole unless its home lies cyclically in (hole, next].
            let distNext = (next - home) & slotMask
            let distHole = (hole - home) & slotMask
            if distHole < distNext {
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & slotMask
        }
        slots[hole] = 0
    }

    private func grow() {
        let newCapacity = Swift.max(capacity * 2, 16)
        let newFlows = UnsafeMutablePointer<Flow>.allocate(capacity: newCapacity)
        newFlows.moveInitialize(from: flows, count: Int(highWater))
        flows.deallocate()
        flows = newFlows
        capacity = newCapacity
        freeList.reserveCapacity(newCapacity)
        let slotCount = FlowTable.slotCount(for: newCapacity)
        if slotCount != slotMask + 1 {
            slots.deallocate()
            slots = .allocate(capacity: slotCount)
            slots.initialize(repeating: 0, count: slotCount)
            slotMask = slotCount - 1
            for i in 0..<Int(highWater) where flows[i].timeoutClass != FlowTable.deadClass {
                let h = flows[i].key.fastHash
                var s = Int(truncatingIfNeeded: h) & slotMask
                while slots[s] != 0 { s = (s + 1) & slotMask }
                slots[s] = (h >> 32) << 32 | UInt64(UInt32(i) + 1)
            }
        }
    }

    // MARK: idle lists

    private func unlink(_ i: Int32) {
        let f = flows + Int(i)
        let c = Int(f.pointee.timeoutClass)
        guard c < FlowTable.classCount, f.pointee.lruPrev != -2 else { return }
        let prev = f.pointee.lruPrev, next = f.pointee.lruNext
        if prev >= 0 { flows[Int(prev)].lruNext = next } else if heads[c] == i { heads[c] = next }
        if next >= 0 { flows[Int(next)].lruPrev = prev } else if tails[c] == i { tails[c] = prev }
        f.pointee.lruPrev = -2
        f.pointee.lruNext = -1
    }

    private func link(_ i: Int32, _ c: UInt8) {
        let f = flows + Int(i)
        f.pointee.timeoutClass = c
        let cls = Int(c)
        f.pointee.lruPrev = tails[cls]
        f.pointee.lruNext = -1
        if tails[cls] >= 0 { flows[Int(tails[cls])].lruNext = i } else { heads[cls] = i }
        tails[cls] = i
    }
}
