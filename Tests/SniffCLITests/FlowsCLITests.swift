import Foundation
import Testing
import SniffTestSupport

/// `sniff -r FILE --flows`, `--flows-file`, `--conn-log`, `--local-nets`, `--rules`,
/// `--alerts`, `--webhook` and the timeout options, as a user runs them.
@Suite(.serialized)
struct FlowsCLITests {
    var app: String { TestPaths.fixtures.appendingPathComponent("app.pcap").path }
    var states: String { TestPaths.fixtures.appendingPathComponent("tcp-states.pcap").path }

    static func objects(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    @Test func flowsOnStdout() throws {
        let r = try CLI.run(["-r", states, "--flows"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains("Sniff report"))
        let flows = try FlowsCLITests.objects(r.stdout)
        #expect(flows.count == 7)
        let states = Set(flows.compactMap { $0["conn_state"] as? String })
        #expect(states == ["SF", "REJ", "RSTO", "S0"])
        for f in flows {
            for k in [
                "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "conn_state", "history",
                "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "community_id", "local_orig", "local_resp"
            ] {
                #expect(f[k] != nil, "missing \(k)")
            }
        }
    }

    /// Flows inside a tunnel: their own 5-tuple, `tunnel_parents` naming the outer
    /// flow's uid (in the NDJSON and conn.log), and `--inner` filtering on the carried
    /// packet while the outer flow keeps its own fields.
    @Test func tunnelledFlows() throws {
        let gre = TestPaths.fixtures.appendingPathComponent("tunnel-gre.pcap").path
        let dir = try TestPaths.tempDir()
        let conn = dir.appendingPathComponent("conn.log").path
        let r = try CLI.run(["-r", gre, "--flows", "--conn-log", conn])
        #expect(r.status == 0, "\(r.stderr)")
        let flows = try FlowsCLITests.objects(r.stdout)
        let outer = try #require(flows.first { $0["id.orig_h"] as? String == "10.77.0.1" })
        let uid = try #require(outer["uid"] as? String)
        #expect(outer["tunnel_parents"] == nil)
        let inner = flows.filter { $0["id.orig_h"] as? String == "10.88.0.1" }
        #expect(inner.count == 3)
        for f in inner {
            #expect(f["tunnel_parents"] as? [String] == [uid])
            #expect(f["tunnel"] as? String == "gre")
            #expect(f["tunnel_id"] as? Int == 7001)
        }
        let tcp = try #require(inner.first { $0["proto"] as? String == "tcp" })
        #expect(tcp["conn_state"] as? String == "SF")
        let rows = try String(contentsOfFile: conn, encoding: .utf8).split(separator: "\n").filter {
            !$0.hasPrefix("#")
        }
        let fields = try String(contentsOfFile: conn, encoding: .utf8).split(separator: "\n")
            .first { $0.hasPrefix("#fields") }!.split(separator: "\t").dropFirst().map(String.init)
        let at = try #require(fields.firstIndex(of: "tunnel_parents"))
        let parents = rows.map { String($0.split(separator: "\t", omittingEmptySubsequences: false)[at]) }
        #expect(parents.sorted() == ["-", uid, uid, uid])

        let all = try CLI.run(["-r", gre, "--json", "--lowest-port", "47202", "--highest-port", "47202"])
        #expect(all.status == 0 && all.stdout.isEmpty)
        let tcpOnly = try CLI.run(["-r", gre, "--json", "--inner", "--lowest-port", "47202", "--highest-port", "47202"])
        #expect(tcpOnly.status == 0, "\(tcpOnly.stderr)")
        #expect(tcpOnly.stdout.split(separator: "\n").count == 10)
    }

    @Test func applicationFields() throws {
        let r = try CLI.run(["-r", app, "--flows"])
        #expect(r.status == 0, "\(r.stderr)")
        let flows = try FlowsCLITests.objects(r.stdout)
        #expect(
            flows.contains { $0["tls_sni"] as? String == "sniff.example.test" && $0["service"] as? String == "ssl" })
        #expect(
            flows.contains {
                $0["http_host"] as? String == "www.sniff.test" && $0["app_source"] as? String == "payload"
            })
        #expect(flows.contains { ($0["ssh_server"] as? String)?.hasPrefix("SSH-2.0-") == true })
        #expect(flows.contains { $0["quic_version"] as? String == "1" })
    }

