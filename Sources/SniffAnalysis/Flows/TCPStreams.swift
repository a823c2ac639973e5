import SniffCore

/// The limits of TCP stream reassembly, part of `FlowTableConfig`.
public struct TCPReassemblyLimits: Sendable, Equatable {
    /// Bytes buffered per flow and direction from the start of the stream; 0 turns
    /// reassembly off (each segment is inspected alone, as before).
    public var budget: Int = 64 * 1024
    /// Bytes all streams of one flow table may hold at once. When reached, streams not
    /// yet buffering are inspected segment by segment (counted in `notBuffered`).
    public var memory: Int = 64 * 1024 * 1024

    public init(budget: Int = 64 * 1024, memory: Int = 64 * 1024 * 1024) {
        self.budget = budget
        self.memory = memory
    }
}

/// Counters of TCP stream reassembly, for the report and the tests.
public struct TCPReassemblyStats: Sendable, Equatable {
    /// Streams (one direction of a flow) that buffered data.
    public var streams: UInt64 = 0
    /// Streams not buffered because the memory cap was reached.
    public var notBuffered: UInt64 = 0
    /// Bytes received again (retransmissions), not delivered twice.
    public var duplicateBytes: UInt64 = 0
    /// Bytes received again with different content; the first copy is kept.
    public var conflictBytes: UInt64 = 0
    /// Bytes dropped because they lay past the per-stream budget.
    public var overBudgetBytes: UInt64 = 0
    /// Segments dropped because their stream had too many holes.
    public var fragmentedDrops: UInt64 = 0
    /// The most bytes held at once.
    public var peakHeld: Int = 0

    public init() {}
}

/// Reassembles the start of each TCP direction for the payload parsers.
///
/// A stream (one direction of one flow) holds the bytes from its first sequence number
/// (the one after the SYN, or the first segment seen when the capture began midstream)
/// up to `budget` bytes, at their offset, whatever order the segments came in. The
/// parsers read the contiguous prefix. Rules:
/// - bytes before the stream's start, or past the budget, are dropped;
/// - bytes already held (retransmissions) are not stored again; when their content
///   differs, the first copy wins and the difference is counted (`conflictBytes`);
/// - a stream holds at most `maximumRanges` separate runs of bytes; a segment that
///   would need more is dropped (counted);
/// - buffers come from a pool and go back to it when the stream is released, so a
///   steady state allocates nothing; the pool keeps at most `maximumPooled` buffers.
/// All streams together hold at most `limits.memory` bytes of buffer capacity; a stream
/// that would start past it is not buffered (`notBuffered`), and one whose buffer would
/// grow past it stops growing (its later bytes count as over budget).
public struct TCPStreams {
    /// One direction's buffer and the runs of bytes it holds, as offsets from `base`.
    struct Stream {
        var base: UInt32
        var bytes: [UInt8]
        /// Sorted, disjoint, non-adjacent half-open runs of held bytes.
        var ranges: [Range<Int>]

        /// Bytes held from offset 0 without a hole.
        var prefix: Int { ranges.first.map { $0.lowerBound == 0 ? $0.upperBound : 0 } ?? 0 }
    }

    public static let maximumRanges = 16
    static let maximumPooled = 256
    /// Buffers larger than this are freed rather than pooled.
    static let maximumPooledCapacity = 16 * 1024

    public let limits: TCPReassemblyLimits
    public private(set) var stats = TCPReassemblyStats()
    /// Buffer capacity held by live streams.
    public private(set) var held = 0
    /// Streams by flow index times two, plus one for the responder's direction.
    private var streams: [Int32: Stream] = [:]
    private var pool: [Stream] = []

    public init(limits: TCPReassemblyLimits = TCPReassemblyLimits()) {
        self.limits = limits
    }

    public var isEnabled: Bool { limits.budget > 0 }
    public var count: Int { streams.count }

