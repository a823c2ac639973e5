import Foundation
import Testing
import SniffTestSupport

/// `sniff -r frag.pcap` as a user runs it: fragmented ICMP echo, UDP and DNS datagrams
/// over IPv4 and IPv6, recorded by scripts/record-fixtures.sh over a 1280-byte MTU.
struct FragmentCLITests {
    var frag: String { TestPaths.fixtures.appendingPathComponent("frag.pcap").path }

    static func objects(_ text: String) throws -> [[String: Any]] {
        try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    @Test func completingFramesCarryTheDatagram() throws {
        let r = try CLI.run(["-r", frag, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let packets = try Self.objects(r.stdout)
        let whole = packets.filter { $0["reassembled"] != nil }
        #expect(whole.count == 14)
        for p in whole {
            #expect(p["frag"] as? Bool == true)
            let re = p["reassembled"] as? [String: Any]
            #expect((re?["frames"] as? Int ?? 0) >= 2 && (re?["len"] as? Int ?? 0) > 1232)
        }
        // The 4000-byte UDP datagrams to the echo port: 4 frames, 4008 bytes, ports.
        let echo = whole.filter { $0["dport"] as? Int == 7 || $0["sport"] as? Int == 7 }
        #expect(echo.count == 4)
        for p in echo {
            let re = p["reassembled"] as? [String: Any]
            #expect(re?["frames"] as? Int == 4 && re?["len"] as? Int == 4008 && p["payload_len"] as? Int == 4000)
        }
        // The DNS answers with 200 records, decoded from the reassembled datagrams (64 listed).
        let dns = whole.filter { $0["dns_query"] as? String == "big.sniff.test" }
        #expect(dns.count == 2)
        #expect(dns.allSatisfy { ($0["dns_answers"] as? [String])?.count == 64 && $0["app"] as? String == "DNS" })
        // The other fragments: `frag` and nothing of the transport layer.
        let held = packets.filter { $0["frag"] as? Bool == true && $0["reassembled"] == nil }
        #expect(held.count == 32)
        #expect(held.allSatisfy { $0["sport"] == nil && $0["icmp_type"] == nil && $0["info"] == nil })
    }

    @Test func flowsCountEachDatagramOnce() throws {
        let r = try CLI.run(["-r", frag, "--flows"])
        #expect(r.status == 0, "\(r.stderr)")
        let flows = try Self.objects(r.stdout)
        let v4 = flows.first { $0["id.orig_p"] as? Int == 40200 }
        #expect(v4?["orig_pkts"] as? Int == 1 && v4?["resp_pkts"] as? Int == 1)
        #expect(v4?["orig_ip_bytes"] as? Int == 20 + 4008 && v4?["orig_bytes"] as? Int == 4000)
        #expect(v4?["orig_l2_bytes"] as? Int == 274, "the completing frame only, as tshark's conversations")
        let v6 = flows.first { $0["id.orig_p"] as? Int == 40201 }
        #expect(v6?["orig_ip_bytes"] as? Int == 40 + 4008 && v6?["conn_state"] as? String == "SF")
        let dns = flows.first { $0["id.orig_p"] as? Int == 40541 }
        #expect(dns?["service"] as? String == "dns" && dns?["dns_query"] as? String == "big.sniff.test")
        // ICMP echo: one flow per family, two requests and two replies each.
        let echo = flows.filter { $0["id.orig_p"] as? Int == 8 || $0["id.orig_p"] as? Int == 128 }
        #expect(echo.count == 2 && echo.allSatisfy { $0["orig_pkts"] as? Int == 2 && $0["resp_pkts"] as? Int == 2 })
        #expect(echo.allSatisfy { $0["orig_bytes"] as? Int == 6000 })
    }

    @Test func reportSaysWhatReassemblyDid() throws {
        let r = try CLI.run(["-r", frag, "--top", "all"])
        #expect(r.status == 0, "\(r.stderr)")
        let line = r.stdout.split(separator: "\n").first { $0.contains("IP fragments:") }.map(String.init)
        #expect(line?.hasSuffix(" 46 fragments, 14 datagrams reassembled") == true, "\(line ?? r.stdout)")
    }
}
