import SniffCore
import SniffDecode
import Testing

// MARK: - Packets

// tcp-handshake-nano.pcap frame 1
// tcpdump -nn -XX (linktype 113):
// 17:16:09.924505488 IP 131.155.215.69.46656 > 137.116.81.94.80: Flags [S], seq 797190859, win 27200, options [mss 1360,sackOK,TS val 1131021154 ecr 0,nop,wscale 7], length 0
//     0x0000:  0004 0200 0000 0000 0000 0000 0000 0800  ................
//     0x0010:  4500 003c 29a9 4000 4006 db5f 839b d745  E..<).@.@.._...E
//     0x0020:  8974 515e b640 0050 2f84 2acb 0000 0000  .tQ^.@.P/.*.....
//     0x0030:  a002 6a40 50c4 0000 0204 0550 0402 080a  ..j@P......P....
//     0x0040:  436a 0362 0000 0000 0103 0307            Cj.b........
let sllSYN: [UInt8] = [
    0x00, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x29, 0xa9, 0x40, 0x00,
    0x40, 0x06, 0xdb, 0x5f, 0x83, 0x9b, 0xd7, 0x45, 0x89, 0x74, 0x51, 0x5e,
    0xb6, 0x40, 0x00, 0x50, 0x2f, 0x84, 0x2a, 0xcb, 0x00, 0x00, 0x00, 0x00,
    0xa0, 0x02, 0x6a, 0x40, 0x50, 0xc4, 0x00, 0x00, 0x02, 0x04, 0x05, 0x50,
    0x04, 0x02, 0x08, 0x0a, 0x43, 0x6a, 0x03, 0x62, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x03, 0x03, 0x07,
]

// bgp-role.pcapng frame 1
// tcpdump -nn -XX (linktype 113):
// 20:08:52.541413 IP 192.168.10.17.179 > 192.168.10.124.53580: Flags [P.], seq 3763129203:3763129310, ack 4158499266, win 128, options [nop,nop,TS val 2413434737 ecr 2257657437], length 107: BGP
//     0x0000:  0004 0001 0006 18c0 4d96 fa3f 0000 0800  ........M..?....
//     0x0010:  45c0 009f 4358 4000 0106 9f63 c0a8 0a11  E...CX@....c....
//     0x0020:  c0a8 0a7c 00b3 d14c e04c cb73 f7dd a9c2  ...|...L.L.s....
//     0x0030:  8018 0080 966f 0000 0101 080a 8fda 1771  .....o.........q
//     0x0040:  8691 1e5d ffff ffff ffff ffff ffff ffff  ...]............
//     0x0050:  ffff ffff 006b 0104 fdea 00b4 c0a8 0a11  .....k..........
//     0x0060:  4e02 0601 0400 0100 0102 0280 0002 0202  N...............
//     0x0070:  0002 0246 0002 0641 0400 00fd ea02 0206  ...F...A........
//     0x0080:  0002 0309 0103 0206 4504 0001 0101 020e  ........E.......
//     0x0090:  490c 0a64 6f6e 6174 6173 2d70 6300 0204  I..donatas-pc...
//     0x00a0:  4002 4078 0209 4707 0001 0180 0000 00    @.@x..G........
let sllBGP: [UInt8] = [
    0x00, 0x04, 0x00, 0x01, 0x00, 0x06, 0x18, 0xc0, 0x4d, 0x96, 0xfa, 0x3f,
    0x00, 0x00, 0x08, 0x00, 0x45, 0xc0, 0x00, 0x9f, 0x43, 0x58, 0x40, 0x00,
    0x01, 0x06, 0x9f, 0x63, 0xc0, 0xa8, 0x0a, 0x11, 0xc0, 0xa8, 0x0a, 0x7c,
    0x00, 0xb3, 0xd1, 0x4c, 0xe0, 0x4c, 0xcb, 0x73, 0xf7, 0xdd, 0xa9, 0xc2,
    0x80, 0x18, 0x00, 0x80, 0x96, 0x6f, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a,
    0x8f, 0xda, 0x17, 0x71, 0x86, 0x91, 0x1e, 0x5d, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x6b, 0x01, 0x04, 0xfd, 0xea, 0x00, 0xb4, 0xc0, 0xa8, 0x0a, 0x11,
    0x4e, 0x02, 0x06, 0x01, 0x04, 0x00, 0x01, 0x00, 0x01, 0x02, 0x02, 0x80,
    0x00, 0x02, 0x02, 0x02, 0x00, 0x02, 0x02, 0x46, 0x00, 0x02, 0x06, 0x41,
    0x04, 0x00, 0x00, 0xfd, 0xea, 0x02, 0x02, 0x06, 0x00, 0x02, 0x03, 0x09,
    0x01, 0x03, 0x02, 0x06, 0x45, 0x04, 0x00, 0x01, 0x01, 0x01, 0x02, 0x0e,
    0x49, 0x0c, 0x0a, 0x64, 0x6f, 0x6e, 0x61, 0x74, 0x61, 0x73, 0x2d, 0x70,
    0x63, 0x00, 0x02, 0x04, 0x40, 0x02, 0x40, 0x78, 0x02, 0x09, 0x47, 0x07,
    0x00, 0x01, 0x01, 0x80, 0x00, 0x00, 0x00,
]

