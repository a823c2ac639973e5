import SniffCore
import SniffDecode
import Testing

// MARK: - Packets

// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 IP 192.0.2.1.50000 > 198.51.100.2.443: UDP, length 25
//     0x0000:  0000 5e00 5302 0000 5e00 5301 0800 4500  ..^.S...^.S...E.
//     0x0010:  0035 0078 0000 4011 8e09 c000 0201 c633  .5.x..@........3
//     0x0020:  6402 c350 01bb 0021 8a68 c300 0000 0100  d..P...!.h......
//     0x0030:  0000 0000 0000 0000 0000 0000 0000 0000  ................
//     0x0040:  0000 00                                  ...
let quicInitial: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x35, 0x00, 0x78, 0x00, 0x00, 0x40, 0x11,
    0x8e, 0x09, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0xc3, 0x50,
    0x01, 0xbb, 0x00, 0x21, 0x8a, 0x68, 0xc3, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
]

// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 IP 192.0.2.1.50001 > 198.51.100.2.443: Flags [S], seq 1, win 1, length 0
//     0x0000:  0000 5e00 5302 0000 5e00 5301 0800 4500  ..^.S...^.S...E.
//     0x0010:  0028 0079 0000 4006 8e20 c000 0201 c633  .(.y..@........3
//     0x0020:  6402 c351 01bb 0000 0001 0000 0000 5002  d..Q..........P.
//     0x0030:  0001 fe9c 0000                           ......
let httpsSYN: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x28, 0x00, 0x79, 0x00, 0x00, 0x40, 0x06,
    0x8e, 0x20, 0xc0, 0x00, 0x02, 0x01, 0xc6, 0x33, 0x64, 0x02, 0xc3, 0x51,
    0x01, 0xbb, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02,
    0x00, 0x01, 0xfe, 0x9c, 0x00, 0x00,
]

// tcpdump -nn -XX (linktype 1):
// 22:13:20.000000 IP 198.51.100.2.22 > 192.0.2.1.50002: Flags [P.], seq 1:22, ack 1, win 1, length 21: SSH: SSH-2.0-OpenSSH_9.2
//     0x0000:  0000 5e00 5302 0000 5e00 5301 0800 4500  ..^.S...^.S...E.
//     0x0010:  003d 007a 0000 4006 8e0a c633 6402 c000  .=.z..@....3d...
//     0x0020:  0201 0016 c352 0000 0001 0000 0001 5018  .....R........P.
//     0x0030:  0001 3c6c 0000 5353 482d 322e 302d 4f70  ..<l..SSH-2.0-Op
//     0x0040:  656e 5353 485f 392e 320d 0a              enSSH_9.2..
let sshReply: [UInt8] = [
    0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x3d, 0x00, 0x7a, 0x00, 0x00, 0x40, 0x06,
    0x8e, 0x0a, 0xc6, 0x33, 0x64, 0x02, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x16,
    0xc3, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x50, 0x18,
    0x00, 0x01, 0x3c, 0x6c, 0x00, 0x00, 0x53, 0x53, 0x48, 0x2d, 0x32, 0x2e,
    0x30, 0x2d, 0x4f, 0x70, 0x65, 0x6e, 0x53, 0x53, 0x48, 0x5f, 0x39, 0x2e,
    0x32, 0x0d, 0x0a,
]

// MARK: - Tests

@Suite("Application protocol guesses")
struct AppProtocolTests {
    @Test func quicOnlyOnUDP443() {
        #expect(AppProtocol.forPort(443, udp: true) == .quic)
        #expect(AppProtocol.forPort(443, udp: false) == .tls)
        #expect(decode(quicInitial).app == .quic)
        #expect(decode(httpsSYN).app == .tls)
    }

