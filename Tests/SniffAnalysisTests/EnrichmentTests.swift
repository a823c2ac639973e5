import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
@testable import SniffAnalysis
import SniffTestSupport

/// Runs a capture through the pipeline with a HostEnrichment consumer, as `sniff -r` does.
func enrich(_ file: URL, capacity: Int = 65_536, geo: GeoIPDatabases = GeoIPDatabases()) throws
    -> (HostEnrichment, [Timestamp]) {
    let reader = try CaptureFileReader(path: file.path)
    let pipeline = PacketPipeline()
    let hosts = HostEnrichment(geo: geo, capacity: capacity)
    pipeline.consumers = [hosts]
    var times: [Timestamp] = []
    while let raw = try reader.next() {
        times.append(raw.timestamp)
        pipeline.process(raw)
    }
    return (hosts, times)
}

@Suite struct PassiveDNSTests {
    static func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    /// dns.pcap: dig against a responder on loopback (Tests/Fixtures/README.md).
    @Test func namesFromRecordedAnswers() throws {
        let (hosts, times) = try enrich(TestPaths.fixtures.appendingPathComponent("dns.pcap"))
        // www.sniff.test's AAAA answer.
        #expect(hosts.name(for: Self.ip("fd77::80"))?.name == "www.sniff.test")
        // A then alias.sniff.test (CNAME → CNAME → www → A, frames 6 and 16): the name asked
        // last wins, first seen is when that name was first answered.
        let alias = try #require(hosts.name(for: Self.ip("10.77.0.80")))
        #expect(alias.name == "alias.sniff.test")
        #expect(alias.firstSeen == times[5])
        #expect(alias.lastSeen == times[15])
        for a in ["10.77.0.11", "10.77.0.12", "10.77.0.13"] {
            #expect(hosts.name(for: Self.ip(a))?.name == "multi.sniff.test", "\(a)")
        }
        // The mDNS answer has no question: its record's own name.
        #expect(hosts.name(for: Self.ip("10.77.0.2"))?.name == "sniffer.local")
        // The responder's own address was never an answer.
        #expect(hosts.name(for: Self.ip("127.0.0.1")) == nil)
    }

    /// A capture from elsewhere (../shared/pcaps/dns_tcp.pcap, DNS over TCP), checked
    /// against tshark's reading of the same answers.
    @Test(.enabled(if: TestPaths.sharedPcaps != nil && Tshark.installed,
                   "needs ../shared/pcaps and tshark"))
    func namesAgreeWithTshark() throws {
        let file = TestPaths.sharedPcaps!.appendingPathComponent("dns_tcp.pcap")
        let (hosts, _) = try enrich(file)
        // tshark's verbose tree: the records under "Answers" (not the additional ones).
        let r = try Tshark.run([
            "-n", "-r", file.path, "-O", "dns", "-V", "-Y", "dns.flags.response == 1 && dns.flags.rcode == 0"
        ])
        #expect(r.status == 0, "\(r.stderr)")
        let text = r.stdout
        var inAnswers = false
        var checked = 0
        for line in text.split(separator: "\n") {
            if line.hasPrefix("    ") && !line.hasPrefix("     ") { inAnswers = line == "    Answers" }
            // "        www.tcpdump.org: type A, class IN, addr 192.139.46.66"
            guard inAnswers, line.hasPrefix("        "), !line.hasPrefix("         "),
                  let colon = line.range(of: ": type "), let addr = line.range(of: ", addr ") else { continue }
            let name = line[line.index(line.startIndex, offsetBy: 8)..<colon.lowerBound]
            let a = String(line[addr.upperBound...])
            #expect(hosts.name(for: Self.ip(a))?.name == String(name), "\(a)")
            checked += 1
        }
        #expect(checked == 2)
        #expect(hosts.names.count == checked)
    }

