import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
import SniffTestSupport

/// Payload detection and the two output formats, on the recorded application capture
/// (Tests/Fixtures/app.pcap: HTTP on 48080 and 80, TLS with SNI sniff.example.test,
/// SSH, QUIC v1 Initials, pings).
struct FlowOutputTests {
    static func appFlows() throws -> [Flow] {
        try flows(of: TestPaths.fixtures.appendingPathComponent("app.pcap"))
    }

    @Test func payloadDetection() throws {
        let all = try FlowOutputTests.appFlows()
        func flow(_ port: UInt16, v6: Bool = false) -> Flow? {
            all.first { $0.respPort == port && $0.respAddress.isIPv6 == v6 && $0.isTCP }
        }
        let http = try #require(flow(48080))
        #expect(http.app == .http && http.appSource == .payload)
        #expect(http.details.httpHost == "127.0.0.1:48080")
        #expect(http.details.httpPath == "/index.html")
        #expect(http.details.httpMethod == .get)
        #expect("\(http.service!)" == "http")
        #expect(flow(80)?.details.httpHost == "www.sniff.test")
        let tls = try #require(flow(443))
        #expect(tls.app == .tls && tls.appSource == .payload)
        #expect(tls.details.tlsSNI == "sniff.example.test")
        #expect(tls.details.tlsVersion == 0x0304)
        #expect("\(tls.service!)" == "ssl")
        let ssh = try #require(flow(22))
        #expect(ssh.app == .ssh && ssh.appSource == .payload)
        #expect(ssh.details.sshServer?.hasPrefix("SSH-2.0-OpenSSH") == true)
        #expect(ssh.details.sshClient == "SSH-2.0-SniffFixture_1.0")
        let quic = all.filter { $0.isUDP && $0.respPort == 443 }
        #expect(quic.count == 2)
        for q in quic {
            #expect(q.app == .quic && q.appSource == .payload)
            #expect(q.details.quicVersion == 1)
        }
        // Pings fold request and reply into one flow per address family.
        let pings = all.filter { $0.isICMP && $0.origPort == ($0.key.isIPv6 ? 128 : 8) }
        #expect(pings.count == 2)
        for p in pings {
            #expect(p.orig.packets == 2 && p.resp.packets == 2)
            #expect(p.connState == .oth)
        }
    }

    @Test func portGuessWhenPayloadSaysNothing() {
        let table = FlowTable(config: .noTimeouts, observer: nil)
        let collector = FlowCollector()
        table.observer = collector
        table.process(
            tcpPacket("10.0.0.1", 40000, "10.0.0.2", 5432, flags: TCP.syn, seq: 1, at: 1), frame: emptyFrame,
            now: Timestamp(seconds: 1, nanoseconds: 0))
        table.flush()
        let f = collector.flows[0]
        #expect(f.app == .postgresql && f.appSource == .port)
        #expect(f.service == nil)
    }

    @Test func ndjsonFields() throws {
        let all = try FlowOutputTests.appFlows()
        let tls = try #require(all.first { $0.isTCP && $0.respPort == 443 })
        var sink = ByteSink()
        FlowNDJSONWriter().write(tls, into: &sink)
        let line = sink.string
        #expect(line.hasSuffix("}\n"))
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        for field in [
            "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service", "duration",
            "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes", "history",
            "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "community_id", "app", "app_source", "tls_sni"
        ] {
            #expect(obj[field] != nil, "missing \(field) in \(line)")
        }
        #expect(obj["id.orig_h"] as? String == "127.0.0.1")
        #expect(obj["id.resp_p"] as? Int == 443)
        #expect(obj["proto"] as? String == "tcp")
        #expect(obj["conn_state"] as? String == "SF")
        #expect(obj["local_orig"] as? Bool == true)
        #expect(obj["tls_sni"] as? String == "sniff.example.test")
        #expect(obj["app_source"] as? String == "payload")
        #expect((obj["uid"] as? String)?.hasPrefix("C") == true)
        #expect((obj["uid"] as? String)?.count == 18)
        #expect(obj["orig_bytes"] as? Int == Int(tls.origBytes))
        #expect(tls.origBytes > 300)  // the ClientHello alone is 324 bytes
    }

    /// Reads a conn.log the way zeek-cut does: columns named by the #fields line.
    static func zeekCut(_ text: String, _ columns: [String]) -> [[String]] {
        var fields: [String] = []
        var rows: [[String]] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#fields\t") {
                fields = line.split(separator: "\t").dropFirst().map(String.init); continue
            }
            if line.hasPrefix("#") || line.isEmpty { continue }
            let cells = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            #expect(cells.count == fields.count, "row has \(cells.count) cells for \(fields.count) fields")
            rows.append(columns.map { c in fields.firstIndex(of: c).map { cells[$0] } ?? "" })
        }
        return rows
    }

    @Test func connLog() throws {
        let all = try flows(of: TestPaths.fixtures.appendingPathComponent("tcp-states.pcap"))
        let writer = ZeekConnLogWriter()
        var s = ByteSink()
        writer.writeHeader(open: Timestamp(seconds: 1_700_000_000, nanoseconds: 0), into: &s)
        for f in all { writer.write(f, into: &s) }
        writer.writeFooter(close: Timestamp(seconds: 1_700_000_060, nanoseconds: 0), into: &s)
        let text = s.string
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "#separator \\x09")
        #expect(lines[1] == "#set_separator\t,")
        #expect(lines[2] == "#empty_field\t(empty)")
        #expect(lines[3] == "#unset_field\t-")
        #expect(lines[4] == "#path\tconn")
        #expect(lines[5] == "#open\t2023-11-14-22-13-20")
        #expect(
            lines[6].hasPrefix("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration")
        )
        #expect(lines[7].hasPrefix("#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval"))
        #expect(lines.last == "#close\t2023-11-14-22-14-20")
        let rows = FlowOutputTests.zeekCut(text, ["id.orig_p", "conn_state", "history", "local_orig"])
        #expect(rows.count == all.count)
        #expect(rows.contains(["41001", "REJ", "Sr", "T"]))
        #expect(rows.contains(["41003", "S0", "S", "T"]))
        #expect(rows.contains(["41004", "SF", "^hADadFf", "T"]))
    }

    @Test func zeekEscaping() {
        var s = ByteSink()
        ZeekConnLogWriter.appendEscapedForTest("a\tb\\c", into: &s)
        #expect(s.string == "a\\x09b\\\\c")
    }
}
