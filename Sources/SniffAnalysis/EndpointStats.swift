import SniffCore
import SniffDecode

/// A set of application protocols as a bitmap. `unknown` is never a member, so the
/// 64 known protocols fit one word (bit = raw value - 1).
public struct AppSet: Sendable, Equatable {
    /// Bit n - 1 (of `low`, then `high`) stands for the app of raw value n: two words
    /// hold raw values 1...128, a plain value that needs no allocation.
    public var low: UInt64 = 0
    public var high: UInt64 = 0
    public init() {}

    @inlinable
    public mutating func insert(_ a: AppProtocol) {
        guard a != .unknown else { return }
        let bit = UInt64(a.rawValue &- 1)
        if bit < 64 { low |= 1 << bit } else { high |= 1 << (bit &- 64) }
    }

    @inlinable
    public func contains(_ a: AppProtocol) -> Bool {
        guard a != .unknown else { return false }
        let bit = UInt64(a.rawValue &- 1)
        return (bit < 64 ? low >> bit : high >> (bit &- 64)) & 1 != 0
    }

    public var isEmpty: Bool { low == 0 && high == 0 }

    public var members: [AppProtocol] { AppProtocol.allCases.filter { contains($0) } }
}

/// An address and, for TCP/UDP, a port: the unit of the report's list.
public struct Endpoint: Hashable, Sendable, Comparable {
    public var address: IPAddress
    /// The port, or -1 for traffic without ports (ICMP, other IP protocols).
    public var port: Int32

    public init(address: IPAddress, port: Int32) {
        self.address = address
        self.port = port
    }

    public static func < (a: Endpoint, b: Endpoint) -> Bool {
        a.address != b.address ? a.address < b.address : a.port < b.port
    }

    public func write(into s: inout ByteSink) {
        if address.isIPv6 && port >= 0 {
            s.append(UInt8(ascii: "["))
            address.write(into: &s)
            s.append(UInt8(ascii: "]"))
        } else {
            address.write(into: &s)
        }
        if port >= 0 {
            s.append(UInt8(ascii: ":"))
            s.append(decimal: Int64(port))
        }
    }

    public var description: String {
        var s = ByteSink(capacity: 48)
        write(into: &s)
        return s.string
    }
}

/// Traffic seen by one endpoint, as sniffnet's report lists it.
public struct EndpointStat: Sendable, Equatable {
    public var sentPackets: UInt64 = 0
    public var sentBytes: UInt64 = 0
    public var receivedPackets: UInt64 = 0
    public var receivedBytes: UInt64 = 0
    public var first = Timestamp.zero
    public var last = Timestamp.zero
    /// Bitmap of TransportKind raw values.
    public var transports: UInt16 = 0
    public var apps = AppSet()

    public init() {}

    public var totalPackets: UInt64 { sentPackets + receivedPackets }

    public var transportKinds: [TransportKind] {
        TransportKind.allCases.filter { $0 != .none && transports & (1 << UInt16($0.rawValue)) != 0 }
    }
}

/// Per address:port counters in an open-addressing table: one probe sequence per
/// update, no allocation per packet, and a cap so that a scan cannot grow it without
/// bound (packets for endpoints beyond the cap are counted in `overflowPackets`).
///
/// It grows by doubling, a little at a time: the entries of the old table move to the
/// new one `migrateStep` slots per new entry (and any entry a packet finds there moves
/// at once), so that no packet waits for a million entries to move. A growth in one go
/// held the analysis thread for about a second under load, longer than the capture
/// thread waits for it before dropping frames.
///
/// The next table is mapped before it is needed, when the table is 60% full (it grows
/// at 70%), and a helper thread faults its pages in (`LargeAllocation.prefault`). Its
/// slots are chosen by hash, so the first few hundred inserts after a growth write to
/// every 2 MB huge page of it: left to those writes, the kernel zeroed the whole new
/// table in one burst on the analysis thread (0.8 s of CPU and 2.4 s of wall time for
/// the growth to 4 M slots, live at 179 k packets/s). A growth that comes before the
/// helper is done takes the table anyway: faulting in writes nothing, so both threads
/// may touch the same pages.
///
/// Each IP packet updates its source (sent) and its destination (received).
public final class EndpointTable {
    @usableFromInline
    struct Slot {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var port: Int32 = 0
        /// bit 0: occupied, bit 1: IPv6, bit 2: moved to the new table (old table only)
        var flags: UInt8 = 0
        var transports: UInt16 = 0
        var sentPackets: UInt64 = 0
        var sentBytes: UInt64 = 0
        var receivedPackets: UInt64 = 0
        var receivedBytes: UInt64 = 0
        var firstNs: Int64 = 0
        var lastNs: Int64 = 0
        var apps = AppSet()
    }

