import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
import SniffCapture

/// Each rule kind fires on generated or recorded traffic and stays quiet on benign
/// traffic; rate limiting aggregates; rules files parse (with errors that name the line).
struct AlertTests {
    /// Flows and packets through a table and an engine; returns the delivered alerts.
    final class Harness {
        let collector = AlertCollector()
        let engine: AlertEngine
        let table: FlowTable
        var seconds: Double = 1000

        init(_ rules: [AlertRule], maxPerSecond: Int = 1000) {
            engine = AlertEngine(config: AlertConfig(rules: rules, maxAlertsPerSecond: maxPerSecond), sink: collector)
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
        [TestPaths.fixtures.appendingPathComponent("app.pcap"), TestPaths.fixtures.appendingPathComponent("tcp-states.pcap"),
         TestPaths.fixtures.appendingPathComponent("dns.pcap")]
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
        let h = Harness([AlertRule(name: "sweep", kind: .portScan(ports: 100, hosts: 10, window: 60_000_000_000), severity: .low)])
        for host in 1...12 {
            h.seconds += 0.5
            h.send(tcpPacket("192.168.7.9", 40000, "192.168.7.\(100 + host)", 445, flags: TCP.syn, seq: 1, at: h.seconds))
        }
        #expect(h.finish().map(\.rule) == ["sweep"])
    }

    @Test func synFloodFires() {
        let h = Harness(AlertRule.defaults)
        for i in 0..<250 {
            h.seconds += 0.001
            h.send(tcpPacket("198.51.100.\(i % 250)", UInt16(10000 + i), "10.0.0.2", 80, flags: TCP.syn, seq: UInt32(i), at: h.seconds))
        }
        let alerts = h.finish()
        #expect(alerts.map(\.rule) == ["syn-flood"])
        #expect(alerts.first?.hosts == [IPAddress("10.0.0.2")!])
        #expect(alerts.first?.severity == .high)
    }

    @Test func rateThresholds() {
        let perHost = AlertRule(name: "big", kind: .rate(metric: .bytes, perHost: true, threshold: 10_000, window: 10_000_000_000), severity: .low)
        let total = AlertRule(name: "pps", kind: .rate(metric: .packets, perHost: false, threshold: 15, window: 1_000_000_000), severity: .info)
        let h = Harness([perHost, total])
        for i in 0..<20 {
            h.send(udpPacket("10.0.0.5", 4000, "10.0.0.6", 9000, payload: 958, at: h.seconds + Double(i) * 0.01))
        }
        let alerts = h.finish()
        // One per host for bytes (both ends crossed 10 kB), one for the total packets.
        #expect(alerts.filter { $0.rule == "big" }.count == 2)
        #expect(alerts.filter { $0.rule == "pps" }.count == 1)
        let quiet = Harness([perHost, total])
        for i in 0..<5 { quiet.send(udpPacket("10.0.0.5", 4000, "10.0.0.6", 9000, payload: 958, at: quiet.seconds + Double(i))) }
        #expect(quiet.finish().isEmpty)
    }

    @Test func newHostAndPort() {
        let rules = [AlertRule(name: "new-host", kind: .newHost(localOnly: true, learn: 30_000_000_000), severity: .low),
                     AlertRule(name: "new-port", kind: .newPort(localOnly: true, learn: 30_000_000_000), severity: .low)]
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
        try "# bad hosts\n203.0.113.0/24\n2001:db8:bad::1 # one host\n".write(to: dir.appendingPathComponent("block.txt"), atomically: true, encoding: .utf8)
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
            let a = Alert(time: Timestamp(seconds: 100 + Int64(i / 50), nanoseconds: 0), severity: .low, rule: "r", kind: "rate", message: "m\(i)")
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
            let a = Alert(time: Timestamp(seconds: 5, nanoseconds: 0), severity: .low, rule: "r", kind: "k", message: "")
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
        #expect(kinds == ["rate", "new_host", "new_port", "port_scan", "syn_flood", "blocklist", "dns_domain"])
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

