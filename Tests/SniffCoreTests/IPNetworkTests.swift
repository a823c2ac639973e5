import SniffCore
import Testing

private func net(_ s: String) -> IPNetwork {
    guard let n = IPNetwork(s) else { preconditionFailure("bad network literal \(s)") }
    return n
}

private func ip(_ s: String) -> IPAddress {
    guard let a = IPAddress(s) else { preconditionFailure("bad address literal \(s)") }
    return a
}

@Suite("IPNetwork")
struct IPNetworkTests {
    @Test func ipv4Prefix() {
        let n = net("10.0.0.0/8")
        #expect(n.prefixLength == 8)
        #expect(n.contains(ip("10.0.0.0")))
        #expect(n.contains(ip("10.255.255.255")))
        #expect(!n.contains(ip("11.0.0.0")))
        #expect(!n.contains(ip("9.255.255.255")))
        // An IPv4-mapped IPv6 address is another family.
        #expect(!n.contains(ip("::ffff:10.0.0.1")))
    }

    @Test func ipv4Host() {
        let n = net("192.0.2.1/32")
        #expect(n.contains(ip("192.0.2.1")))
        #expect(!n.contains(ip("192.0.2.0")))
        #expect(!n.contains(ip("192.0.2.2")))
        #expect(net("192.0.2.1") == n)
    }

    @Test func ipv4Everything() {
        let n = net("0.0.0.0/0")
        for a in ["0.0.0.0", "255.255.255.255", "192.0.2.1", "10.0.0.1"] { #expect(n.contains(ip(a))) }
        #expect(!n.contains(ip("::")))
        #expect(!n.contains(ip("::ffff:0.0.0.0")))
    }

    @Test func ipv6Prefixes() {
        let doc = net("2001:db8::/32")
        #expect(doc.contains(ip("2001:db8::1")))
        #expect(doc.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")))
        #expect(!doc.contains(ip("2001:db9::")))
        #expect(!doc.contains(ip("32.1.13.184")))

        let linkLocal = net("fe80::/10")
        #expect(linkLocal.contains(ip("fe80::1")))
        #expect(linkLocal.contains(ip("febf::1")))
        #expect(!linkLocal.contains(ip("fec0::1")))

        // Both halves of the 128-bit mask: /64 and /65.
        let sixtyFour = net("2001:db8:0:1::/64")
        #expect(sixtyFour.contains(ip("2001:db8:0:1:ffff:ffff:ffff:ffff")))
        #expect(!sixtyFour.contains(ip("2001:db8:0:2::")))
        let sixtyFive = net("2001:db8::8000:0:0:0/65")
        #expect(sixtyFive.contains(ip("2001:db8::8000:0:0:1")))
        #expect(!sixtyFive.contains(ip("2001:db8::1")))
        let sixtyThree = net("2001:db8::/63")
        #expect(sixtyThree.contains(ip("2001:db8:0:1::1")))
        #expect(!sixtyThree.contains(ip("2001:db8:0:2::")))
    }

    @Test func ipv6HostAndEverything() {
        let host = net("2001:db8::1/128")
        #expect(host.contains(ip("2001:db8::1")))
        #expect(!host.contains(ip("2001:db8::2")))
        #expect(!host.contains(ip("2001:db8::")))
        #expect(net("2001:db8::1") == host)

        let all = net("::/0")
        for a in ["::", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:192.0.2.1"] {
            #expect(all.contains(ip(a)))
        }
        #expect(!all.contains(ip("0.0.0.0")))
    }

    @Test func hostBitsAreMasked() {
        let n = net("10.1.2.3/8")
        #expect(n.address == ip("10.0.0.0"))
        #expect(n.description == "10.0.0.0/8")
        #expect(net("2001:db8::1/32").description == "2001:db8::/32")
        #expect(net("10.1.2.3/8") == net("10.0.0.0/8"))
    }

    @Test(arguments: [
        "10.0.0.0/33", "::/129", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8/8", "/8", "10.0.0.0/+8",
        "10.0.0.0/ 8", "10.0.0.0/8 ", "10.0.0.0/0x8", "10.0.0/8", "", "/", "2001:db8::/١",
    ])
    func rejectsBadText(_ text: String) {
        #expect(IPNetwork(text) == nil, "accepted \"\(text)\"")
    }

    @Test func outOfRangeLengthsAreClampedNotTrapped() {
        let v4 = IPNetwork(address: ip("192.0.2.1"), prefixLength: 40)
        #expect(v4.prefixLength == 32)
        #expect(v4.contains(ip("192.0.2.1")))
        #expect(!v4.contains(ip("192.0.2.2")))
        let negative = IPNetwork(address: ip("192.0.2.1"), prefixLength: -3)
        #expect(negative.prefixLength == 0)
        #expect(negative.contains(ip("8.8.8.8")))
        let v6 = IPNetwork(address: ip("2001:db8::1"), prefixLength: 200)
        #expect(v6.prefixLength == 128)
        #expect(!v6.contains(ip("2001:db8::2")))
    }
}
