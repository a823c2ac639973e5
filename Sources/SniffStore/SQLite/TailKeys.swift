import SniffCore
import SniffDecode

/// The keys of the rows a writer connection inserted after the last indexed segment,
/// collected as it inserts them, so that closing a segment sorts them without reading
/// the segment back: `SegmentedTable.index`'s SELECT of 65 536 rows was about half of
/// the writer's indexing time.
///
/// Covers the ids `first..<next`, all written by this connection one batch after the
/// other. Anything else (a batch that does not follow on, another process writing
/// between two batches, a rolled-back transaction, retention deleting rows) leaves the
/// keys unable to cover a segment, which is then read back as before.
final class TailKeys {
    private(set) var first: Int64 = 0
    private(set) var next: Int64 = 0
    /// One array per kind of `SegmentedTable.kinds`, each in row order; rows are offsets
    /// from `first`.
    private var entries: [[KeyRun.Entry]]
    /// The rows' times, in id order.
    private var times: [Int64] = []

    init(kinds: Int) {
        entries = [[KeyRun.Entry]](repeating: [], count: kinds)
    }

    /// Starts over at `firstID` unless the new rows follow on; returns the first new row's offset.
    private func follow(_ firstID: Int64, count: Int) -> UInt32 {
        if next != firstID || firstID - first + Int64(count) > Int64(UInt32.max) { reset(at: firstID) }
        next = firstID + Int64(count)
        times.reserveCapacity(times.count + count)
        return UInt32(truncatingIfNeeded: firstID - first)
    }

    func reset(at id: Int64) {
        first = id
        next = id
        for k in entries.indices { entries[k].removeAll(keepingCapacity: true) }
        times.removeAll(keepingCapacity: true)
    }

    /// Packets written with ids from `firstID`: the keys `SegmentedTable.packets` reads
    /// back from the columns `PacketTable.bind` writes (NULL transport and app as 0).
    func append(_ rows: [PacketRow], firstID: Int64) {
        var row = follow(firstID, count: rows.count)
        // Fields read through the buffer: `for r in rows` copied each row, retaining its strings.
        rows.withUnsafeBufferPointer { rows in
            for i in rows.indices {
                if rows[i].has(.ip) {
                    entries[0].append(KeyRun.Entry(address: rows[i].src, row: row))
                    entries[1].append(KeyRun.Entry(address: rows[i].dst, row: row))
                }
                if rows[i].has(.ports) {
                    entries[2].append(KeyRun.Entry(integer: UInt64(rows[i].sport), width: 2, row: row))
                    entries[3].append(KeyRun.Entry(integer: UInt64(rows[i].dport), width: 2, row: row))
                }
                entries[4].append(KeyRun.Entry(integer: UInt64(rows[i].transport.rawValue), width: 1, row: row))
                entries[5].append(KeyRun.Entry(integer: UInt64(rows[i].app.rawValue), width: 1, row: row))
                times.append(rows[i].ts)
                row &+= 1
            }
        }
    }

    /// Flows written with ids from `firstID`: the keys of `SegmentedTable.flows`.
    func append(_ rows: [FlowRow], firstID: Int64) {
        var row = follow(firstID, count: rows.count)
        rows.withUnsafeBufferPointer { f in
            for i in f.indices {
                entries[0].append(KeyRun.Entry(address: f[i].origH, row: row))
                entries[1].append(KeyRun.Entry(address: f[i].respH, row: row))
                entries[2].append(KeyRun.Entry(integer: UInt64(f[i].origP), width: 2, row: row))
                entries[3].append(KeyRun.Entry(integer: UInt64(f[i].respP), width: 2, row: row))
                entries[4].append(KeyRun.Entry(integer: KeyRun.sortKey(f[i].ts), width: 8, row: row))
                entries[5].append(
                    KeyRun.Entry(integer: KeyRun.sortKey(Int64(clamping: f[i].totalBytes)), width: 8, row: row))
                entries[6].append(
                    KeyRun.Entry(integer: KeyRun.sortKey(Int64(clamping: f[i].totalPackets)), width: 8, row: row))
                times.append(f[i].ts)
                row &+= 1
            }
        }
    }

    /// The keys (rows as offsets from `first`) and times of the segment `first...last`
    /// when every one of its rows is held, else nil. Either way the rows up to `last`
    /// are let go, and the rest kept as offsets from `last + 1`.
    func take(first segmentFirst: Int64, last: Int64) -> (entries: [[KeyRun.Entry]], times: [Int64])? {
        let covered = first == segmentFirst && next > last
        guard first <= last else { return nil }
        guard last + 1 < next else {
            // Nothing after the segment: hand over the arrays whole.
            let out = (entries, times)
            reset(at: last + 1)
            return covered ? out : nil
        }
        let cut = UInt32(truncatingIfNeeded: last + 1 - first)
        var head: [[KeyRun.Entry]] = []
        for k in entries.indices {
            let n = entries[k].firstIndex { $0.row >= cut } ?? entries[k].count
            if covered { head.append(Array(entries[k][..<n])) }
            entries[k].removeFirst(n)
            entries[k].withUnsafeMutableBufferPointer { b in
                for i in b.indices { b[i].row -= cut }
            }
        }
        let headTimes = covered ? Array(times[..<Int(cut)]) : []
        times.removeFirst(Int(cut))
        first = last + 1
        return covered ? (head, headTimes) : nil
    }
}

extension KeyRun.Entry {
    /// An address key: the 4 or 16 network-order bytes `CompactPacket.write` stores.
    @inline(__always)
    init(address a: IPAddress, row: UInt32) {
        if a.isIPv6 {
            self.init(integer: 0, width: 8, row: row)
            k0 = a.high; k1 = a.low; length = 16
        } else {
            self.init(integer: UInt64(a.v4), width: 4, row: row)
        }
    }
}