    /// Past its capacity the least recently answered address goes first.
    @Test func bounded() throws {
        let (hosts, _) = try enrich(TestPaths.fixtures.appendingPathComponent("dns.pcap"), capacity: 2)
        #expect(hosts.names.map(\.address) == [Self.ip("10.77.0.2"), Self.ip("10.77.0.80")])
    }

    /// Answers carrying an error (NXDOMAIN with hostile names in xss.pcap) teach nothing.
    @Test func errorsTeachNothing() throws {
        let (hosts, _) = try enrich(TestPaths.fixtures.appendingPathComponent("xss.pcap"))
        #expect(hosts.names.isEmpty)
    }

    @Test func lruOrder() {
        var c = LRUCache<Int, String>(capacity: 3)
        c.set(1, "a"); c.set(2, "b"); c.set(3, "c")
        #expect(c.get(1) == "a")
        c.set(4, "d")  // evicts 2, the least recently used
        #expect(c.peek(2) == nil)
        #expect(c.entries.map(\.key) == [4, 1, 3])
        #expect(c.update(3) { $0 = "C" })
        #expect(c.entries.map(\.value) == ["C", "d", "a"])
        #expect(c.count == 3)
    }

    /// Bounded: two networks in a one-slot table cannot both stay; the one stored last
    /// answers, the other is asked again (nil) rather than given the wrong record.
    @Test func geoCacheSlots() {
        var c = GeoCache(capacity: 1)
        let a = Self.ip("8.8.8.8"), b = Self.ip("2400::1")
        #expect(c.get(a) == nil)
        c.set(a, prefixLength: 32, GeoRecord(countryCode: "US"))
        #expect(c.get(a) == GeoRecord(countryCode: "US"))
        #expect(c.get(b) == nil)
        c.set(b, prefixLength: 128, GeoRecord(countryCode: "JP", asn: 7))
        #expect(c.get(b) == GeoRecord(countryCode: "JP", asn: 7))
        #expect(c.get(a) == nil)
        // A larger table keeps many networks at once.
        var big = GeoCache(capacity: 4096)
        for i in 0..<1000 {
            big.set(IPAddress(v4: 0x0808_0000 &+ UInt32(i)), prefixLength: 32, GeoRecord(asn: UInt32(i)))
        }
        let kept = (0..<1000).filter { big.get(IPAddress(v4: 0x0808_0000 &+ UInt32($0))) == GeoRecord(asn: UInt32($0)) }
        #expect(kept.count > 700)
    }

    /// One answer per database network: every address of a stored network gets it, an
    /// address outside it is asked anew (nil), for IPv4, IPv4-mapped IPv6 and IPv6, with
    /// several prefix lengths held at once and the order they are tried in changing.
    @Test func geoCacheNetworks() {
        var c = GeoCache(capacity: 1024)
        let us = GeoRecord(countryCode: "US", asn: 15169), de = GeoRecord(countryCode: "DE", asn: 3320)
        let gb = GeoRecord(countryCode: "GB"), none = GeoRecord()
        c.set(Self.ip("8.8.8.8"), prefixLength: 24, us)
        #expect(c.get(Self.ip("8.8.8.200")) == us)
        #expect(c.get(Self.ip("8.8.8.0")) == us)
        #expect(c.get(Self.ip("::ffff:8.8.8.77")) == us)
        #expect(c.get(Self.ip("8.8.9.1")) == nil)
        #expect(c.get(Self.ip("9.8.8.8")) == nil)
        // A mapped address stores its IPv4 network.
        c.set(Self.ip("::ffff:81.2.69.160"), prefixLength: 16, gb)
        #expect(c.get(Self.ip("81.2.1.1")) == gb)
        #expect(c.get(Self.ip("81.3.0.1")) == nil)
        // An empty answer is an answer: its network is not asked again.
        c.set(Self.ip("1.1.1.1"), prefixLength: 8, none)
        #expect(c.get(Self.ip("1.200.3.4")) == none)
        // IPv6, and the IPv4 lengths do not answer IPv6 addresses.
        c.set(Self.ip("2a02:1000::1"), prefixLength: 32, de)
        #expect(c.get(Self.ip("2a02:1000:ffff::9")) == de)
        #expect(c.get(Self.ip("2a02:1001::1")) == nil)
        #expect(c.get(Self.ip("::808:808")) == nil)
        // The lengths are tried in turn, whichever answered last: all still answer.
        for _ in 0..<3 {
            #expect(c.get(Self.ip("1.2.3.4")) == none)
            #expect(c.get(Self.ip("81.2.200.1")) == gb)
            #expect(c.get(Self.ip("8.8.8.9")) == us)
        }
        // A fourth length; the others still answer.
        c.set(Self.ip("5.5.5.5"), prefixLength: 30, de)
        #expect(c.get(Self.ip("5.5.5.6")) == de)
        #expect(c.get(Self.ip("5.5.5.9")) == nil)
        #expect(c.get(Self.ip("1.9.9.9")) == none)
    }

}