    /// The handshake facts of tls.pcap's TLS 1.2 connection and quic.pcap's QUIC v2 one,
    /// under ssl.log's names; values are tshark's (Tests/Fixtures/*.tls.tsv).
    @Test func handshakeFields() throws {
        let tls = try CLI.run(["-r", TestPaths.fixtures.appendingPathComponent("tls.pcap").path, "--flows"])
        #expect(tls.status == 0, "\(tls.stderr)")
        let t = try FlowsCLITests.objects(tls.stdout).first { $0["server_name"] as? String == "tls12.sniff.test" }
        #expect(t?["version"] as? String == "TLSv12")
        #expect(t?["cipher"] as? String == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
        #expect(t?["next_protocol"] as? String == "http/1.1")
        #expect(t?["client_alpn"] as? [String] == ["http/1.1"])
        #expect(t?["ja3"] as? String == "22558766122974704364c9c75c5cce0a")
        #expect(t?["ja3s"] as? String == "e195432758194ce2d482396b82e0d48e")
        #expect((t?["ja4"] as? String)?.hasPrefix("t12d2808h1_") == true)
        let quic = try CLI.run(["-r", TestPaths.fixtures.appendingPathComponent("quic.pcap").path, "--flows"])
        let q = try FlowsCLITests.objects(quic.stdout).first { $0["server_name"] as? String == "quic2.sniff.test" }
        #expect(q?["quic_version"] as? String == "2")
        #expect(q?["version"] as? String == "TLSv13")
        #expect(q?["client_versions"] as? [String] == ["TLSv13"])
        #expect(q?["client_alpn"] as? [String] == ["h3"])
        #expect(q?["ja3"] as? String == "121f6e4f22ee3205214b0676ed64b9e2")
        #expect(q?["ja3s"] as? String == "15af977ce25de452b96affa2addb1036")
        #expect((q?["ja4"] as? String)?.hasPrefix("q13d0307h3_") == true)
    }

    /// Reads a Zeek TSV log as zeek-cut does: the `#fields` line names the columns.
    static func zeekRows(_ text: String) -> (header: [String: [String]], rows: [[String: String]]) {
        var header: [String: [String]] = [:]
        var rows: [[String: String]] = []
        for line in text.split(separator: "\n") {
            let cells = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if line.hasPrefix("#") {
                header[cells[0]] = Array(cells.dropFirst())
                continue
            }
            let names = header["#fields"] ?? []
            rows.append(Dictionary(uniqueKeysWithValues: zip(names, cells)))
        }
        return (header, rows)
    }

