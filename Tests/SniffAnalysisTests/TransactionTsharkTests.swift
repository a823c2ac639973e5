import Foundation
import Testing
import SniffCore
import SniffCapture
@testable import SniffAnalysis
import SniffTestSupport

/// dns.log and http.log transactions against tshark's reading of the same messages
/// (FILE.dns.json and FILE.http.json, made by scripts/make-logs-truth.sh) on the
/// fixtures and on ../shared/pcaps: per DNS response, the query, type, rcode, answers
/// and TTLs; per HTTP request, method, URI, host, user agent, referrer and version; per
/// response (in order on its connection), status code, phrase and content type.
struct TransactionTsharkTests {
    final class Collector: TransactionObserver {
        var dns: [DNSTransaction] = []
        var http: [HTTPTransaction] = []
        func dnsTransaction(_ t: DNSTransaction) { dns.append(t) }
        func httpTransaction(_ t: HTTPTransaction) { http.append(t) }
    }

    static func run(_ file: URL, config: FlowTableConfig = .noTimeouts) throws -> (Collector, TransactionTracker) {
        let reader = try CaptureFileReader(path: file.path)
        let pipeline = PacketPipeline()
        let table = FlowTable(config: config)
        let collector = Collector()
        let tracker = TransactionTracker(observer: collector)
        table.transactions = tracker
        pipeline.consumers = [table]
        while let raw = try reader.next() { pipeline.process(raw) }
        table.flush()
        return (collector, tracker)
    }

    static func truth(_ path: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: path, encoding: .utf8)
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// (capture, truth prefix) pairs: the fixtures, and ../shared/pcaps with their
    /// truth kept in Tests/Fixtures/shared.
    static var captures: [(URL, URL)] {
        let fix = TestPaths.fixtures
        var list = ["dns.pcap", "tcp-reasm.pcap", "app.pcap", "logs.pcap"].map {
            (fix.appendingPathComponent($0), fix.appendingPathComponent($0))
        }
        let sample = TestPaths.packageRoot.appendingPathComponent("samples/sample.pcapng")
        list.append((sample, sample))
        if let shared = TestPaths.sharedPcaps {
            for name in ["dns-badcookie.pcap", "dns-uri.pcap", "dns_tcp.pcap", "ipv4_tcp_http_xml.pcap"] {
                list.append((shared.appendingPathComponent(name), fix.appendingPathComponent("shared/" + name)))
            }
        }
        return list
    }

    struct Tally: CustomStringConvertible {
        var agree = 0
        var total = 0
        var misses: [String] = []
        mutating func check(_ ok: Bool, _ what: @autoclosure () -> String) {
            total += 1
            if ok { agree += 1 } else if misses.count < 20 { misses.append(what()) }
        }
        var description: String {
            String(format: "%d/%d (%.1f%%)", agree, total, total == 0 ? 100 : 100 * Double(agree) / Double(total))
        }
    }

    @Test func dnsAgainstTshark() throws {
        var responses = Tally(), queries = Tally()
        for (capture, truthPrefix) in Self.captures {
            let rows = try Self.truth(URL(fileURLWithPath: truthPrefix.path + ".dns.json"))
            let (got, _) = try Self.run(capture)
            let name = capture.lastPathComponent
            for r in rows {
                let id = r["id"] as! Int
                if r["qr"] as! Int == 0 {
                    let port = r["sport"] as! Int
                    let match = got.dns.contains { Int($0.transID) == id && Int($0.flow.origPort) == port
                        && $0.query == r["query"] as? String }
                    queries.check(match, "\(name) frame \(r["frame"]!): query \(id) not logged")
                    continue
                }
                let port = r["dport"] as! Int
                guard let t = got.dns.first(where: { Int($0.transID) == id && Int($0.flow.origPort) == port
                    && $0.responseFlags != nil }) else {
                    responses.check(false, "\(name) frame \(r["frame"]!): response \(id) not logged")
                    continue
                }
                let same = t.query == r["query"] as? String && t.qtype.map(Int.init) == r["qtype"] as? Int
                    && t.rcode.map(Int.init) == r["rcode"] as? Int && t.answers == r["answers"] as? [String]
                    && t.ttls.map(Int.init) == r["ttls"] as? [Int]
                responses.check(same, "\(name) frame \(r["frame"]!): \(t.query ?? "-") \(t.answers) \(t.ttls) "
                                + "vs \(r["query"] ?? "-") \(r["answers"] ?? []) \(r["ttls"] ?? [])")
            }
        }
        print("dns.log vs tshark: responses \(responses), queries \(queries)")
        #expect(responses.total >= 30 && queries.total >= 30)
        #expect(responses.agree == responses.total, "\(responses.misses)")
        #expect(queries.agree == queries.total, "\(queries.misses)")
    }

