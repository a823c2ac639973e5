import SniffCore

/// Reassembles IPv4 (RFC 791) and IPv6 (RFC 8200 §4.5) fragments into whole datagrams,
/// within fixed bounds, so that the transport header and payload of a fragmented
/// datagram are decoded once, on the frame that completes it (as tshark does).
///
/// Rules:
/// - A datagram is keyed by source, destination, identification, IPv4 protocol, the
///   outermost VLAN and the capture interface. It completes when the last fragment
///   (MF = 0) has set its length, every byte up to it has arrived and the fragment at
///   offset 0 has given the headers.
/// - Bounds (`Limits`): at most 65535 bytes of IP payload (larger is dropped, counted and
///   marked malformed), at most `maxDatagrams` in progress and `maxHeldBytes` of buffers;
///   when a new datagram or a buffer would pass a cap, the oldest datagram in progress is
///   dropped (`evicted`). A datagram not complete `timeout` after its first fragment
///   (capture time) is dropped (`timedOut`).
/// - Overlaps: the first data received wins. A fragment repeating data already held
///   byte for byte is a duplicate (counted, harmless); any other overlap is counted and
///   the frame marked malformed (`fragmentOverlap`). (RFC 5722 tells IPv6 hosts to drop
///   such datagrams, and Linux drops IPv4 ones too; Sniff keeps reading so that it shows
///   what a first-wins stack would have received, and says so on the frame.)
/// - A first fragment too short to hold its transport header (the tiny-fragment attack
///   of RFC 1858 / RFC 7112) is marked malformed (`tinyFragment`) and counted; the
///   datagram still reassembles.
/// - A non-last fragment whose length is not a multiple of 8, or a fragment ending past
///   the end the last fragment set, is marked malformed and not used.
///
/// Only fragments reach this type: an ordinary packet costs the caller one branch on
/// `isFragment`. Buffers are allocated per datagram in progress (its data, its headers
/// and the list of ranges received), never per packet that is not a fragment; fragments
/// are rare on real links, and the caps bound what a flood of them can hold. The output
/// buffer is allocated once, on the first completed datagram.
public final class IPReassembler {
    public struct Limits: Sendable, Equatable {
        /// Datagrams in progress at once.
        public var maxDatagrams: Int
        /// Bytes of buffers held by datagrams in progress (data, headers, range lists and
        /// a fixed overhead each).
        public var maxHeldBytes: Int
        /// How long a datagram may wait for its missing fragments, in capture time.
        public var timeoutNanos: Int64

        public init(maxDatagrams: Int = 4096, maxHeldBytes: Int = 32 << 20, timeoutNanos: Int64 = 30_000_000_000) {
            self.maxDatagrams = Swift.max(1, maxDatagrams)
            self.maxHeldBytes = Swift.max(IPReassembler.overhead + IPReassembler.maxBuffer, maxHeldBytes)
            self.timeoutNanos = timeoutNanos
        }
    }

    /// What happened to fragments and datagrams so far.
    public struct Counters: Sendable, Equatable {
        /// Fragments taken (atomic IPv6 fragments are whole datagrams and not counted).
        public var fragments: UInt64 = 0
        public var reassembled: UInt64 = 0
        public var timedOut: UInt64 = 0
        public var evicted: UInt64 = 0
        public var tooLarge: UInt64 = 0
        public var overlaps: UInt64 = 0
        public var duplicates: UInt64 = 0
        public var tinyFragments: UInt64 = 0
        /// Fragments not used: bad length, or past the datagram's end.
        public var badLength: UInt64 = 0
        /// Datagrams still incomplete when `finish` was called (the capture ended).
        public var unfinished: UInt64 = 0
        public init() {}

        /// Datagrams that were dropped incomplete, for whatever reason.
        public var incomplete: UInt64 { timedOut &+ evicted &+ tooLarge &+ unfinished }
    }

    /// An IPv4 payload, or an IPv6 payload plus the 40-byte header, is at most this long.
    static let maxBuffer = 65535 + 40 + 64
    /// Bytes counted for each datagram besides its buffers (its record and the table's
    /// entry), so that a flood of one-byte datagrams is bounded too.
    static let overhead = 256

    struct Key: Hashable {
        var src: IPAddress
        var dst: IPAddress
        var id: UInt32
        var proto: UInt8
        var version: UInt8
        var vlan: UInt16
        var interface: UInt32
    }