@Suite struct GeoIPTests {
    @Test(
        .enabled(if: TestMMDB.writerInstalled, "libmaxmind-db-writer-perl is not installed (scripts/setup.sh --tests)"))
    func lookups() throws {
        let dir = try TestMMDB.write()
        defer { try? FileManager.default.removeItem(at: dir) }
        let geo = try GeoIPDatabases.open(path: dir.path)
        // City and ASN; the Anonymous-IP file in the folder is skipped.
        #expect(Set(geo.databases.map(\.kind)) == [.city, .asn])
        #expect(geo.lookup(IPAddress("8.8.8.8")!) == GeoRecord(countryCode: "US", city: "Mountain View", asn: 15169,
                                                               organization: "Google LLC"))
        #expect(geo.lookup(IPAddress("2a02:1000::1")!) == GeoRecord(countryCode: "DE", asn: 3320,
                                                                    organization: "Deutsche Telekom AG"))
        // Only the registered country is known.
        #expect(geo.lookup(IPAddress("5.5.5.5")!).countryCode == "FR")
        #expect(geo.lookup(IPAddress("1.1.1.1")!).isEmpty)
        // IPv4-mapped IPv6 reads the IPv4 tree.
        #expect(geo.lookup(IPAddress("::ffff:81.2.69.160")!).countryCode == "GB")

        let one = try GeoIPDatabases.open(path: dir.appendingPathComponent("Test-ASN.mmdb").path)
        #expect(one.lookup(IPAddress("81.2.69.160")!) == GeoRecord(asn: 20712, organization: "Andrews & Arnold Ltd"))

        // Private addresses are not looked up; public ones once, then cached.
        let hosts = HostEnrichment(geo: geo)
        #expect(hosts.geo(for: IPAddress("10.0.0.1")!).isEmpty)
        #expect(hosts.host(IPAddress("8.8.8.8")!).geo.countryCode == "US")
        #expect(hosts.host(IPAddress("8.8.8.8")!).category == .public)
    }

    /// The answers cached per network are the files' own: the network of a lookup is
    /// the longest of the two files' records around the address, and over addresses
    /// spread across placed and unplaced networks (IPv4, IPv4-mapped, IPv6), asked
    /// twice, `HostEnrichment` answers what a direct lookup of each address answers.
    @Test(
        .enabled(if: TestMMDB.writerInstalled, "libmaxmind-db-writer-perl is not installed (scripts/setup.sh --tests)"))
    func cachedPerNetwork() throws {
        let dir = try TestMMDB.write()
        defer { try? FileManager.default.removeItem(at: dir) }
        let geo = try GeoIPDatabases.open(path: dir.path)
        #expect(geo.lookupNetwork(IPAddress("8.8.8.8")!).prefixLength == 24)
        #expect(geo.lookupNetwork(IPAddress("::ffff:8.8.8.8")!).prefixLength == 24)
        #expect(geo.lookupNetwork(IPAddress("131.155.7.1")!).prefixLength == 16)
        #expect(geo.lookupNetwork(IPAddress("2a02:1000:5::1")!).prefixLength == 32)
        let unplaced = geo.lookupNetwork(IPAddress("1.1.1.1")!)
        #expect(unplaced.record.isEmpty && unplaced.prefixLength > 0 && unplaced.prefixLength <= 32)

        var seed: UInt64 = 0xC0FFEE
        func next(_ n: UInt64) -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (seed >> 33) % n
        }
        // 8.8.8.0/24 and 81.2.69.0/24 in both files, 131.155.0.0/16 and 5.5.5.0/24 in
        // one or both, each with its unplaced neighbour /24; 1.1.0.0, unplaced;
        // 2a02:1000::/32 and beside it.
        let bases: [IPAddress] = ["8.8.8.0", "81.2.69.0", "131.155.0.0", "5.5.5.0", "1.1.0.0", "::ffff:81.2.69.0",
                                  "2a02:1000::", "2a02:1001::"].map { IPAddress($0)! }
        let addresses = (0..<4000).map { _ -> IPAddress in
            var a = bases[Int(next(UInt64(bases.count)))]
            if a.isIPv6 && a.high != 0 {
                a.high |= next(1 << 33)  // within the /31 around 2a02:1000::/32
                a.low = next(1 << 62)
            } else {
                a.low += next(1 << 9)  // within the /23 around the base
            }
            return a
        }
        let hosts = HostEnrichment(geo: geo)
        var placed = 0
        for pass in 0..<2 {
            for a in addresses {
                let direct = geo.lookup(a)
                #expect(hosts.geo(for: a) == direct, "\(a), pass \(pass)")
                if !direct.isEmpty { placed += 1 }
            }
        }
        #expect(placed > 2000 && placed < 6000, "\(placed)")
    }

    @Test(
        .enabled(if: TestMMDB.writerInstalled, "libmaxmind-db-writer-perl is not installed (scripts/setup.sh --tests)"))
    func badFilesAreNamed() throws {
        let dir = try TestMMDB.write()
        defer { try? FileManager.default.removeItem(at: dir) }
        let other = dir.appendingPathComponent("Test-Other.mmdb").path
        #expect { try GeoIPDatabases.open(path: other) } throws: { e in
            let g = e as? GeoIPError
            return g?.isWrongKind == true && g?.exitCode == 64 && g!.userMessage.contains(other)
                && g!.userMessage.contains("Sniff-Test-Anonymous-IP")
        }
        let corrupt = dir.appendingPathComponent("Broken.mmdb")
        try Data("this is not a MaxMind DB file".utf8).write(to: corrupt)
        #expect { try GeoIPDatabases.open(path: corrupt.path) } throws: { e in
            (e as? GeoIPError)?.userMessage.contains(corrupt.path) == true
        }
        let missing = dir.appendingPathComponent("nowhere.mmdb").path
        #expect { try GeoIPDatabases.open(path: missing) } throws: { e in
            (e as? GeoIPError)?.userMessage.contains(missing) == true
        }
        // Found on its own, a damaged file is skipped with a warning naming it; the
        // good files beside it are still used.
        let (found, warnings) = GeoIPDatabases.discover(folders: [dir.path, "/nonexistent-geoip"])
        #expect(found.databases.count == 2)
        #expect(warnings.count == 1 && warnings[0].contains(corrupt.path), "\(warnings)")
        // An explicit folder with a damaged file is an error.
        #expect(throws: GeoIPError.self) { try GeoIPDatabases.open(path: dir.path) }
    }
}

