import SniffCore
import SniffDecode
import Testing

// MARK: - Packets

// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 IP 192.0.2.1.40100 > 198.51.100.2.9: UDP, length 3
//     0x0000:  0000 5e00 5302 0000 5e00 5301 0800 4600  ..^.S...^.S...F.
//     0x0010:  0023 0014 0000 0111 387b c000 0201 c633  .#......8{.....3
//     0x0020:  6402 9404 0000 9ca4 0009 000b 9382 6f70  d.............op
//     0x0030:  74                                       t
let ipv4RouterAlert: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x00, 0x46, 0x00, 0x00, 0x23, 0x00, 0x14, 0x00, 0x00, 0x01, 0x11,
    0x38, 0x7b, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x94, 0x04,
    0x00, 0x00, 0x9c, 0xa4, 0x00, 0x09, 0x00, 0x0b, 0x93, 0x82, 0x6f, 0x70,
    0x74,
]

// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 IP 192.0.2.1.40101 > 198.51.100.2.80: Flags [S], seq 1, win 1, length 0
//     0x0000:  0000 5e00 5302 0000 5e00 5301 0800 4800  ..^.S...^.S...H.
//     0x0010:  0034 0015 0000 4006 7af5 c000 0201 c633  .4....@.z......3
//     0x0020:  6402 070b 04cb 0071 01cb 0071 0200 9ca5  d......q...q....
//     0x0030:  0050 0000 0001 0000 0000 5002 0001 26b4  .P........P...&.
//     0x0040:  0000                                     ..
let ipv4RecordRoute: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x00, 0x48, 0x00, 0x00, 0x34, 0x00, 0x15, 0x00, 0x00, 0x40, 0x06,
    0x7a, 0xf5, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x07, 0x0b,
    0x04, 0xcb, 0x00, 0x71, 0x01, 0xcb, 0x00, 0x71, 0x02, 0x00, 0x9c, 0xa5,
    0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02,
    0x00, 0x01, 0x26, 0xb4, 0x00, 0x00,
]

// first of 2 fragments: 8-byte UDP header + 16 bytes of payload, MF set
// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 IP 192.0.2.1.40102 > 198.51.100.2.5001: UDP, length 40
//     0x0000:  0000 5e00 5302 0000 5e00 5301 0800 4500  ..^.S...^.S...E.
//     0x0010:  002c 0016 2000 4011 6e74 c000 0201 c633  .,....@.nt.....3
//     0x0020:  6402 9ca6 1389 0030 e5a9 4646 4646 4646  d......0..FFFFFF
//     0x0030:  4646 4646 4646 4646 4646                 FFFFFFFFFF
let ipv4FirstFragment: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x00, 0x16, 0x20, 0x00, 0x40, 0x11,
    0x6e, 0x74, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x9c, 0xa6,
    0x13, 0x89, 0x00, 0x30, 0xe5, 0xa9, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
    0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
]

// second fragment, offset 24: no transport header
// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 IP 192.0.2.1 > 198.51.100.2: ip-proto-17
//     0x0000:  0000 5e00 5302 0000 5e00 5301 0800 4500  ..^.S...^.S...E.
//     0x0010:  002c 0016 0003 4011 8e71 c000 0201 c633  .,....@..q.....3
//     0x0020:  6402 4646 4646 4646 4646 4646 4646 4646  d.FFFFFFFFFFFFFF
//     0x0030:  4646 4646 4646 4646 4646                 FFFFFFFFFF
let ipv4SecondFragment: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x2c, 0x00, 0x16, 0x00, 0x03, 0x40, 0x11,
    0x8e, 0x71, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x46, 0x46,
    0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
    0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46,
]

// cut to 48 bytes by the snaplen (wire length 106)
// tcpdump -nn -XX (linktype 1, 48 of 106 bytes captured):
// 22:13:20.000000 IP 192.0.2.1.40103 > 198.51.100.2.9: UDP, length 64
//     0x0000:  0000 5e00 5302 0000 5e00 5301 0800 4500  ..^.S...^.S...E.
//     0x0010:  005c 0017 0000 4011 8e43 c000 0201 c633  .\....@..C.....3
//     0x0020:  6402 9ca7 0009 0048 0c0c 5353 5353 5353  d......H..SSSSSS
let ipv4Snapped: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x5c, 0x00, 0x17, 0x00, 0x00, 0x40, 0x11,
    0x8e, 0x43, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x9c, 0xa7,
    0x00, 0x09, 0x00, 0x48, 0x0c, 0x0c, 0x53, 0x53, 0x53, 0x53, 0x53, 0x53,
]

