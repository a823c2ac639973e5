import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
import SniffTestSupport

/// The Info line (`PacketInfo`) on real frames: the sample capture's ARP, ICMP, ICMPv6,
/// DNS, TCP, TLS, HTTP and SSH packets, and malformed frames from the shared captures.
@Suite("Info column")
struct PacketInfoTests {
    static let sample = TestPaths.packageRoot.appendingPathComponent("samples/sample.pcapng")

    /// Each frame's `app`, `app_source` and `info` as `sniff -r FILE --json` prints them:
    /// the pipeline with the flow table, which labels packets with their flow's app.
    static func lines(of file: URL) throws -> [(n: UInt64, app: String, source: String, info: String)] {
        let reader = try CaptureFileReader(path: file.path)
        let pipeline = PacketPipeline()
        let table = FlowTable()
        pipeline.consumers = [table]
        var writer = PacketJSONWriter()
        var sink = ByteSink(capacity: 1 << 12)
        var out: [(UInt64, String, String, String)] = []
        while let raw = try reader.next() {
            guard pipeline.process(raw) else { continue }
            sink.removeAll()
            writer.write(pipeline.packet, frame: pipeline.frame, includeInterface: true, into: &sink)
            let obj = try JSONSerialization.jsonObject(with: Data(sink.bytes)) as? [String: Any] ?? [:]
            out.append((pipeline.packet.number, obj["app"] as? String ?? "", obj["app_source"] as? String ?? "",
                        obj["info"] as? String ?? ""))
        }
        return out
    }

    static func info(_ file: URL, frame: UInt64) throws -> String {
        try lines(of: file).first { $0.n == frame }?.info ?? "<no frame \(frame)>"
    }

    /// samples/sample.pcapng.info.tsv, recorded on purpose (see its header) and read
    /// back exactly: n, app, app_source, info for each of the 391 frames. To re-record
    /// after a deliberate change: sniff -r samples/sample.pcapng --json, then
    /// [.n, .app, .app_source, .info] as tab-separated columns.
    @Test func sampleGolden() throws {
        let golden = try String(contentsOf: URL(fileURLWithPath: Self.sample.path + ".info.tsv"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }.dropFirst().map(String.init)
        let ours = try Self.lines(of: Self.sample).map { "\($0.n)\t\($0.app)\t\($0.source)\t\($0.info)" }
        #expect(ours.count == golden.count)
        let diffs = zip(golden, ours).filter { $0 != $1 }
        #expect(diffs.isEmpty, "first differences (golden, now): \(diffs.prefix(3))")
        // Every frame of the sample has something to say.
        #expect(try Self.lines(of: Self.sample).allSatisfy { !$0.info.isEmpty })
    }

    /// One frame of each kind, in tshark's spirit (its Info column for the same frames
    /// is in the comments).
    @Test(arguments: [
        // Who has 10.77.0.2? Tell 10.77.0.1
        (UInt64(1), "who-has 10.77.0.2 tell 10.77.0.1"),
        // 10.77.0.2 is at 02:77:00:00:00:02
        (2, "10.77.0.2 is-at 02:77:00:00:00:02"),
        // Echo (ping) request  id=0x1eef, seq=1/256, ttl=64
        (3, "echo request id=0x1eef seq=1"),
        (4, "echo reply id=0x1eef seq=1"),
        // Neighbor Solicitation for fd77::2 from 02:77:00:00:00:01
        (9, "neighbor solicitation for fd77::2"),
        // Echo (ping) request id=0x1f12, seq=1, hop limit=64
        (11, "echo request id=0x1f12 seq=1"),
        // Standard query 0xcd5d A www.sniff.test OPT
        (17, "query A www.sniff.test"),
        // Standard query response 0xcd5d A www.sniff.test A 10.77.0.80 OPT
        (18, "response A www.sniff.test A 10.77.0.80"),
        (22, "response A alias.sniff.test CNAME chain1.sniff.test CNAME www.sniff.test A 10.77.0.80"),
        // Standard query response 0xcc42 No such name A nx.sniff.test SOA ns1.sniff.test OPT
        (24, "response NXDOMAIN A nx.sniff.test"),
        // 40536 → 53 [SYN] Seq=0 Win=64660 Len=0 MSS=1220 ... (tshark's seq is relative)
        (27, "40536 → 53 [SYN] seq=2980479564 win=64660 len=0"),
        (28, "53 → 40536 [SYN, ACK] seq=1682418310 ack=2980479565 win=65160 len=0"),
        // GET /page/1 HTTP/1.1
        (44, "GET /page/1 HTTP/1.1"),
        // HTTP/1.1 200 OK  [TCP segment of a reassembled PDU]
        (46, "HTTP/1.1 200 OK"),
        // Client Hello (SNI=sniff.example.test)
        (273, "Client Hello (SNI sniff.example.test)"),
        // Server: Protocol (SSH-2.0-OpenSSH_9.2)
        (304, "SSH-2.0-OpenSSH_9.2"),
        // Destination unreachable (Port unreachable)
        (312, "destination unreachable (port)"),
    ] as [(UInt64, String)])
    func sampleFrame(_ n: UInt64, _ want: String) throws {
        #expect(try Self.info(Self.sample, frame: n) == want)
    }

    /// A real frame cut short (the first 50 bytes of the sample's HTTP request, the
    /// whole frame as far as the capture knows) says why it is malformed.
    @Test func cutFrameIsMalformed() throws {
        let reader = try CaptureFileReader(path: Self.sample.path)
        var frame: [UInt8] = []
        for _ in 0..<44 { frame = Array(try #require(try reader.next()).bytes) }
        let cut = Array(frame.prefix(50))
        var p = DecodedPacket()
        p.capturedLength = UInt32(cut.count)
        p.wireLength = UInt32(cut.count)
        cut.withUnsafeBytes { PacketDecoder.decode($0, link: .ethernet, into: &p) }
        var s = ByteSink(capacity: 256)
        cut.withUnsafeBytes { PacketInfo.write(p, frame: $0, into: &s) }
        #expect(p.malformed != nil)
        #expect(s.string.hasPrefix("[malformed: ipv4: total length "), "\(s.string)")
    }

    @Test(.enabled(if: TestPaths.sharedPcaps != nil, "needs ../shared/pcaps beside the repository"))
    func malformedFromSharedCapture() throws {
        let file = TestPaths.sharedPcaps!.appendingPathComponent("babel_update_oobr.pcap")
        #expect(try Self.info(file, frame: 3)
                    == "88 → 24191 len=32792 [malformed: udp: length field 65524 is invalid]")
    }

    /// Every frame of every shared capture and fixture renders (no trap), and a frame
    /// line never holds a control character.
    @Test(.enabled(if: TestPaths.sharedPcaps != nil, "needs ../shared/pcaps beside the repository"))
    func everyCaptureRenders() throws {
        var files = [TestPaths.fixtures, TestPaths.sharedPcaps!].flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
                .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.map { dir.appendingPathComponent($0) }
        }
        files.append(Self.sample)
        var rendered = 0
        for f in files {
            guard let all = try? Self.lines(of: f) else { continue }
            for l in all {
                #expect(
                    !l.info.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F },
                    "\(f.lastPathComponent) \(l.n)")
                if !l.info.isEmpty { rendered += 1 }
            }
        }
        #expect(rendered > 1000)
    }
}
