import SniffCore

/// GeoIP answers by database network, bounded: a direct-mapped table where each network
/// has one slot (by hash) and a newer network takes the slot of an older one.
///
/// A MaxMind DB lookup also says how long the prefix of the record it found is (the
/// network around the address that the tree does not split), and every address of that
/// network has the same answer; so the table holds networks, not addresses, and a new
/// address in a network already seen costs no tree walk and no new strings. On busy
/// links most new flows bring a new client address from a network seen before.
///
/// To answer, the table tries the prefix lengths it holds for the address's family,
/// the one that answered most often first (a hit moves its length one place forward),
/// masking the address with each; the networks of one tree are disjoint, so the first
/// match is the answer. Real databases use a dozen or so lengths per family, most of
/// the addresses of a capture falling under a few of them. An answer pushed out is
/// looked up again when next asked, which costs what a first lookup costs. The table
/// is allocated on the first answer stored, so a run without a database never pays for it.
struct GeoCache {
    /// Networks and answers in two arrays, so that a miss reads only the small one.
    /// `free` marks a free slot: 0.0.0.0/32 is never routable, never asked.
    private var keys: [IPNetwork] = []
    private var records: [GeoRecord] = []
    private let mask: Int
    /// The prefix lengths stored, per family, most often hit first.
    private var v4Lengths: [UInt8] = []
    private var v6Lengths: [UInt8] = []
    private static let free = IPNetwork(address: .none, prefixLength: 32)

    /// `capacity` rounded up to a power of two.
    init(capacity: Int) {
        var n = 1
        while n < capacity { n <<= 1 }
        mask = n - 1
    }

    /// An address's slot in a direct-mapped table of `mask + 1` slots (a power of two);
    /// `GeoFilter`'s verdicts use the same.
    static func slot(_ a: IPAddress, mask: Int) -> Int {
        var h = a.low &* 0x9E37_79B9_7F4A_7C15 ^ a.high &* 0xC2B2_AE3D_27D4_EB4F
        h ^= h >> 31
        return Int(truncatingIfNeeded: h) & mask
    }

    /// A network's slot: two networks with the same first address (8.0.0.0/8 and
    /// 8.0.0.0/12) must not always fall on one slot.
    private func slot(_ n: IPNetwork) -> Int {
        Self.slot(n.address, mask: mask) ^ (n.prefixLength &* 0x9E37_79B1) & mask
    }

    /// The answer for `address` if the table holds its network. Mutating: a hit moves
    /// its prefix length forward in the order tried.
    mutating func get(_ address: IPAddress) -> GeoRecord? {
        guard !keys.isEmpty else { return nil }
        let a = address.unmappedIPv4
        let count = a.isIPv6 ? v6Lengths.count : v4Lengths.count
        for n in 0..<count {
            let length = a.isIPv6 ? v6Lengths[n] : v4Lengths[n]
            let network = IPNetwork(address: a, prefixLength: Int(length))
            let i = slot(network)
            guard keys[i] == network, network != Self.free else { continue }
            if n > 0 {
                if a.isIPv6 { v6Lengths.swapAt(n, n - 1) } else { v4Lengths.swapAt(n, n - 1) }
            }
            return records[i]
        }
        return nil
    }

    /// Stores the answer for every address of the network of `address` that is
    /// `prefixLength` long (an IPv4 length for IPv4 and IPv4-mapped addresses).
    mutating func set(_ address: IPAddress, prefixLength: Int, _ record: GeoRecord) {
        let a = address.unmappedIPv4
        let network = IPNetwork(address: a, prefixLength: prefixLength)
        guard network != Self.free else { return }
        if keys.isEmpty {
            keys = Array(repeating: Self.free, count: mask + 1)
            records = Array(repeating: GeoRecord(), count: mask + 1)
            // Every length each family can have, so that a new length met after the
            // first answers costs no allocation.
            v4Lengths.reserveCapacity(33)
            v6Lengths.reserveCapacity(129)
        }
        let length = UInt8(network.prefixLength)
        if a.isIPv6 {
            if !v6Lengths.contains(length) { v6Lengths.append(length) }
        } else if !v4Lengths.contains(length) {
            v4Lengths.append(length)
        }
        let i = slot(network)
        keys[i] = network
        records[i] = record
    }
}