@Suite struct GeoFilterTests {
    /// The filter keeps each address's verdict in a table of its own: over 40,000 packets
    /// between addresses from placed and unplaced networks (more addresses than the
    /// table's slots, so slots change hands), read twice, every packet's answer is the
    /// one the databases give: a country of the list at either end, and an AS of the list
    /// at either end.
    @Test(
        .enabled(if: TestMMDB.writerInstalled, "libmaxmind-db-writer-perl is not installed (scripts/setup.sh --tests)"))
    func verdictsMatchTheDatabases() throws {
        let dir = try TestMMDB.write()
        defer { try? FileManager.default.removeItem(at: dir) }
        let hosts = HostEnrichment(geo: try GeoIPDatabases.open(path: dir.path))
        let filter = GeoFilter(countries: ["gb", "US"], asns: [64501, 15169], hosts: hosts)
        // 8.8.8.0/24 US AS15169, 81.2.69.0/24 GB AS20712, 131.155.0.0/16 NL AS64501,
        // 1.1.0.0/16 nowhere, 10.0.0.0/8 private (never looked up).
        var seed: UInt64 = 0x5EED
        func next(_ n: UInt64) -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (seed >> 33) % n
        }
        func address() -> IPAddress {
            let low = UInt32(next(65_536))
            switch next(5) {
            case 0: return IPAddress(v4: 0x0808_0800 | low & 0xFF)
            case 1: return IPAddress(v4: 0x5102_4500 | low & 0xFF)
            case 2: return IPAddress(v4: 0x839B_0000 | low)
            case 3: return IPAddress(v4: 0x0101_0000 | low)
            default: return IPAddress(v4: 0x0A00_0000 | low)
            }
        }
        let pairs = (0..<40_000).map { _ in (address(), address()) }
        #expect(Set(pairs.flatMap { [$0.0, $0.1] }).count > 1 << 14)
        var packet = DecodedPacket()
        packet.ipVersion = 4
        var kept = 0
        for _ in 0..<2 {
            for (a, b) in pairs {
                packet.src = a; packet.dst = b
                let ga = hosts.geo(for: a), gb = hosts.geo(for: b)
                let want = ([ga, gb].contains { $0.countryCode == "GB" || $0.countryCode == "US" })
                    && ([ga, gb].contains { $0.asn == 64501 || $0.asn == 15169 })
                if filter.matches(packet) != want { Issue.record("\(a) \(b): \(!want)"); return }
                if want { kept += 1 }
            }
        }
        #expect(kept > 1000 && kept < 70_000, "\(kept)")
    }
}

