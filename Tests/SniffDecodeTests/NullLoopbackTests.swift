import SniffCore
import SniffDecode
import Testing

// MARK: - Packets

// dns-badcookie.pcap frame 1
// tcpdump -nn -XX (linktype 0):
// 01:16:43.306396 IP 127.0.0.1.54954 > 127.0.0.1.53: 63147+ [1au] SOA? . (40)
//     0x0000:  0200 0000 4500 0044 000f 0000 4011 0000  ....E..D....@...
//     0x0010:  7f00 0001 7f00 0001 d6aa 0035 0030 fe43  ...........5.0.C
//     0x0020:  f6ab 0120 0001 0000 0000 0001 0000 0600  ................
//     0x0030:  0100 0029 1000 0000 0000 000c 000a 0008  ...)............
//     0x0040:  36bf 111f ef2e 0109                      6.......
let nullDNSLittleEndian: [UInt8] = [
    0x02, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x44, 0x00, 0x0f, 0x00, 0x00,
    0x40, 0x11, 0x00, 0x00, 0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00, 0x00, 0x01,
    0xd6, 0xaa, 0x00, 0x35, 0x00, 0x30, 0xfe, 0x43, 0xf6, 0xab, 0x01, 0x20,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x06, 0x00,
    0x01, 0x00, 0x00, 0x29, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c,
    0x00, 0x0a, 0x00, 0x08, 0x36, 0xbf, 0x11, 0x1f, 0xef, 0x2e, 0x01, 0x09,
]

// AF_INET6 = 30 (Darwin) written in big-endian order
// tcpdump -nn -XX (linktype 0):
// 22:13:20.000000 IP6 2001:db8::1.40010 > 2001:db8::2.9: UDP, length 2
//     0x0000:  0000 001e 6000 0000 000a 1140 2001 0db8  ....`......@....
//     0x0010:  0000 0000 0000 0000 0000 0001 2001 0db8  ................
//     0x0020:  0000 0000 0000 0000 0000 0002 9c4a 0009  .............J..
//     0x0030:  000a 91db 7636                           ....v6
let nullIPv6BigEndian: [UInt8] = [
    0x00, 0x00, 0x00, 0x1e, 0x60, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x11, 0x40,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x9c, 0x4a, 0x00, 0x09,
    0x00, 0x0a, 0x91, 0xdb, 0x76, 0x36,
]

// AF_INET6 = 28 (FreeBSD), little-endian
// tcpdump -nn -XX (linktype 0):
// 22:13:20.000000 IP6 2001:db8::1.40010 > 2001:db8::2.9: UDP, length 2
//     0x0000:  1c00 0000 6000 0000 000a 1140 2001 0db8  ....`......@....
//     0x0010:  0000 0000 0000 0000 0000 0001 2001 0db8  ................
//     0x0020:  0000 0000 0000 0000 0000 0002 9c4a 0009  .............J..
//     0x0030:  000a 91db 7636                           ....v6
let nullIPv6FreeBSD: [UInt8] = [
    0x1c, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x11, 0x40,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x9c, 0x4a, 0x00, 0x09,
    0x00, 0x0a, 0x91, 0xdb, 0x76, 0x36,
]

// AF_INET6 = 24 (NetBSD/OpenBSD), little-endian
// tcpdump -nn -XX (linktype 0):
// 22:13:20.000000 IP6 2001:db8::1.40010 > 2001:db8::2.9: UDP, length 2
//     0x0000:  1800 0000 6000 0000 000a 1140 2001 0db8  ....`......@....
//     0x0010:  0000 0000 0000 0000 0000 0001 2001 0db8  ................
//     0x0020:  0000 0000 0000 0000 0000 0002 9c4a 0009  .............J..
//     0x0030:  000a 91db 7636                           ....v6
let nullIPv6OpenBSD: [UInt8] = [
    0x18, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x11, 0x40,
    0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x9c, 0x4a, 0x00, 0x09,
    0x00, 0x0a, 0x91, 0xdb, 0x76, 0x36,
]

// LINKTYPE_LOOP: AF_INET in network order
// tcpdump -nn -XX (linktype 108):
// 22:13:20.000000 IP 192.0.2.1.40011 > 198.51.100.2.9: UDP, length 4
//     0x0000:  0000 0002 4500 0020 0005 0000 4011 8e91  ....E.......@...
//     0x0010:  c000 0201 c633 6402 9c4b 0009 000c 9b6a  .....3d..K.....j
//     0x0020:  6c6f 6f70                                loop
let loopIPv4: [UInt8] = [
    0x00, 0x00, 0x00, 0x02, 0x45, 0x00, 0x00, 0x20, 0x00, 0x05, 0x00, 0x00,
    0x40, 0x11, 0x8e, 0x91, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02,
    0x9c, 0x4b, 0x00, 0x09, 0x00, 0x0c, 0x9b, 0x6a, 0x6c, 0x6f, 0x6f, 0x70,
]

