/// Holes in the sequence space of TCP directions: the source of `missed_bytes` and of
/// Zeek's content-gap letters 'G' / 'g'.
///
/// Only sequence numbers are kept, never data, and only for flows that have a hole, so
/// the whole life of every flow is covered at the cost of one comparison per segment.
/// A hole opens when a data segment starts past the highest sequence number its side
/// sent so far (a segment was lost before the capture, or arrives later). Bytes that
/// arrive later (retransmission, reordering) fill it. The hole becomes a content gap,
/// counted in `missed_bytes`, as Zeek counts one: when the peer acknowledges bytes that
/// were never seen; and, for what is left at the end of the flow, then (data past it
/// was seen, so those bytes were sent and never captured).
struct TCPGaps {
    struct Direction {
        /// Unwrapped sequence positions: `refSeq` sits at `refPos`.
        var refSeq: UInt32 = 0
        var refPos: Int64 = 0
        var holes: [Range<Int64>] = []
        var gaps: UInt32 = 0
        var exponent: UInt8 = 0
        var started = false

        /// The 64-bit position of `seq`, correct across 2^32 wraps as long as successive
        /// numbers are within 2^31 of each other.
        mutating func position(_ seq: UInt32) -> Int64 {
            let p = refPos &+ Int64(Int32(bitPattern: seq &- refSeq))
            refSeq = seq
            refPos = p
            return p
        }
    }

    struct Entry {
        var orig = Direction()
        var resp = Direction()
    }

    /// Holes kept per direction; a new one past this counts the oldest as missed.
    static let maximumHoles = 8
    /// A segment further ahead than this is not taken as the sign of a hole (a bogus
    /// sequence number would otherwise make a huge gap).
    static let maximumHole: Int32 = 16 << 20
    /// Flows with holes tracked at once; holes of further flows are not tracked.
    static let maximumFlows = 65_536

    private var entries: [Int32: Entry] = [:]
    /// Holes not tracked because `maximumFlows` flows already had some.
    private(set) var untracked: UInt64 = 0

    var count: Int { entries.count }

    /// What a call found: bytes now known missing, and how many gaps they formed.
    struct Found: Equatable {
        var bytes: UInt64 = 0
        var gaps: Int = 0
    }

    /// A data segment of `isOrig`'s side starts at `seq`, past `last`, the highest
    /// sequence number sent before. Returns false when the hole was not tracked.
    mutating func open(_ index: Int32, isOrig: Bool, from last: UInt32, to seq: UInt32) -> (Bool, Found) {
        guard Int32(bitPattern: seq &- last) <= TCPGaps.maximumHole else { return (false, Found()) }
        var e: Entry
        if let existing = entries.removeValue(forKey: index) {
            e = existing
        } else {
            guard entries.count < TCPGaps.maximumFlows else { untracked &+= 1; return (false, Found()) }
            e = Entry()
        }
        var found = Found()
        TCPGaps.update(&e, isOrig) { d in
            if !d.started { d.started = true; d.refSeq = last }
            let lo = d.position(last), hi = d.position(seq)
            if d.holes.count >= TCPGaps.maximumHoles {
                let oldest = d.holes.removeFirst()
                found.bytes &+= UInt64(oldest.count)
                found.gaps += 1
            }
            d.holes.append(lo ..< hi)
        }
        entries[index] = e
        return (true, found)
    }

    /// Bytes `seq ..< seq + length` of `isOrig`'s side arrived below its highest number.
    mutating func fill(_ index: Int32, isOrig: Bool, seq: UInt32, length: Int) {
        guard var e = entries.removeValue(forKey: index) else { return }
        TCPGaps.update(&e, isOrig) { d in
            guard !d.holes.isEmpty else { return }
            let lo = d.position(seq), hi = lo &+ Int64(length)
            var j = 0
            while j < d.holes.count {
                let h = d.holes[j]
                if h.upperBound <= lo || h.lowerBound >= hi { j += 1; continue }
                let left = h.lowerBound ..< Swift.max(h.lowerBound, lo)
                let right = Swift.min(h.upperBound, hi) ..< h.upperBound
                d.holes.remove(at: j)
                if !right.isEmpty { d.holes.insert(right, at: j) }
                if !left.isEmpty { d.holes.insert(left, at: j); j += 1 }
                if !right.isEmpty { j += 1 }
            }
        }
        entries[index] = e
    }

    /// The peer acknowledged `isOrig`'s side up to `ack`: holes below it are gaps.
    mutating func acked(_ index: Int32, isOrig: Bool, ack: UInt32) -> Found {
        guard var e = entries.removeValue(forKey: index) else { return Found() }
        var found = Found()
        TCPGaps.update(&e, isOrig) { d in
            guard !d.holes.isEmpty else { return }
            // An ack far from anything this side sent is not trusted.
            guard abs(Int64(Int32(bitPattern: ack &- d.refSeq))) <= Int64(TCPGaps.maximumHole) else { return }
            let a = d.position(ack)
            while let h = d.holes.first, h.lowerBound < a {
                let end = Swift.min(h.upperBound, a)
                found.bytes &+= UInt64(end - h.lowerBound)
                found.gaps += 1
                if end < h.upperBound { d.holes[0] = end ..< h.upperBound } else { d.holes.removeFirst() }
            }
        }
        entries[index] = e
        return found
    }

    /// The flow ended: every hole left is a gap (letters added to `history`). Forgets
    /// the flow; returns the bytes missed.
    mutating func finish(_ index: Int32, history: inout FlowHistory) -> UInt64 {
        guard var e = entries.removeValue(forKey: index) else { return 0 }
        var bytes: UInt64 = 0
        for isOrig in [true, false] {
            TCPGaps.update(&e, isOrig) { d in
                for h in d.holes {
                    bytes &+= UInt64(h.count)
                    Flow.scaledHistory(&d.gaps, &d.exponent, letter: UInt8(ascii: "G"), isOrig: isOrig, &history)
                }
            }
        }
        return bytes
    }

    /// Zeek's scaled letter for `count` new gaps of one side ('G' at the 1st, 10th,
    /// 100th ... gap).
    mutating func letters(_ index: Int32, isOrig: Bool, gaps: Int, into history: inout FlowHistory) {
        guard gaps > 0, var e = entries.removeValue(forKey: index) else { return }
        TCPGaps.update(&e, isOrig) { d in
            for _ in 0..<gaps {
                Flow.scaledHistory(&d.gaps, &d.exponent, letter: UInt8(ascii: "G"), isOrig: isOrig, &history)
            }
        }
        entries[index] = e
    }

    @inline(__always)
    private static func update(_ e: inout Entry, _ isOrig: Bool, _ body: (inout Direction) -> Void) {
        if isOrig { body(&e.orig) } else { body(&e.resp) }
    }
}
