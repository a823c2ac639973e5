import SniffCore

/// GeoIP answers by address, bounded: a direct-mapped table where each address has one
/// slot (by hash) and a newer address takes the slot of an older one.
///
/// Asked at every flow end (and by `GeoFilter` for each address new to it), so a hit must be
/// cheap: one hash and one compare, with no dictionary probe and no recency links to
/// rewrite as an LRU would. An answer pushed out is looked up again when next asked,
/// which costs what a first lookup costs. The table is allocated on the first answer
/// stored, so a run without a database never pays for it.
struct GeoCache {
    /// Addresses and answers in two arrays, so that a miss (a new address) reads only
    /// the small one. 0.0.0.0 marks a free slot: it is never routable, never asked.
    private var keys: [IPAddress] = []
    private var records: [GeoRecord] = []
    private let mask: Int

    /// `capacity` rounded up to a power of two.
    init(capacity: Int) {
        var n = 1
        while n < capacity { n <<= 1 }
        mask = n - 1
    }

    private func slot(_ a: IPAddress) -> Int { Self.slot(a, mask: mask) }

    /// An address's slot in a direct-mapped table of `mask + 1` slots (a power of two);
    /// `GeoFilter`'s verdicts use the same.
    static func slot(_ a: IPAddress, mask: Int) -> Int {
        var h = a.low &* 0x9E37_79B9_7F4A_7C15 ^ a.high &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 31
        return Int(truncatingIfNeeded: h) & mask
    }

    func get(_ address: IPAddress) -> GeoRecord? {
        guard !keys.isEmpty else { return nil }
        let i = slot(address)
        guard keys[i] == address, address != .none else { return nil }
        return records[i]
    }

    mutating func set(_ address: IPAddress, _ record: GeoRecord) {
        guard address != .none else { return }
        if keys.isEmpty {
            keys = Array(repeating: .none, count: mask + 1)
            records = Array(repeating: GeoRecord(), count: mask + 1)
        }
        let i = slot(address)
        keys[i] = address
        records[i] = record
    }
}