    /// A range of the fragmentable part, [start, end).
    struct Span: Equatable {
        var start: Int32
        var end: Int32
    }

    struct Datagram {
        var key: Key
        var startNanos: Int64
        /// The fragmentable part, each byte at its offset (zeros where nothing arrived).
        var data: [UInt8] = []
        /// The offset-0 fragment's headers: the IPv4 header, or the IPv6 header and the
        /// extension headers before the Fragment header. Empty until that fragment came.
        var header: [UInt8] = []
        /// IPv6: the index in `header` of the next-header byte that named the Fragment
        /// header, and the Fragment header's own next header, which replaces it.
        var nextHeaderField = -1
        var nextHeader: UInt8 = 0
        /// Ranges the headers declared, and ranges whose bytes were captured (a snaplen
        /// can cut a fragment), both sorted and merged.
        var declared: [Span] = []
        var captured: [Span] = []
        /// The length of the fragmentable part, once the last fragment came.
        var total = -1
        var frames = 0
        var held = 0
        /// The age list, oldest first.
        var older: Int32 = -1
        var newer: Int32 = -1
    }

    public let limits: Limits
    public private(set) var counters = Counters()
    /// Bytes held by datagrams in progress, as counted against `maxHeldBytes`.
    public private(set) var heldBytes = 0
    /// The most bytes and datagrams ever held at once.
    public private(set) var peakHeldBytes = 0
    public private(set) var peakDatagrams = 0

    private var slots: [Datagram?] = []
    private var free: [Int32] = []
    private var index: [Key: Int32] = [:]
    private var oldest: Int32 = -1
    private var newest: Int32 = -1
    private var output: UnsafeMutableRawBufferPointer? = nil

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    deinit { output?.deallocate() }

    /// Datagrams in progress.
    public var inProgress: Int { index.count }

