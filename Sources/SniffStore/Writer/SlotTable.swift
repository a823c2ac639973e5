import SniffCore
import SniffAnalysis

/// A key of a `SlotTable`: its 64-bit hash, made without `Hasher`.
protocol SlotTableKey: Equatable {
    var slotHash: UInt64 { get }
}

extension FlowKey: SlotTableKey {
    @inline(__always) var slotHash: UInt64 { fastHash }
}

extension IPAddress: SlotTableKey {
    @inline(__always) var slotHash: UInt64 {
        let r = (high ^ (isIPv6 ? 0x8EBC_6AF0_9C88_C6E3 : 0xA076_1D64_78BD_642F))
            .multipliedFullWidth(by: low ^ 0xE703_7ED1_A0B4_28DB)
        return r.high ^ r.low
    }
}

/// A hash table for the store's facts kept per open flow and per address on the
/// analysis thread (open addressing, linear probing, at most 3/4 full). A Swift
/// `Dictionary` hashes every key with a seeded SipHash, also for each key again when it
/// grows: for the 130 k flows and addresses of a capture that was a few percent of the
/// analysis thread. Here a key's own hash is spread over the slots by a multiply with a
/// random odd seed per table, so that addresses chosen to collide in one table do not
/// collide in another run. A value is read and changed where it lies, through its slot.
struct SlotTable<Key: SlotTableKey, Value> {
    private var keys: [Key?] = []
    private var values: [Value?] = []
    private var shift: UInt64 = 64
    private var mask = 0
    private let seed = UInt64.random(in: 0...UInt64.max) | 1
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    private func home(_ key: Key) -> Int {
        Int(truncatingIfNeeded: ((key.slotHash ^ 0x9E37_79B9_7F4A_7C15) &* seed) >> shift)
    }

    /// The slot of `key`, nil when it is absent.
    @inline(__always)
    func find(_ key: Key) -> Int? {
        guard count > 0 else { return nil }
        var i = home(key)
        while let k = keys[i] {
            if k == key { return i }
            i = (i &+ 1) & mask
        }
        return nil
    }

    /// The slot of `key`, which gets `make()` when it is absent (`inserted`).
    @inline(__always)
    mutating func slot(_ key: Key, orInsert make: () -> Value) -> (slot: Int, inserted: Bool) {
        if (count + 1) * 4 > keys.count * 3 { grow() }
        var i = home(key)
        while let k = keys[i] {
            if k == key { return (i, false) }
            i = (i &+ 1) & mask
        }
        keys[i] = key
        values[i] = make()
        count += 1
        return (i, true)
    }

    /// The value in a slot that `find` or `slot` gave (and no removal moved since).
    subscript(slot i: Int) -> Value {
        get { values[i]! }
        _modify { yield &values[i]! }
    }

    /// Takes the value out of its slot. The entries after it in its run move back, so
    /// that every key stays reachable from its home without tombstones.
    @discardableResult
    mutating func remove(at i: Int) -> Value {
        var taken: Value? = nil
        swap(&taken, &values[i])
        keys[i] = nil
        count -= 1
        var hole = i, j = i
        while true {
            j = (j &+ 1) & mask
            guard let k = keys[j] else { break }
            let h = home(k)
            // The entry stays when its home lies cyclically in (hole, j].
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if stays { continue }
            keys[hole] = k
            keys[j] = nil
            values.swapAt(hole, j)
            hole = j
        }
        return taken!
    }

    mutating func removeAll() {
        guard count > 0 else { return }
        for i in 0..<keys.count where keys[i] != nil {
            keys[i] = nil
            values[i] = nil
        }
        count = 0
    }

    private mutating func grow() {
        let capacity = Swift.max(16, keys.count * 2)
        var oldKeys: [Key?] = Array(repeating: nil, count: capacity)
        var oldValues: [Value?] = Array(repeating: nil, count: capacity)
        swap(&oldKeys, &keys)
        swap(&oldValues, &values)
        mask = capacity - 1
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        for o in 0..<oldKeys.count {
            guard let k = oldKeys[o] else { continue }
            var i = home(k)
            while keys[i] != nil { i = (i &+ 1) & mask }
            keys[i] = k
            swap(&values[i], &oldValues[o])
        }
    }
}
