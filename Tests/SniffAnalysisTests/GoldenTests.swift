import Foundation
import Testing
import SniffCore
import SniffAnalysis
import SniffTestSupport

/// Compares `sniff --json` with tshark's per-frame truth (FILE.truth.tsv, made by
/// make-truth.sh) column by column, for the shared captures and the project's own.
///
/// Known, deliberate differences (not counted as disagreements):
/// - proto: tshark's ipv6.nxt is the first next-header; Sniff reports the upper-layer
///   protocol after the extension chain. Rows where tshark names an extension header
///   are skipped.
/// - ports: for ICMP errors tshark reports the ports quoted inside the error, and for
///   GRE / IP-in-IP / PIM Register the inner ports; Sniff keeps flat fields for the outer header (the
///   quote and the inner tuple are in `inner`). Fragments are compared like any frame:
///   both reassemble and put the datagram's ports on the frame that completes it
///   (FragmentTsharkTests checks the rest of reassembly).
/// - icmp type: for tunnels (VXLAN, GRE, IP-in-IP) tshark's first ICMP may be the inner
///   one; Sniff's flat icmp_type is the outer header's.
/// - dns_query: tshark writes the root name as "<Root>", Sniff as ".". Over TCP, tshark
///   reassembles DNS messages split across segments; Sniff decodes a message only
///   from a segment that starts it.
struct GoldenTests {
    struct Row { var cells: [String: String] }

    static func truthRows(_ url: URL) throws -> [Row] {
        let text = try String(contentsOf: url, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard let header = lines.first?.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) else {
            return []
        }
        return lines.dropFirst().map { line in
            let cells = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            var d: [String: String] = [:]
            for (i, h) in header.enumerated() where i < cells.count { d[h] = cells[i] }
            return Row(cells: d)
        }
    }

    struct Column {
        var name: String
        var agree = 0
        var total = 0
        var examples: [String] = []
        var ratio: Double { total == 0 ? 1 : Double(agree) / Double(total) }
        mutating func check(_ truth: String?, _ ours: String?, frame: Int) {
            let t = (truth ?? "").isEmpty ? nil : truth
            let o = (ours ?? "").isEmpty ? nil : ours
            if t == nil && o == nil { return }
            total += 1
            if t == o { agree += 1 } else if examples.count < 3 {
                examples.append("frame \(frame): tshark=\(t ?? "-") sniff=\(o ?? "-")")
            }
        }
    }

    static let threshold = Double(ProcessInfo.processInfo.environment["GOLDEN_THRESHOLD"] ?? "0.99") ?? 0.99
    static let ipv6Extensions: Set<String> = ["0", "43", "44", "51", "60", "135", "139", "140"]

    static func first(_ s: String?) -> String? {
        guard let s else { return nil }
        return s.split(separator: ",", omittingEmptySubsequences: false).first.map(String.init)
    }

