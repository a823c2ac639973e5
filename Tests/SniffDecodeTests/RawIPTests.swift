import SniffCore
import SniffDecode
import Testing

// MARK: - Packets

// tcpdump -nn -XX (linktype 101):
// 22:13:20.000000 IP 192.0.2.1.40020 > 198.51.100.2.443: Flags [S], seq 7, win 512, length 0
//     0x0000:  4500 0028 0006 0000 4006 8e93 c000 0201  E..(....@.......
//     0x0010:  c633 6402 9c54 01bb 0000 0007 0000 0000  .3d..T..........
//     0x0020:  5002 0200 2395 0000                      P...#...
let rawIPv4: [UInt8] = [
    0x45, 0x00, 0x00, 0x28, 0x00, 0x06, 0x00, 0x00, 0x40, 0x06, 0x8e, 0x93,
    0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x9c, 0x54, 0x01, 0xbb,
    0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0x02, 0x00,
    0x23, 0x95, 0x00, 0x00,
]

// LINKTYPE_RAW_ipv6.pcap frame 1
// tcpdump -nn -XX (linktype 101):
// 17:59:17.215270 IP6 2001:db8::1.12345 > 2620:fe::9.53: 4660+ A? example.com. (29)
//     0x0000:  6000 0000 0025 1140 2001 0db8 0000 0000  `....%.@........
//     0x0010:  0000 0000 0000 0001 2620 00fe 0000 0000  ........&.......
//     0x0020:  0000 0000 0000 0009 3039 0035 0025 98b3  ........09.5.%..
//     0x0030:  1234 0100 0001 0000 0000 0000 0765 7861  .4...........exa
//     0x0040:  6d70 6c65 0363 6f6d 0000 0100 01         mple.com.....
let rawIPv6: [UInt8] = [
    0x60, 0x00, 0x00, 0x00, 0x00, 0x25, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x26, 0x20, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x09, 0x30, 0x39, 0x00, 0x35, 0x00, 0x25, 0x98, 0xb3,
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
    0x00, 0x00, 0x01, 0x00, 0x01,
]

// LINKTYPE_IPV6.pcap frame 1
// tcpdump -nn -XX (linktype 229):
// 17:59:26.204450 IP6 2001:db8::1.12345 > 2620:fe::9.53: 4660+ A? example.com. (29)
//     0x0000:  6000 0000 0025 1140 2001 0db8 0000 0000  `....%.@........
//     0x0010:  0000 0000 0000 0001 2620 00fe 0000 0000  ........&.......
//     0x0020:  0000 0000 0000 0009 3039 0035 0025 98b3  ........09.5.%..
//     0x0030:  1234 0100 0001 0000 0000 0000 0765 7861  .4...........exa
//     0x0040:  6d70 6c65 0363 6f6d 0000 0100 01         mple.com.....
let linktypeIPv6: [UInt8] = [
    0x60, 0x00, 0x00, 0x00, 0x00, 0x25, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x26, 0x20, 0x00, 0xfe, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x09, 0x30, 0x39, 0x00, 0x35, 0x00, 0x25, 0x98, 0xb3,
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
    0x00, 0x00, 0x01, 0x00, 0x01,
]

// tcpdump -nn -XX (linktype 228):
// 22:13:20.000000 IP 192.0.2.1.40021 > 198.51.100.2.123: NTPv4, Client, length 48
//     0x0000:  4500 004c 0007 0000 4011 8e63 c000 0201  E..L....@..c....
//     0x0010:  c633 6402 9c55 007b 0038 5376 2300 0000  .3d..U.{.8Sv#...
//     0x0020:  0000 0000 0000 0000 0000 0000 0000 0000  ................
//     0x0030:  0000 0000 0000 0000 0000 0000 0000 0000  ................
//     0x0040:  0000 0000 0000 0000 0000 0000            ............
let linktypeIPv4: [UInt8] = [
    0x45, 0x00, 0x00, 0x4c, 0x00, 0x07, 0x00, 0x00, 0x40, 0x11, 0x8e, 0x63,
    0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x9c, 0x55, 0x00, 0x7b,
    0x00, 0x38, 0x53, 0x76, 0x23, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
]

