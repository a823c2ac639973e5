import Foundation
import Testing
import SniffCore
import SniffAnalysis
import SniffTestSupport

/// Community ID v1 against the specification's baseline (community-id-spec
/// baseline/baseline_deflt.json, seed 0) and against tshark's communityid field.
struct CommunityIDTests {
    struct Vector: Sendable, CustomStringConvertible {
        var proto: UInt8
        var src: String
        var dst: String
        var sport: UInt16
        var dport: UInt16
        var id: String
        var description: String { "\(proto) \(src):\(sport) -> \(dst):\(dport)" }
    }

    // For ICMP the vectors' ports are the type and the (mapped) code.
    static let vectors: [Vector] = [
        Vector(
            proto: 58, src: "fe80::200:86ff:fe05:80da", dst: "fe80::260:97ff:fe07:69ea", sport: 135, dport: 136,
            id: "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="),
        Vector(
            proto: 58, src: "fe80::260:97ff:fe07:69ea", dst: "fe80::200:86ff:fe05:80da", sport: 136, dport: 135,
            id: "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="),
        Vector(
            proto: 58, src: "fe80::260:97ff:fe07:69ea", dst: "fe80::200:86ff:fe05:80da", sport: 135, dport: 136,
            id: "1:zavyT/cezQr1fmImYCwYnMXbgck="),
        Vector(
            proto: 58, src: "fe80::200:86ff:fe05:80da", dst: "fe80::260:97ff:fe07:69ea", sport: 136, dport: 135,
            id: "1:zavyT/cezQr1fmImYCwYnMXbgck="),
        Vector(
            proto: 58, src: "3ffe:501:1800:2345::2", dst: "3ffe:507:0:1:200:86ff:fe05:80da", sport: 3, dport: 0,
            id: "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="),
        Vector(
            proto: 58, src: "3ffe:501:410:0:2c0:dfff:fe47:33e", dst: "3ffe:507:0:1:200:86ff:fe05:80da", sport: 1,
            dport: 4, id: "1:hLZd0XGWojozrvxqE0dWB1iM6R0="),
        Vector(
            proto: 58, src: "3ffe:507:0:1:200:86ff:fe05:80da", dst: "3ffe:501:0:1001::2", sport: 128, dport: 129,
            id: "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="),
        Vector(
            proto: 58, src: "3ffe:501:0:1001::2", dst: "3ffe:507:0:1:200:86ff:fe05:80da", sport: 129, dport: 128,
            id: "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="),
        Vector(
            proto: 58, src: "fe80::200:86ff:fe05:80da", dst: "ff02::2", sport: 133, dport: 134,
            id: "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="),
        Vector(
            proto: 58, src: "fe80::260:97ff:fe07:69ea", dst: "ff02::1", sport: 134, dport: 133,
            id: "1:pkvHqCL88/tg1k4cPigmZXUtL00="),
        Vector(
            proto: 1, src: "192.168.0.89", dst: "192.168.0.1", sport: 8, dport: 0,
            id: "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
        Vector(
            proto: 1, src: "192.168.0.1", dst: "192.168.0.89", sport: 0, dport: 8,
            id: "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
        Vector(proto: 1, src: "10.0.0.1", dst: "10.0.0.2", sport: 11, dport: 0, id: "1:YHxtAirCG//0OzkcVAukqKQN9xM="),
        Vector(
            proto: 6, src: "2001:470:e5bf:dead:4957:2174:e82c:4887", dst: "2607:f8b0:400c:c03::1a", sport: 63943,
            dport: 25, id: "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
        Vector(
            proto: 6, src: "2607:f8b0:400c:c03::1a", dst: "2001:470:e5bf:dead:4957:2174:e82c:4887", sport: 25,
            dport: 63943, id: "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
        Vector(
            proto: 132, src: "192.168.170.8", dst: "192.168.170.56", sport: 7, dport: 7,
            id: "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
        Vector(
            proto: 132, src: "192.168.170.56", dst: "192.168.170.8", sport: 7, dport: 7,
            id: "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="),
        Vector(
            proto: 6, src: "128.232.110.120", dst: "66.35.250.204", sport: 34855, dport: 80,
            id: "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        Vector(
            proto: 6, src: "66.35.250.204", dst: "128.232.110.120", sport: 80, dport: 34855,
            id: "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        Vector(
            proto: 17, src: "192.168.1.52", dst: "8.8.8.8", sport: 54585, dport: 53,
            id: "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
        Vector(
            proto: 17, src: "8.8.8.8", dst: "192.168.1.52", sport: 53, dport: 54585,
            id: "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
        Vector(proto: 46, src: "10.1.12.1", dst: "10.1.12.2", sport: 0, dport: 0, id: "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
        Vector(proto: 46, src: "10.1.12.2", dst: "10.1.12.1", sport: 0, dport: 0, id: "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="),
    ]

    @Test(arguments: vectors)
    func specificationBaseline(_ v: Vector) {
        let id = CommunityID.string(
            src: IPAddress(v.src)!, dst: IPAddress(v.dst)!, proto: v.proto, sport: v.sport, dport: v.dport)
        #expect(id == v.id)
    }

    @Test func base64KnownAnswers() {
        #expect(
            Base64.encode(Array("fo".utf8)) == "Zm8=" && Base64.encode(Array("foo".utf8)) == "Zm9v"
                && Base64.encode(Array("f".utf8)) == "Zg==")
        #expect(Base64.encode([]) == "")
    }

    /// The bytes hashed for an IPv4 TCP key: seed, both addresses, protocol, a zero, both
    /// ports, in the specification's order.
    @Test func hashInputLayout() {
        let key = FlowKey.canonical(src: IPAddress("10.0.0.2")!, sport: 80, dst: IPAddress("10.0.0.1")!, dport: 1234,
                                    proto: 6, oneWay: false).key
        #expect(CommunityID.input(key, seed: 0x0102) == [1, 2, 10, 0, 0, 1, 10, 0, 0, 2, 6, 0, 0x04, 0xD2, 0, 80])
    }

    /// tshark's per-frame communityid, grouped by our flow: every frame of a flow
    /// carries the flow's id. Skipped when tshark is not installed.
    @Test(.enabled(if: Tshark.installed, "tshark is not installed"))
    func agreesWithTshark() throws {
        let file = TestPaths.fixtures.appendingPathComponent("app.pcap")
        let r = try Tshark.run(["-n", "-r", file.path, "--enable-protocol", "communityid", "-T", "fields",
                                "-e", "ip.src", "-e", "ipv6.src", "-e", "communityid"])
        #expect(r.status == 0, "\(r.stderr)")
        let tsharkIDs = Set(r.stdout.split(separator: "\n").compactMap { line in
            line.split(separator: "\t").last.map(String.init)
        }.filter { $0.hasPrefix("1:") })
        let ours = Set(try flows(of: file).map { CommunityID.string($0.key) })
        #expect(!tsharkIDs.isEmpty)
        #expect(ours == tsharkIDs)
    }
}
