import Foundation
import Testing
import SniffCore
import SniffAnalysis
import SniffTestSupport

/// IP reassembly against tshark's (FILE.frag.tsv, made by scripts/make-frag-truth.sh):
/// for every frame that is a fragment or completes a datagram, `sniff --json` must say
/// what tshark says. The completing frame: `reassembled.frames` is the number of frames
/// tshark lists for the datagram, `reassembled.len` its reassembled length, and the
/// ports, ICMP type and DNS question are the whole datagram's. The other fragments:
/// `frag` and nothing of the transport layer.
struct FragmentTsharkTests {
    /// Captures with a frag truth file: the fixtures, and the shared captures whose truth
    /// lives in Tests/Fixtures/shared.
    static func captures() -> [URL] {
        var out: [URL] = []
        let fixtures = TestPaths.fixtures
        let names = (try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []
        out += names.filter { $0.hasSuffix(".frag.tsv") }.sorted()
            .map { fixtures.appendingPathComponent(String($0.dropLast(".frag.tsv".count))) }
        if let shared = TestPaths.sharedPcaps {
            let dir = fixtures.appendingPathComponent("shared")
            let kept = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            out += kept.filter { $0.hasSuffix(".frag.tsv") }.sorted()
                .map { shared.appendingPathComponent(String($0.dropLast(".frag.tsv".count))) }
        }
        return out
    }

    static func truthFile(_ capture: URL) -> URL {
        let beside = URL(fileURLWithPath: capture.path + ".frag.tsv")
        if FileManager.default.fileExists(atPath: beside.path) { return beside }
        return TestPaths.fixtures.appendingPathComponent("shared/\(capture.lastPathComponent).frag.tsv")
    }

    /// Frames compared and frames that agree, over every capture (printed by the last test).
    struct Tally { var compared = 0; var equal = 0 }

    static func compare(_ capture: URL) throws -> (tally: Tally, problems: [String]) {
        let truth = try GoldenTests.truthRows(truthFile(capture))
        let lines = try ndjsonLines(of: capture).lines
        var tally = Tally()
        var problems: [String] = []
        // Frames that tshark put into a datagram completed by another frame.
        var inDatagram = Set<Int>()
        for row in truth {
            let frames =
                (row.cells["ip.fragment"].flatMap { $0.isEmpty ? nil : $0 } ?? row.cells["ipv6.fragment"] ?? "")
                .split(separator: ",").compactMap { Int($0) }
            let n = Int(row.cells["frame.number"] ?? "") ?? 0
            for f in frames where f != n { inDatagram.insert(f) }
        }
        for row in truth {
            let c = row.cells
            guard let n = Int(c["frame.number"] ?? ""), n >= 1, n <= lines.count else {
                problems.append("frame \(c["frame.number"] ?? "?") missing in Sniff's output")
                continue
            }
            let obj = (try? JSONSerialization.jsonObject(with: Data(lines[n - 1].utf8))) as? [String: Any] ?? [:]
            func num(_ k: String) -> String? { (obj[k] as? NSNumber)?.stringValue }
            func first(_ k: String) -> String? {
                guard let v = c[k], !v.isEmpty else { return nil }
                return v.split(separator: ",").first.map(String.init)
            }
            // Typed String? so that `??` falls back (into a [String: String?] it would not).
            func either(_ a: String, _ b: String) -> String? { first(a) ?? first(b) }
            let list = (first("ip.fragment") != nil ? c["ip.fragment"] : c["ipv6.fragment"]) ?? ""
            let frames = list.split(separator: ",").count
            var want: [String: String?] = [:]
            var got: [String: String?] = [:]
            if frames > 0 {
                // The completing frame.
                let length = either("ip.reassembled.length", "ipv6.reassembled.length")
                let r = obj["reassembled"] as? [String: Any]
                want["frames"] = String(frames); got["frames"] = (r?["frames"] as? NSNumber)?.stringValue
                want["len"] = length; got["len"] = (r?["len"] as? NSNumber)?.stringValue
                want["sport"] = either("udp.srcport", "tcp.srcport"); got["sport"] = num("sport")
                want["dport"] = either("udp.dstport", "tcp.dstport"); got["dport"] = num("dport")
                want["icmp_type"] = either("icmp.type", "icmpv6.type"); got["icmp_type"] = num("icmp_type")
                want["dns_query"] = first("dns.qry.name"); got["dns_query"] = obj["dns_query"] as? String
            } else {
                // A fragment held for a datagram (complete or not): no transport fields,
                // unless it is an atomic fragment, which tshark decodes whole too.
                want["sport"] = either("udp.srcport", "tcp.srcport"); got["sport"] = num("sport")
                want["icmp_type"] = either("icmp.type", "icmpv6.type"); got["icmp_type"] = num("icmp_type")
                want["reassembled"] = nil; got["reassembled"] = obj["reassembled"].map { "\($0)" }
                if inDatagram.contains(n) {
                    want["frag"] = "1"; got["frag"] = num("frag")
                }
            }
            tally.compared += 1
            let keys = Set(want.keys).union(got.keys).sorted()
            let differ = keys.filter { (want[$0] ?? nil) != (got[$0] ?? nil) }
            if differ.isEmpty {
                tally.equal += 1
            } else {
                problems.append(
                    "frame \(n): "
                        + differ.map { "\($0) tshark=\((want[$0] ?? nil) ?? "-") sniff=\((got[$0] ?? nil) ?? "-")" }
                        .joined(separator: ", "))
            }
        }
        return (tally, problems)
    }

    @Test("Reassembled frames agree with tshark's", arguments: captures())
    func agreesWithTshark(capture: URL) throws {
        let (tally, problems) = try Self.compare(capture)
        print("FragmentTsharkTests: \(capture.lastPathComponent): \(tally.equal) of \(tally.compared) "
              + "fragment frames agree")
        #expect(tally.compared > 0, "\(capture.lastPathComponent): no fragment frames to compare")
        #expect(problems.isEmpty, "\(capture.lastPathComponent): \(problems.prefix(8).joined(separator: " | "))")
    }

    @Test("The project's fragment fixture is there and has datagrams of every kind")
    func fixtureCoversEveryKind() throws {
        let truth = try GoldenTests.truthRows(TestPaths.fixtures.appendingPathComponent("frag.pcap.frag.tsv"))
        let completing = truth.filter {
            !($0.cells["ip.fragment"] ?? "").isEmpty || !($0.cells["ipv6.fragment"] ?? "").isEmpty
        }
        // 4 ICMP echo datagrams per family, 2 UDP echo datagrams per family, 1 DNS answer per family.
        #expect(completing.filter { !($0.cells["ip.fragment"] ?? "").isEmpty }.count == 7)
        #expect(completing.filter { !($0.cells["ipv6.fragment"] ?? "").isEmpty }.count == 7)
        #expect(completing.filter { $0.cells["dns.qry.name"] == "big.sniff.test" }.count == 2)
    }
}
