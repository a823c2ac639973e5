import SniffCore
import Testing

@Suite("IPAddress")
struct IPAddressTests {
    @Test(arguments: [
        (UInt64(0x2001_0DB8_0000_0000), UInt64(1), "2001:db8::1"),
        (0, 1, "::1"),
        (0, 0, "::"),
        (0x2001_0DB8_0000_0000, 0x0001_0000_0000_0001, "2001:db8::1:0:0:1"),
        (0x2001_0000_0000_0001, 0x0000_0000_0000_0001, "2001:0:0:1::1"),
        (0, 0x0000_FFFF_C000_0201, "::ffff:192.0.2.1"),
        (0, 0x0000_FFFF_0000_0000, "::ffff:0.0.0.0"),
        (0xFE80_0000_0000_0000, 1, "fe80::1"),
        (0xFF02_0000_0000_0000, 0x16, "ff02::16"),
        (0x2001_0DB8_0000_0001, 0x0001_0001_0001_0001, "2001:db8:0:1:1:1:1:1"),
        (0x0001_0000_0000_0000, 0, "1::"),
        (0x2001_0DB8_0000_0000, 0, "2001:db8::"),
        (0x0001_0000_0000_0000, 0x0001_0000_0000_0000, "1::1:0:0:0"),
        (0x0001_0000_0000_0001, 0, "1:0:0:1::"),
        (0x0001_0002_0003_0004, 0x0005_0006_0007_0000, "1:2:3:4:5:6:7:0"),
        (0x0000_0002_0003_0004, 0x0005_0006_0007_0008, "0:2:3:4:5:6:7:8"),
        (0x2001_0DB8_ABCD_EF01, 0x2345_6789_0ABC_DEF0, "2001:db8:abcd:ef01:2345:6789:abc:def0"),
        (0, 0x0000_0000_C000_0201, "::c000:201"),
    ])
    func rfc5952Text(_ high: UInt64, _ low: UInt64, _ text: String) {
        let a = IPAddress(v6High: high, low: low)
        #expect(a.description == text)
        #expect(a.isIPv6)
        #expect(a.version == 6)
        // And the text parses back to the same address.
        #expect(IPAddress(text) == a)
    }

    @Test(arguments: [
        (UInt32(0), "0.0.0.0"), (0xFFFF_FFFF, "255.255.255.255"), (0xC000_0201, "192.0.2.1"),
        (0x0A00_0001, "10.0.0.1"), (0x7F00_0001, "127.0.0.1"),
    ])
    func dottedQuad(_ v: UInt32, _ text: String) {
        let a = IPAddress(v4: v)
        #expect(a.description == text)
        #expect(!a.isIPv6)
        #expect(a.version == 4)
        #expect(a.v4 == v)
        #expect(IPAddress(text) == a)
    }

    @Test(arguments: [
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("::0:1", "::1"),
        ("FE80::1", "fe80::1"),
        ("::ffff:c000:0201", "::ffff:192.0.2.1"),
        ("0:0:0:0:0:ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ("2001:db8::0:1", "2001:db8::1"),
    ])
    func parsesAnyFormAndPrintsTheCanonicalOne(_ input: String, _ canonical: String) {
        #expect(IPAddress(input)?.description == canonical)
    }

    @Test(arguments: [
        "", " ", ":", ":::", "::::", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "12345::", "g::1", "::1%eth0", "[::1]",
        "::1:", ":1::", "1:2:3:4:5:6:7:", ":1:2:3:4:5:6:7", "::+1", "::-0", "+1::", "::0x1",
        "1.2.3.4::", "::1.2.3.4:5", "::1.2.3", "::ffff:1.2.3.256", "1:2:3:4:5:6:7:1.2.3.4",
        "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "+1.2.3.4", "1..2.3", "1.2.3.4 ", " 1.2.3.4",
        "1.2.3.4/32", "1234.1.1.1", "a.b.c.d", "١.٢.٣.٤", "１::",
    ])
    func rejectsBadText(_ text: String) {
        #expect(IPAddress(text) == nil, "accepted \"\(text)\"")
    }

    @Test func versionsStayApart() {
        let v4 = IPAddress(v4: 1)
        let v6 = IPAddress(v6High: 0, low: 1)
        #expect(v4 != v6)
        #expect(v4 < v6)
        #expect(!(v6 < v4))
        #expect(Set([v4, v6]).count == 2)
        #expect(IPAddress.none == IPAddress(v4: 0))
    }

    @Test func ordering() {
        let sorted = ["10.0.0.2", "10.0.0.10", "::1", "192.0.2.1", "2001:db8::1", "::"]
            .map { IPAddress($0)! }
            .sorted()
            .map(\.description)
        #expect(sorted == ["10.0.0.2", "10.0.0.10", "192.0.2.1", "::", "::1", "2001:db8::1"])
    }

    @Test func writeAppendsWithoutSeparators() {
        var s = ByteSink()
        IPAddress("192.0.2.1")!.write(into: &s)
        s.append(UInt8(ascii: " "))
        IPAddress("2001:db8::1")!.write(into: &s)
        #expect(s.string == "192.0.2.1 2001:db8::1")
    }

    @Test func everyZeroRunPlacement() {
        // All 256 patterns of zero and non-zero groups: the text must parse back to the
        // same address, contain at most one "::", and never compress a single group.
        for mask in 0..<256 {
            var high: UInt64 = 0, low: UInt64 = 0
            for i in 0..<8 where mask & (1 << i) != 0 {
                let g = UInt64(0x1000 + i)
                if i < 4 { high |= g << UInt64((3 - i) * 16) } else { low |= g << UInt64((7 - i) * 16) }
            }
            let a = IPAddress(v6High: high, low: low)
            let text = a.description
            if high == 0 && (low >> 32) == 0xFFFF { continue }
            #expect(IPAddress(text) == a, "\(text)")
            let doubles = text.split(separator: ":", omittingEmptySubsequences: false).count
            #expect(doubles <= 9, "\(text)")
            #expect(text.components(separatedBy: "::").count <= 2, "\(text)")
            let groupsShown = text.split(separator: ":").count
            if text.contains("::") { #expect(groupsShown <= 6, "\(text) compresses a single group") }
            else { #expect(groupsShown == 8, "\(text)") }
        }
    }
}

extension String {
    /// Foundation-free split on a multi-character separator, for the tests above.
    fileprivate func components(separatedBy sep: String) -> [Substring] {
        var parts: [Substring] = []
        var rest = self[...]
        while let r = rest.firstRange(of: sep) {
            parts.append(rest[..<r.lowerBound])
            rest = rest[r.upperBound...]
        }
        parts.append(rest)
        return parts
    }
}
