import SniffCore
import SniffDecode
import Testing
import SniffTestSupport

/// One valid frame and the link it was captured on.
struct Sample: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let link: LinkType
    init(_ name: String, _ bytes: [UInt8], _ link: LinkType = .ethernet) {
        self.name = name; self.bytes = bytes; self.link = link
    }
    var testDescription: String { name }
}

/// One valid frame per link type and protocol, none with trailing padding, so that
/// every strict prefix cuts into some header or declared length.
let validSamples: [Sample] = [
    Sample("ethernet/ipv4/udp", ethernetUDP),
    Sample("802.1Q/tcp", dot1qTCP),
    Sample("802.1ad+802.1Q/udp", qinqUDP),
    Sample("0x9100/ipv6/udp", qinq9100),
    Sample("802.3 llc/snap/ipv4", snapIPv4),
    Sample("802.3 llc/stp", llcSTP),
    Sample("802.1Q 802.3 pvst", vlanSTP),
    Sample("arp", arpRequest),
    Sample("arp odd sizes", arpOddSizes),
    Sample("null/ipv4/dns", nullDNSLittleEndian, .null),
    Sample("null/ipv6 big-endian", nullIPv6BigEndian, .null),
    Sample("loop/ipv4", loopIPv4, .loop),
    Sample("raw/ipv4/tcp", rawIPv4, .raw),
    Sample("raw12/ipv6/dns", rawIPv6, .rawOpenBSD),
    Sample("raw14/ipv4", rawIPv4, .rawBSDOS),
    Sample("linktype ipv4/ntp", linktypeIPv4, .ipv4),
    Sample("linktype ipv6/dns", linktypeIPv6, .ipv6),
    Sample("sll/tcp syn", sllSYN, .linuxSLL),
    Sample("sll/vlan/udp", sllVLAN, .linuxSLL),
    Sample("sll/llc/snap", sllLLC, .linuxSLL),
    Sample("sll2/tcp", sll2TCP, .linuxSLL2),
    Sample("sll2/ipv6/dns", sll2IPv6, .linuxSLL2),
    Sample("ipv4 options", ipv4RouterAlert),
    Sample("ipv6 hop-by-hop/ah/tcp", ipv6HopAHTCP),
    Sample("ipv6 long chain", ipv6LongChain),
    Sample("ipv6 routing", ipv6Routing),
    Sample("tcp syn options", tcpSYN),
    Sample("tcp sack", tcpSACK),
    Sample("icmp echo", icmpEchoRequest),
    Sample("icmp unreachable", icmpPortUnreachable),
    Sample("icmpv6 unreachable", icmpv6PortUnreachable),
    Sample("dns compressed response", dnsCompressedResponse),
    Sample("dns over tcp", dnsTCPResponse),
    Sample("mdns", dnsMDNS),
    Sample("gre/ipv4", greIPv4),
    Sample("gre/ethernet", greEthernet),
    Sample("pptp gre v1", pptpGREv1),
    Sample("6in4", ipv6InIPv4),
    Sample("vxlan/tcp", vxlanTCP),
    Sample("geneve/ethernet", geneveEthernet),
    Sample("geneve/ipv6", geneveIPv6),
]

/// Everything a writer may do with a decoded packet, so that an out-of-range offset
/// shows up here rather than in output code: render DNS names and answers, and check
/// that every offset handed out stays inside the frame.
func exercise(_ frame: [UInt8], _ p: DecodedPacket) {
    if p.hasPayloadLength || p.payloadCaptured > 0 {
        #expect(p.payloadCaptured >= 0)
        #expect(p.payloadOffset + p.payloadCaptured <= frame.count)
    }
    if p.hasDNS {
        #expect(p.dns.messageOffset >= 0)
        #expect(p.dns.messageOffset + p.dns.messageLength <= frame.count)
        _ = dnsQuestionName(frame, p)
        _ = dnsAnswers(frame, p)
    }
    if let m = p.malformed { _ = m.text }
    _ = TCP.flagLetters(p.tcp.flags)
    _ = p.src.description
    _ = p.inner.dst.description
    _ = p.vlans.primary
}

