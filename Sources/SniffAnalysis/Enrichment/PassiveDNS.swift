import SniffCore
import SniffDecode

/// A name learned from a DNS answer seen on the wire, and when.
public struct LearnedName: Sendable, Equatable {
    /// The name asked (the question), or for an answer without a question (mDNS) the
    /// record's own name. Control bytes are replaced by "?"; writers still escape.
    public var name: String
    public var firstSeen: Timestamp
    public var lastSeen: Timestamp
}

/// Passive DNS: every A and AAAA answer observed maps its address to the name that
/// was asked, following the CNAME chain from the question (alias → … → target → A).
/// Bounded: past `capacity` addresses the least recently seen is forgotten.
///
/// A response whose pairs are all known costs a hash per name and a table lookup per
/// address, without allocating; a String is made only for a new (address, name) pair.
/// When an address is answered for another name, the newer name replaces the older.
public struct PassiveDNS {
    struct Entry {
        var learned: LearnedName
        var nameHash: UInt64
    }
    private var table: LRUCache<IPAddress, Entry>
    /// Reused between packets: the names of the CNAME chain as hashes, and a rendering.
    private var chain: [UInt64] = []
    private var scratch = ByteSink(capacity: 256)
    /// Answers examined per message, and CNAME links followed: a response with more is
    /// unusual and its tail is skipped, so that a hostile message costs bounded work.
    static let recordLimit = 64
    static let chainLimit = 16

    public init(capacity: Int = 65_536) {
        table = LRUCache(capacity: capacity)
        chain.reserveCapacity(PassiveDNS.chainLimit)
    }

    public var count: Int { table.count }

    /// What was learned about `address`, if anything (does not change the LRU order).
    public func name(for address: IPAddress) -> LearnedName? { table.peek(address)?.learned }

    /// Everything known, most recently seen first.
    public var entries: [(address: IPAddress, learned: LearnedName)] {
        table.entries.map { ($0.key, $0.value.learned) }
    }

    /// Learns from one decoded packet; anything but a successful DNS response with
    /// answers is ignored.
    public mutating func record(_ p: DecodedPacket, frame: UnsafeRawBufferPointer) {
        guard p.hasDNS, p.dns.isResponse, p.dns.rcode == 0, p.dns.answerCount > 0, p.dns.answersOffset >= 0,
              let bytes = ByteCursor(frame).slice(at: p.dns.messageOffset, count: p.dns.messageLength) else { return }
        let msg = ByteCursor(bytes)
        let d = p.dns
        chain.removeAll(keepingCapacity: true)
        if d.hasQuestion {
            guard let h = DNS.nameHash(msg, at: d.questionOffset) else { return }
            chain.append(h)
            // Follow CNAMEs whose owner is on the chain; a few passes also cover answers
            // that list the links out of order.
            var grew = true
            while grew && chain.count < PassiveDNS.chainLimit {
                grew = false
                DNS.forEachAnswerRecord(msg, d, limit: PassiveDNS.recordLimit) { owner, answer in
                    guard case .cname(let target) = answer, chain.count < PassiveDNS.chainLimit,
                          let o = DNS.nameHash(msg, at: owner), inChain(o),
                          let t = DNS.nameHash(msg, at: target), !inChain(t) else { return }
                    chain.append(t)
                    grew = true
                }
            }
        }
        let questionHash: UInt64? = chain.isEmpty ? nil : chain[0]
        DNS.forEachAnswerRecord(msg, d, limit: PassiveDNS.recordLimit) { owner, answer in
            let address: IPAddress
            switch answer {
            case .a(let a), .aaaa(let a): address = a
            case .cname: return
            }
            guard let ownerHash = DNS.nameHash(msg, at: owner) else { return }
            let nameHash: UInt64
            let nameOffset: Int
            if let questionHash {
                guard inChain(ownerHash) else { return }
                nameHash = questionHash
                nameOffset = d.questionOffset
            } else {
                nameHash = ownerHash
                nameOffset = owner
            }
            learn(address, nameHash: nameHash, msg: msg, nameOffset: nameOffset, at: p.timestamp)
        }
    }

    /// An index loop: the generic `contains`, `first` and iterator allocate in a debug build,
    /// which the allocation check runs.
    private func inChain(_ h: UInt64) -> Bool {
        var i = 0
        while i < chain.count {
            if chain[i] == h { return true }
            i += 1
        }
        return false
    }

    private mutating func learn(_ address: IPAddress, nameHash: UInt64, msg: ByteCursor, nameOffset: Int,
                                at time: Timestamp) {
        let same = table.update(address) { e in
            if e.nameHash == nameHash { e.learned.lastSeen = Swift.max(e.learned.lastSeen, time) }
        }
        if same, table.peek(address)?.nameHash == nameHash { return }
        scratch.removeAll()
        guard DNS.writeName(msg, at: nameOffset, into: &scratch) == nil else { return }
        for i in 0..<scratch.bytes.count where scratch.bytes[i] < 0x20 || scratch.bytes[i] == 0x7F {
            scratch.bytes[i] = UInt8(ascii: "?")
        }
        let learned = LearnedName(name: scratch.string, firstSeen: time, lastSeen: time)
        table.set(address, Entry(learned: learned, nameHash: nameHash))
    }
}
