import SniffCore
import SniffDecode
import Testing

// MARK: - Packets

// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 ARP, Request who-has 192.0.2.254 tell 192.0.2.1, length 28
//     0x0000:  ffff ffff ffff 0000 5e00 5301 0806 0001  ........^.S.....
//     0x0010:  0800 0604 0001 0000 5e00 5301 c000 0201  ........^.S.....
//     0x0020:  0000 0000 0000 c000 02fe                 ..........
let arpRequest: [UInt8] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x00, 0x00,
    0x5e, 0x00, 0x53, 0x01, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xc0, 0x00, 0x02, 0xfe,
]

// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 ARP, Reply 192.0.2.254 is-at 00:00:5e:00:53:02, length 28
//     0x0000:  0000 5e00 5301 0000 5e00 5302 0806 0001  ..^.S...^.S.....
//     0x0010:  0800 0604 0002 0000 5e00 5302 c000 02fe  ........^.S.....
//     0x0020:  0000 5e00 5301 c000 0201                 ..^.S.....
let arpReply: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x01, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x02,
    0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x00, 0x00,
    0x5e, 0x00, 0x53, 0x02, 0xc0, 0x00, 0x02, 0xfe, 0x00, 0x00, 0x5e, 0x00,
    0x53, 0x01, 0xc0, 0x00, 0x02, 0x01,
]

// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 ARP, Reverse Request who-is 00:00:5e:00:53:01 tell 00:00:5e:00:53:01, length 28
//     0x0000:  ffff ffff ffff 0000 5e00 5301 8035 0001  ........^.S..5..
//     0x0010:  0800 0604 0003 0000 5e00 5301 0000 0000  ........^.S.....
//     0x0020:  0000 5e00 5301 0000 0000                 ..^.S.....
let rarpRequest: [UInt8] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x80, 0x35, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x03, 0x00, 0x00,
    0x5e, 0x00, 0x53, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x5e, 0x00,
    0x53, 0x01, 0x00, 0x00, 0x00, 0x00,
]

// hardware type 27 (EUI-64), hlen 8, protocol 0x86dd, plen 16
// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 ARP, Unknown Hardware (27) (len 8), IPv6 (len 16), length 56
//     0x0000:  ffff ffff ffff 0000 5e00 5301 0806 001b  ........^.S.....
//     0x0010:  86dd 0810 0001 0102 0304 0506 0708 0000  ................
//     0x0020:  0000 0000 0000 0000 0000 0000 0000 0000  ................
//     0x0030:  0000 0000 0000 0001 0203 0405 0607 0809  ................
//     0x0040:  0a0b 0c0d 0e0f                           ......
let arpOddSizes: [UInt8] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x06, 0x00, 0x1b, 0x86, 0xdd, 0x08, 0x10, 0x00, 0x01, 0x01, 0x02,
    0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
    0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
]

// hlen 0 and plen 0: only the fixed part
// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 ARP, Ethernet (len 0), IPv4 (len 0), length 8
//     0x0000:  ffff ffff ffff 0000 5e00 5301 0806 0001  ........^.S.....
//     0x0010:  0800 0000 0001                           ......
let arpZeroSizes: [UInt8] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x01,
]

// hlen 255 and plen 255 claim 1028 bytes, the frame has 28
// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000  [|arp]
//     0x0000:  ffff ffff ffff 0000 5e00 5301 0806 0001  ........^.S.....
//     0x0010:  0800 ffff 0001 0000 0000 0000 0000 0000  ................
//     0x0020:  0000 0000 0000 0000 0000                 ..........
let arpOversized: [UInt8] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0xff, 0xff, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
]

// MARK: - Tests

@Suite("ARP and RARP")
struct ARPTests {
    @Test func request() {
        let p = decode(arpRequest)
        #expect(p.ethertype == 0x0806)
        #expect(p.isARP)
        #expect(p.transport == .arp)
        #expect(p.arpOp == 1)
        #expect(p.ipVersion == 0)
        #expect(!p.truncated)
        #expect(p.malformed == nil)
    }

    @Test func reply() {
        let p = decode(arpReply)
        #expect(p.arpOp == 2)
        #expect(p.ethSrc.description == "00:00:5e:00:53:02")
        #expect(p.malformed == nil)
    }

    @Test func reverseRequest() {
        let p = decode(rarpRequest)
        #expect(p.ethertype == 0x8035)
        #expect(p.isARP)
        #expect(p.arpOp == 3)
        #expect(p.malformed == nil)
    }

    @Test func oddAddressSizes() {
        let p = decode(arpOddSizes)
        #expect(p.isARP)
        #expect(p.arpOp == 1)
        #expect(!p.truncated)
        #expect(p.malformed == nil)
    }

    @Test func zeroAddressSizes() {
        let p = decode(arpZeroSizes)
        #expect(p.arpOp == 1)
        #expect(!p.truncated)
        #expect(p.malformed == nil)
    }

    @Test func sizesBeyondTheFrame() {
        let p = decode(arpOversized)
        #expect(p.isARP)
        #expect(p.arpOp == 1)
        #expect(p.truncated)
        #expect(p.malformedText == "arp: header cut short, 28 of 1028 bytes")
    }

    @Test func paddedRequestIsWhole() {
        let padded = arpRequest + [UInt8](repeating: 0, count: 18)
        let p = decode(padded)
        #expect(!p.truncated)
        #expect(p.malformed == nil)
    }

    @Test(arguments: 14..<42)
    func cutShort(_ n: Int) {
        let snapped = decodePrefix(arpRequest, n)
        #expect(snapped.isARP)
        #expect(snapped.truncated)
        #expect(snapped.malformed == nil)
        #expect(snapped.arpOp == (n >= 22 ? 1 : 0))
    }
}