    @inline(__always)
    static func key(_ index: Int32, _ isOrig: Bool) -> Int32 { index &* 2 &+ (isOrig ? 0 : 1) }

    public enum AddResult: Equatable {
        /// Not buffered (reassembly off, or the memory cap reached when it would start).
        case notBuffered
        /// The contiguous prefix grew: the parsers should read it again.
        case grew
        /// Held (or dropped) without growing the prefix.
        case unchanged
    }

    public func hasStream(_ index: Int32, isOrig: Bool) -> Bool { streams[TCPStreams.key(index, isOrig)] != nil }

    /// The stream's contiguous prefix length (0 when there is no stream).
    public func prefixLength(_ index: Int32, isOrig: Bool) -> Int {
        streams[TCPStreams.key(index, isOrig)]?.prefix ?? 0
    }

    /// Adds a segment whose first payload byte has sequence number `seq`. `start` is
    /// the stream's first sequence number when known (after a seen SYN), else the
    /// first segment's own number starts the stream.
    public mutating func add(_ index: Int32, isOrig: Bool, seq: UInt32, start: UInt32?,
                             payload: UnsafeRawBufferPointer) -> AddResult {
        guard isEnabled, !payload.isEmpty else { return .notBuffered }
        let k = TCPStreams.key(index, isOrig)
        var s: Stream
        let isNew: Bool
        if let existing = streams.removeValue(forKey: k) {
            s = existing
            isNew = false
        } else {
            guard held < limits.memory else { stats.notBuffered &+= 1; return .notBuffered }
            s = takeBuffer(base: start ?? seq)
            isNew = true
        }
        let before = s.prefix
        insert(&s, seq: seq, payload: payload)
        if isNew && s.bytes.isEmpty {
            // Nothing could be stored (no room under the cap, or all of it outside the
            // budget): the stream is not started.
            recycle(s)
            stats.notBuffered &+= 1
            return .notBuffered
        }
        if isNew { stats.streams &+= 1 }
        streams[k] = s
        return s.prefix > before ? .grew : .unchanged
    }

