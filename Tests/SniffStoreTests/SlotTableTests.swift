import Testing
import SniffCore
@testable import SniffStore
import SniffTestSupport

/// `SlotTable` against a `Dictionary` doing the same inserts, updates and removals. The
/// keys' hashes are made to collide (seven values for thousands of keys, and runs that
/// wrap past the table's end), which is where open addressing and backward-shift removal
/// go wrong: a key left unreachable behind a hole, or a value moved without its key.
@Suite("Slot table")
struct SlotTableTests {
    struct Key: SlotTableKey, Hashable {
        var id: UInt64
        var hash: UInt64
        var slotHash: UInt64 { hash }
    }

    @Test("random inserts, updates and removals match a Dictionary", arguments: [UInt64(1), 7, 1 << 40])
    func matchesDictionary(distinctHashes: UInt64) {
        var rng = SplitMix64(seed: 0x5107_7AB1 &+ distinctHashes)
        var table = SlotTable<Key, Int>()
        var model: [Key: Int] = [:]
        func key(_ id: UInt64) -> Key { Key(id: id, hash: (id &* 0x9E37_79B9_7F4A_7C15) % distinctHashes) }
        for step in 0..<20_000 {
            let k = key(UInt64.random(in: 0..<600, using: &rng))
            switch UInt8.random(in: 0..<3, using: &rng) {
            case 0:
                let (slot, inserted) = table.slot(k) { step }
                #expect(inserted == (model[k] == nil))
                if inserted { model[k] = step }
                #expect(table[slot: slot] == model[k])
            case 1:
                if let slot = table.find(k) {
                    table[slot: slot] += 1
                    model[k, default: -1] += 1
                }
                #expect((table.find(k) != nil) == (model[k] != nil))
            default:
                if let slot = table.find(k) {
                    #expect(table.remove(at: slot) == model.removeValue(forKey: k))
                } else {
                    #expect(model[k] == nil)
                }
            }
            #expect(table.count == model.count)
        }
        for (k, v) in model {
            #expect(table.find(k).map { table[slot: $0] } == v, "key \(k.id)")
        }
        for id in 0..<UInt64(600) where model[key(id)] == nil {
            #expect(table.find(key(id)) == nil)
        }
        table.removeAll()
        #expect(table.isEmpty && table.find(key(1)) == nil)
    }

    @Test("0.0.0.1 and ::1 (the same bits, two families) are two keys")
    func addresses() {
        var table = SlotTable<IPAddress, Int>()
        let all = [IPAddress("0.0.0.1")!, IPAddress("::1")!, IPAddress("10.0.0.1")!, IPAddress("2001:db8::1")!]
        for (i, a) in all.enumerated() { _ = table.slot(a) { i } }
        #expect(table.count == 4)
        for (i, a) in all.enumerated() {
            #expect(table.find(a).map { table[slot: $0] } == i, "\(a)")
        }
    }
}
