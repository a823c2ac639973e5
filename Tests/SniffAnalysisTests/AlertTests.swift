import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
import SniffCapture
import SniffTestSupport

/// Each rule kind fires on generated or recorded traffic and stays quiet on benign
/// traffic; rate limiting aggregates; rules files parse (with errors that name the line).
struct AlertTests {
    /// Flows and packets through a table and an engine; returns the delivered alerts.
    final class Harness {
        let collector = AlertCollector()
        let engine: AlertEngine
        let table: FlowTable
        var seconds: Double = 1000

        init(_ rules: [AlertRule], maxPerSecond: Int = 1000, format: FlowFormat = FlowFormat()) {
            engine = AlertEngine(config: AlertConfig(rules: rules, maxAlertsPerSecond: maxPerSecond), sink: collector,
                                 format: format)
            table = FlowTable(config: FlowTableConfig(), observer: engine)
        }

        func send(_ p: DecodedPacket) {
            engine.consume(p, frame: emptyFrame)
            table.process(p, frame: emptyFrame, now: p.timestamp)
        }

        func finish() -> [Alert] {
            table.flush()
            engine.finish()
            return collector.alerts
        }
    }

    static func run(_ rules: [AlertRule], file: URL) throws -> [Alert] {
        let h = Harness(rules)
        let reader = try CaptureFileReader(path: file.path)
        let pipeline = PacketPipeline()
        pipeline.consumers = [h.engine, h.table]
        while let raw = try reader.next() { pipeline.process(raw) }
        return h.finish()
    }

    static var benign: [URL] {
        [
            TestPaths.fixtures.appendingPathComponent("app.pcap"),
            TestPaths.fixtures.appendingPathComponent("tcp-states.pcap"),
            TestPaths.fixtures.appendingPathComponent("dns.pcap")
        ]
    }

    @Test func defaultsAreQuietOnBenignCaptures() throws {
        for f in AlertTests.benign {
            #expect(try AlertTests.run(AlertRule.defaults, file: f).isEmpty, "\(f.lastPathComponent)")
        }
    }

    @Test func portScanFires() {
        let h = Harness(AlertRule.defaults)
        for port in UInt16(1)...40 {
            h.seconds += 0.01
            h.send(tcpPacket("10.0.0.66", 50000, "10.0.0.2", port, flags: TCP.syn, seq: 7, at: h.seconds))
            h.send(tcpPacket("10.0.0.2", port, "10.0.0.66", 50000, flags: TCP.rst | TCP.ack, ack: 8, at: h.seconds))
        }
        let alerts = h.finish()
        #expect(alerts.count == 1)
        #expect(alerts.first?.rule == "port-scan")
        #expect(alerts.first?.kind == "port_scan")
        #expect(alerts.first?.hosts == [IPAddress("10.0.0.66")!])
        #expect(alerts.first?.uid?.hasPrefix("C") == true)
        #expect(alerts.first?.severity == .medium)
    }

    @Test func hostSweepFires() {
        let h = Harness([
            AlertRule(name: "sweep", kind: .portScan(ports: 100, hosts: 10, window: 60_000_000_000), severity: .low)
        ])
        for host in 1...12 {
            h.seconds += 0.5
            h.send(
                tcpPacket("192.168.7.9", 40000, "192.168.7.\(100 + host)", 445, flags: TCP.syn, seq: 1, at: h.seconds))
        }
        #expect(h.finish().map(\.rule) == ["sweep"])
    }

    @Test func synFloodFires() {
        let h = Harness(AlertRule.defaults)
        for i in 0..<250 {
            h.seconds += 0.001
            h.send(
                tcpPacket(
                    "198.51.100.\(i % 250)", UInt16(10000 + i), "10.0.0.2", 80, flags: TCP.syn, seq: UInt32(i),
                    at: h.seconds))
        }
        let alerts = h.finish()
        #expect(alerts.map(\.rule) == ["syn-flood"])
        #expect(alerts.first?.hosts == [IPAddress("10.0.0.2")!])
        #expect(alerts.first?.severity == .high)
    }