    private var slots: UnsafeMutablePointer<Slot>
    private var capacity: Int
    private var shift: UInt64
    /// During a growth: the table whose entries are moving into `slots`; those of its
    /// slots below `migrated` have moved (or were empty).
    private var old: UnsafeMutablePointer<Slot>? = nil
    private var oldCapacity = 0
    private var migrated = 0
    /// Old slots moved per new entry while growing: the old table is gone after
    /// oldCapacity / 32 new entries, long before the new one is 70% full again.
    static let migrateStep = 32
    /// The next table, mapped ahead of the growth that takes it and being faulted in by
    /// `prefaulter` (`spareCapacity` slots; nil before 60% and after the growth).
    private var spare: UnsafeMutablePointer<Slot>? = nil
    private var spareCapacity = 0
    private var prefaulter: WorkerThread? = nil
    /// The count at which the next table is prepared; Int.max when there is none to
    /// prepare (the table stops at `limit` first, or the next table is too small for
    /// huge pages, whose 4 KB pages are zeroed one at a time as inserts reach them).
    private var prepareAt = Int.max
    public private(set) var count = 0
    /// The most endpoints kept; later ones are only counted.
    public let limit: Int
    public private(set) var overflowPackets: UInt64 = 0

    public init(expectedEndpoints: Int = 32768, limit: Int = 4_000_000) {
        var cap = 16
        while cap < expectedEndpoints * 2 { cap <<= 1 }
        capacity = cap
        shift = UInt64(64 - cap.trailingZeroBitCount)
        slots = EndpointTable.allocateSlots(cap)
        self.limit = limit
        prepareAt = nextPrepareAt()
    }

    deinit {
        // The helper may still be faulting in the spare table, which is unmapped below.
        prefaulter?.join()
        LargeAllocation.free(slots, bytes: capacity * MemoryLayout<Slot>.stride)
        if let old { LargeAllocation.free(old, bytes: oldCapacity * MemoryLayout<Slot>.stride) }
        if let spare { LargeAllocation.free(spare, bytes: spareCapacity * MemoryLayout<Slot>.stride) }
    }

    /// 60% of the capacity, if the table will grow again and the next one gets huge pages.
    private func nextPrepareAt() -> Int {
        let grows = capacity * 7 / 10 < limit
        let hugePages = 2 * capacity * MemoryLayout<Slot>.stride >= LargeAllocation.hugePageThreshold
        return grows && hugePages ? capacity * 6 / 10 : Int.max
    }

    /// Maps the next table and has a helper thread fault its pages in.
    private func prepareSpare() {
        prepareAt = Int.max
        // The previous helper finished long ago: its table was half this one's size,
        // faulted in while the table grew from 60% to 70% and then filled to 60% again.
        prefaulter?.join()
        prefaulter = nil
        guard spare == nil else { return }
        spareCapacity = capacity * 2
        let bytes = spareCapacity * MemoryLayout<Slot>.stride
        let p = EndpointTable.allocateSlots(spareCapacity)
        spare = p
        let address = UInt(bitPattern: p)
        prefaulter = WorkerThread(name: "sniff-prefault") {
            LargeAllocation.prefault(UnsafeMutableRawPointer(bitPattern: address)!, bytes: bytes)
        }
    }

    /// Slots of the next table, mapped ahead of its growth (0 when none is).
    public var spareSlots: Int { spare == nil ? 0 : spareCapacity }

    /// Zeroed memory is a table of empty slots (flags == 0).
    private static func allocateSlots(_ n: Int) -> UnsafeMutablePointer<Slot> {
        LargeAllocation.allocateZeroed(bytes: n * MemoryLayout<Slot>.stride).bindMemory(to: Slot.self, capacity: n)
    }

    /// Memory the table holds now, for the benchmark and docs.
    public var bytesAllocated: Int { (capacity + oldCapacity + spareSlots) * MemoryLayout<Slot>.stride }

    @inline(__always)
    private func index(_ high: UInt64, _ low: UInt64, _ port: Int32, _ v6: Bool, shift: UInt64) -> Int {
        var h = high &* 0x9E37_79B9_7F4A_7C15
        h ^= (low ^ UInt64(UInt32(bitPattern: port)) << 17 ^ (v6 ? 0xABCD : 0)) &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 29
        h = h &* 0x1656_67B1_9E37_79F9
        return Int(truncatingIfNeeded: h >> shift)
    }

