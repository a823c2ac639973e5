/// One segment's rows sorted by one key: the SQLite store's replacement for a secondary
/// B-tree. A B-tree on near-random keys (client addresses, fresh ports) costs a few
/// microseconds per row and entry because every insert lands on a different page; a
/// run is written once, by the writer, when a segment of rows is complete, from pages
/// it has just written, so indexing costs one sort per segment and key.
///
/// Encoding (all integers are LEB128 varints, keys compared as bytes, shorter first
/// when one is a prefix of the other, which is how SQLite compares BLOBs):
///
///     run       := version(1) blockCount directory* block*
///     directory := keyLength key blockOffset      first key of the block; offset from
///                                                 the first block's start
///     block     := group*                         up to `groupsPerBlock` groups
///     group     := shared suffixLength suffix count firstRow rowDelta*
///
/// `shared` is the number of leading bytes the key has in common with the previous key
/// of the same block (0 for a block's first group); rows are offsets from the
/// segment's first id, ascending within a group. A lookup reads the directory (one
/// entry per `groupsPerBlock` distinct keys), then decodes only the blocks that can
/// hold the key range.
enum KeyRun {
    static let version: UInt8 = 1
    static let groupsPerBlock = 64

    /// A key of up to 16 bytes held as two big-endian words, so that sorting compares
    /// integers; `length` breaks ties the way byte comparison does.
    struct Entry {
        var k0: UInt64
        var k1: UInt64
        var length: UInt8
        var row: UInt32

        @inline(__always)
        static func before(_ a: Entry, _ b: Entry) -> Bool {
            if a.k0 != b.k0 { return a.k0 < b.k0 }
            if a.k1 != b.k1 { return a.k1 < b.k1 }
            if a.length != b.length { return a.length < b.length }
            return a.row < b.row
        }

        @inline(__always)
        func sameKey(_ o: Entry) -> Bool { k0 == o.k0 && k1 == o.k1 && length == o.length }