    @Test func rateThresholds() {
        let perHost = AlertRule(
            name: "big", kind: .rate(metric: .bytes, perHost: true, threshold: 10_000, window: 10_000_000_000),
            severity: .low)
        let total = AlertRule(
            name: "pps", kind: .rate(metric: .packets, perHost: false, threshold: 15, window: 1_000_000_000),
            severity: .info)
        let h = Harness([perHost, total])
        for i in 0..<20 {
            h.send(udpPacket("10.0.0.5", 4000, "10.0.0.6", 9000, payload: 958, at: h.seconds + Double(i) * 0.01))
        }
        let alerts = h.finish()
        // One per host for bytes (both ends crossed 10 kB), one for the total packets.
        #expect(alerts.filter { $0.rule == "big" }.count == 2)
        #expect(alerts.filter { $0.rule == "pps" }.count == 1)
        let quiet = Harness([perHost, total])
        for i in 0..<5 {
            quiet.send(udpPacket("10.0.0.5", 4000, "10.0.0.6", 9000, payload: 958, at: quiet.seconds + Double(i)))
        }
        #expect(quiet.finish().isEmpty)
    }

    @Test func newHostAndPort() {
        let rules = [
            AlertRule(name: "new-host", kind: .newHost(localOnly: true, learn: 30_000_000_000), severity: .low),
            AlertRule(name: "new-port", kind: .newPort(localOnly: true, learn: 30_000_000_000), severity: .low)
        ]
        let h = Harness(rules)
        // Learning: seen in the first 30 s, no alert.
        h.send(tcpPacket("10.0.0.1", 40000, "10.0.0.2", 22, flags: TCP.syn, at: h.seconds))
        h.send(tcpPacket("10.0.0.1", 40001, "10.0.0.2", 22, flags: TCP.syn, at: h.seconds + 40))
        // After learning: a new local host and a new port.
        h.send(tcpPacket("10.0.0.1", 40002, "10.0.0.9", 8081, flags: TCP.syn, at: h.seconds + 50))
        let alerts = h.finish()
        #expect(alerts.map(\.rule).sorted() == ["new-host", "new-port"])
        #expect(alerts.first { $0.rule == "new-host" }?.hosts == [IPAddress("10.0.0.9")!])
    }

