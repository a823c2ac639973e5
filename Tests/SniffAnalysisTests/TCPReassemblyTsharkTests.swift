import Foundation
import Testing
import SniffCore
@testable import SniffAnalysis
import SniffTestSupport

/// TCP reassembly on real captures against tshark's view (FILE.tcp.tsv, made by
/// scripts/make-tcp-truth.sh; the captures by `scripts/record-fixtures.sh tcp_reasm
/// tcp_loss`).
struct TCPReassemblyTsharkTests {
    /// The truth rows of a capture, as column name -> value.
    static func truth(_ name: String) throws -> [[String: String]] {
        let text = try String(contentsOf: TestPaths.fixtures.appendingPathComponent(name + ".tcp.tsv"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let header = lines[0].split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        return lines.dropFirst().map { line in
            let cells = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            var row: [String: String] = [:]
            for (i, h) in header.enumerated() where i < cells.count { row[h] = cells[i] }
            return row
        }
    }

    /// The first non-empty value of `field` among the rows of the connection of client
    /// port `port`.
    static func first(_ rows: [[String: String]], port: UInt16, _ field: String) -> String? {
        rows.first {
            ($0["tcp.srcport"] == "\(port)" || $0["tcp.dstport"] == "\(port)") && $0[field, default: ""] != ""
        }?[field]
    }

    static func flow(_ flows: [Flow], clientPort: UInt16) throws -> Flow {
        try #require(flows.first { $0.isTCP && $0.origPort == clientPort })
    }

    static func run(_ name: String, budget: Int = TCPReassemblyLimits().budget) throws -> [Flow] {
        var config = FlowTableConfig.noTimeouts
        config.tcpReassembly.budget = budget
        return try flows(of: TestPaths.fixtures.appendingPathComponent(name), config: config)
    }

    /// A ClientHello of MSS-216 segments (tshark reassembles it too): SNI and JA3 equal
    /// tshark's. Without reassembly the fingerprint cannot be made.
    @Test func tlsClientHelloAcrossSegments() throws {
        let rows = try Self.truth("tcp-reasm.pcap")
        let sni = try #require(Self.first(rows, port: 40600, "tls.handshake.extensions_server_name"))
        let ja3 = try #require(Self.first(rows, port: 40600, "tls.handshake.ja3"))
        // The hello spans segments: more than one client segment with data precedes the
        // frame on which tshark completes it.
        let helloFrame = try #require(rows.first { $0["tls.handshake.ja3"] == ja3 }?["frame.number"]).flatMap {
            Int($0)
        }
        let before = rows.filter {
            $0["tcp.srcport"] == "40600" && Int($0["tcp.len"] ?? "0")! > 0 && Int($0["frame.number"]!)! <= helloFrame!
        }
        #expect(before.count >= 2)

        let f = try Self.flow(Self.run("tcp-reasm.pcap"), clientPort: 40600)
        #expect(f.details.tlsSNI == sni)
        #expect(f.details.ja3 == ja3)
        #expect(f.app == .tls && f.appSource == .payload)

        let off = try Self.flow(Self.run("tcp-reasm.pcap", budget: 0), clientPort: 40600)
        #expect(off.details.ja3 == nil)
    }

    /// DNS over TCP with a question name longer than a segment: the flow's query is
    /// tshark's first question on that connection.
    @Test func dnsOverTCPAcrossSegments() throws {
        let rows = try Self.truth("tcp-reasm.pcap")
        let name = try #require(Self.first(rows, port: 40601, "dns.qry.name"))
        #expect(name.count > 180)
        let f = try Self.flow(Self.run("tcp-reasm.pcap"), clientPort: 40601)
        #expect(f.app == .dns && f.appSource == .payload)
        #expect(f.details.dnsQuery == name)
        let off = try Self.flow(Self.run("tcp-reasm.pcap", budget: 0), clientPort: 40601)
        #expect(off.details.dnsQuery != name)
    }

    /// An HTTP request line of 1.5 kB and a 3 kB header: host and URI equal tshark's
    /// (the URI as far as Sniff keeps it, 512 bytes).
    @Test func httpRequestAcrossSegments() throws {
        let rows = try Self.truth("tcp-reasm.pcap")
        let host = try #require(Self.first(rows, port: 40602, "http.host"))
        let uri = try #require(Self.first(rows, port: 40602, "http.request.uri"))
        #expect(uri.count > 1000)
        let f = try Self.flow(Self.run("tcp-reasm.pcap"), clientPort: 40602)
        #expect(f.app == .http && f.appSource == .payload)
        #expect(f.details.httpHost == host)
        #expect(f.details.httpPath == String(uri.prefix(512)))
        let off = try Self.flow(Self.run("tcp-reasm.pcap", budget: 0), clientPort: 40602)
        #expect(off.details.httpPath == nil)
    }

    /// One server segment cut out with editcap. tshark flags the next one (previous
    /// segment not captured); its sequence number minus the highest seen before is the
    /// gap. The client acknowledged those bytes, so Zeek counts them as a content gap
    /// of the responder: missed_bytes is the gap and the history gets 'g'.
    @Test func gapFromACutSegment() throws {
        let rows = try Self.truth("tcp-gap.pcap")
        let server = rows.filter { $0["tcp.srcport"] == "8080" }
        let lost = try #require(server.firstIndex { $0["tcp.analysis.lost_segment"] == "1" })
        let highest = server[..<lost].compactMap { Int($0["tcp.nxtseq"] ?? "") }.max() ?? 0
        let gap = try #require(Int(server[lost]["tcp.seq"] ?? "")) - highest
        #expect(gap > 0)
        let f = try Self.flow(Self.run("tcp-gap.pcap"), clientPort: 40611)
        #expect(f.missedBytes == UInt64(gap))
        #expect(f.history.string.contains("g"))
        #expect(!f.history.string.contains("G"))
    }

    /// Server segments dropped on the client's input after the capture saw them: each
    /// comes again. Zeek's rule (a data segment that does not advance the highest
    /// sequence number is a retransmission) marks the same segments tshark flags as
    /// retransmissions or out of order, and, as nothing was missed, missed_bytes is 0.
    @Test func retransmissions() throws {
        let rows = try Self.truth("tcp-loss.pcap")
        let again = rows.filter {
            $0["tcp.srcport"] == "8080"
                && ($0["tcp.analysis.retransmission"] == "1" || $0["tcp.analysis.out_of_order"] == "1")
        }
        #expect(!again.isEmpty)
        let f = try Self.flow(Self.run("tcp-loss.pcap"), clientPort: 40610)
        #expect(f.resp.retransmits == UInt32(again.count))
        #expect(f.history.string.contains("t"))
        #expect(f.missedBytes == 0)
    }
}