@Suite struct MACVendorTests {
    static let installed = FileManager.default.fileExists(atPath: MACVendors.standardFolder + "/oui.csv")

    @Test(.enabled(if: installed, "ieee-data is not installed (apt-get install ieee-data)"))
    func registry() throws {
        let v = try #require(MACVendors.load())
        #expect(v.count > 40_000)
        #expect(v.vendor(MACAddress(0x0000_0C12_3456)) == "Cisco Systems, Inc")
        // 70:B3:D5 is the IEEE's own MA-L block, carved into MA-S blocks: the longest wins.
        #expect(v.vendor(MACAddress(0x70B3_D5F2_F123)) == "TELEPLATFORMS")
        #expect(v.vendor(MACAddress(0x70B3_D5FF_F123)) != "TELEPLATFORMS")
        // Locally administered (random) addresses belong to nobody.
        #expect(v.vendor(MACAddress(0x0200_0C12_3456)) == nil)
        // Group addresses and the zero address of loopback captures, though 00:00:00 is Xerox's.
        #expect(v.vendor(MACAddress(0x0100_0C12_3456)) == nil)
        #expect(v.vendor(MACAddress(0)) == nil)
    }

    @Test func csvParsing() {
        let text = Array("""
            Registry,Assignment,Organization Name,Organization Address
            MA-L,ABCDEF,"Foo, ""Bar"" Inc",addr
            MA-M,ABCDEF1,Baz,"x,
            y"
            MA-S,nothex123,Bad,
            MA-S,ABCDEF123, Spaced ,

            """.utf8)
        var got: [String] = []
        MACVendors.parse(text) { bits, prefix, name in got.append("\(bits) \(String(prefix, radix: 16)) \(name)") }
        #expect(got == ["24 abcdef Foo, \"Bar\" Inc", "28 abcdef1 Baz", "36 abcdef123 Spaced"])
    }
}

