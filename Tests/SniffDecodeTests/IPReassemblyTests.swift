import SniffCore
import SniffDecode
import Testing

// Fragments are built here from a datagram's fields rather than pasted as hex: each
// test needs many variants (orders, overlaps, lengths) of the same few datagrams, and
// the builders below write the IPv4 header (RFC 791) and the IPv6 Fragment header
// (RFC 8200 4.5) byte by byte. The real captures are checked in FragmentTsharkTests.

/// A UDP datagram: ports 40200 -> 47200 (or `dport`) and `count` payload bytes of a
/// known pattern.
func udpDatagram(count: Int, sport: UInt16 = 40200, dport: UInt16 = 47200) -> [UInt8] {
    let len = count + 8
    var d: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
                      UInt8(len >> 8), UInt8(len & 0xFF), 0, 0]
    for i in 0..<count { d.append(UInt8(truncatingIfNeeded: i * 7 + 3)) }
    return d
}

/// An IPv4 fragment (LINKTYPE_IPV4) of `datagram`, bytes [off, off + len).
func v4Fragment(_ datagram: [UInt8], off: Int, len: Int, more: Bool, id: UInt16 = 0x73d8, proto: UInt8 = 17,
                src: [UInt8] = [10, 78, 0, 1], dst: [UInt8] = [10, 78, 0, 2], data: [UInt8]? = nil) -> [UInt8] {
    let body = data ?? Array(datagram[off..<min(datagram.count, off + len)])
    let total = 20 + body.count
    let fo = UInt16(off / 8) | (more ? 0x2000 : 0)
    return [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), UInt8(id >> 8), UInt8(id & 0xFF),
            UInt8(fo >> 8), UInt8(fo & 0xFF), 64, proto, 0, 0] + src + dst + body
}

/// An IPv6 fragment (LINKTYPE_IPV6): fixed header, Fragment header, bytes [off, off + len).
func v6Fragment(_ datagram: [UInt8], off: Int, len: Int, more: Bool, id: UInt32 = 0xd271_df67, next: UInt8 = 17,
                data: [UInt8]? = nil) -> [UInt8] {
    let body = data ?? Array(datagram[off..<min(datagram.count, off + len)])
    let plen = 8 + body.count
    var b: [UInt8] = [0x60, 0, 0, 0, UInt8(plen >> 8), UInt8(plen & 0xFF), 44, 64]
    b += [0xfd, 0x78] + [UInt8](repeating: 0, count: 13) + [1]
    b += [0xfd, 0x78] + [UInt8](repeating: 0, count: 13) + [2]
    let fo = UInt16(off) | (more ? 1 : 0)
    b += [next, 0, UInt8(fo >> 8), UInt8(fo & 0xFF), UInt8(id >> 24), UInt8((id >> 16) & 0xFF),
          UInt8((id >> 8) & 0xFF), UInt8(id & 0xFF)]
    return b + body
}

/// Feeds frames, decoded as the pipeline decodes them, to one reassembler.
struct Feeder {
    let r: IPReassembler
    var seconds: Int64 = 1_700_000_000
    var n: UInt64 = 0
    init(_ limits: IPReassembler.Limits = IPReassembler.Limits()) { r = IPReassembler(limits: limits) }

    /// The decoded frame after reassembly, and the datagram when this frame completed one.
    mutating func feed(_ frame: [UInt8], link: LinkType, at t: Int64? = nil,
                       wireLength: Int? = nil) -> (DecodedPacket, [UInt8]?) {
        n += 1
        var p = DecodedPacket()
        p.number = n
        p.timestamp = Timestamp(seconds: t ?? seconds, nanoseconds: 0)
        p.capturedLength = UInt32(frame.count)
        p.wireLength = UInt32(wireLength ?? frame.count)
        var whole: [UInt8]? = nil
        frame.withUnsafeBytes { raw in
            PacketDecoder.decode(raw, link: link, into: &p, holdFragments: true)
            if let w = r.process(&p, frame: raw) { whole = Array(w) }
        }
        return (p, whole)
    }
}