// total length 200, but the whole frame (47 bytes) was captured
// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 IP truncated-ip - 167 bytes missing! 192.0.2.1.40104 > 198.51.100.2.9: UDP, length 5
//     0x0000:  0000 5e00 5302 0000 5e00 5301 0800 4500  ..^.S...^.S...E.
//     0x0010:  00c8 0018 0000 4011 8dd6 c000 0201 c633  ......@........3
//     0x0020:  6402 9ca8 0009 000d 1f69 7368 6f72 74    d........ishort
let ipv4TotalLengthTooBig: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0xc8, 0x00, 0x18, 0x00, 0x00, 0x40, 0x11,
    0x8d, 0xd6, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x9c, 0xa8,
    0x00, 0x09, 0x00, 0x0d, 0x1f, 0x69, 0x73, 0x68, 0x6f, 0x72, 0x74,
]

// ihl 4 (16 bytes) is below the minimum 20
// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 IP bad-hlen 16
//     0x0000:  0000 5e00 5302 0000 5e00 5301 0800 4400  ..^.S...^.S...D.
//     0x0010:  001c 0019 0000 4011 8f81 c000 0201 c633  ......@........3
//     0x0020:  6402 9ca9 0009 0008 76f4                 d.......v.
let ipv4BadIHL: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x00, 0x44, 0x00, 0x00, 0x1c, 0x00, 0x19, 0x00, 0x00, 0x40, 0x11,
    0x8f, 0x81, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x9c, 0xa9,
    0x00, 0x09, 0x00, 0x08, 0x76, 0xf4,
]

// total length 12 < header length 20
// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 IP bad-len 12
//     0x0000:  0000 5e00 5302 0000 5e00 5301 0800 4500  ..^.S...^.S...E.
//     0x0010:  000c 001a 0000 4011 8e90 c000 0201 c633  ......@........3
//     0x0020:  6402 9caa 0009 0008 76fb                 d.......v.
let ipv4TotalBelowHeader: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x0c, 0x00, 0x1a, 0x00, 0x00, 0x40, 0x11,
    0x8e, 0x90, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x9c, 0xaa,
    0x00, 0x09, 0x00, 0x08, 0x76, 0xfb,
]

// Ethernet padding after a 29-byte datagram
// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 IP 192.0.2.1.40107 > 198.51.100.2.9: UDP, length 1
//     0x0000:  0000 5e00 5302 0000 5e00 5301 0800 4500  ..^.S...^.S...E.
//     0x0010:  001d 001b 0000 4011 8e7e c000 0201 c633  ......@..~.....3
//     0x0020:  6402 9cab 0009 0009 06f0 7000 0000 0000  d.........p.....
//     0x0030:  0000 0000 0000 0000 0000 0000            ............
let ipv4Padded: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x1d, 0x00, 0x1b, 0x00, 0x00, 0x40, 0x11,
    0x8e, 0x7e, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0x9c, 0xab,
    0x00, 0x09, 0x00, 0x09, 0x06, 0xf0, 0x70, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
]

// MARK: - Tests

@Suite("IPv4")
struct IPv4Tests {
    @Test func routerAlertOption() {
        let p = decode(ipv4RouterAlert)
        #expect(p.ipVersion == 4)
        #expect(p.ipHeaderLength == 24)
        #expect(p.ipTotalLength == 35)
        #expect(p.ttl == 1)
        #expect(p.ipProto == 17)
        #expect(p.sport == 40100)
        #expect(p.payloadLength == 3)
        #expect(p.payloadOffset == 14 + 24 + 8)
        #expect(!p.isFragment)
        #expect(p.malformed == nil)
    }