    /// The slot for a key, inserting it when absent; nil once the table is at its limit.
    @inline(__always)
    private func slot(_ a: IPAddress, _ port: Int32) -> UnsafeMutablePointer<Slot>? {
        let v6 = a.isIPv6
        let mask = capacity - 1
        var i = index(a.high, a.low, port, v6, shift: shift)
        let want: UInt8 = v6 ? 3 : 1
        while true {
            let s = slots + i
            if s.pointee.flags == 0 {
                if old != nil, let o = oldSlot(a.high, a.low, port, want) {
                    // Moves now rather than when the migration reaches it.
                    s.pointee = o.pointee
                    o.pointee.flags |= 4
                    return s
                }
                if count >= limit { return nil }
                if (count + 1) * 10 > capacity * 7 {
                    grow()
                    return slot(a, port)
                }
                s.pointee.high = a.high
                s.pointee.low = a.low
                s.pointee.port = port
                s.pointee.flags = want
                count += 1
                if count >= prepareAt { prepareSpare() }
                // Inserting into the new table never moves its other entries, so `s` stays.
                if old != nil { migrate(EndpointTable.migrateStep) }
                return s
            }
            if s.pointee.low == a.low && s.pointee.high == a.high && s.pointee.port == port && s.pointee.flags == want {
                return s
            }
            i = (i + 1) & mask
        }
    }

    /// The key's entry in the old table if it has not moved yet (a moved one's flags
    /// never equal `want`).
    private func oldSlot(_ high: UInt64, _ low: UInt64, _ port: Int32, _ want: UInt8) -> UnsafeMutablePointer<Slot>? {
        guard let old else { return nil }
        let mask = oldCapacity - 1
        var i = index(high, low, port, want & 2 != 0, shift: shift + 1)
        while old[i].flags != 0 {
            if old[i].low == low && old[i].high == high && old[i].port == port && old[i].flags == want {
                return old + i
            }
            i = (i + 1) & mask
        }
        return nil
    }

    /// Starts a growth: a table twice the size, empty, the spare one if it was prepared.
    /// A growth still under way finishes first.
    private func grow() {
        if old != nil { migrate(oldCapacity) }
        old = slots
        oldCapacity = capacity
        migrated = 0
        capacity *= 2
        shift -= 1
        // A spare is always twice the capacity it was prepared at, which only a growth changes.
        slots = spare ?? EndpointTable.allocateSlots(capacity)
        spare = nil
        spareCapacity = 0
        prepareAt = nextPrepareAt()
    }

    /// Moves the entries of up to `n` more old slots; frees the old table after its last.
    private func migrate(_ n: Int) {
        guard let old else { return }
        let mask = capacity - 1
        let end = min(oldCapacity, migrated + n)
        for j in migrated..<end where old[j].flags & 5 == 1 {
            var i = index(old[j].high, old[j].low, old[j].port, old[j].flags & 2 != 0, shift: shift)
            while slots[i].flags != 0 { i = (i + 1) & mask }
            slots[i] = old[j]
            old[j].flags |= 4
        }
        migrated = end
        if end == oldCapacity {
            LargeAllocation.free(old, bytes: oldCapacity * MemoryLayout<Slot>.stride)
            self.old = nil
            oldCapacity = 0
        }
    }

    @inline(__always)
    private func touch(
        _ a: IPAddress, _ port: Int32, sent: Bool, bytes: UInt64, ns: Int64, bit: UInt16, app: AppProtocol
    ) {
        guard let s = slot(a, port) else {
            overflowPackets &+= 1
            return
        }
        if s.pointee.sentPackets == 0 && s.pointee.receivedPackets == 0 {
            s.pointee.firstNs = ns
            s.pointee.lastNs = ns
        } else {
            if ns < s.pointee.firstNs { s.pointee.firstNs = ns }
            if ns > s.pointee.lastNs { s.pointee.lastNs = ns }
        }
        if sent {
            s.pointee.sentPackets &+= 1
            s.pointee.sentBytes &+= bytes
        } else {
            s.pointee.receivedPackets &+= 1
            s.pointee.receivedBytes &+= bytes
        }
        s.pointee.transports |= bit
        if app != .unknown { s.pointee.apps.insert(app) }
    }

    /// Records one packet; packets without an IP layer are not in the list.
    @inline(__always)
    public func record(_ p: DecodedPacket) {
        guard p.ipVersion != 0 else { return }
        let bytes = UInt64(p.wireLength)
        let ns = p.timestamp.totalNanoseconds
        let bit = UInt16(1) << UInt16(p.transport.rawValue)
        let sp: Int32 = p.hasPorts ? Int32(p.sport) : -1
        let dp: Int32 = p.hasPorts ? Int32(p.dport) : -1
        touch(p.src, sp, sent: true, bytes: bytes, ns: ns, bit: bit, app: p.app)
        touch(p.dst, dp, sent: false, bytes: bytes, ns: ns, bit: bit, app: p.app)
    }

