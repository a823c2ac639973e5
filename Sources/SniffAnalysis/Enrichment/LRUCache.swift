/// A map with a bound: when full, inserting drops the least recently used entry.
///
/// Entries live in one array linked by index (no node objects), so that a hit costs a
/// hash lookup and four index writes and nothing is allocated once the array has grown.
struct LRUCache<Key: Hashable, Value> {
    private struct Node {
        var key: Key
        var value: Value
        var newer: Int
        var older: Int
    }
    private var nodes: [Node] = []
    private var index: [Key: Int] = [:]
    private var newest = -1
    private var oldest = -1
    let capacity: Int

    init(capacity: Int) {
        self.capacity = Swift.max(1, capacity)
    }

    var count: Int { index.count }

    /// The value for `key`, marked as just used.
    mutating func get(_ key: Key) -> Value? {
        guard let i = index[key] else { return nil }
        touch(i)
        return nodes[i].value
    }

    /// The value for `key` without changing the order (for readers that only look).
    func peek(_ key: Key) -> Value? {
        index[key].map { nodes[$0].value }
    }

    /// Changes the value of an entry in place and marks it used; false when absent.
    mutating func update(_ key: Key, _ body: (inout Value) -> Void) -> Bool {
        guard let i = index[key] else { return false }
        touch(i)
        body(&nodes[i].value)
        return true
    }

    /// Inserts or replaces, evicting the least recently used entry when full.
    mutating func set(_ key: Key, _ value: Value) {
        if let i = index[key] {
            nodes[i].value = value
            touch(i)
            return
        }
        let i: Int
        if nodes.count < capacity {
            i = nodes.count
            nodes.append(Node(key: key, value: value, newer: -1, older: -1))
        } else {
            // Reuse the oldest slot.
            i = oldest
            unlink(i)
            index[nodes[i].key] = nil
            nodes[i].key = key
            nodes[i].value = value
        }
        index[key] = i
        pushNewest(i)
    }

    /// Entries from the most to the least recently used.
    var entries: [(key: Key, value: Value)] {
        var out: [(key: Key, value: Value)] = []
        out.reserveCapacity(index.count)
        var i = newest
        while i >= 0 {
            out.append((nodes[i].key, nodes[i].value))
            i = nodes[i].older
        }
        return out
    }

    private mutating func touch(_ i: Int) {
        guard i != newest else { return }
        unlink(i)
        pushNewest(i)
    }

    private mutating func unlink(_ i: Int) {
        let newer = nodes[i].newer, older = nodes[i].older
        if newer >= 0 { nodes[newer].older = older } else { newest = older }
        if older >= 0 { nodes[older].newer = newer } else { oldest = newer }
        nodes[i].newer = -1
        nodes[i].older = -1
    }

    private mutating func pushNewest(_ i: Int) {
        nodes[i].older = newest
        nodes[i].newer = -1
        if newest >= 0 { nodes[newest].newer = i }
        newest = i
        if oldest < 0 { oldest = i }
    }
}