    @Test func recordRouteOption() {
        let p = decode(ipv4RecordRoute)
        #expect(p.ipHeaderLength == 32)
        #expect(p.transport == .tcp)
        #expect(p.dport == 80)
        #expect(p.tcp.seq == 1)
        #expect(p.malformed == nil)
    }

    @Test func optionsCutBySnaplenStillGiveAddresses() {
        let p = decodePrefix(ipv4RecordRoute, 14 + 24)
        #expect(p.ipVersion == 4)
        #expect(p.src == addr("192.0.2.1"))
        #expect(p.dst == addr("198.51.100.2"))
        #expect(p.ipProto == 6)
        #expect(!p.hasPorts)
        #expect(p.truncated)
        #expect(p.malformed == nil)
    }

    @Test func firstFragmentCarriesThePorts() {
        let p = decode(ipv4FirstFragment)
        #expect(p.isFragment)
        #expect(p.transport == .udp)
        #expect(p.hasPorts)
        #expect(p.sport == 40102)
        #expect(p.dport == 5001)
        // The UDP length covers the whole datagram, not this fragment.
        #expect(p.payloadLength == 40)
        #expect(p.payloadCaptured == 16)
        #expect(!p.truncated)
        #expect(p.malformed == nil)
    }

    @Test func laterFragmentHasNoPorts() {
        let p = decode(ipv4SecondFragment)
        #expect(p.isFragment)
        #expect(p.ipProto == 17)
        #expect(p.transport == .udp)
        #expect(!p.hasPorts)
        #expect(!p.hasPayloadLength)
        #expect(p.app == .unknown)
        #expect(p.malformed == nil)
    }

    @Test func snaplenCutIsOnlyTruncated() {
        let p = decode(ipv4Snapped, wireLength: 106)
        #expect(p.ipTotalLength == 92)
        #expect(p.truncated)
        #expect(p.malformed == nil)
        #expect(p.sport == 40103)
        #expect(p.payloadLength == 64)
        #expect(p.payloadCaptured == 6)
    }

    @Test func totalLengthBeyondAFullCaptureIsMalformed() {
        let p = decode(ipv4TotalLengthTooBig)
        #expect(p.truncated)
        #expect(p.malformedText == "ipv4: total length 200 > 33 captured")
        #expect(p.ipVersion == 4)
        #expect(p.sport == 40104)
    }

    @Test func totalLengthBeyondASnappedCaptureIsOnlyTruncated() {
        let p = decode(ipv4TotalLengthTooBig, wireLength: 214)
        #expect(p.truncated)
        #expect(p.malformed == nil)
    }

    @Test func headerLengthBelowMinimum() {
        let p = decode(ipv4BadIHL)
        #expect(p.malformedText == "ipv4: header length 16 < 20")
        #expect(!p.hasPorts)
    }

    @Test func totalLengthBelowHeaderLength() {
        let p = decode(ipv4TotalBelowHeader)
        #expect(p.malformedText == "ipv4: total length 12 < header length 20")
        #expect(!p.hasPorts)
    }

    @Test func ethernetPaddingIsNotPayload() {
        let p = decode(ipv4Padded)
        #expect(p.ipTotalLength == 29)
        #expect(p.payloadLength == 1)
        #expect(p.payloadCaptured == 1)
        #expect(!p.truncated)
        #expect(p.malformed == nil)
    }

    @Test func wrongVersionBehindIPv4Ethertype() {
        let p = decode(patched(ethernetUDPForIPv4, 14, 0x65))
        #expect(p.malformedText == "ipv4: version 6")
    }

    @Test(arguments: 14..<34)
    func fixedHeaderCutShort(_ n: Int) {
        let snapped = decodePrefix(ipv4RouterAlert, n)
        #expect(snapped.truncated)
        #expect(snapped.malformed == nil)
        #expect(!snapped.hasPorts)
        #expect(snapped.ipVersion == (n >= 34 ? 4 : 0))
        let whole = decode(Array(ipv4RouterAlert.prefix(n)))
        #expect(whole.truncated)
        #expect(whole.malformedText == "ipv4: header cut short, \(n - 14) of 20 bytes")
    }
}

private let ethernetUDPForIPv4 = ipv4Padded