// version nibble 5
// tcpdump -nn -XX (linktype 101):
// 22:13:20.000000 unknown ip 5
//     0x0000:  5000 001c 0001 0000 4011 8e99 c000 0201  P.......@.......
//     0x0010:  c633 6402 0035 0035 0008 133d            .3d..5.5...=
let rawBadVersion: [UInt8] = [
    0x50, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x8e, 0x99,
    0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x00, 0x35, 0x00, 0x35,
    0x00, 0x08, 0x13, 0x3d,
]

// MARK: - Tests

@Suite("Raw IP links: 101, 12, 14 (version nibble) and 228, 229 (fixed version)")
struct RawIPTests {
    @Test(arguments: [LinkType.raw, .rawOpenBSD, .rawBSDOS])
    func ipv4ByVersionNibble(_ link: LinkType) {
        let p = decode(rawIPv4, link: link)
        #expect(p.link == link)
        #expect(!p.hasEthernet)
        #expect(p.ipVersion == 4)
        #expect(p.src == addr("192.0.2.1"))
        #expect(p.dst == addr("198.51.100.2"))
        #expect(p.transport == .tcp)
        #expect(p.dport == 443)
        #expect(TCP.flagLetters(p.tcp.flags) == "S")
        #expect(!p.undecoded)
        #expect(p.malformed == nil)
    }

    @Test(arguments: [LinkType.raw, .rawOpenBSD, .rawBSDOS])
    func ipv6ByVersionNibble(_ link: LinkType) {
        let p = decode(rawIPv6, link: link)
        #expect(p.ipVersion == 6)
        #expect(p.src == addr("2001:db8::1"))
        #expect(p.dst == addr("2620:fe::9"))
        #expect(p.transport == .udp)
        #expect(p.sport == 12345)
        #expect(p.dport == 53)
        #expect(p.hasDNS)
        #expect(dnsQuestionName(rawIPv6, p) == "example.com")
        #expect(p.malformed == nil)
    }

    @Test func linktype228() {
        let p = decode(linktypeIPv4, link: .ipv4)
        #expect(p.ethertype == 0x0800)
        #expect(p.ipVersion == 4)
        #expect(p.dport == 123)
        #expect(p.app == .ntp)
        #expect(p.malformed == nil)
    }

    @Test func linktype229() {
        let p = decode(linktypeIPv6, link: .ipv6)
        #expect(p.ethertype == 0x86DD)
        #expect(p.ipVersion == 6)
        #expect(p.dst == addr("2620:fe::9"))
        #expect(p.hasDNS)
        #expect(p.dns.id == 4660)
        #expect(p.malformed == nil)
    }

    @Test func theLinkTypeDecidesNotTheNibble() {
        let v6OnV4 = decode(linktypeIPv6, link: .ipv4)
        #expect(v6OnV4.ipVersion == 0)
        #expect(v6OnV4.malformedText == "ipv4: version 6")
        let v4OnV6 = decode(linktypeIPv4, link: .ipv6)
        #expect(v4OnV6.ipVersion == 0)
        #expect(v4OnV6.malformedText == "ipv6: version 4")
    }

    @Test func unknownVersionNibble() {
        let p = decode(rawBadVersion, link: .raw)
        #expect(p.ipVersion == 0)
        #expect(p.malformedText == "raw: version 5")
    }

    @Test func emptyFrame() {
        let snapped = decode([], link: .raw, wireLength: 60)
        #expect(snapped.truncated)
        #expect(snapped.malformed == nil)
        let whole = decode([], link: .raw)
        #expect(whole.truncated)
        #expect(whole.malformedText == "raw: header cut short, 0 of 1 bytes")
        for link in [LinkType.ipv4, .ipv6] {
            let p = decode([], link: link, wireLength: 60)
            #expect(p.truncated)
            #expect(p.malformed == nil)
        }
    }

    @Test func unknownLinkTypeIsUndecoded() {
        let p = decode(rawIPv4, link: LinkType(147))
        #expect(p.undecoded)
        #expect(p.ipVersion == 0)
        #expect(!p.truncated)
        #expect(p.malformed == nil)
    }
}