// VLAN tag left in the payload (no VLAN acceleration)
// tcpdump -nn -XX (linktype 113):
// 22:13:20.000000 ethertype IPv4, IP 192.0.2.1.40030 > 198.51.100.2.9: UDP, length 3
//     0x0000:  0000 0001 0006 0000 5e00 5301 0000 8100  ........^.S.....
//     0x0010:  002a 0800 4500 001f 0008 0000 4011 8e8f  .*..E.......@...
//     0x0020:  c000 0201 c633 6402 9c5e 0009 000b 9bd7  .....3d..^......
//     0x0030:  7461 67                                  tag
let sllVLAN: [UInt8] = [
    0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x00, 0x00, 0x81, 0x00, 0x00, 0x2a, 0x08, 0x00, 0x45, 0x00, 0x00, 0x1f,
    0x00, 0x08, 0x00, 0x00, 0x40, 0x11, 0x8e, 0x8f, 0xc0, 0x00, 0x02, 0x01,
    0xc6, 0x33, 0x64, 0x02, 0x9c, 0x5e, 0x00, 0x09, 0x00, 0x0b, 0x9b, 0xd7,
    0x74, 0x61, 0x67,
]

// protocol 0x0004 (ETH_P_802_2): an LLC/SNAP header follows
// tcpdump -nn -XX (linktype 113):
// 22:13:20.000000 IP 192.0.2.1.40031 > 198.51.100.2.9: UDP, length 3
//     0x0000:  0000 0001 0006 0000 5e00 5301 0000 0004  ........^.S.....
//     0x0010:  aaaa 0300 0000 0800 4500 001f 0009 0000  ........E.......
//     0x0020:  4011 8e8e c000 0201 c633 6402 9c5f 0009  @........3d.._..
//     0x0030:  000b a7cb 6c6c 63                        ....llc
let sllLLC: [UInt8] = [
    0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x00, 0x00, 0x00, 0x04, 0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00,
    0x45, 0x00, 0x00, 0x1f, 0x00, 0x09, 0x00, 0x00, 0x40, 0x11, 0x8e, 0x8e,
    0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x9c, 0x5f, 0x00, 0x09,
    0x00, 0x0b, 0xa7, 0xcb, 0x6c, 0x6c, 0x63,
]

// tcpdump -nn -XX (linktype 113):
// 22:13:20.000000 ARP, Request who-has 198.51.100.2 tell 192.0.2.1, length 28
//     0x0000:  0000 0001 0006 0000 5e00 5301 0000 0806  ........^.S.....
//     0x0010:  0001 0800 0604 0001 0000 5e00 5301 c000  ..........^.S...
//     0x0020:  0201 0000 0000 0000 c633 6402            .........3d.
let sllARP: [UInt8] = [
    0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x00, 0x00, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xc6, 0x33, 0x64, 0x02,
]

// ARPHRD_IPGRE (778): the protocol field is the GRE protocol type
// tcpdump -nn -XX (linktype 113):
// 22:13:20.000000 IP 192.0.2.1.40032 > 198.51.100.2.9: UDP, length 3
//     0x0000:  0000 030a 0004 c000 0201 0000 0000 0800  ................
//     0x0010:  4500 001f 000a 0000 4011 8e8d c000 0201  E.......@.......
//     0x0020:  c633 6402 9c60 0009 000b aac4 6772 65    .3d..`......gre
let sllIPGRE: [UInt8] = [
    0x00, 0x00, 0x03, 0x0a, 0x00, 0x04, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x08, 0x00, 0x45, 0x00, 0x00, 0x1f, 0x00, 0x0a, 0x00, 0x00,
    0x40, 0x11, 0x8e, 0x8d, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02,
    0x9c, 0x60, 0x00, 0x09, 0x00, 0x0b, 0xaa, 0xc4, 0x67, 0x72, 0x65,
]

