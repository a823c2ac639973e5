import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
@testable import SniffAnalysis
import SniffTestSupport

/// The file loop's prefetch: the reader's look at the next two records, the key hash
/// read from raw headers, and a read with prefetching against one without.
struct FlowPrefetchTests {
    /// The project's captures and, when present, ../shared/pcaps.
    static var captures: [URL] {
        TestPaths.captureFiles(in: TestPaths.fixtures)
            + (TestPaths.sharedPcaps.map { TestPaths.captureFiles(in: $0) } ?? [])
    }

    /// Every pcap capture of Tests/Fixtures rewritten as pcapng (one Enhanced Packet
    /// Block per packet, as Sniff and dumpcap write it), into `dir`: pcapng files with
    /// many flows, which the recorded pcapng fixtures are not.
    static func pcapngCopies(in dir: URL) throws -> [URL] {
        try TestPaths.captureFiles(in: TestPaths.fixtures).filter { $0.pathExtension == "pcap" }.map { file in
            let copy = dir.appendingPathComponent(file.deletingPathExtension().lastPathComponent + ".pcapng")
            let reader = try CaptureFileReader(path: file.path)
            let writer = try CaptureFileWriter(path: copy.path)
            while let raw = try reader.next() { try writer.write(raw) }
            try writer.close()
            return copy
        }
    }

    /// `upcoming()` shows exactly the frames that the next two calls to `next()` return.
    @Test func upcomingFramesAreTheNextOnes() throws {
        let dir = try TestPaths.tempDir("sniff-prefetch")
        defer { try? FileManager.default.removeItem(at: dir) }
        var compared = 0, comparedPcapng = 0
        for file in FlowPrefetchTests.captures + (try Self.pcapngCopies(in: dir)) {
            let reader = try CaptureFileReader(path: file.path)
            var expected: [[UInt8]?] = []
            var frames: [[UInt8]] = []
            while true {
                let (next, after) = reader.upcoming()
                expected.append(next.map { Array($0) })
                expected.append(after.map { Array($0) })
                guard let raw = try reader.next() else { break }
                frames.append(Array(raw.bytes))
            }
            // Pair i (the look before frame i) must show frames i and i + 1.
            for i in 0..<frames.count {
                if let n = expected[2 * i] {
                    #expect(n == frames[i], "\(file.lastPathComponent): frame \(i + 1)")
                    compared += 1
                    if reader.format == .pcapng { comparedPcapng += 1 }
                } else {
                    // pcapng shows packets of the last packet's interface only, so not the first.
                    #expect(reader.format == .pcapng, "\(file.lastPathComponent): pcap frame \(i + 1) not shown")
                }
                if let a = expected[2 * i + 1] {
                    #expect(i + 1 < frames.count && a == frames[i + 1], "\(file.lastPathComponent): frame \(i + 2)")
                }
            }
        }
        #expect(compared > 1000)
        #expect(comparedPcapng > 1000)
    }

    /// Wherever the raw headers give a hash, it is the decoded key's: the prefetch
    /// fetches the slot the lookup reads.
    @Test func peekedHashIsTheDecodedKeys() throws {
        var agreed = 0, withoutKey = 0, keyed = 0
        for file in FlowPrefetchTests.captures {
            let reader = try CaptureFileReader(path: file.path)
            var number = 0
            while let raw = try reader.next() {
                number += 1
                var p = DecodedPacket()
                p.capturedLength = UInt32(raw.bytes.count)
                p.wireLength = raw.wireLength
                PacketDecoder.decode(raw.bytes, link: raw.link, into: &p, holdFragments: true)
                let key = FlowKey(packet: p)
                if key != nil && (p.ipProto == 6 || p.ipProto == 17) { keyed += 1 }
                guard let h = FlowKey.peekHash(raw.bytes, link: raw.link) else { continue }
                guard let key else {
                    withoutKey += 1
                    continue
                }
                #expect(key.fastHash == h, "\(file.lastPathComponent): frame \(number) \(key)")
                agreed += 1
            }
        }
        // Most TCP and UDP packets are plain Ethernet or raw IP over IPv4 or IPv6.
        #expect(agreed > keyed * 8 / 10, "\(agreed) of \(keyed) keyed TCP/UDP packets")
        #expect(withoutKey < agreed / 100, "\(withoutKey) hashes for packets without a key")
    }

    /// The same flows, in the same order, with and without prefetching, in pcap and in
    /// pcapng (the recorded captures and the pcapng copies of the pcap fixtures, whose
    /// flows are also those of their originals).
    @Test func prefetchChangesNoFlow() throws {
        let dir = try TestPaths.tempDir("sniff-prefetch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let copies = try Self.pcapngCopies(in: dir)
        var sink = ByteSink()
        let writer = FlowNDJSONWriter()
        func lines(_ fl: [Flow]) -> [String] {
            fl.map { sink.removeAll(); writer.write($0, into: &sink); return sink.string }
        }
        var flowsSeen = 0, pcapngFlows = 0
        var evicted: UInt64 = 0
        var small = FlowTableConfig()
        // A cap that captures exceed: a new flow evicts, and the prefetch reads the
        // idle lists' heads.
        small.maxFlows = 8
        for file in FlowPrefetchTests.captures + copies {
            for config in [FlowTableConfig(), small] {
                let plain = try flows(of: file, config: config)
                if copies.contains(file) {
                    let original = file.deletingPathExtension().appendingPathExtension("pcap").lastPathComponent
                    let fromPcap = try flows(of: TestPaths.fixtures.appendingPathComponent(original), config: config)
                    #expect(lines(plain) == lines(fromPcap), "\(original) as pcapng, cap \(config.maxFlows)")
                }
                let reader = try CaptureFileReader(path: file.path)
                let pipeline = PacketPipeline()
                let collector = FlowCollector()
                let table = FlowTable(config: config, observer: collector)
                pipeline.consumers = [table]
                while let raw = try reader.next() {
                    let (next, after) = reader.upcoming()
                    pipeline.prefetch(next: next, after: after, link: raw.link)
                    pipeline.process(raw)
                }
                table.flush()
                #expect(lines(collector.flows) == lines(plain), "\(file.lastPathComponent), cap \(config.maxFlows)")
                flowsSeen += plain.count
                if reader.format == .pcapng { pcapngFlows += plain.count }
                evicted += table.stats.ended(.evicted)
            }
        }
        #expect(flowsSeen > 400)
        #expect(pcapngFlows > 100)
        #expect(evicted > 10)
    }
}
