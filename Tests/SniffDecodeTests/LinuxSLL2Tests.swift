import SniffCore
import SniffDecode
import Testing

// MARK: - Packets

// tcpdump -nn -XX (linktype 276):
// 22:13:20.000000 ifb1  In  IP 192.0.2.1.40040 > 198.51.100.2.22: Flags [P.], seq 1:12, ack 2, win 100, length 11: SSH: SSH-2.0-x
//     0x0000:  0800 0000 0000 0003 0001 0006 0000 5e00  ..............^.
//     0x0010:  5301 0000 4500 0033 000b 0000 4006 8e83  S...E..3....@...
//     0x0020:  c000 0201 c633 6402 9c68 0016 0000 0001  .....3d..h......
//     0x0030:  0000 0002 5018 0064 a6bb 0000 5353 482d  ....P..d....SSH-
//     0x0040:  322e 302d 780d 0a                        2.0-x..
let sll2TCP: [UInt8] = [
    0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x06,
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, 0x00, 0x00, 0x45, 0x00, 0x00, 0x33,
    0x00, 0x0b, 0x00, 0x00, 0x40, 0x06, 0x8e, 0x83, 0xc0, 0x00, 0x02, 0x01,
    0xc6, 0x33, 0x64, 0x02, 0x9c, 0x68, 0x00, 0x16, 0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x02, 0x50, 0x18, 0x00, 0x64, 0xa6, 0xbb, 0x00, 0x00,
    0x53, 0x53, 0x48, 0x2d, 0x32, 0x2e, 0x30, 0x2d, 0x78, 0x0d, 0x0a,
]

// tcpdump -nn -XX (linktype 276):
// 22:13:20.000000 lo    Out IP6 ::1.40041 > ::1.53: 16962+ AAAA? example.org. (29)
//     0x0000:  86dd 0000 0000 0001 0304 0406 0000 0000  ................
//     0x0010:  0000 0000 6000 0000 0025 1140 0000 0000  ....`....%.@....
//     0x0020:  0000 0000 0000 0000 0000 0001 0000 0000  ................
//     0x0030:  0000 0000 0000 0000 0000 0001 9c69 0035  .............i.5
//     0x0040:  0025 334e 4242 0100 0001 0000 0000 0000  .%3NBB..........
//     0x0050:  0765 7861 6d70 6c65 036f 7267 0000 1c00  .example.org....
//     0x0060:  01                                       .
let sll2IPv6: [UInt8] = [
    0x86, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x04, 0x04, 0x06,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x60, 0x00, 0x00, 0x00,
    0x00, 0x25, 0x11, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    0x9c, 0x69, 0x00, 0x35, 0x00, 0x25, 0x33, 0x4e, 0x42, 0x42, 0x01, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61,
    0x6d, 0x70, 0x6c, 0x65, 0x03, 0x6f, 0x72, 0x67, 0x00, 0x00, 0x1c, 0x00,
    0x01,
]

// tcpdump -nn -XX (linktype 276):
// 22:13:20.000000 ifb0  B   ARP, Reply 198.51.100.2 is-at 00:00:5e:00:53:02, length 28
//     0x0000:  0806 0000 0000 0002 0001 0106 0000 5e00  ..............^.
//     0x0010:  5302 0000 0001 0800 0604 0002 0000 5e00  S.............^.
//     0x0020:  5302 c633 6402 0000 5e00 5301 c000 0201  S..3d...^.S.....
let sll2ARP: [UInt8] = [
    0x08, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 0x01, 0x06,
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00,
    0x06, 0x04, 0x00, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0xc6, 0x33,
    0x64, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, 0xc0, 0x00, 0x02, 0x01,
]

// MARK: - Tests

@Suite("Linux cooked capture v2 (LINKTYPE_LINUX_SLL2, 276)")
struct LinuxSLL2Tests {
    @Test func ipv4TCP() {
        let p = decode(sll2TCP, link: .linuxSLL2)
        #expect(p.link == .linuxSLL2)
        #expect(!p.hasEthernet)
        #expect(p.hasEthSrc)
        #expect(p.ethSrc.description == "00:00:5e:00:53:01")
        #expect(p.ethertype == 0x0800)
        #expect(p.src == addr("192.0.2.1"))
        #expect(p.dport == 22)
        #expect(TCP.flagLetters(p.tcp.flags) == "P.")
        #expect(p.payloadLength == 11)
        #expect(p.app == .ssh)
        #expect(p.malformed == nil)
    }

    @Test func loopbackIPv6DNS() {
        let p = decode(sll2IPv6, link: .linuxSLL2)
        // ARPHRD_LOOPBACK (772) with a 6-byte all-zero address.
        #expect(p.hasEthSrc)
        #expect(p.ethSrc.value == 0)
        #expect(p.ipVersion == 6)
        #expect(p.src == addr("::1"))
        #expect(p.hasDNS)
        #expect(p.dns.id == 0x4242)
        #expect(p.dns.qtype == 28)
        #expect(dnsQuestionName(sll2IPv6, p) == "example.org")
        #expect(p.malformed == nil)
    }

    @Test func arp() {
        let p = decode(sll2ARP, link: .linuxSLL2)
        #expect(p.isARP)
        #expect(p.arpOp == 2)
        #expect(p.ethSrc.description == "00:00:5e:00:53:02")
        #expect(p.malformed == nil)
    }

    @Test func vlanTagInThePayload() {
        // Protocol 0x8100 and a tag in front of the IPv4 header, as SLL v1 does.
        let tagged: [UInt8] = [0x81, 0x00] + sll2TCP[2..<20] + [0x00, 0x07, 0x08, 0x00] + sll2TCP[20...]
        let p = decode(tagged, link: .linuxSLL2)
        #expect(p.vlans.primary == 7)
        #expect(p.ethertype == 0x0800)
        #expect(p.dport == 22)
        #expect(p.malformed == nil)
    }

    @Test(arguments: 0..<20)
    func headerCutShort(_ n: Int) {
        let snapped = decodePrefix(sll2TCP, n, link: .linuxSLL2)
        #expect(snapped.truncated)
        #expect(snapped.malformed == nil)
        let whole = decode(Array(sll2TCP.prefix(n)), link: .linuxSLL2)
        #expect(whole.malformedText == "linux_sll2: header cut short, \(n) of 20 bytes")
    }
}