    @Test func httpAgainstTshark() throws {
        var requests = Tally(), responses = Tally()
        for (capture, truthPrefix) in Self.captures {
            let rows = try Self.truth(URL(fileURLWithPath: truthPrefix.path + ".http.json"))
            let (got, _) = try Self.run(capture)
            let name = capture.lastPathComponent
            var answered: [Int: [HTTPTransaction]] = [:]
            for t in got.http.sorted(by: { $0.depth < $1.depth }) where t.statusCode != nil {
                answered[Int(t.flow.origPort), default: []].append(t)
            }
            var seen: [Int: Int] = [:]
            for r in rows {
                if let method = r["method"] as? String {
                    let port = r["sport"] as! Int
                    let t = got.http.first {
                        Int($0.flow.origPort) == port && $0.method == method && $0.uri == r["uri"] as? String
                    }
                    let version = t?.version.map { "HTTP/" + $0 }
                    let same = t != nil && t?.host == r["host"] as? String && t?.userAgent == r["user_agent"] as? String
                        && t?.referrer == r["referrer"] as? String && version == r["version"] as? String
                    requests.check(same, "\(name) frame \(r["frame"]!): \(method) \(r["uri"] ?? "-") "
                                   + "got \(t.map { "\($0.host ?? "-") \($0.userAgent ?? "-")" } ?? "nothing")")
                } else if let code = r["code"] as? Int {
                    // A response that tshark reads without its request (a capture that
                    // starts midstream) is on the connection of its destination port.
                    let port = r["dport"] as! Int
                    let k = seen[port, default: 0]
                    seen[port] = k + 1
                    let list = answered[port] ?? []
                    let t = k < list.count ? list[k] : nil
                    let same = t?.statusCode.map(Int.init) == code && t?.statusMessage == r["phrase"] as? String
                        && t?.responseContentType == r["content_type"] as? String
                    let status = t?.statusCode.map(String.init) ?? "nothing"
                    responses.check(same, "\(name) frame \(r["frame"]!): \(code) got \(status)")
                }
            }
        }
        print("http.log vs tshark: requests \(requests), responses \(responses)")
        #expect(requests.total >= 20 && responses.total >= 20)
        #expect(requests.agree == requests.total, "\(requests.misses)")
        #expect(responses.agree == responses.total, "\(responses.misses)")
    }

    /// logs.pcap: six requests written at once, answered on one connection (a 48 KiB
    /// body over many segments, a chunked one, HEAD without a body, a 404 tshark does
    /// not pair because it reads the HEAD response as having a body): every pair with
    /// its depth and body lengths.
    @Test func pipelinedRequests() throws {
        let (got, tracker) = try Self.run(TestPaths.fixtures.appendingPathComponent("logs.pcap"))
        let conn = got.http.filter { $0.flow.origPort == 40620 }.sorted { $0.depth < $1.depth }
        #expect(conn.map(\.depth) == [1, 2, 3, 4, 5, 6])
        #expect(conn.map { $0.method ?? "-" } == ["GET", "POST", "GET", "GET", "HEAD", "GET"])
        #expect(conn.map { $0.statusCode ?? 0 } == [200, 201, 200, 200, 200, 404])
        #expect(conn.map(\.requestBodyLength) == [0, 300, 0, 0, 0, 0])
        #expect(conn.map(\.responseBodyLength) == [19, 17, 49152, 49152, 0, 9])
        #expect(conn[1].requestContentType == "application/x-www-form-urlencoded")
        #expect(conn[1].responseContentType == "application/json")
        #expect(tracker.stats.httpLost == 0)
        // Three queries on one DNS-over-TCP connection, each paired with its answer.
        let tcp = got.dns.filter { $0.flow.origPort == 40626 }
        #expect(tcp.count == 3 && tcp.allSatisfy { $0.rttNanos != nil && $0.flow.isTCP })
    }

    /// A query whose response never comes is logged when its flow ends, without rtt or
    /// rcode; the per-flow pending limit logs the oldest early instead of growing.
    @Test func unansweredQueries() throws {
        let (got, _) = try Self.run(TestPaths.fixtures.appendingPathComponent("dns.pcap"))
        // Every query in dns.pcap was answered.
        #expect(got.dns.allSatisfy { $0.responseFlags != nil })
        let collector = Collector()
        let tracker = TransactionTracker(observer: collector)
        let key = FlowKey.canonical(src: IPAddress(v4: 0x0A00_0001), sport: 40000, dst: IPAddress(v4: 0x0A00_0002),
                                    dport: 53, proto: 17, vlan: 0, oneWay: false).key
        let flow = Flow(key: key, origIsA: true, nanos: 1_000_000_000)
        var q: [UInt8] = [0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61, 0, 0, 1, 0, 1]
        for id in 0..<(TransactionTracker.maximumDNSPendingPerFlow + 5) {
            q[0] = UInt8(id >> 8); q[1] = UInt8(id & 0xFF)
            q.withUnsafeBytes { tracker.dnsMessage(flow, index: 0, $0, nanos: 1_000_000_000 + Int64(id), isOrig: true) }
        }
        #expect(collector.dns.count == 5 && tracker.stats.dnsPendingDropped == 5)
        tracker.flowEnded(flow, index: 0)
        #expect(collector.dns.count == TransactionTracker.maximumDNSPendingPerFlow + 5)
        #expect(collector.dns.allSatisfy { $0.rttNanos == nil && $0.rcode == nil && $0.query == "a" })
        #expect(tracker.trackedFlows == 0)
    }
}