    /// A port guess is named as the payload finding on that port would be.
    @Test func oneNamePerPortAndPayload() {
        #expect(AppProtocol.forPort(8080, udp: false) == .http)
        #expect(AppProtocol.payloadName(.tls, portGuess: AppProtocol.forPort(443, udp: false)) == .tls)
        #expect(AppProtocol.payloadName(.quic, portGuess: AppProtocol.forPort(443, udp: true)) == .quic)
        #expect(AppProtocol.payloadName(.http, portGuess: AppProtocol.forPort(8080, udp: false)) == .http)
        #expect(AppProtocol.payloadName(.dns, portGuess: AppProtocol.forPort(53, udp: true)) == .dns)
        #expect(AppProtocol.payloadName(.ssh, portGuess: AppProtocol.forPort(22, udp: false)) == .ssh)
        // A more precise port name of the same family is kept; another family's is not.
        #expect(AppProtocol.payloadName(.tls, portGuess: .imaps) == .imaps)
        #expect(AppProtocol.payloadName(.dns, portGuess: .mdns) == .mdns)
        #expect(AppProtocol.payloadName(.tls, portGuess: .http) == .tls)
        #expect(AppProtocol.payloadName(.ssh, portGuess: .unknown) == .ssh)
    }

    /// Journals store raw values: the retired ones read as their new names, and every
    /// other keeps its meaning.
    @Test func storedRawValues() {
        #expect(AppProtocol.stored(rawValue: 16) == .tls)
        #expect(AppProtocol.stored(rawValue: 47) == .http)
        #expect(
            AppProtocol.ldaps.rawValue == 17 && AppProtocol.vnc.rawValue == 46 && AppProtocol.kerberos.rawValue == 48)
        #expect(AppProtocol.tls.rawValue == 64 && AppProtocol.irc.rawValue == 65)
        #expect(AppProtocol.bittorrent.rawValue == 67 && AppProtocol.rawValueBound == 68)
        #expect(AppProtocol.stored(rawValue: 68) == nil)
        // Stores keep the raw value in one byte; AppSet has 128 bits.
        #expect(AppProtocol.allCases.allSatisfy { $0.rawValue < 128 })
    }

    @Test func serverPortFromEitherSide() {
        let p = decode(sshReply)
        #expect(p.sport == 22)
        #expect(p.app == .ssh)
    }

    @Test(arguments: [
        (53, true, AppProtocol.dns), (53, false, .dns), (22, false, .ssh), (80, false, .http),
        (123, true, .ntp), (514, true, .syslog), (514, false, .unknown), (1900, true, .ssdp),
        (4789, true, .vxlan), (4789, false, .unknown), (6081, true, .geneve), (5353, true, .mdns),
        (5355, true, .llmnr), (853, false, .dot), (3389, false, .rdp), (5432, false, .postgresql),
        (51820, true, .wireguard), (51820, false, .unknown), (1723, false, .pptp), (9, true, .unknown),
    ] as [(UInt16, Bool, AppProtocol)])
    func portTable(_ port: UInt16, _ udp: Bool, _ app: AppProtocol) {
        #expect(AppProtocol.forPort(port, udp: udp) == app)
    }

    @Test func lowerPortWins() {
        #expect(AppProtocol.forPorts(50000, 22, udp: false) == .ssh)
        #expect(AppProtocol.forPorts(443, 8080, udp: false) == .tls)
        #expect(AppProtocol.forPorts(8080, 443, udp: true) == .quic)
        // When the lower port is unknown, the higher one is tried.
        #expect(AppProtocol.forPorts(1000, 3306, udp: false) == .mysql)
        #expect(AppProtocol.forPorts(50000, 50001, udp: false) == .unknown)
    }

    @Test func namesRoundTrip() {
        var seen = Set<String>()
        for app in AppProtocol.allCases {
            #expect(AppProtocol(name: app.name) == app)
            #expect(AppProtocol(name: app.name.uppercased()) == app)
            #expect(seen.insert(app.name.lowercased()).inserted, "duplicate name \(app.name)")
        }
        #expect(AppProtocol(name: "quic") == .quic)
        #expect(AppProtocol(name: "no-such-protocol") == nil)
    }

    @Test func dnsPorts() {
        #expect(AppProtocol.isDNSPort(53))
        #expect(AppProtocol.isDNSPort(5353))
        #expect(AppProtocol.isDNSPort(5355))
        #expect(!AppProtocol.isDNSPort(853))
    }
}