    /// `--logs DIR`: conn.log and ssl.log as Zeek writes them, TSV and JSON, on tls.pcap
    /// and quic.pcap; the ssl.log values are tshark's (Tests/Fixtures/*.tls.tsv).
    @Test func zeekLogs() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tsv = dir.appendingPathComponent("tsv").path
        let r = try CLI.run(["-r", TestPaths.fixtures.appendingPathComponent("tls.pcap").path, "-q", "--logs", tsv])
        #expect(r.status == 0, "\(r.stderr)")
        let conn = Self.zeekRows(try String(contentsOfFile: tsv + "/conn.log", encoding: .utf8))
        #expect(conn.header["#separator"] == nil)  // "#separator \x09" has a space, not a tab
        #expect(conn.header["#path"] == ["conn"])
        #expect(conn.header["#fields"]?.prefix(6) == ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"])
        #expect(conn.header["#types"]?.count == conn.header["#fields"]?.count)
        #expect(conn.header["#close"] != nil)
        #expect(conn.rows.count == 4 && conn.rows.allSatisfy { $0["service"] == "ssl" })
        let text = try String(contentsOfFile: tsv + "/ssl.log", encoding: .utf8)
        #expect(
            text.hasPrefix("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tssl\n"))
        let ssl = Self.zeekRows(text)
        #expect(ssl.header["#fields"]?.count == ssl.header["#types"]?.count)
        #expect(ssl.header["#fields"]?.contains("ja3") == true)
        #expect(ssl.rows.map { $0["server_name"] ?? "" }.sorted()
                == ["curl12.sniff.test", "curl13.sniff.test", "tls12.sniff.test", "tls13.sniff.test"])
        let t12 = ssl.rows.first { $0["server_name"] == "tls12.sniff.test" }
        #expect(t12?["version"] == "TLSv12")
        #expect(t12?["cipher"] == "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
        #expect(t12?["next_protocol"] == "http/1.1")
        #expect(t12?["ja3"] == "22558766122974704364c9c75c5cce0a")
        #expect(t12?["ja3s"] == "e195432758194ce2d482396b82e0d48e")
        #expect(t12?["curve"] == "-")
        // The leaf certificate (tshark's, Tests/Fixtures/tls.pcap.x509.tsv); TLS 1.3 encrypts it.
        #expect(t12?["subject"] == "CN=sniff.example.test" && t12?["issuer"] == "CN=sniff.example.test")
        #expect(
            t12?["cert_not_valid_before"] == "1796487991.000000" && t12?["cert_not_valid_after"] == "1796660791.000000")
        #expect(ssl.rows.first { $0["server_name"] == "tls13.sniff.test" }?["subject"] == "-")
        #expect(ssl.rows.first { $0["server_name"] == "tls13.sniff.test" }?["client_alpn"] == "h2,http/1.1")
        // Each ssl.log row is a conn.log flow.
        #expect(Set(ssl.rows.compactMap { $0["uid"] }).isSubset(of: Set(conn.rows.compactMap { $0["uid"] })))

        let json = dir.appendingPathComponent("json").path
        let q = try CLI.run(["-r", TestPaths.fixtures.appendingPathComponent("quic.pcap").path, "-q", "--logs", json,
                             "--logs-format", "json"])
        #expect(q.status == 0, "\(q.stderr)")
        let sslJSON = try FlowsCLITests.objects(try String(contentsOfFile: json + "/ssl.log", encoding: .utf8))
        #expect(sslJSON.count == 3)
        let v2 = sslJSON.first { $0["server_name"] as? String == "quic2.sniff.test" }
        #expect(v2?["quic_version"] as? String == "2")
        #expect(v2?["version"] as? String == "TLSv13")
        #expect(v2?["ja3"] as? String == "121f6e4f22ee3205214b0676ed64b9e2")
        #expect(v2?["client_alpn"] as? [String] == ["h3"])
        #expect(sslJSON.allSatisfy { $0["subject"] == nil && $0["cert_not_valid_after"] == nil })
        #expect(v2?["curve"] == nil)  // unset fields are left out, as in Zeek's JSON
        let connJSON = try FlowsCLITests.objects(try String(contentsOfFile: json + "/conn.log", encoding: .utf8))
        #expect(connJSON.count == 3 && connJSON.allSatisfy { $0["ja3"] == nil && $0["service"] as? String == "quic" })

        let bad = try CLI.run(["-r", TestPaths.fixtures.appendingPathComponent("quic.pcap").path, "--logs", json,
                               "--logs-format", "xml"])
        #expect(bad.status == 64 && bad.stderr.contains("--logs-format"))
    }

    /// `--logs DIR` on logs.pcap and the sample: dns.log and http.log beside conn.log and
    /// ssl.log. Every TSV log is well formed as zeek-cut reads it (as many #types as
    /// #fields, as many cells in every row), every row's uid is a conn.log flow, and the
    /// JSON lines carry the same records.
    @Test func protocolLogs() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for capture in [TestPaths.fixtures.appendingPathComponent("logs.pcap").path, TestPaths.sample.path] {
            let tsv = dir.appendingPathComponent("tsv").path
            let r = try CLI.run(["-r", capture, "-q", "--logs", tsv])
            #expect(r.status == 0, "\(r.stderr)")
            var logs: [String: (header: [String: [String]], rows: [[String: String]])] = [:]
            for name in ["conn", "ssl", "dns", "http"] {
                let text = try String(contentsOfFile: tsv + "/\(name).log", encoding: .utf8)
                let fields = Self.zeekRows(text).header["#fields"] ?? []
                #expect(Self.zeekRows(text).header["#types"]?.count == fields.count, "\(name).log")
                #expect(Self.zeekRows(text).header["#path"] == [name])
                for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                    #expect(line.split(separator: "\t", omittingEmptySubsequences: false).count == fields.count,
                            "\(name).log: \(line)")
                }
                logs[name] = Self.zeekRows(text)
            }
            let uids = Set(logs["conn"]!.rows.compactMap { $0["uid"] })
            #expect(!logs["dns"]!.rows.isEmpty && !logs["http"]!.rows.isEmpty)
            for name in ["dns", "http"] { #expect(logs[name]!.rows.allSatisfy { uids.contains($0["uid"] ?? "") }) }
        }
        let tsv = dir.appendingPathComponent("tsv").path
        _ = try CLI.run(["-r", TestPaths.fixtures.appendingPathComponent("logs.pcap").path, "-q", "--logs", tsv])
        let dns = Self.zeekRows(try String(contentsOfFile: tsv + "/dns.log", encoding: .utf8)).rows
        let mx = dns.first { $0["query"] == "mail.sniff.test" }
        #expect(mx?["qtype_name"] == "MX" && mx?["answers"] == "mx1.sniff.test,mx2.sniff.test")
        #expect(mx?["TTLs"] == "300.000000,300.000000" && mx?["rcode_name"] == "NOERROR" && mx?["AA"] == "T")
        #expect(dns.first { $0["query"] == "nothing.sniff.test" }?["rcode_name"] == "NXDOMAIN")
        #expect(dns.filter { $0["proto"] == "tcp" }.count == 3)
        let http = Self.zeekRows(try String(contentsOfFile: tsv + "/http.log", encoding: .utf8)).rows
        let post = http.first { $0["method"] == "POST" }
        #expect(post?["trans_depth"] == "2" && post?["request_body_len"] == "300" && post?["status_code"] == "201")
        #expect(post?["resp_mime_types"] == "application/json" && post?["tags"] == "(empty)")
        // A comma inside a value is escaped only in sets and vectors; the URI keeps it.
        #expect(http.first { $0["id.orig_p"] == "40621" }?["uri"] == "/second?q=a,b")

        let json = dir.appendingPathComponent("json").path
        let j = try CLI.run(["-r", TestPaths.fixtures.appendingPathComponent("logs.pcap").path, "-q", "--logs", json,
                             "--logs-format", "json"])
        #expect(j.status == 0, "\(j.stderr)")
        let dnsJSON = try FlowsCLITests.objects(try String(contentsOfFile: json + "/dns.log", encoding: .utf8))
        #expect(dnsJSON.count == dns.count)
        let m = dnsJSON.first { $0["query"] as? String == "mail.sniff.test" }
        #expect(m?["answers"] as? [String] == ["mx1.sniff.test", "mx2.sniff.test"])
        #expect(m?["TTLs"] as? [Double] == [300, 300] && m?["AA"] as? Bool == true && m?["rtt"] is Double)
        let httpJSON = try FlowsCLITests.objects(try String(contentsOfFile: json + "/http.log", encoding: .utf8))
        #expect(httpJSON.count == http.count)
        #expect(httpJSON.first { $0["method"] as? String == "HEAD" }?["response_body_len"] as? Int == 0)
        #expect(httpJSON.allSatisfy { $0["username"] == nil && $0["tags"] as? [String] == [] })
    }

    @Test func filesAndConnLog() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let flowsFile = dir.appendingPathComponent("flows.ndjson").path
        let connLog = dir.appendingPathComponent("conn.log").path
        let r = try CLI.run([
            "-r", states, "-q", "--flows-file", flowsFile, "--conn-log", connLog, "--local-nets", "10.0.0.0/8"
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.isEmpty)
        let flows = try FlowsCLITests.objects(try String(contentsOfFile: flowsFile, encoding: .utf8))
        #expect(flows.count == 7)
        // Loopback is not in 10.0.0.0/8.
        #expect(flows.allSatisfy { $0["local_orig"] as? Bool == false })
        let log = try String(contentsOfFile: connLog, encoding: .utf8)
        let lines = log.split(separator: "\n")
        #expect(lines.first == "#separator \\x09")
        #expect(lines.contains { $0.hasPrefix("#fields\tts\tuid\tid.orig_h") })
        #expect(lines.last?.hasPrefix("#close\t") == true)
        #expect(lines.filter { !$0.hasPrefix("#") }.count == 7)
    }

    @Test func reportHasProtocolSummary() throws {
        let r = try CLI.run(["-r", app])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("Protocol summary"))
        #expect(r.stdout.contains("TLS"))
        #expect(r.stdout.contains("flows started"))
    }

    @Test func alertsToFile() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rules = dir.appendingPathComponent("rules.yaml").path
        try """
            rules:
              - name: listed-sni-host
                kind: blocklist
                addresses: [127.0.0.0/8]
                severity: high
                suppress: 1h
              - name: refused
                kind: port_scan
                ports: 2
                hosts: 50
                window: 1m
            """.write(toFile: rules, atomically: true, encoding: .utf8)
        let alerts = dir.appendingPathComponent("alerts.ndjson").path
        let r = try CLI.run(["-r", states, "-q", "--rules", rules, "--alerts", alerts])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("alert"))
        let objs = try FlowsCLITests.objects(try String(contentsOfFile: alerts, encoding: .utf8))
        #expect(objs.contains { $0["rule"] as? String == "listed-sni-host" && $0["severity"] as? String == "high" })
        #expect(objs.contains { $0["rule"] as? String == "refused" && $0["kind"] as? String == "port_scan" })
        // The blocklist fired for each of the five IPv4 flows: one delivered, the other
        // four aggregated into a summary at the end.
        let block = objs.filter { $0["rule"] as? String == "listed-sni-host" }
        #expect(block.count == 2)
        #expect(block.last?["suppressed"] as? Int == 4)
    }

    @Test func alertsGoToStderrByDefault() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rules = dir.appendingPathComponent("rules.yaml").path
        try "rules:\n  - name: any-refusal\n    kind: port_scan\n    ports: 1\n".write(
            toFile: rules, atomically: true, encoding: .utf8)
        let r = try CLI.run(["-r", states, "-q", "--rules", rules])
        #expect(r.status == 0)
        #expect(r.stderr.contains("alert medium any-refusal"))
    }

    @Test func badArguments() throws {
        let both = try CLI.run(["-r", states, "--flows", "--json"])
        #expect(both.status == 64)
        #expect(both.stderr.contains("--flows"))
        let nets = try CLI.run(["-r", states, "--flows", "--local-nets", "10.0.0.0/33"])
        #expect(nets.status == 64)
        #expect(nets.stderr.contains("10.0.0.0/33"))
        let hook = try CLI.run(["-r", states, "--webhook", "ftp://example.invalid/x"])
        #expect(hook.status == 64)
        #expect(hook.stderr.contains("http:// or https://"))
        let ca = try CLI.run(["-r", states, "--webhook-ca", "/etc/hostname"])
        #expect(ca.status == 64)
        #expect(ca.stderr.contains("--webhook-ca is for an https --webhook"), "\(ca.stderr)")
        let badCA = try CLI.run(["-r", states, "--webhook", "https://127.0.0.1:9/x", "--webhook-ca", "/etc/hostname"])
        #expect(badCA.status == 64)
        #expect(badCA.stderr.contains("cannot read --webhook-ca /etc/hostname"), "\(badCA.stderr)")
        let timeout = try CLI.run(["-r", states, "--udp-timeout", "0"])
        #expect(timeout.status == 64)
        let missing = try CLI.run(["-r", states, "--rules", "/nonexistent/rules.yaml"])
        #expect(missing.status == 64)
        #expect(missing.stderr.contains("cannot read rules file"))
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.yaml").path
        try "rules:\n  - name: x\n    kind: teleport\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let badRules = try CLI.run(["-r", states, "--rules", bad])
        #expect(badRules.status == 64)
        #expect(badRules.stderr.contains("unknown kind \"teleport\""))
    }

    @Test func timeoutsSplitFlows() throws {
        // The two IPv4 pings are 0.2 s apart: a 0.1 s ICMP idle timeout makes them two flows.
        let r = try CLI.run(["-r", app, "--flows", "--icmp-timeout", "0.1"])
        #expect(r.status == 0)
        let pings = try FlowsCLITests.objects(r.stdout).filter {
            $0["proto"] as? String == "icmp" && ($0["id.orig_p"] as? Int == 8)
        }
        #expect(pings.count == 2)
    }

    @Test func webhookFailureDoesNotFailTheRun() throws {
        // Nothing listens on the discard port of loopback: every POST is refused.
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let rules = dir.appendingPathComponent("rules.yaml").path
        try "rules:\n  - name: any-refusal\n    kind: port_scan\n    ports: 1\n".write(
            toFile: rules, atomically: true, encoding: .utf8)
        let r = try CLI.run([
            "-r", states, "-q", "--rules", rules, "--webhook", "http://127.0.0.1:9/hook",
            "--webhook-timeout", "0.5", "--webhook-retries", "0"
        ])
        #expect(r.status == 0)
        #expect(r.stderr.contains("webhook 127.0.0.1:9: 0 alerts delivered"))
    }

    @Test func helpMentionsFlowOptions() throws {
        let r = try CLI.run(["capture", "--help"])
        for option in [
            "--flows", "--flows-file", "--conn-log", "--local-nets", "--rules", "--alerts", "--webhook",
            "--tcp-timeout", "--max-flows"
        ] {
            #expect(r.stdout.contains(option), "help lacks \(option)")
        }
    }
}