    /// Calls `body` with the stream's contiguous prefix (empty when there is none).
    public func withPrefix<R>(_ index: Int32, isOrig: Bool, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard let s = streams[TCPStreams.key(index, isOrig)] else {
            return body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let n = s.prefix
        return s.bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
    }

    /// Frees one direction's stream, its buffer back to the pool.
    public mutating func release(_ index: Int32, isOrig: Bool) {
        guard let s = streams.removeValue(forKey: TCPStreams.key(index, isOrig)) else { return }
        recycle(s)
    }

    private mutating func recycle(_ s: Stream) {
        held -= s.bytes.capacity
        if pool.count < TCPStreams.maximumPooled && s.bytes.capacity <= TCPStreams.maximumPooledCapacity {
            var r = s
            r.bytes.removeAll(keepingCapacity: true)
            r.ranges.removeAll(keepingCapacity: true)
            pool.append(r)
        }
    }

    /// Frees both directions of a flow.
    public mutating func release(_ index: Int32) {
        release(index, isOrig: true)
        release(index, isOrig: false)
    }

    private mutating func takeBuffer(base: UInt32) -> Stream {
        // A pooled buffer is taken only when its capacity fits under the cap.
        if let c = pool.last?.bytes.capacity, held + c <= limits.memory, var s = pool.popLast() {
            s.base = base
            held += s.bytes.capacity
            stats.peakHeld = Swift.max(stats.peakHeld, held)
            return s
        }
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(4)
        return Stream(base: base, bytes: [], ranges: ranges)
    }

    private mutating func insert(_ s: inout Stream, seq: UInt32, payload: UnsafeRawBufferPointer) {
        // Signed distance from the stream start: correct across the 2^32 wrap.
        var lo = Int(Int32(bitPattern: seq &- s.base))
        var skip = 0
        if lo < 0 { skip = -lo; lo = 0 }
        guard skip < payload.count else { stats.duplicateBytes &+= UInt64(payload.count); return }
        var hi = lo + (payload.count - skip)
        if hi > limits.budget {
            stats.overBudgetBytes &+= UInt64(hi - Swift.max(lo, limits.budget))
            hi = limits.budget
        }
        guard lo < hi else { return }
        if hi > s.bytes.count && !grow(&s, to: hi) {
            let room = s.bytes.count
            stats.overBudgetBytes &+= UInt64(hi - Swift.max(lo, room))
            hi = room
            guard lo < hi else { return }
        }
        // Compare the parts a run covers (the first copy wins), copy the others.
        var pos = lo
        var i = 0
        var copied = false
        var touches = false
        while pos < hi {
            while i < s.ranges.count && s.ranges[i].upperBound <= pos { i += 1 }
            if i < s.ranges.count && s.ranges[i].lowerBound <= pos {
                let end = Swift.min(hi, s.ranges[i].upperBound)
                countOverlap(s, at: pos, end: end, payload: payload, from: skip + (pos - lo))
                pos = end
                continue
            }
            let end = i < s.ranges.count ? Swift.min(hi, s.ranges[i].lowerBound) : hi
            if !copied {
                // A run that touches no held bytes adds a range: refuse it past the limit.
                touches = s.ranges.contains { $0.upperBound >= lo && $0.lowerBound <= hi }
                if !touches && s.ranges.count >= TCPStreams.maximumRanges {
                    stats.fragmentedDrops &+= 1
                    return
                }
            }
            let from = skip + (pos - lo)
            s.bytes.withUnsafeMutableBytes { dst in
                (dst.baseAddress! + pos).copyMemory(from: payload.baseAddress! + from, byteCount: end - pos)
            }
            copied = true
            pos = end
        }
        if copied { TCPStreams.merge(&s.ranges, lo ..< hi) }
    }

    private mutating func countOverlap(_ s: Stream, at pos: Int, end: Int, payload: UnsafeRawBufferPointer, from: Int) {
        stats.duplicateBytes &+= UInt64(end - pos)
        s.bytes.withUnsafeBytes { held in
            for j in 0..<(end - pos) where held[pos + j] != payload[from + j] { stats.conflictBytes &+= 1 }
        }
    }

    /// Grows the buffer to `count` bytes within the budget and the memory cap.
    private mutating func grow(_ s: inout Stream, to count: Int) -> Bool {
        let oldCapacity = s.bytes.capacity
        if count > oldCapacity {
            // Doubling, at least 2 KiB, at most the budget: few reallocations per stream.
            let want = Swift.min(limits.budget, Swift.max(count, Swift.max(2048, oldCapacity * 2)))
            guard held - oldCapacity + want <= limits.memory else { return false }
            s.bytes.reserveCapacity(want)
            held += s.bytes.capacity - oldCapacity
            stats.peakHeld = Swift.max(stats.peakHeld, held)
        }
        s.bytes.append(contentsOf: repeatElement(0, count: count - s.bytes.count))
        return true
    }

    /// Inserts `r` into sorted disjoint runs, joining runs it overlaps or touches.
    static func merge(_ runs: inout [Range<Int>], _ r: Range<Int>) {
        var lo = r.lowerBound, hi = r.upperBound
        var first = runs.count, last = -1
        for (j, x) in runs.enumerated() where x.upperBound >= lo && x.lowerBound <= hi {
            first = Swift.min(first, j); last = j
            lo = Swift.min(lo, x.lowerBound); hi = Swift.max(hi, x.upperBound)
        }
        if last >= 0 {
            runs.replaceSubrange(first...last, with: CollectionOfOne(lo ..< hi))
        } else {
            let at = runs.firstIndex { $0.lowerBound > hi } ?? runs.count
            runs.insert(lo ..< hi, at: at)
        }
    }
}