// MARK: - Tests

@Suite("Linux cooked capture v1 (LINKTYPE_LINUX_SLL, 113)")
struct LinuxSLLTests {
    @Test func realSYN() {
        let p = decode(sllSYN, link: .linuxSLL)
        #expect(!p.hasEthernet)
        // ARPHRD_PPP (512) with an address length of 0: no source MAC to report.
        #expect(!p.hasEthSrc)
        #expect(p.ethertype == 0x0800)
        #expect(p.src == addr("131.155.215.69"))
        #expect(p.dst == addr("137.116.81.94"))
        #expect(p.sport == 46656)
        #expect(p.dport == 80)
        #expect(p.tcp.seq == 797_190_859)
        #expect(TCP.flagLetters(p.tcp.flags) == "S")
        #expect(p.tcp.mss == 1360)
        #expect(p.tcp.windowScale == 7)
        #expect(p.malformed == nil)
    }

    @Test func realBGP() {
        let p = decode(sllBGP, link: .linuxSLL)
        #expect(p.ethSrc.description == "18:c0:4d:96:fa:3f")
        #expect(p.src == addr("192.168.10.17"))
        #expect(p.sport == 179)
        #expect(p.payloadLength == 107)
        #expect(p.app == .bgp)
        #expect(p.malformed == nil)
    }

    @Test func vlanTagInThePayload() {
        let p = decode(sllVLAN, link: .linuxSLL)
        #expect(p.vlans.count == 1)
        #expect(p.vlans.primary == 42)
        #expect(p.ethertype == 0x0800)
        #expect(p.sport == 40030)
        #expect(p.malformed == nil)
    }

    @Test func nineTagsAreTooDeepAsOnEthernet() {
        // sllVLAN: 16-byte header with protocol 0x8100, one tag, then IPv4.
        func frame(tags: Int) -> [UInt8] {
            var b = Array(sllVLAN[0..<16])
            for i in 0..<(tags - 1) { b += [0x00, UInt8(i + 1), 0x81, 0x00] }
            return b + Array(sllVLAN[16...])
        }
        let eight = decode(frame(tags: 8), link: .linuxSLL)
        #expect(eight.vlans.count == 8)
        #expect(eight.ipVersion == 4)
        #expect(eight.malformed == nil)
        let nine = decode(frame(tags: 9), link: .linuxSLL)
        #expect(nine.vlans.count == 8)
        #expect(nine.ipVersion == 0)
        #expect(nine.malformedText == "vlan: more than 8 nested headers")
    }

    @Test func llcProtocol() {
        let p = decode(sllLLC, link: .linuxSLL)
        #expect(p.ethertype == 0x0800)
        #expect(p.ipVersion == 4)
        #expect(p.sport == 40031)
        #expect(p.malformed == nil)
    }

    @Test func arp() {
        let p = decode(sllARP, link: .linuxSLL)
        #expect(p.ethSrc.description == "00:00:5e:00:53:01")
        #expect(p.isARP)
        #expect(p.transport == .arp)
        #expect(p.arpOp == 1)
        #expect(p.malformed == nil)
    }

    @Test func ipgreDeviceHasNoMAC() {
        let p = decode(sllIPGRE, link: .linuxSLL)
        #expect(!p.hasEthSrc)
        #expect(p.ethertype == 0x0800)
        #expect(p.sport == 40032)
    }

    @Test func rawEthernetProtocolsEndQuietly() {
        // ETH_P_802_3 (1) and ETH_P_ALL (3) carry a frame without an ethertype.
        for proto: UInt8 in [0x01, 0x03] {
            let p = decode(patched(patched(sllARP, 14, 0x00), 15, proto), link: .linuxSLL)
            #expect(p.ethertype == 0)
            #expect(!p.isARP)
            #expect(p.malformed == nil)
        }
    }

    @Test(arguments: 0..<16)
    func headerCutShort(_ n: Int) {
        let snapped = decodePrefix(sllSYN, n, link: .linuxSLL)
        #expect(snapped.truncated)
        #expect(snapped.malformed == nil)
        let whole = decode(Array(sllSYN.prefix(n)), link: .linuxSLL)
        #expect(whole.malformedText == "linux_sll: header cut short, \(n) of 16 bytes")
    }
}