// LINKTYPE_LOOP written in host (little-endian) order, as some files are
// tcpdump -nn -XX (linktype 108):
// 22:13:20.000000 IP 192.0.2.1.40011 > 198.51.100.2.9: UDP, length 4
//     0x0000:  0200 0000 4500 0020 0005 0000 4011 8e91  ....E.......@...
//     0x0010:  c000 0201 c633 6402 9c4b 0009 000c 9b6a  .....3d..K.....j
//     0x0020:  6c6f 6f70                                loop
let loopIPv4LittleEndian: [UInt8] = [
    0x02, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x20, 0x00, 0x05, 0x00, 0x00,
    0x40, 0x11, 0x8e, 0x91, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02,
    0x9c, 0x4b, 0x00, 0x09, 0x00, 0x0c, 0x9b, 0x6a, 0x6c, 0x6f, 0x6f, 0x70,
]

// address family 99 is not one Sniff knows
// tcpdump -nn -XX (linktype 0):
// 22:13:20.000000 AF Unknown (99), length 36:
//     0x0000:  6300 0000 4500 0020 0005 0000 4011 8e91  c...E.......@...
//     0x0010:  c000 0201 c633 6402 9c4b 0009 000c 9b6a  .....3d..K.....j
//     0x0020:  6c6f 6f70                                loop
let nullUnknownFamily: [UInt8] = [
    0x63, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x20, 0x00, 0x05, 0x00, 0x00,
    0x40, 0x11, 0x8e, 0x91, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02,
    0x9c, 0x4b, 0x00, 0x09, 0x00, 0x0c, 0x9b, 0x6a, 0x6c, 0x6f, 0x6f, 0x70,
]

// MARK: - Tests

@Suite("BSD loopback: LINKTYPE_NULL (0) and LINKTYPE_LOOP (108)")
struct NullLoopbackTests {
    @Test func realLittleEndianAFInet() {
        let p = decode(nullDNSLittleEndian, link: .null)
        #expect(!p.hasEthernet)
        #expect(!p.hasEthSrc)
        #expect(p.ethertype == 0x0800)
        #expect(p.ipVersion == 4)
        #expect(p.src == addr("127.0.0.1"))
        #expect(p.sport == 54954)
        #expect(p.dport == 53)
        #expect(p.malformed == nil)
    }

    @Test(arguments: [
        (nullIPv6BigEndian, "Darwin 30, big-endian"),
        (nullIPv6FreeBSD, "FreeBSD 28, little-endian"),
        (nullIPv6OpenBSD, "OpenBSD 24, little-endian"),
        ([10, 0, 0, 0] + nullIPv6FreeBSD[4...], "Linux 10, little-endian"),
        ([0, 0, 0, 24] + nullIPv6FreeBSD[4...], "OpenBSD 24, big-endian"),
    ] as [([UInt8], String)])
    func everyAFInet6Value(_ frame: [UInt8], _ label: String) {
        let p = decode(frame, link: .null)
        #expect(p.ethertype == 0x86DD, "\(label)")
        #expect(p.ipVersion == 6, "\(label)")
        #expect(p.src == addr("2001:db8::1"), "\(label)")
        #expect(p.dst == addr("2001:db8::2"), "\(label)")
        #expect(p.sport == 40010, "\(label)")
        #expect(p.malformed == nil, "\(label)")
    }

    @Test func loopInNetworkOrder() {
        let p = decode(loopIPv4, link: .loop)
        #expect(p.link == .loop)
        #expect(p.ethertype == 0x0800)
        #expect(p.src == addr("192.0.2.1"))
        #expect(p.sport == 40011)
        #expect(p.malformed == nil)
    }

    @Test func loopInHostOrderIsAcceptedToo() {
        let p = decode(loopIPv4LittleEndian, link: .loop)
        #expect(p.ethertype == 0x0800)
        #expect(p.ipVersion == 4)
        #expect(p.sport == 40011)
    }

    @Test func bigEndianAFInetOnNull() {
        let p = decode([0, 0, 0, 2] + loopIPv4[4...], link: .null)
        #expect(p.ethertype == 0x0800)
        #expect(p.ipVersion == 4)
    }

    @Test func unknownFamily() {
        let p = decode(nullUnknownFamily, link: .null)
        #expect(p.ipVersion == 0)
        #expect(p.ethertype == 0)
        #expect(p.malformedText == "null: unknown address family 99")
        let be = decode([0, 0, 0, 99] + nullUnknownFamily[4...], link: .loop)
        #expect(be.malformedText == "null: unknown address family 99")
    }

    @Test(arguments: 0..<4)
    func familyCutShort(_ n: Int) {
        let snapped = decodePrefix(loopIPv4, n, link: .loop)
        #expect(snapped.truncated)
        #expect(snapped.malformed == nil)
        let whole = decode(Array(loopIPv4.prefix(n)), link: .null)
        #expect(whole.malformedText == "null: header cut short, \(n) of 4 bytes")
    }
}