struct IPReassemblyTests {
    static let datagram = udpDatagram(count: 4000)   // 4008 bytes: 4 fragments of 1256 + 240

    static func v4Pieces(_ d: [UInt8] = datagram, size: Int = 1256, id: UInt16 = 0x73d8) -> [[UInt8]] {
        stride(from: 0, to: d.count, by: size).map {
            v4Fragment(d, off: $0, len: size, more: $0 + size < d.count, id: id)
        }
    }

    static func v6Pieces(_ d: [UInt8] = datagram, size: Int = 1232, id: UInt32 = 0xd271_df67) -> [[UInt8]] {
        stride(from: 0, to: d.count, by: size).map {
            v6Fragment(d, off: $0, len: size, more: $0 + size < d.count, id: id)
        }
    }

    /// Feeds the fragments in `order`; every frame but the last is held without ports,
    /// the last carries the datagram.
    func expectWhole(_ pieces: [[UInt8]], order: [Int], link: LinkType, v6: Bool) {
        var f = Feeder()
        for (k, i) in order.enumerated() {
            let (p, whole) = f.feed(pieces[i], link: link)
            #expect(p.isFragment)
            if k < order.count - 1 {
                #expect(whole == nil && !p.hasPorts && p.heldFragment && p.reassembledFrames == 0)
                #expect(p.malformed == nil)
            } else {
                #expect(whole != nil)
                #expect(p.hasPorts && p.sport == 40200 && p.dport == 47200)
                #expect(p.payloadLength == 4000 && p.payloadCaptured == 4000)
                #expect(p.reassembledFrames == UInt16(order.count) && p.reassembledLength == 4008)
                #expect(!p.heldFragment && p.malformed == nil && !p.truncated)
                #expect(p.ipTotalLength == UInt32((v6 ? 40 : 20) + 4008))
                if let whole {
                    // The payload offsets point into the returned datagram: the UDP payload
                    // is the original one, byte for byte.
                    #expect(Array(whole[p.payloadOffset..<(p.payloadOffset + p.payloadCaptured)])
                            == Array(Self.datagram[8...]))
                }
            }
        }
        #expect(f.r.inProgress == 0 && f.r.heldBytes == 0)
        #expect(f.r.counters.reassembled == 1 && f.r.counters.fragments == UInt64(order.count))
    }

    @Test func inOrderV4() { expectWhole(Self.v4Pieces(), order: [0, 1, 2, 3], link: .ipv4, v6: false) }
    @Test func inOrderV6() { expectWhole(Self.v6Pieces(), order: [0, 1, 2, 3], link: .ipv6, v6: true) }
    @Test func outOfOrderV4() { expectWhole(Self.v4Pieces(), order: [3, 1, 0, 2], link: .ipv4, v6: false) }
    @Test func outOfOrderV6() { expectWhole(Self.v6Pieces(), order: [2, 3, 1, 0], link: .ipv6, v6: true) }

    @Test func notAFragmentIsLeftAlone() {
        var f = Feeder()
        let (p, whole) = f.feed(v4Fragment(udpDatagram(count: 10), off: 0, len: 18, more: false), link: .ipv4)
        #expect(whole == nil && !p.isFragment && p.hasPorts && !p.heldFragment)
        #expect(f.r.counters.fragments == 0)
        // An atomic IPv6 fragment (offset 0, no more) is a whole datagram (RFC 6946).
        let (q, w6) = f.feed(v6Fragment(udpDatagram(count: 10), off: 0, len: 18, more: false), link: .ipv6)
        #expect(w6 == nil && q.isFragment && q.hasPorts && q.sport == 40200 && !q.heldFragment)
        #expect(f.r.counters.fragments == 0 && f.r.inProgress == 0)
    }

    func duplicate(link: LinkType, _ pieces: [[UInt8]]) {
        var f = Feeder()
        _ = f.feed(pieces[0], link: link)
        _ = f.feed(pieces[1], link: link)
        let (dup, _) = f.feed(pieces[1], link: link)
        #expect(dup.malformed == nil, "a byte-for-byte repeat is not an attack")
        _ = f.feed(pieces[2], link: link)
        let (p, whole) = f.feed(pieces[3], link: link)
        #expect(whole != nil && p.reassembledFrames == 5 && p.sport == 40200)
        #expect(f.r.counters.duplicates == 1 && f.r.counters.overlaps == 0)
    }

    @Test func duplicateV4() { duplicate(link: .ipv4, Self.v4Pieces()) }
    @Test func duplicateV6() { duplicate(link: .ipv6, Self.v6Pieces()) }

    /// A fragment rewriting bytes already received: counted, marked malformed, and the
    /// first data wins.
    func overlap(link: LinkType, v6: Bool) {
        let d = Self.datagram
        var f = Feeder()
        let size = v6 ? 1232 : 1256
        let pieces = v6 ? Self.v6Pieces() : Self.v4Pieces()
        _ = f.feed(pieces[0], link: link)
        // 16 bytes over the end of the first fragment and into the second's range, with
        // different bytes.
        let evil = [UInt8](repeating: 0xEE, count: 24)
        let bad = v6 ? v6Fragment(d, off: size - 8, len: 24, more: true, data: evil)
                     : v4Fragment(d, off: size - 8, len: 24, more: true, data: evil)
        let (o, _) = f.feed(bad, link: link)
        #expect(o.malformed?.kind == .fragmentOverlap)
        #expect(o.malformed?.text.contains("overlaps data already received") == true)
        for (k, piece) in pieces.dropFirst().enumerated() {
            let (p, whole) = f.feed(piece, link: link)
            if k == 0 {
                #expect(p.malformed?.kind == .fragmentOverlap, "the real second fragment overlaps the evil one")
            }
            if let whole {
                #expect(p.reassembledFrames == 5 && p.malformed == nil, "the overlaps were marked on their own frames")
                let payload = Array(whole[p.payloadOffset..<(p.payloadOffset + p.payloadCaptured)])
                // First wins: bytes [size-8, size) are the original's; [size, size+16) are the
                // evil fragment's, which came before the real second fragment.
                #expect(Array(payload[(size - 16)..<(size - 8)]) == Array(d[(size - 8)..<size]))
                #expect(Array(payload[(size - 8)..<(size + 8)]) == [UInt8](repeating: 0xEE, count: 16))
            }
        }
        #expect(f.r.counters.overlaps == 2 && f.r.counters.reassembled == 1)
    }

    @Test func overlappingV4() { overlap(link: .ipv4, v6: false) }
    @Test func overlappingV6() { overlap(link: .ipv6, v6: true) }

    func missingLast(link: LinkType, _ pieces: [[UInt8]]) {
        var f = Feeder()
        _ = f.feed(pieces[0], link: link, at: 100)
        _ = f.feed(pieces[1], link: link, at: 101)
        #expect(f.r.inProgress == 1 && f.r.heldBytes > 0)
        f.r.expire(nanos: 129_999_999_999)
        #expect(f.r.inProgress == 1, "not yet 30 s after the first fragment")
        // The last fragment 30 s after the first comes too late: the datagram timed out,
        // and the late fragment starts a new one.
        let (p, whole) = f.feed(pieces[3], link: link, at: 130)
        #expect(whole == nil && !p.hasPorts)
        #expect(f.r.counters.timedOut == 1 && f.r.inProgress == 1)
        f.r.finish()
        #expect(f.r.counters.unfinished == 1 && f.r.inProgress == 0 && f.r.heldBytes == 0)
        #expect(f.r.counters.incomplete == 2 && f.r.counters.reassembled == 0)
    }

    @Test func missingLastV4() { missingLast(link: .ipv4, Self.v4Pieces()) }
    @Test func missingLastV6() { missingLast(link: .ipv6, Self.v6Pieces()) }

    func tooLarge(link: LinkType, v6: Bool) {
        let d = udpDatagram(count: 100)
        var f = Feeder()
        _ = f.feed(v6 ? v6Fragment(d, off: 0, len: 104, more: true) : v4Fragment(d, off: 0, len: 104, more: true),
                   link: link)
        // Offset 65528 + 16 bytes: past 65535 (the "ping of death").
        let tail = [UInt8](repeating: 1, count: 16)
        let big = v6 ? v6Fragment(d, off: 65528, len: 16, more: false, data: tail)
                     : v4Fragment(d, off: 65528, len: 16, more: false, data: tail)
        let (p, whole) = f.feed(big, link: link)
        #expect(whole == nil && p.malformed?.kind == .fragmentTooLarge)
        #expect(f.r.counters.tooLarge == 1 && f.r.inProgress == 0 && f.r.heldBytes == 0)
    }

    @Test func tooLargeV4() { tooLarge(link: .ipv4, v6: false) }
    @Test func tooLargeV6() { tooLarge(link: .ipv6, v6: true) }

    func capExceeded(link: LinkType, v6: Bool) {
        var f = Feeder(IPReassembler.Limits(maxDatagrams: 4))
        let d = Self.datagram
        for id in 1...10 {
            _ = f.feed(v6 ? v6Fragment(d, off: 0, len: 1232, more: true, id: UInt32(id))
                          : v4Fragment(d, off: 0, len: 1256, more: true, id: UInt16(id)), link: link)
            #expect(f.r.inProgress <= 4)
        }
        #expect(f.r.counters.evicted == 6 && f.r.peakDatagrams == 4)
        // The newest four are still there: datagram 10 completes, datagram 1 does not.
        let rest = v6 ? Self.v6Pieces(id: 10).dropFirst() : Self.v4Pieces(id: 10).dropFirst()
        var done = false
        for piece in rest { done = f.feed(piece, link: link).1 != nil }
        #expect(done)
        let rest1 = v6 ? Self.v6Pieces(id: 1).dropFirst() : Self.v4Pieces(id: 1).dropFirst()
        done = false
        for piece in rest1 { done = f.feed(piece, link: link).1 != nil }
        #expect(!done)
    }

    @Test func capExceededV4() { capExceeded(link: .ipv4, v6: false) }
    @Test func capExceededV6() { capExceeded(link: .ipv6, v6: true) }

    @Test func tinyFirstFragment() {
        // A TCP first fragment with 8 bytes: ports but no flags (RFC 1858).
        var tcp: [UInt8] = [0x9d, 0xd0, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
        tcp += [UInt8](repeating: 0x41, count: 12)
        var f = Feeder()
        let (first, _) = f.feed(v4Fragment(tcp, off: 0, len: 8, more: true, proto: 6), link: .ipv4)
        #expect(first.malformed?.kind == .tinyFragment)
        #expect(first.malformed?.text == "ipv4: first fragment holds 8 bytes of a 20-byte transport header")
        let (p, whole) = f.feed(v4Fragment(tcp, off: 8, len: 24, more: false, proto: 6), link: .ipv4)
        #expect(whole != nil && p.hasTCP && p.dport == 80 && p.tcp.flags == TCP.syn && p.payloadLength == 12)
        #expect(f.r.counters.tinyFragments == 1)
    }

    @Test func badLengthIsNotUsed() {
        var f = Feeder()
        // A middle fragment of 100 bytes (not a multiple of 8).
        let (p, _) = f.feed(v4Fragment(Self.datagram, off: 0, len: 100, more: true), link: .ipv4)
        #expect(p.malformed?.kind == .fragmentLength && f.r.counters.badLength == 1 && f.r.inProgress == 0)
    }

    /// A DNS response too big for one frame: decoded from the reassembled datagram, its
    /// names read through the returned bytes.
    @Test func dnsOverFragments() {
        var msg: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 200, 0, 0, 0, 0]
        msg += [3] + Array("big".utf8) + [5] + Array("sniff".utf8) + [4] + Array("test".utf8) + [0, 0, 1, 0, 1]
        for i in 0..<200 { msg += [0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 77, UInt8(i / 256), UInt8(i % 256)] }
        let d = udpDatagram(count: 0, sport: 53, dport: 40541).prefix(4) + [UInt8((msg.count + 8) >> 8),
                UInt8((msg.count + 8) & 0xFF), 0, 0] + msg
        var f = Feeder()
        var last: (DecodedPacket, [UInt8]?)? = nil
        for piece in Self.v6Pieces(Array(d)) { last = f.feed(piece, link: .ipv6) }
        guard let (p, whole) = last, let whole else { Issue.record("not reassembled"); return }
        #expect(p.hasDNS && p.dns.isResponse && p.dns.answerCount == 200 && p.app == .dns)
        #expect(dnsQuestionName(whole, p) == "big.sniff.test")
        #expect(dnsAnswers(whole, p).count == 64, "the answers listed stop at DNS.forEachAnswer's 64")
        #expect(dnsAnswers(whole, p).last == "A 10.77.0.63")
    }

    /// A snaplen that cuts fragments: the datagram completes from the headers' lengths
    /// and decodes as truncated, with what was captured.
    @Test func snaplenCutFragments() {
        let pieces = Self.v4Pieces()
        var f = Feeder()
        var last: (DecodedPacket, [UInt8]?)? = nil
        for piece in pieces { last = f.feed(Array(piece.prefix(96)), link: .ipv4, wireLength: piece.count) }
        guard let (p, whole) = last, let whole else { Issue.record("not reassembled"); return }
        #expect(p.hasPorts && p.sport == 40200 && p.payloadLength == 4000 && p.truncated && p.malformed == nil)
        #expect(whole.count == 20 + 76, "only the first fragment's captured bytes lead from offset 0")
    }

    /// Many incomplete datagrams, overlapping and far-flung fragments: what the
    /// reassembler holds never passes its caps, by its own accounting.
    @Test func adversarialFloodStaysWithinCaps() {
        let limits = IPReassembler.Limits(maxDatagrams: 256, maxHeldBytes: 2 << 20)
        var f = Feeder(limits)
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x }
        let junk = [UInt8](repeating: 0x5A, count: 1400)
        for i in 0..<20_000 {
            let r = next()
            let id = UInt16(truncatingIfNeeded: r % 1024)
            let off = Int((r >> 10) % 8180) * 8
            let len = min(1400, 65528 - off) & ~7
            let more = (r >> 30) & 3 != 0
            let frame = (r >> 32) & 1 == 0
                ? v4Fragment(junk, off: off, len: len, more: more, id: id, data: Array(junk.prefix(len)))
                : v6Fragment(junk, off: off, len: len, more: more, id: UInt32(id), data: Array(junk.prefix(len)))
            _ = f.feed(frame, link: (r >> 32) & 1 == 0 ? .ipv4 : .ipv6, at: 1_000 + Int64(i / 1000))
            #expect(f.r.heldBytes <= limits.maxHeldBytes && f.r.inProgress <= limits.maxDatagrams)
            if f.r.heldBytes > limits.maxHeldBytes { break }
        }
        #expect(f.r.peakHeldBytes <= limits.maxHeldBytes && f.r.peakDatagrams <= limits.maxDatagrams)
        #expect(f.r.counters.evicted > 0 && f.r.counters.overlaps > 0)
        f.r.finish()
        #expect(f.r.heldBytes == 0 && f.r.inProgress == 0)
    }
}