    /// Every entry, unsorted.
    public func forEach(_ body: (Endpoint, EndpointStat) -> Void) {
        forEach(slots: 0..<(capacity + oldCapacity), body)
    }

    /// The slots `forEach(slots:)` ranges over: the table's, then during a growth the
    /// old table's. The start and the end of a growth change it.
    public var slotCapacity: Int { capacity + oldCapacity }

    /// The entries in the slots of `range` (clamped to `slotCapacity`): one step of a
    /// scan that a live view spreads over several calls, so that no call holds the
    /// analysis thread for a pass over millions of entries. During a growth entries
    /// move only from the old table (read last) to the new one, so such a scan may miss
    /// an entry that moved, never see one twice.
    public func forEach(slots range: Range<Int>, _ body: (Endpoint, EndpointStat) -> Void) {
        for j in range.clamped(to: 0..<(capacity + oldCapacity)) {
            let s = j < capacity ? slots[j] : old![j - capacity]
            guard s.flags & 5 == 1 else { continue }
            let a =
                s.flags & 2 != 0
                ? IPAddress(v6High: s.high, low: s.low) : IPAddress(v4: UInt32(truncatingIfNeeded: s.low))
            var st = EndpointStat()
            st.sentPackets = s.sentPackets
            st.sentBytes = s.sentBytes
            st.receivedPackets = s.receivedPackets
            st.receivedBytes = s.receivedBytes
            st.first = Timestamp(totalNanoseconds: s.firstNs)
            st.last = Timestamp(totalNanoseconds: s.lastNs)
            st.transports = s.transports
            st.apps = s.apps
            body(Endpoint(address: a, port: s.port), st)
        }
    }

    public func stat(for e: Endpoint) -> EndpointStat? {
        var found: EndpointStat?
        forEach { k, v in if k == e { found = v } }
        return found
    }

    /// The endpoints with at least `minPackets`, busiest first (then by bytes, then by
    /// address), at most `limit` of them, and how many passed `minPackets` in all.
    public func top(minPackets: UInt64 = 0, limit: Int? = nil) -> (list: [(Endpoint, EndpointStat)], eligible: Int) {
        guard let limit else {
            var list: [(Endpoint, EndpointStat)] = []
            list.reserveCapacity(count)
            forEach { e, s in if s.totalPackets >= minPackets { list.append((e, s)) } }
            // A closure literal, not `by: Busiest.before`: a method reference is passed as
            // a thunk the sort cannot inline (a call per comparison;
            // the thunk alone was 3% of a report run over 3.6 M packets).
            list.sort { Busiest.before($0, $1) }
            return (list, list.count)
        }
        var best = Busiest(limit: limit, minPackets: minPackets)
        forEach { e, s in best.add(e, s) }
        return (best.list, best.eligible)
    }

    /// The busiest `limit` endpoints of those added, in `top`'s order: fed by one pass,
    /// or by the steps of a scan spread over several calls (`forEach(slots:)`).
    public struct Busiest {
        public let limit: Int
        public let minPackets: UInt64
        /// Sorted, best first.
        public private(set) var list: [(Endpoint, EndpointStat)] = []
        /// Entries added that passed `minPackets`.
        public private(set) var eligible = 0

        public init(limit: Int, minPackets: UInt64 = 0) {
            self.limit = limit
            self.minPackets = minPackets
            list.reserveCapacity(limit + 1)
        }

        @inline(__always)
        static func before(_ a: (Endpoint, EndpointStat), _ b: (Endpoint, EndpointStat)) -> Bool {
            let pa = a.1.totalPackets, pb = b.1.totalPackets
            if pa != pb { return pa > pb }
            let ba = a.1.sentBytes + a.1.receivedBytes, bb = b.1.sentBytes + b.1.receivedBytes
            if ba != bb { return ba > bb }
            return a.0 < b.0
        }

        /// A terminal shows 20 of possibly millions: the best `limit` stay in a sorted
        /// buffer instead of a sort of them all (the full sort was most of a default run).
        public mutating func add(_ e: Endpoint, _ s: EndpointStat) {
            guard s.totalPackets >= minPackets else { return }
            eligible += 1
            guard limit > 0 else { return }
            let item = (e, s)
            if list.count == limit, let last = list.last, !Busiest.before(item, last) { return }
            var lo = 0, hi = list.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if Busiest.before(list[mid], item) { lo = mid + 1 } else { hi = mid }
            }
            list.insert(item, at: lo)
            if list.count > limit { list.removeLast() }
        }
    }
}