        /// The key's bytes: `length` leading bytes of k0 then k1, big-endian.
        func key(into out: inout [UInt8]) {
            out.removeAll(keepingCapacity: true)
            for i in 0..<Int(length) {
                let word = i < 8 ? k0 : k1
                out.append(UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * (i % 8))))
            }
        }

        /// An entry for a key given as bytes (at most 16).
        init(bytes: UnsafeRawBufferPointer, row: UInt32) {
            var a: UInt64 = 0, b: UInt64 = 0
            for i in 0..<min(bytes.count, 16) {
                if i < 8 {
                    a |= UInt64(bytes[i]) << UInt64(56 - 8 * i)
                } else {
                    b |= UInt64(bytes[i]) << UInt64(56 - 8 * (i - 8))
                }
            }
            k0 = a; k1 = b; length = UInt8(min(bytes.count, 16)); self.row = row
        }

        /// An entry for an unsigned integer key of `width` bytes.
        init(integer v: UInt64, width: Int, row: UInt32) {
            k0 = v << UInt64(64 - 8 * width); k1 = 0; length = UInt8(width); self.row = row
        }
    }

    /// Sorts entries that were appended in ascending `row` order into `Entry.before`
    /// order: a stable LSD radix sort on the key bytes (length, then k1, then k0, least
    /// significant first), which keeps equal keys in row order. Passes over a byte that
    /// every entry shares are skipped, so a port run takes two passes and an IPv4 run
    /// four. It replaced `sort(by: Entry.before)`, a stable merge sort through a
    /// comparison closure, which was 6% of the whole `sniff -r --db` profile.
    /// `scratch` is reused between calls to avoid allocating per segment.
    static func sort(_ entries: inout [Entry], scratch: inout [Entry]) {
        let n = entries.count
        guard n > 1 else { return }
        if scratch.count < n { scratch = entries } // contents are overwritten below
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 256)
        defer { counts.deallocate() }
        // Digits, least significant first: the length, k1's 8 bytes, k0's 8 bytes.
        // Digit 0 is the length; digit d in 1...8 is byte d-1 of k1; 9...16 of k0.
        @inline(__always) func digit(_ e: Entry, _ d: Int) -> Int {
            if d == 0 { return Int(e.length) }
            if d <= 8 { return Int(truncatingIfNeeded: (e.k1 >> UInt64(8 * (d - 1))) & 0xFF) }
            return Int(truncatingIfNeeded: (e.k0 >> UInt64(8 * (d - 9))) & 0xFF)
        }
        // Which digits vary at all: a byte that differs from the first entry's in
        // some entry. Only those need a pass.
        var diff0: UInt64 = 0, diff1: UInt64 = 0, lengthVaries = false
        entries.withUnsafeBufferPointer { e in
            let f = e[0]
            for x in e {
                diff0 |= x.k0 ^ f.k0
                diff1 |= x.k1 ^ f.k1
                if x.length != f.length { lengthVaries = true }
            }
        }
        var inScratch = false
        for d in 0...16 {
            let varies: Bool
            if d == 0 { varies = lengthVaries } else if d <= 8 { varies = (diff1 >> UInt64(8 * (d - 1))) & 0xFF != 0 }
            else { varies = (diff0 >> UInt64(8 * (d - 9))) & 0xFF != 0 }
            guard varies else { continue }
            counts.initialize(repeating: 0, count: 256)
            entries.withUnsafeMutableBufferPointer { a in
                scratch.withUnsafeMutableBufferPointer { b in
                    let src = inScratch ? b : a, dst = inScratch ? a : b
                    for i in 0..<n { counts[digit(src[i], d)] += 1 }
                    var sum = 0
                    for i in 0..<256 { let c = counts[i]; counts[i] = sum; sum += c }
                    for i in 0..<n {
                        let x = src[i]
                        let k = digit(x, d)
                        dst[counts[k]] = x
                        counts[k] += 1
                    }
                }
            }
            inScratch.toggle()
        }
        if inScratch {
            entries.withUnsafeMutableBufferPointer { a in
                scratch.withUnsafeBufferPointer { b in
                    for i in 0..<n { a[i] = b[i] }
                }
            }
        }
    }

    static func appendVarint(_ v: UInt64, to out: inout [UInt8]) {
        var v = v
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Encodes entries already sorted by `Entry.before`.
    static func encode(_ entries: [Entry]) -> [UInt8] {
        var directory: [UInt8] = []
        var blocks: [UInt8] = []
        var blockCount = 0
        var key: [UInt8] = [], previous: [UInt8] = []
        var groupsInBlock = groupsPerBlock
        var i = 0
        while i < entries.count {
            var j = i + 1
            while j < entries.count && entries[j].sameKey(entries[i]) { j += 1 }
            entries[i].key(into: &key)
            var shared = 0
            if groupsInBlock == groupsPerBlock {
                groupsInBlock = 0
                blockCount += 1
                appendVarint(UInt64(key.count), to: &directory)
                directory += key
                appendVarint(UInt64(blocks.count), to: &directory)
            } else {
                while shared < min(key.count, previous.count) && key[shared] == previous[shared] { shared += 1 }
            }
            groupsInBlock += 1
            appendVarint(UInt64(shared), to: &blocks)
            appendVarint(UInt64(key.count - shared), to: &blocks)
            blocks += key[shared...]
            appendVarint(UInt64(j - i), to: &blocks)
            var last: UInt32 = 0
            for k in i..<j {
                appendVarint(UInt64(k == i ? entries[k].row : entries[k].row - last), to: &blocks)
                last = entries[k].row
            }
            swap(&key, &previous)
            i = j
        }
        var out: [UInt8] = [version]
        appendVarint(UInt64(blockCount), to: &out)
        out += directory
        out += blocks
        return out
    }

    /// Byte comparison with SQLite's BLOB order.
    @inline(__always)
    static func compare(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Int {
        let n = min(a.count, b.count)
        for i in 0..<n where a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var at = 0
        var failed = false

        mutating func varint() -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while at < bytes.count {
                let b = bytes[at]
                at += 1
                if shift < 64 { v |= UInt64(b & 0x7F) << shift }
                if b < 0x80 { return v }
                shift += 7
            }
            failed = true
            return 0
        }
    }

    /// Where each block of a run starts: its first key (a slice of the run) and offset.
    struct Directory {
        var starts: [(key: UnsafeRawBufferPointer, offset: Int)] = []
        var base = 0
    }

    static func directory(_ run: UnsafeRawBufferPointer) -> Directory? {
        guard run.count > 1, run[0] == version else { return nil }
        var r = Reader(bytes: run, at: 1)
        let blockCount = Int(min(r.varint(), UInt64(run.count)))
        var d = Directory()
        d.starts.reserveCapacity(blockCount)
        for _ in 0..<blockCount {
            let n = Int(min(r.varint(), 16))
            guard r.at + n <= run.count else { return nil }
            let key = UnsafeRawBufferPointer(rebasing: run[r.at..<(r.at + n)])
            r.at += n
            d.starts.append((key, Int(min(r.varint(), UInt64(run.count)))))
            if r.failed { return nil }
        }
        d.base = r.at
        return d
    }

    /// Calls `body` with each group of block `block` in key order: the key and its rows
    /// (in a buffer reused between calls). `body` returns false to stop. Returns false
    /// when stopped or when the block is damaged.
    static func forEachGroup(in run: UnsafeRawBufferPointer, _ d: Directory, block: Int,
                             _ body: (UnsafeRawBufferPointer, [UInt32]) -> Bool) -> Bool {
        var r = Reader(bytes: run, at: d.base + d.starts[block].offset)
        let end = block + 1 < d.starts.count ? d.base + d.starts[block + 1].offset : run.count
        var key = [UInt8](repeating: 0, count: 16)
        var keyLength = 0
        var rows: [UInt32] = []
        while r.at < end && !r.failed {
            let shared = Int(min(r.varint(), 16))
            let suffix = Int(r.varint())
            guard shared <= keyLength, shared + suffix <= 16, r.at + suffix <= run.count else { return false }
            for i in 0..<suffix { key[shared + i] = run[r.at + i] }
            r.at += suffix
            keyLength = shared + suffix
            let count = Int(min(r.varint(), UInt64(run.count)))
            rows.removeAll(keepingCapacity: true)
            var row: UInt32 = 0
            for i in 0..<count {
                let v = UInt32(truncatingIfNeeded: r.varint())
                row = i == 0 ? v : row &+ v
                rows.append(row)
            }
            if r.failed { return false }
            let go = key.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<keyLength]), rows) }
            if !go { return false }
        }
        return !r.failed
    }

    /// Appends to `rows` the row offsets of every key in `lo...hi` (byte order).
    /// A damaged run yields what it could read; the caller checks every row it fetches
    /// against the filter anyway, so a run only ever narrows the search.
    static func rows(in run: UnsafeRawBufferPointer, from lo: [UInt8], through hi: [UInt8], into rows: inout [UInt32]) {
        guard let d = directory(run) else { return }
        // The last block whose first key is <= lo: the range starts in it or later.
        var a = 0, b = d.starts.count
        while a < b {
            let m = (a + b) / 2
            if compare(d.starts[m].key, lo) <= 0 { a = m + 1 } else { b = m }
        }
        var block = max(a - 1, 0)
        while block < d.starts.count {
            if compare(d.starts[block].key, hi) > 0 { return }
            var past = false
            let complete = forEachGroup(in: run, d, block: block) { key, groupRows in
                if compare(key, hi) > 0 { past = true; return false }
                if compare(key, lo) >= 0 { rows += groupRows }
                return true
            }
            if past || !complete { return }
            block += 1
        }
    }

    /// An integer sort key (a time, a byte count) as 8 bytes that compare like the
    /// numbers: the sign bit flipped, big-endian.
    @inline(__always)
    static func sortKey(_ v: Int64) -> UInt64 { UInt64(bitPattern: v) ^ (1 << 63) }

    static func sortKeyBytes(_ v: Int64) -> [UInt8] {
        let k = sortKey(v)
        return (0..<8).map { UInt8(truncatingIfNeeded: k >> UInt64(56 - 8 * $0)) }
    }

    /// The rows of a run of `sortKey`s from the largest key at most `hi` down, a block at
    /// a time: `body` gets each block's (value, row) pairs, largest first, and returns
    /// false to stop. This is how "biggest first" reads a segment without sorting it.
    static func descending(in run: UnsafeRawBufferPointer, through hi: Int64,
                           _ body: ([(value: Int64, row: UInt32)]) -> Bool) {
        guard let d = directory(run) else { return }
        let bound = sortKeyBytes(hi)
        var a = 0, b = d.starts.count
        while a < b {
            let m = (a + b) / 2
            if compare(d.starts[m].key, bound) <= 0 { a = m + 1 } else { b = m }
        }
        var block = a - 1
        var pairs: [(value: Int64, row: UInt32)] = []
        while block >= 0 {
            pairs.removeAll(keepingCapacity: true)
            _ = forEachGroup(in: run, d, block: block) { key, groupRows in
                guard key.count == 8 else { return true }
                let k = key.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                let v = Int64(bitPattern: k ^ (1 << 63))
                if v > hi { return false }
                for r in groupRows { pairs.append((v, r)) }
                return true
            }
            pairs.reverse()
            if !body(pairs) { return }
            block -= 1
        }
    }
}