    @Test func blocklistFromFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sniff-alerts-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "# bad hosts\n203.0.113.0/24\n2001:db8:bad::1 # one host\n".write(
            to: dir.appendingPathComponent("block.txt"), atomically: true, encoding: .utf8)
        let yaml = "rules:\n  - name: bad\n    kind: blocklist\n    file: block.txt\n    severity: high\n"
        let config = try RulesFile.parse(yaml, baseDirectory: dir.path)
        let h = Harness(config.rules)
        h.send(tcpPacket("10.0.0.1", 40000, "203.0.113.7", 443, flags: TCP.syn, at: h.seconds))
        h.send(tcpPacket("2001:db8:bad::1", 53, "2001:db8::5", 40000, flags: TCP.syn, at: h.seconds))
        h.send(tcpPacket("10.0.0.1", 40001, "198.51.100.7", 443, flags: TCP.syn, at: h.seconds))
        let alerts = h.finish()
        #expect(alerts.count == 2)
        #expect(alerts.allSatisfy { $0.severity == .high && $0.kind == "blocklist" })
    }

    static func listDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sniff-lists-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The shapes of the lists people download: FireHOL's .netset (a "#" header, bare
    /// addresses and CIDRs) and Spamhaus DROP (";" header, "CIDR ; SBL id" lines, CRLF
    /// as some mirrors serve it).
    static let fireHOL = """
        #
        # firehol_level1
        #
        # ipv4 hash:net ipset
        #
        # A firewall blacklist composed from IP lists, providing
        # maximum protection with minimum false positives.
        #
        # Source URL: https://iplists.firehol.org/?ipset=firehol_level1
        #
        # Maintainer      : FireHOL
        # List source URL : https://iplists.firehol.org/
        #
        0.0.0.0/8
        192.0.2.66
        198.51.100.0/25
        198.51.100.64/26
        224.0.0.0/3

        """
    static let spamhausDROP = "; Spamhaus DROP List 2026/12/01 - (c) 2026 The Spamhaus Project SLU\r\n"
        + "; https://www.spamhaus.org/drop/drop.txt\r\n; Last-Modified: Tue, 01 Dec 2026 15:41:27 GMT\r\n"
        + "; Expires: Wed, 02 Dec 2026 16:44:36 GMT\r\n"
        + "203.0.113.0/24 ; SBL581127\r\n100.64.128.0/18 ; SBL291016\r\n2001:db8:bad::/48 ; SBL300000\r\n"

    @Test func blocklistReadsFireHOLAndSpamhausFiles() throws {
        let dir = try Self.listDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.fireHOL.write(
            to: dir.appendingPathComponent("firehol_level1.netset"), atomically: true, encoding: .utf8)
        try Self.spamhausDROP.write(to: dir.appendingPathComponent("drop.txt"), atomically: true, encoding: .utf8)
        let yaml = """
            rules:
              - name: firehol
                kind: blocklist
                file: firehol_level1.netset
              - name: drop
                kind: blocklist
                file: drop.txt
                severity: critical
            """
        let config = try RulesFile.parse(yaml, baseDirectory: dir.path)
        let net = { (s: String) in IPNetwork(s)! }
        #expect(
            config.rules[0].kind
                == .blocklist(networks: [
                    net("0.0.0.0/8"), net("192.0.2.66"), net("198.51.100.0/25"),
                    net("198.51.100.64/26"), net("224.0.0.0/3")
                ]))
        #expect(config.rules[1].kind == .blocklist(networks: [net("203.0.113.0/24"), net("100.64.128.0/18"),
                                                             net("2001:db8:bad::/48")]))
        let h = Harness(config.rules)
        h.send(tcpPacket("10.0.0.1", 40000, "198.51.100.100", 443, flags: TCP.syn, at: h.seconds))  // inside the /26
        h.send(tcpPacket("10.0.0.1", 40001, "198.51.100.200", 443, flags: TCP.syn, at: h.seconds))  // in neither
        h.send(tcpPacket("10.0.0.1", 40002, "192.0.2.66", 443, flags: TCP.syn, at: h.seconds))
        h.send(tcpPacket("10.0.0.1", 40003, "192.0.2.67", 443, flags: TCP.syn, at: h.seconds))
        h.send(tcpPacket("100.64.130.1", 5000, "10.0.0.1", 80, flags: TCP.syn, at: h.seconds))
        h.send(tcpPacket("2001:db8:bad:ffff::1", 5000, "2001:db8::1", 80, flags: TCP.syn, at: h.seconds))
        let alerts = h.finish()
        #expect(alerts.filter { $0.rule == "firehol" }.map(\.message).sorted() == [
            "traffic with blocklisted 192.0.2.66: tcp 10.0.0.1:40002 -> 192.0.2.66:443",
            "traffic with blocklisted 198.51.100.100: tcp 10.0.0.1:40000 -> 198.51.100.100:443",
        ])
        #expect(alerts.filter { $0.rule == "drop" }.count == 2)
        #expect(alerts.filter { $0.rule == "drop" }.allSatisfy { $0.severity == .critical && $0.kind == "blocklist" })

        // A line that is not an address names its file and line.
        try "# list\n10.0.0.0/8\n\n10.0.0.300 ; typo\n".write(
            to: dir.appendingPathComponent("bad.txt"), atomically: true, encoding: .utf8)
        #expect {
            try RulesFile.parse("rules:\n  - kind: blocklist\n    file: bad.txt\n", baseDirectory: dir.path)
        } throws: { e in
            let m = (e as? RulesFile.Error)?.userMessage ?? ""
            return m.contains(dir.path + "/bad.txt:4: \"10.0.0.300\" is not an IP address or CIDR network")
                && (e as? RulesFile.Error)?.exitCode == 64
        }
    }

    @Test func networkSetMatchesTheScanOfItsNetworks() {
        let texts = ["10.0.0.0/8", "10.1.0.0/16", "10.255.255.255", "11.0.0.0/31", "0.0.0.0/32", "255.255.255.255",
                     "192.168.1.128/25", "192.168.1.0/25", "fe80::/10", "2001:db8::/127", "::/128", "ffff::/16"]
        let nets = texts.map { IPNetwork($0)! }
        let set = NetworkSet(nets)
        // 10.1/16 and 10.255.255.255 are inside 10/8: one range.
        #expect(set.rangeCount == 10)
        var probes = [
            "9.255.255.255", "10.0.0.0", "10.200.3.4", "11.0.0.0", "11.0.0.1", "11.0.0.2", "0.0.0.0", "0.0.0.1",
            "255.255.255.255", "255.255.255.254", "192.168.0.255", "192.168.1.0", "192.168.1.255", "192.168.2.0",
            "fe80::1", "febf:ffff::1", "fec0::", "2001:db8::1", "2001:db8::2", "::", "::1", "ffff:ffff::1",
            "::ffff:10.0.0.1"
        ].map { IPAddress($0)! }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 { probes.append(IPAddress(v4: UInt32.random(in: 0x0900_0000...0x0C00_0000, using: &rng))) }
        for a in probes {
            #expect(set.contains(a) == nets.contains { $0.contains(a) }, "\(a)")
        }
        #expect(!NetworkSet([]).contains(IPAddress("10.0.0.1")!))
        #expect(NetworkSet([IPNetwork("0.0.0.0/0")!]).contains(IPAddress("203.0.113.9")!))
        #expect(!NetworkSet([IPNetwork("0.0.0.0/0")!]).contains(IPAddress("2001:db8::9")!))
        #expect(NetworkSet([IPNetwork("::/0")!]).contains(IPAddress("2001:db8::9")!))
    }

    @Test func domainListFile() throws {
        let dir = try Self.listDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "# domains\nEvil.Example.\n  malware.test   # with a comment\n*.tracker.test\n".write(
            to: dir.appendingPathComponent("domains.txt"), atomically: true, encoding: .utf8)
        let config = try RulesFile.parse(
            "rules:\n  - name: d\n    kind: dns_domain\n    domains: [sniff.test]\n    file: domains.txt\n",
            baseDirectory: dir.path)
        #expect(
            config.rules[0].kind == .dnsDomain(domains: ["sniff.test", "evil.example", "malware.test", "tracker.test"]))
        try "good.test\nbad domain.test\n".write(
            to: dir.appendingPathComponent("bad.txt"), atomically: true, encoding: .utf8)
        #expect {
            try RulesFile.parse("rules:\n  - kind: dns_domain\n    file: bad.txt\n", baseDirectory: dir.path)
        } throws: { e in
            (e as? RulesFile.Error)?.userMessage.contains("bad.txt:2: \"bad domain.test\" is not a domain name") == true
        }
    }

    @Test func countryAndASNRuleErrors() throws {
        func message(_ yaml: String) -> String {
            do { _ = try RulesFile.parse(yaml); return "accepted" } catch let e as RulesFile.Error {
                #expect(e.exitCode == 64)
                return e.userMessage
            } catch { return "\(error)" }
        }
        #expect(message("rules:\n  - name: c\n    kind: country\n    countries: [DE, USA]\n")
            == "rules: rule \"c\", countries: \"USA\" is not a two-letter ISO 3166 country code (DE, US ...)")
        #expect(message("rules:\n  - name: a\n    kind: asn\n    asns: [AS15169, ASX]\n")
            == "rules: rule \"a\", asns: \"ASX\" is not an AS number (15169 or AS15169)")
        #expect(
            message("rules:\n  - name: a\n    kind: asn\n    asns: [\"-1\"]\n").contains("\"-1\" is not an AS number"))
        #expect(message("rules:\n  - name: c\n    kind: country\n    countries: [DE]\n    end: outbound\n")
            .contains("end must be any, orig (flows from there) or resp (flows to there), not \"outbound\""))
        #expect(message("rules:\n  - name: c\n    kind: country\n") == "rules: rule \"c\" needs countries or a file")
        #expect(
            message("rules:\n  - name: c\n    kind: countries\n").contains("unknown kind \"countries\" (rate, new_host")
        )
        let ok = try RulesFile.parse(
            "rules:\n  - kind: country\n    countries: [de, Us]\n  - kind: asn\n    asns: 4200000000\n    end: orig\n")
        #expect(
            ok.rules.map(\.kind) == [
                .country(codes: ["DE", "US"], end: .any), .asn(numbers: [4_200_000_000], end: .orig)
            ])
        #expect(ok.countryRule?.name == "rule-1" && ok.asnRule?.name == "rule-2")
    }

    @Test(
        .enabled(if: TestMMDB.writerInstalled, "libmaxmind-db-writer-perl is not installed (scripts/setup.sh --tests)"))
    func countryAndASNRulesFire() throws {
        let dir = try TestMMDB.write()
        defer { try? FileManager.default.removeItem(at: dir) }
        let hosts = HostEnrichment(geo: try GeoIPDatabases.open(path: dir.path))
        let rules = [
            AlertRule(name: "us-de", kind: .country(codes: ["US", "DE"], end: .any), severity: .high),
            AlertRule(name: "to-aa", kind: .asn(numbers: [20712], end: .resp), severity: .low),
            AlertRule(name: "from-gb", kind: .country(codes: ["GB"], end: .orig), severity: .low),
        ]
        let h = Harness(rules, format: FlowFormat(hosts: hosts))
        h.send(tcpPacket("10.0.0.1", 40000, "8.8.8.8", 443, flags: TCP.syn, at: h.seconds))          // to US
        h.send(tcpPacket("10.0.0.1", 40001, "81.2.69.160", 443, flags: TCP.syn, at: h.seconds))      // to GB, AS20712
        h.send(tcpPacket("2a02:1000::7", 40002, "fd00::1", 22, flags: TCP.syn, at: h.seconds))       // from DE
        h.send(tcpPacket("10.0.0.1", 40003, "5.5.5.5", 443, flags: TCP.syn, at: h.seconds))          // FR: none
        h.send(tcpPacket("10.0.0.1", 40004, "10.0.0.2", 443, flags: TCP.syn, at: h.seconds))         // private: none
        let alerts = h.finish()
        #expect(alerts.filter { $0.rule == "us-de" }.map(\.message).sorted() == [
            "flow from 2a02:1000::7 in DE: tcp 2a02:1000::7:40002 -> fd00::1:22",
            "flow to 8.8.8.8 in US: tcp 10.0.0.1:40000 -> 8.8.8.8:443",
        ])
        #expect(alerts.filter { $0.rule == "to-aa" }.map(\.message)
            == ["flow to 81.2.69.160 in AS20712 (Andrews & Arnold Ltd): tcp 10.0.0.1:40001 -> 81.2.69.160:443"])
        #expect(alerts.filter { $0.rule == "to-aa" }.allSatisfy { $0.kind == "asn" && $0.uid != nil })
        // GB is the responder's country there, not the originator's.
        #expect(alerts.filter { $0.rule == "from-gb" }.isEmpty)
        #expect(alerts.count == 3)
    }

    @Test func dnsDomainOnRecordedQueries() throws {
        let hit = AlertRule(name: "listed", kind: .dnsDomain(domains: ["sniff.test"]), severity: .high)
        let alerts = try AlertTests.run([hit], file: TestPaths.fixtures.appendingPathComponent("dns.pcap"))
        #expect(!alerts.isEmpty)
        #expect(alerts.allSatisfy { $0.message.contains("sniff.test") && $0.uid != nil })
        let miss = AlertRule(name: "other", kind: .dnsDomain(domains: ["example.org"]), severity: .high)
        #expect(try AlertTests.run([miss], file: TestPaths.fixtures.appendingPathComponent("dns.pcap")).isEmpty)
    }

    @Test func floodsAreAggregated() {
        var limiter = AlertLimiter(maxPerSecond: 5)
        var delivered: [Alert] = []
        for i in 0..<100 {
            let a = Alert(
                time: Timestamp(seconds: 100 + Int64(i / 50), nanoseconds: 0), severity: .low, rule: "r", kind: "rate",
                message: "m\(i)")
            if let out = limiter.admit(a, subject: "r|x", holdoff: 60_000_000_000) { delivered.append(out) }
        }
        #expect(delivered.count == 1)
        let rest = limiter.finish()
        #expect(rest.count == 1)
        #expect(rest.first?.suppressed == 99)
        // The global cap: distinct subjects in one second.
        var global = AlertLimiter(maxPerSecond: 3)
        var n = 0
        for i in 0..<10 {
            let a = Alert(
                time: Timestamp(seconds: 5, nanoseconds: 0), severity: .low, rule: "r", kind: "k", message: "")
            if global.admit(a, subject: "s\(i)", holdoff: 0) != nil { n += 1 }
        }
        #expect(n == 3)
        #expect(global.droppedByRate == 7)
    }

    @Test func exampleRulesFileParses() throws {
        let path = TestPaths.packageRoot.appendingPathComponent("docs/rules.example.yaml").path
        let config = try RulesFile.load(path: path)
        #expect(config.rules.count >= 7)
        let kinds = Set(config.rules.map(\.kindName))
        #expect(kinds == Set(AlertRule.kindNames))
        #expect(config.rules.contains { $0.kind == .country(codes: ["KP", "IR"], end: .any) })
        #expect(config.rules.contains { $0.kind == .asn(numbers: [64496, 64511], end: .resp) })
    }

    @Test func rulesFileErrorsNameTheLine() throws {
        #expect(throws: RulesFile.Error.self) { try RulesFile.parse("rules:\n  - name: x\n    kind: nonsense\n") }
        do {
            _ = try RulesFile.parse("rules:\n  - name: x\n     kind: rate\n")
            Issue.record("accepted bad indentation")
        } catch let e as RulesFile.Error {
            #expect(e.userMessage.contains(":3:"))
        } catch { Issue.record("\(error)") }
        #expect(throws: RulesFile.Error.self) { try RulesFile.parse("rules:\n  - kind: port_scan\n    window: soon\n") }
        // No rules key: the built-in defaults.
        #expect(try RulesFile.parse("defaults:\n  suppress: 5m\n").rules == AlertRule.defaults)
    }

    @Test func yamlRejectsWhatRuleFilesShouldNotHold() throws {
        do {
            _ = try YAMLValue.parse("a: 1\na: 2\n")
            Issue.record("accepted a duplicate key")
        } catch let e as YAMLValue.ParseError {
            #expect(e.line >= 1 && e.message.contains("duplicate key \"a\""), "\(e)")
        }
        // Anchors and aliases are YAML: one value written once, used twice.
        #expect(try YAMLValue.parse("a: &x [1, 2]\nb: *x\n")["b"] == .list([.scalar("1"), .scalar("2")]))
        #expect(try YAMLValue.parse("") == .map([]))
        // Scalars keep the text written: no YAML typing of yes/no, numbers or times.
        #expect(try YAMLValue.parse("a: yes\nb: 010\nc: 1:30\n")["b"]?.string == "010")
    }

    @Test func yamlTree() throws {
        let v = try YAMLValue.parse("""
            a: 1   # comment
            b:
              - x
              - "y # not a comment"
            c: [p, 'q', r]
            d:
              - k: 1
                l: two
              - k: 3
            """)
        #expect(v["a"]?.string == "1")
        #expect(v["b"] == .list([.scalar("x"), .scalar("y # not a comment")]))
        #expect(v["c"] == .list([.scalar("p"), .scalar("q"), .scalar("r")]))
        #expect(v["d"] == .list([.map([("k", .scalar("1")), ("l", .scalar("two"))]), .map([("k", .scalar("3"))])]))
    }
}