@Suite struct AddressCategoryTests {
    @Test func categories() {
        let cases: [(String, AddressCategory)] = [
            ("10.1.2.3", .private), ("172.31.0.1", .private), ("192.168.1.1", .private), ("fd00::1", .private),
            ("127.0.0.1", .loopback), ("::1", .loopback), ("169.254.1.1", .linkLocal), ("fe80::1", .linkLocal),
            ("224.0.0.251", .multicast), ("ff02::fb", .multicast), ("255.255.255.255", .broadcast),
            ("100.64.0.1", .cgnat), ("100.127.255.255", .cgnat), ("100.128.0.0", .public),
            ("192.0.2.1", .documentation), ("2001:db8::1", .documentation), ("0.0.0.0", .unspecified),
            ("8.8.8.8", .public), ("2a00::1", .public), ("::ffff:192.168.0.1", .private),
        ]
        for (a, want) in cases { #expect(AddressCategory(IPAddress(a)!) == want, "\(a)") }
    }
}

@Suite struct DNSNameHashTests {
    static func hash(_ bytes: [UInt8], at offset: Int) -> UInt64? {
        bytes.withUnsafeBytes { DNS.nameHash(ByteCursor($0), at: offset) }
    }

    static func name(_ labels: [String]) -> [UInt8] {
        labels.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    /// Passive DNS compares names by hash: case and compression must not matter.
    @Test func caseAndCompression() {
        let header = [UInt8](repeating: 0, count: 12)
        let upper = Self.hash(header + Self.name(["WWW", "Example", "COM"]), at: 12)
        let lower = Self.hash(header + Self.name(["www", "example", "com"]), at: 12)
        #expect(upper != nil && upper == lower)
        #expect(Self.hash(header + Self.name(["www", "example", "org"]), at: 12) != lower)
        // "com" at 12, then "www.example" + pointer to it at 17.
        let compressed =
            header + Self.name(["com"]) + [3] + Array("www".utf8) + [7] + Array("example".utf8) + [0xC0, 12]
        #expect(Self.hash(compressed, at: 17) == lower)
        // A pointer loop is no name.
        #expect(Self.hash(header + [0xC0, 12], at: 12) == nil)
    }
}

@Suite struct ReverseResolverTests {
    /// getnameinfo reads /etc/hosts before DNS: 127.0.0.1's line there is a real answer
    /// that needs no network.
    static let loopbackLine: Bool = {
        guard let text = try? String(contentsOfFile: "/etc/hosts", encoding: .utf8) else { return false }
        let first = text.split(separator: "\n").map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }) }
            .first { $0.first == "127.0.0.1" }
        return first.map { $0.count > 1 && $0[1] == "localhost" } ?? false
    }()

    @Test(.enabled(if: loopbackLine, "/etc/hosts has no \"127.0.0.1 localhost\" line"))
    func answersInTheBackground() {
        let r = ReverseResolver(limits: ReverseLookupLimits(inFlight: 2, perSecond: 100))
        defer { r.stop() }
        let lo = IPAddress(v4: 0x7F00_0001)
        // Asking queues the lookup and returns at once, without a name.
        #expect(r.name(for: lo) == nil)
        #expect(r.settle(milliseconds: 10_000))
        #expect(r.name(for: lo) == "localhost")
        // Answered once: asking again is a cache hit, not a query.
        #expect(r.name(for: lo) == "localhost")
        #expect(r.counts == ReverseResolver.Counts(queries: 1, named: 1, unnamed: 0, dropped: 0, peakInFlight: 1))
        // Through the enrichment, a name DNS on the wire did not give shows as the PTR one.
        let hosts = HostEnrichment(resolver: r)
        #expect(hosts.host(lo).resolvedName == "localhost")
        #expect(hosts.host(lo).displayName == "localhost")
    }
}