    /// Compares one capture; returns the columns below 99% agreement.
    static func compare(_ capture: URL) throws -> [String] {
        let truth = try truthRows(URL(fileURLWithPath: capture.path + ".truth.tsv"))
        let ours = try ndjsonLines(of: capture).lines
        var failures: [String] = []
        if truth.count != ours.count {
            failures.append("frame count: tshark \(truth.count), sniff \(ours.count)")
        }
        var cols: [String: Column] = [:]
        func check(_ name: String, _ t: String?, _ o: String?, _ frame: Int) {
            cols[name, default: Column(name: name)].check(t, o, frame: frame)
        }
        for (i, row) in truth.enumerated() where i < ours.count {
            let line = ours[i]
            let obj = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
            let c = row.cells
            let frame = i + 1
            func str(_ k: String) -> String? {
                guard let v = obj[k] else { return nil }
                if let n = v as? NSNumber { return n.stringValue }
                return "\(v)"
            }
            let transport = obj["transport"] as? String
            let tunnelled = transport == "GRE" || obj["proto"] as? Int == 4 || obj["proto"] as? Int == 41
                || obj["proto"] as? Int == 103 || (obj["inner"] != nil && transport == "UDP")
            check("frame.number", c["frame.number"], str("n"), frame)
            check("frame.time_epoch", c["frame.time_epoch"], rawJSONField(line, "ts"), frame)
            check("frame.len", c["frame.len"], str("len"), frame)
            check("frame.cap_len", c["frame.cap_len"], str("caplen"), frame)
            check("ip.src", first(c["ip.src|ipv6.src"]), str("src"), frame)
            check("ip.dst", first(c["ip.dst|ipv6.dst"]), str("dst"), frame)
            let tproto = first(c["ip.proto|ipv6.nxt"])
            if !(obj["ip"] as? Int == 6 && ipv6Extensions.contains(tproto ?? "")) {
                check("ip.proto", tproto, str("proto"), frame)
            }
            let icmp = transport == "ICMP" || transport == "ICMPv6"
            if !icmp && !tunnelled {
                check("srcport", first(c["tcp.srcport|udp.srcport"]), str("sport"), frame)
                check("dstport", first(c["tcp.dstport|udp.dstport"]), str("dport"), frame)
            }
            if !tunnelled && !icmp {
                check("tcp.seq_raw", first(c["tcp.seq_raw"]), str("seq"), frame)
                check("tcp.ack_raw", first(c["tcp.ack_raw"]), str("ack"), frame)
                let tflags = first(c["tcp.flags"]).flatMap { UInt16($0.dropFirst(2), radix: 16) }.map {
                    String($0 & 0x1FF)
                }
                check("tcp.flags", tflags, str("tcp_flags"), frame)
                check("tcp.window", first(c["tcp.window_size_value"]), str("window"), frame)
            }
            var tq = first(c["dns.qry.name"])
            if tq == "<Root>" { tq = "." }
            let overTCP = transport == "TCP"
            if !(overTCP && (obj["dns_query"] == nil)) && !tunnelled && !icmp {
                check("dns.qry.name", tq, obj["dns_query"] as? String, frame)
            }
            if !tunnelled {
                check("icmp.type", first(c["icmp.type|icmpv6.type"]), str("icmp_type"), frame)
            }
            check("vlan.id", first(c["vlan.id"]), str("vlan"), frame)
        }
        for (_, col) in cols.sorted(by: { $0.key < $1.key }) where col.ratio < Self.threshold {
            failures.append("\(col.name): \(col.agree)/\(col.total) agree; \(col.examples.joined(separator: "; "))")
        }
        return failures
    }

    static func compareSummary(_ capture: URL) throws -> [String] {
        let url = URL(fileURLWithPath: capture.path + ".summary.json")
        guard let data = try? Data(contentsOf: url),
              let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        let run = try ndjsonLines(of: capture)
        var lens = 0, caplens = 0
        for l in run.lines {
            lens += Int(rawJSONField(l, "len") ?? "0") ?? 0
            caplens += Int(rawJSONField(l, "caplen") ?? "0") ?? 0
        }
        var failures: [String] = []
        if let n = obj["total_packets"] as? Int, n != run.lines.count {
            failures.append("total_packets \(n) vs \(run.lines.count)")
        }
        if let n = obj["total_bytes"] as? Int, n != lens { failures.append("total_bytes \(n) vs \(lens)") }
        if let n = obj["total_captured_bytes"] as? Int, n != caplens {
            failures.append("total_captured_bytes \(n) vs \(caplens)")
        }
        if let f = obj["first_time_epoch"] as? String, let ours = run.lines.first.flatMap({ rawJSONField($0, "ts") }),
            f != ours
        {
            failures.append("first_time_epoch \(f) vs \(ours)")
        }
        if let f = obj["last_time_epoch"] as? String, let ours = run.lines.last.flatMap({ rawJSONField($0, "ts") }),
            f != ours
        {
            failures.append("last_time_epoch \(f) vs \(ours)")
        }
        return failures
    }

    static var allCaptures: [URL] {
        var list = TestPaths.capturesWithTruth(in: TestPaths.fixtures)
        if let shared = TestPaths.sharedPcaps { list += TestPaths.capturesWithTruth(in: shared) }
        return list
    }

    @Test("NDJSON agrees with tshark's truth on every column (>= 99%)", arguments: allCaptures)
    func columnsAgree(capture: URL) throws {
        let failures = try Self.compare(capture)
        #expect(failures.isEmpty, "\(capture.lastPathComponent): \(failures.joined(separator: " | "))")
    }

    @Test("Totals agree with tshark's summary", arguments: allCaptures)
    func totalsAgree(capture: URL) throws {
        let failures = try Self.compareSummary(capture)
        #expect(failures.isEmpty, "\(capture.lastPathComponent): \(failures.joined(separator: " | "))")
    }

    @Test("There is something to compare: the project's own fixtures at least")
    func haveCaptures() {
        #expect(!TestPaths.capturesWithTruth(in: TestPaths.fixtures).isEmpty || TestPaths.sharedPcaps != nil)
    }
}
