import Foundation
import Testing
import SniffCore
import SniffAnalysis
import SniffTestSupport

/// Flows against tshark's conversation tables (FILE.conv.txt, `tshark -z conv,tcp -z
/// conv,udp`): the same TCP and UDP conversations, with the same frame and byte counts
/// in each direction. Timers are off, and flows of one 5-tuple split by a reused port
/// are added up, since tshark's table is per address/port pair.
struct FlowTsharkTests {
    struct Conversation: Hashable, CustomStringConvertible {
        var proto: String
        var a: String
        var b: String
        var framesBA: UInt64
        var bytesBA: UInt64
        var framesAB: UInt64
        var bytesAB: UInt64
        /// tshark rounds to kB/MB for large totals; the unit of each byte column.
        var unitBA: UInt64 = 1
        var unitAB: UInt64 = 1
        var description: String { "\(proto) \(a) <-> \(b) \(framesBA)/\(bytesBA) \(framesAB)/\(bytesAB)" }

        var endpoints: String { "\(proto) \(a) \(b)" }
    }

    static func parse(_ text: String) -> [Conversation] {
        var out: [Conversation] = []
        var proto = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("TCP Conversations") { proto = "tcp" }
            if line.hasPrefix("UDP Conversations") { proto = "udp" }
            guard line.contains("<->") else { continue }
            let w = line.split(separator: " ").map(String.init)
            guard w.count >= 11 else { continue }
            func unit(_ u: String) -> UInt64 {
                switch u {
                case "kB": return 1000; case "MB": return 1_000_000; case "GB": return 1_000_000_000; default: return 1
                }
            }
            out.append(Conversation(proto: proto, a: w[0], b: w[2],
                                    framesBA: UInt64(w[3]) ?? 0, bytesBA: (UInt64(w[4]) ?? 0) * unit(w[5]),
                                    framesAB: UInt64(w[6]) ?? 0, bytesAB: (UInt64(w[7]) ?? 0) * unit(w[8]),
                                    unitBA: unit(w[5]), unitAB: unit(w[8])))
        }
        return out
    }

    static func endpoint(_ a: IPAddress, _ p: UInt16) -> String { "\(a):\(p)" }

    /// Our flows as conversations, keyed like tshark's (either order of A and B).
    static func conversations(_ flows: [Flow]) -> [String: Conversation] {
        var byKey: [String: Conversation] = [:]
        for f in flows where f.isTCP || f.isUDP {
            let o = endpoint(f.origAddress, f.origPort), r = endpoint(f.respAddress, f.respPort)
            let proto = f.isTCP ? "tcp" : "udp"
            let k = "\(proto) \(min(o, r)) \(max(o, r))"
            var c = byKey[k] ?? Conversation(proto: proto, a: o, b: r, framesBA: 0, bytesBA: 0, framesAB: 0, bytesAB: 0)
            let (fromA, fromB) = c.a == o ? (f.orig, f.resp) : (f.resp, f.orig)
            c.framesAB += UInt64(fromA.packets); c.bytesAB += fromA.wireBytes
            c.framesBA += UInt64(fromB.packets); c.bytesBA += fromB.wireBytes
            byKey[k] = c
        }
        return byKey
    }

    static func captures() -> [URL] {
        var dirs = [TestPaths.fixtures]
        if let shared = TestPaths.sharedPcaps { dirs.append(shared) }
        var out: [URL] = []
        for dir in dirs {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            out += names.filter {
                ($0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng")) && names.contains($0 + ".conv.txt")
            }
            .sorted().map { dir.appendingPathComponent($0) }
        }
        return out
    }

    @Test(arguments: captures())
    func conversationsMatchTshark(_ file: URL) throws {
        let text = try String(contentsOf: URL(fileURLWithPath: file.path + ".conv.txt"), encoding: .utf8)
        let truth = FlowTsharkTests.parse(text)
        let all: [Flow]
        do { all = try flows(of: file) } catch {
            // Files the reader refuses (pcap version 2.5) are the reader's business.
            withKnownIssue("reader refused \(file.lastPathComponent): \(error)") { throw error }
            return
        }
        let ours = FlowTsharkTests.conversations(all)
        for t in truth {
            let k = "\(t.proto) \(min(t.a, t.b)) \(max(t.a, t.b))"
            guard var o = ours[k] else {
                Issue.record("\(file.lastPathComponent): tshark has \(t), Sniff has no such flow")
                continue
            }
            if o.a != t.a { swap(&o.a, &o.b); swap(&o.framesAB, &o.framesBA); swap(&o.bytesAB, &o.bytesBA) }
            #expect(
                o.framesAB == t.framesAB && o.framesBA == t.framesBA,
                "\(file.lastPathComponent): tshark \(t), Sniff \(o)")
            #expect(o.bytesAB / t.unitAB == t.bytesAB / t.unitAB && o.bytesBA / t.unitBA == t.bytesBA / t.unitBA,
                    "\(file.lastPathComponent): tshark \(t), Sniff \(o)")
        }
        let truthKeys = Set(truth.map { "\($0.proto) \(min($0.a, $0.b)) \(max($0.a, $0.b))" })
        for (k, o) in ours where !truthKeys.contains(k) {
            Issue.record("\(file.lastPathComponent): Sniff has \(o), tshark has no such conversation")
        }
    }
}