    /// Takes a decoded fragment (decoded with `holdFragments`, so that it carries no
    /// transport fields). When it completes its datagram, `p` gets the datagram's
    /// transport fields, `reassembledFrames` and `reassembledLength`, and the result is
    /// the datagram (its IP header first) that `p`'s payload, DNS and ICMP offsets now
    /// point into, valid until the next call. Otherwise nil; `heldFragment` says whether
    /// the fragment was kept for a datagram. Packets that are not fragments, and atomic
    /// IPv6 fragments, are left alone.
    public func process(_ p: inout DecodedPacket, frame: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard p.isFragment, !p.fragment.isAtomic, p.ipVersion == 4 || p.ipVersion == 6 else { return nil }
        counters.fragments &+= 1
        let now = p.timestamp.totalNanoseconds
        expire(nanos: now)
        let f = p.fragment
        let v4 = p.ipVersion == 4
        let ipOffset = Int(f.ipOffset), dataOffset = Int(f.dataOffset)
        let off = Int(f.offset), len = Int(f.dataLength), end = off + len
        let headerLength = v4 ? dataOffset - ipOffset : dataOffset - 8 - ipOffset
        let key = Key(src: p.src, dst: p.dst, id: f.id, proto: v4 ? f.nextHeader : 0, version: p.ipVersion,
                      vlan: p.vlans.primary ?? 0, interface: p.interfaceID)
        p.heldFragment = true

        // The IPv4 total length, or the IPv6 payload length without the Fragment header.
        let limit = v4 ? 65535 - headerLength : 65535 - (headerLength - IPv6Header.fixedLength)
        if end > limit {
            p.markMalformed(Malformation(.fragmentTooLarge, v4 ? .ipv4 : .ipv6, UInt32(off), UInt32(len)))
            counters.tooLarge &+= 1
            if let i = index[key] { drop(i) }
            return nil
        }
        if f.more && (len == 0 || len % 8 != 0) {
            p.markMalformed(Malformation(.fragmentLength, v4 ? .ipv4 : .ipv6, UInt32(off), UInt32(len)))
            counters.badLength &+= 1
            return nil
        }
        var slot: Int32
        if let i = index[key] {
            slot = i
        } else {
            slot = create(key, now: now)
        }
        let s = Int(slot)
        // A tail that disagrees with the datagram's end, or data past it.
        let total = slots[s]!.total
        if total >= 0, end > total || (!f.more && end != total) {
            p.markMalformed(Malformation(.fragmentLength, v4 ? .ipv4 : .ipv6, UInt32(off), UInt32(len)))
            counters.badLength &+= 1
            return nil
        }
        if !f.more, let last = slots[s]!.declared.last, Int(last.end) > end {
            p.markMalformed(Malformation(.fragmentLength, v4 ? .ipv4 : .ipv6, UInt32(off), UInt32(len)))
            counters.badLength &+= 1
            return nil
        }
        if off == 0 {
            // The transport header must lie in the first fragment (RFC 1858, RFC 7112).
            let need = IPReassembler.transportHeaderLength(p.ipProto)
            let have = dataOffset + len - (ipOffset + Int(p.ipHeaderLength))
            if have < need {
                p.markMalformed(Malformation(.tinyFragment, v4 ? .ipv4 : .ipv6, UInt32(clamping: Swift.max(0, have)),
                                             UInt32(need)))
                counters.tinyFragments &+= 1
            }
        }
        let capturedLength = Swift.max(0, Swift.min(frame.count, dataOffset + len) - dataOffset)
        let data = capturedLength > 0
            ? UnsafeRawBufferPointer(rebasing: frame[dataOffset..<(dataOffset + capturedLength)])
            : UnsafeRawBufferPointer(start: nil, count: 0)

        // Overlap with what the headers already declared: a duplicate when the range is
        // covered and the captured bytes are the same, else an overlap.
        if IPReassembler.intersects(slots[s]!.declared, off, end) {
            let covered = IPReassembler.covers(slots[s]!.declared, off, end)
            if covered && sameBytes(slots[s]!, data, at: off) {
                counters.duplicates &+= 1
            } else {
                counters.overlaps &+= 1
                p.markMalformed(Malformation(.fragmentOverlap, v4 ? .ipv4 : .ipv6, UInt32(off), UInt32(len)))
            }
        }

        // Room for the bytes, within the byte cap.
        let needed = off + capturedLength
        if needed > slots[s]!.data.count {
            let grown = Swift.min(IPReassembler.maxBuffer, Swift.max(needed, slots[s]!.data.count * 2))
            guard reserve(grown - slots[s]!.data.count, for: slot) else { return nil }
            var bigger = [UInt8](repeating: 0, count: grown)
            bigger.withUnsafeMutableBytes { dst in
                slots[s]!.data.withUnsafeBytes { src in
                    if src.count > 0 { dst.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: src.count) }
                }
            }
            slots[s]!.data = bigger
        }
        if capturedLength > 0 {
            copyNew(data, at: off, into: s)
        }
        let spansBefore = slots[s]!.declared.capacity + slots[s]!.captured.capacity
        IPReassembler.insert(Span(start: Int32(off), end: Int32(end)), into: &slots[s]!.declared)
        if capturedLength > 0 {
            IPReassembler.insert(Span(start: Int32(off), end: Int32(off + capturedLength)), into: &slots[s]!.captured)
        }
        let spansAfter = slots[s]!.declared.capacity + slots[s]!.captured.capacity
        if spansAfter > spansBefore {
            guard reserve((spansAfter - spansBefore) * MemoryLayout<Span>.stride, for: slot) else { return nil }
        }
        if off == 0 && slots[s]!.header.isEmpty {
            let h = UnsafeRawBufferPointer(rebasing: frame[ipOffset..<Swift.min(frame.count, ipOffset + headerLength)])
            guard h.count == headerLength, reserve(headerLength, for: slot) else {
                if index[key] != nil { drop(slot) }
                return nil
            }
            slots[s]!.header = Array(h)
            if !v4 {
                slots[s]!.nextHeaderField = Int(f.nextHeaderField) - ipOffset
                slots[s]!.nextHeader = f.nextHeader
            }
        }
        if !f.more { slots[s]!.total = end }
        slots[s]!.frames &+= 1