@Suite("Decoder properties")
struct PropertyTests {
    static let allLinks: [LinkType] = [
        .null, .ethernet, .rawOpenBSD, .rawBSDOS, .raw, .loop, .linuxSLL, .ipv4, .ipv6, .linuxSLL2, LinkType(147),
    ]

    @Test("the whole frame decodes cleanly", arguments: validSamples)
    func wholeFrameIsClean(_ s: Sample) {
        let p = decode(s.bytes, link: s.link)
        #expect(!p.truncated)
        #expect(p.malformed == nil)
        #expect(!p.undecoded)
        exercise(s.bytes, p)
    }

    @Test("every prefix is truncated and not malformed", arguments: validSamples)
    func everyPrefixIsTruncated(_ s: Sample) {
        for n in 0..<s.bytes.count {
            let cut = Array(s.bytes.prefix(n))
            let p = decode(cut, link: s.link, wireLength: s.bytes.count)
            #expect(p.truncated, "\(s.name) cut to \(n) of \(s.bytes.count) bytes")
            #expect(p.malformed == nil, "\(s.name) cut to \(n): \(p.malformedText ?? "")")
            exercise(cut, p)
        }
    }

    @Test("random bytes never trap, on any link type")
    func randomBytes() {
        var rng = SplitMix64(seed: 0x5EED_0001)
        var frame = [UInt8]()
        frame.reserveCapacity(512)
        // 100k cases: short frames are the most interesting, so lengths are skewed small.
        for i in 0..<100_000 {
            let link = Self.allLinks[i % Self.allLinks.count]
            let n = rng.next() & 1 == 0 ? Int.random(in: 0...64, using: &rng) : Int.random(in: 0...400, using: &rng)
            frame.removeAll(keepingCapacity: true)
            for _ in 0..<n { frame.append(UInt8.random(in: 0...255, using: &rng)) }
            let wire = rng.next() & 1 == 0 ? n : n + Int.random(in: 1...1500, using: &rng)
            let p = decode(frame, link: link, wireLength: wire)
            exercise(frame, p)
        }
    }

    @Test("random bytes behind a valid link and IP header never trap", arguments: [4, 6, 17, 47, 41, 58, 1])
    func randomTransport(_ proto: UInt8) {
        // The IPv4 header of ethernetUDP with another protocol, then random bytes.
        var rng = SplitMix64(seed: 0x5EED_0100 | UInt64(proto))
        for _ in 0..<4_000 {
            let n = Int.random(in: 0...120, using: &rng)
            let body = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var frame = Array(ethernetUDP[0..<34]) + body
            let total = 20 + n
            frame[16] = UInt8(total >> 8); frame[17] = UInt8(total & 0xFF)
            frame[23] = proto
            let p = decode(frame)
            exercise(frame, p)
        }
    }

    @Test("random payloads on DNS ports never trap")
    func randomDNS() {
        var rng = SplitMix64(seed: 0x5EED_0053)
        for i in 0..<10_000 {
            let n = Int.random(in: 0...200, using: &rng)
            var payload = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Half of them get a plausible header, so that the name walk is reached.
            if i & 1 == 0 && n >= 12 {
                payload[4] = 0; payload[5] = 1
                payload[6] = 0; payload[7] = UInt8.random(in: 0...8, using: &rng)
            }
            let frame = Frames.udp(payload, sport: 53, dport: 40000)
            let p = decode(frame)
            exercise(frame, p)
        }
    }

    @Test("single-byte mutations never trap", arguments: validSamples)
    func singleByteMutations(_ s: Sample) {
        var rng = SplitMix64(seed: 0x5EED_1000 &+ UInt64(s.bytes.count))
        var frame = s.bytes
        for _ in 0..<1_500 {
            let at = Int.random(in: 0..<frame.count, using: &rng)
            let old = frame[at]
            frame[at] = UInt8.random(in: 0...255, using: &rng)
            let p = decode(frame, link: s.link)
            exercise(frame, p)
            frame[at] = old
        }
        // Every position set to the values most likely to matter: 0, 0xFF, and the
        // original plus and minus one.
        for at in 0..<frame.count {
            let old = frame[at]
            for v in [0, 0xFF, old &+ 1, old &- 1] as [UInt8] {
                frame[at] = v
                exercise(frame, decode(frame, link: s.link))
            }
            frame[at] = old
        }
    }
}