        let d = slots[s]!
        guard d.total >= 0, !d.header.isEmpty, d.declared.count == 1, d.declared[0].start == 0,
              Int(d.declared[0].end) == d.total else { return nil }
        return complete(slot, into: &p)
    }

    /// Drops datagrams older than the timeout at `now` (capture time).
    public func expire(nanos now: Int64) {
        while oldest >= 0, now &- slots[Int(oldest)]!.startNanos >= limits.timeoutNanos {
            counters.timedOut &+= 1
            drop(oldest)
        }
    }

    /// Drops every datagram in progress (the capture ended), counting them as unfinished.
    public func finish() {
        while oldest >= 0 {
            counters.unfinished &+= 1
            drop(oldest)
        }
    }

    /// The shortest transport header the first fragment must hold.
    static func transportHeaderLength(_ proto: UInt8) -> Int {
        switch proto {
        case 6: return TCP.minimumLength
        case 17: return UDP.headerLength
        case 1, 58: return ICMP.headerLength
        default: return 0
        }
    }

    // MARK: datagrams

    private func create(_ key: Key, now: Int64) -> Int32 {
        if index.count >= limits.maxDatagrams, oldest >= 0 {
            counters.evicted &+= 1
            drop(oldest)
        }
        while heldBytes + IPReassembler.overhead > limits.maxHeldBytes, oldest >= 0 {
            counters.evicted &+= 1
            drop(oldest)
        }
        let d = Datagram(key: key, startNanos: now, held: IPReassembler.overhead)
        let slot: Int32
        if let reused = free.popLast() {
            slot = reused
            slots[Int(slot)] = d
        } else {
            slot = Int32(slots.count)
            slots.append(d)
        }
        index[key] = slot
        heldBytes += IPReassembler.overhead
        // Newest at the tail of the age list.
        slots[Int(slot)]!.older = newest
        if newest >= 0 { slots[Int(newest)]!.newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
        peakHeldBytes = Swift.max(peakHeldBytes, heldBytes)
        peakDatagrams = Swift.max(peakDatagrams, index.count)
        return slot
    }

    /// Counts `bytes` more for `slot`, dropping older datagrams to stay under the cap;
    /// false (and `slot` dropped) when even alone it would not fit.
    private func reserve(_ bytes: Int, for slot: Int32) -> Bool {
        while heldBytes + bytes > limits.maxHeldBytes {
            guard oldest >= 0, oldest != slot || slots[Int(slot)]!.newer >= 0 else {
                counters.evicted &+= 1
                drop(slot)
                return false
            }
            counters.evicted &+= 1
            drop(oldest == slot ? slots[Int(slot)]!.newer : oldest)
        }
        heldBytes += bytes
        slots[Int(slot)]!.held += bytes
        peakHeldBytes = Swift.max(peakHeldBytes, heldBytes)
        return true
    }

    private func drop(_ slot: Int32) {
        let s = Int(slot)
        guard let d = slots[s] else { return }
        if d.older >= 0 { slots[Int(d.older)]!.newer = d.newer } else { oldest = d.newer }
        if d.newer >= 0 { slots[Int(d.newer)]!.older = d.older } else { newest = d.older }
        index[d.key] = nil
        heldBytes -= d.held
        slots[s] = nil
        free.append(slot)
    }

    private func sameBytes(_ d: Datagram, _ data: UnsafeRawBufferPointer, at off: Int) -> Bool {
        // Only bytes captured both times can be compared.
        for span in d.captured {
            let a = Swift.max(off, Int(span.start)), b = Swift.min(off + data.count, Int(span.end))
            guard a < b else { continue }
            for i in a..<b where d.data[i] != data[i - off] { return false }
        }
        return true
    }

    /// Copies the bytes of `data` (at datagram offset `off`) that no earlier fragment
    /// supplied: the first data wins.
    private func copyNew(_ data: UnsafeRawBufferPointer, at off: Int, into s: Int) {
        let end = off + data.count
        var pos = off
        let spans = slots[s]!.captured
        slots[s]!.data.withUnsafeMutableBytes { dst in
            for span in spans where Int(span.end) > pos {
                if Int(span.start) >= end { break }
                if Int(span.start) > pos {
                    let upTo = Swift.min(end, Int(span.start))
                    dst.baseAddress!.advanced(by: pos).copyMemory(from: data.baseAddress!.advanced(by: pos - off),
                                                                  byteCount: upTo - pos)
                }
                pos = Swift.max(pos, Int(span.end))
                if pos >= end { break }
            }
            if pos < end {
                dst.baseAddress!.advanced(by: pos).copyMemory(from: data.baseAddress!.advanced(by: pos - off),
                                                              byteCount: end - pos)
            }
        }
    }

    /// Writes the datagram as one IP packet into the output buffer, decodes it, and moves
    /// its transport fields into `p`.
    private func complete(_ slot: Int32, into p: inout DecodedPacket) -> UnsafeRawBufferPointer? {
        let d = slots[Int(slot)]!
        let v4 = d.key.version == 4
        let h = d.header.count
        let payload = v4 ? h + d.total : h - IPv6Header.fixedLength + d.total
        guard payload <= 65535, h + d.total <= IPReassembler.maxBuffer else {
            counters.tooLarge &+= 1
            p.markMalformed(Malformation(.fragmentTooLarge, v4 ? .ipv4 : .ipv6, UInt32(d.total), UInt32(h)))
            drop(slot)
            return nil
        }
        let out: UnsafeMutableRawBufferPointer
        if let o = output {
            out = o
        } else {
            out = .allocate(byteCount: IPReassembler.maxBuffer, alignment: 8)
            output = out
        }
        // Bytes captured from the start on; a snaplen cut leaves the rest out, and the
        // datagram then decodes as truncated, like any cut packet.
        let captured = d.captured.first.map { $0.start == 0 ? Int($0.end) : 0 } ?? 0
        d.header.withUnsafeBytes { out.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: h) }
        if captured > 0 {
            d.data.withUnsafeBytes {
                out.baseAddress!.advanced(by: h).copyMemory(from: $0.baseAddress!, byteCount: captured)
            }
        }
        if v4 {
            out[2] = UInt8(payload >> 8); out[3] = UInt8(payload & 0xFF)
            out[6] &= 0x40          // keep DF; no MF, offset 0
            out[7] = 0
        } else {
            out[4] = UInt8(payload >> 8); out[5] = UInt8(payload & 0xFF)
            if d.nextHeaderField >= 0 && d.nextHeaderField < h { out[d.nextHeaderField] = d.nextHeader }
        }
        let bytes = UnsafeRawBufferPointer(rebasing: out[0..<(h + captured)])
        var q = DecodedPacket()
        q.capturedLength = UInt32(h + captured)
        q.wireLength = UInt32(h + d.total)
        q.timestamp = p.timestamp
        PacketDecoder.decodeNetwork(v4 ? 0x0800 : 0x86DD, ByteCursor(bytes), at: 0, into: &q, holdFragments: false)
        p.ipProto = q.ipProto
        p.ipHeaderLength = q.ipHeaderLength
        p.ipTotalLength = q.ipTotalLength
        p.transport = q.transport
        p.hasPorts = q.hasPorts; p.sport = q.sport; p.dport = q.dport
        p.hasTCP = q.hasTCP; p.tcp = q.tcp
        p.hasPayloadLength = q.hasPayloadLength; p.payloadLength = q.payloadLength
        p.payloadOffset = q.payloadOffset; p.payloadCaptured = q.payloadCaptured
        p.hasICMP = q.hasICMP; p.icmpType = q.icmpType; p.icmpCode = q.icmpCode; p.icmpOffset = q.icmpOffset
        p.app = q.app; p.appSource = q.appSource
        p.hasDNS = q.hasDNS; p.dns = q.dns
        p.hasInner = q.hasInner; p.inner = q.inner
        if let m = q.malformed { p.markMalformed(m) }
        if q.truncated { p.truncated = true }
        p.heldFragment = false
        p.reassembledFrames = UInt16(clamping: d.frames)
        p.reassembledLength = UInt32(d.total)
        counters.reassembled &+= 1
        drop(slot)
        return bytes
    }

    // MARK: ranges

    static func intersects(_ spans: [Span], _ a: Int, _ b: Int) -> Bool {
        guard a < b else { return false }
        for s in spans where Int(s.start) < b && Int(s.end) > a { return true }
        return false
    }

    static func covers(_ spans: [Span], _ a: Int, _ b: Int) -> Bool {
        for s in spans where Int(s.start) <= a && Int(s.end) >= b { return true }
        return false
    }

    /// Inserts [start, end) into sorted, merged `spans`, merging what touches it.
    static func insert(_ span: Span, into spans: inout [Span]) {
        guard span.start < span.end else { return }
        var lo = span.start, hi = span.end
        var i = 0
        while i < spans.count && spans[i].end < lo { i += 1 }
        var j = i
        while j < spans.count && spans[j].start <= hi {
            lo = Swift.min(lo, spans[j].start)
            hi = Swift.max(hi, spans[j].end)
            j += 1
        }
        spans.replaceSubrange(i..<j, with: CollectionOfOne(Span(start: lo, end: hi)))
    }
}
