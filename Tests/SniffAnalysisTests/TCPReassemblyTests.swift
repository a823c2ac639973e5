import Foundation
import Testing
import SniffCore
import SniffDecode
@testable import SniffAnalysis

/// TCP stream reassembly (`TCPStreams`) and sequence holes (`missed_bytes`, 'G').
@Suite struct TCPReassemblyTests {
    static let text: [UInt8] = Array((0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })

    /// Adds `text[from..<to]` at sequence number `start + from`.
    @discardableResult
    static func add(_ s: inout TCPStreams, _ from: Int, _ to: Int, start: UInt32 = 1000, flow: Int32 = 0,
                    isOrig: Bool = true, bytes: [UInt8] = text) -> TCPStreams.AddResult {
        let piece = Array(bytes[from..<to])
        return piece.withUnsafeBytes {
            s.add(flow, isOrig: isOrig, seq: start &+ UInt32(from), start: start, payload: $0)
        }
    }

    static func prefix(_ s: TCPStreams, flow: Int32 = 0, isOrig: Bool = true) -> [UInt8] {
        s.withPrefix(flow, isOrig: isOrig) { Array($0) }
    }

    @Test func inOrder() {
        var s = TCPStreams()
        #expect(Self.add(&s, 0, 100) == .grew)
        #expect(Self.add(&s, 100, 300) == .grew)
        #expect(Self.prefix(s) == Array(Self.text[0..<300]))
        #expect(s.stats.duplicateBytes == 0)
    }

    @Test func outOfOrderIsHeldUntilTheHoleFills() {
        var s = TCPStreams()
        #expect(Self.add(&s, 200, 300) == .unchanged)
        #expect(Self.prefix(s).isEmpty)
        #expect(Self.add(&s, 0, 100) == .grew)
        #expect(Self.prefix(s).count == 100)
        #expect(Self.add(&s, 100, 200) == .grew)
        #expect(Self.prefix(s) == Array(Self.text[0..<300]))
    }

    @Test func retransmissionsAreNotDeliveredTwice() {
        var s = TCPStreams()
        Self.add(&s, 0, 100)
        #expect(Self.add(&s, 0, 100) == .unchanged)
        // Partly new: only the new part is added.
        #expect(Self.add(&s, 50, 150) == .grew)
        #expect(Self.prefix(s) == Array(Self.text[0..<150]))
        #expect(s.stats.duplicateBytes == 150)
        #expect(s.stats.conflictBytes == 0)
    }

    /// Overlapping bytes with different content: the first copy wins, and the differing
    /// bytes are counted.
    @Test func overlapKeepsTheFirstCopy() {
        var s = TCPStreams()
        Self.add(&s, 0, 100)
        var other = Self.text
        for i in 40..<60 { other[i] ^= 0xFF }
        #expect(Self.add(&s, 30, 120, bytes: other) == .grew)
        #expect(Self.prefix(s) == Array(Self.text[0..<120]))
        #expect(s.stats.conflictBytes == 20)
        #expect(s.stats.duplicateBytes == 70)
    }

    /// A hole that never fills: the parsers see only what comes before it.
    @Test func gapStopsThePrefix() {
        var s = TCPStreams()
        Self.add(&s, 0, 100)
        Self.add(&s, 150, 400)
        #expect(Self.prefix(s).count == 100)
        #expect(s.prefixLength(0, isOrig: true) == 100)
    }

    @Test func bytesBeforeTheStartAreDropped() {
        var s = TCPStreams()
        let piece = Array(Self.text[0..<100])
        let r = piece.withUnsafeBytes { s.add(0, isOrig: true, seq: 950, start: 1000, payload: $0) }
        #expect(r == .grew)
        #expect(Self.prefix(s) == Array(Self.text[50..<100]))
    }

    @Test func budgetBoundsEachDirection() {
        var s = TCPStreams(limits: TCPReassemblyLimits(budget: 1000, memory: 1 << 20))
        for off in stride(from: 0, to: 4000, by: 500) { Self.add(&s, off, off + 500) }
        #expect(s.prefixLength(0, isOrig: true) == 1000)
        #expect(s.stats.overBudgetBytes == 3000)
        #expect(s.held <= 1000)
        // The other direction has its own budget.
        Self.add(&s, 0, 800, isOrig: false)
        #expect(s.prefixLength(0, isOrig: false) == 800)
    }

    @Test func memoryCapStopsNewStreams() {
        var s = TCPStreams(limits: TCPReassemblyLimits(budget: 4096, memory: 5500))
        #expect(Self.add(&s, 0, 3000, flow: 1) == .grew)
        // A second 3000-byte buffer would pass the cap: not started.
        #expect(Self.add(&s, 0, 3000, flow: 2) == .notBuffered)
        // A small one still fits.
        #expect(Self.add(&s, 0, 1000, flow: 3) == .grew)
        var refused = 0
        for f in Int32(4)..<10 where Self.add(&s, 0, 3000, flow: f) == .notBuffered { refused += 1 }
        #expect(refused == 6)
        #expect(s.stats.notBuffered == 7)
        #expect(s.stats.streams == 2)
        #expect(s.held <= 5500)
        for f in Int32(0)..<10 { s.release(f) }
        #expect(s.held == 0)
        #expect(s.count == 0)
        // Released buffers come back from the pool.
        #expect(Self.add(&s, 0, 1000, flow: 11) == .grew)
    }

    /// The stream starts 100 bytes before 2^32: offsets are signed distances, so the
    /// numbers past the wrap land after the ones before it.
    @Test func sequenceWraparound() {
        var s = TCPStreams()
        let start: UInt32 = 0xFFFF_FFFF - 99
        Self.add(&s, 150, 300, start: start)
        Self.add(&s, 0, 150, start: start)
        #expect(Self.prefix(s) == Array(Self.text[0..<300]))
    }

    @Test func tooManyHolesAreRefused() {
        var s = TCPStreams()
        for k in 1...(TCPStreams.maximumRanges + 4) { Self.add(&s, k * 20, k * 20 + 10) }
        #expect(s.stats.fragmentedDrops == 4)
        #expect(Self.prefix(s).isEmpty)
    }

    @Test func disabledWhenTheBudgetIsZero() {
        var s = TCPStreams(limits: TCPReassemblyLimits(budget: 0))
        #expect(Self.add(&s, 0, 100) == .notBuffered)
        #expect(s.count == 0)
    }

    // MARK: through the flow table

    static let client = "10.0.0.1", server = "10.0.0.2"

    /// A decoded TCP packet whose payload lies in `frame` after 54 bytes of headers.
    static func segment(_ fromClient: Bool, flags: UInt16, seq: UInt32, ack: UInt32, _ payload: [UInt8] = [],
                        at t: Double, sport: UInt16 = 40000, dport: UInt16 = 80) -> (DecodedPacket, [UInt8]) {
        var p = fromClient
            ? tcpPacket(client, sport, server, dport, flags: flags, seq: seq, ack: ack, payload: payload.count, at: t)
            : tcpPacket(server, dport, client, sport, flags: flags, seq: seq, ack: ack, payload: payload.count, at: t)
        p.payloadOffset = 54
        p.payloadCaptured = payload.count
        return (p, [UInt8](repeating: 0, count: 54) + payload)
    }

    static func run(_ packets: [(DecodedPacket, [UInt8])], config: FlowTableConfig = .noTimeouts)
        -> (Flow, FlowTable) {
        let collector = FlowCollector()
        let table = FlowTable(config: config, observer: collector)
        for (p, frame) in packets {
            frame.withUnsafeBytes { _ = table.process(p, frame: $0, now: p.timestamp) }
        }
        table.flush()
        return (collector.flows[0], table)
    }

    /// SYN, SYN-ACK, ACK with ISNs 100 (client) and 500 (server).
    static func handshake(dport: UInt16 = 80) -> [(DecodedPacket, [UInt8])] {
        [Self.segment(true, flags: TCP.syn, seq: 100, ack: 0, at: 1, dport: dport),
         Self.segment(false, flags: TCP.syn | TCP.ack, seq: 500, ack: 101, at: 1.1, dport: dport),
         Self.segment(true, flags: TCP.ack, seq: 101, ack: 501, at: 1.2, dport: dport)]
    }

    /// An HTTP request whose request line spans three segments, the middle one late:
    /// only the reassembled stream holds a whole request line.
    @Test func httpRequestAcrossSegmentsOutOfOrder() {
        let path = "/" + String(repeating: "a", count: 700)
        let req = Array("GET \(path) HTTP/1.1\r\nHost: long.example.test\r\nAccept: */*\r\n\r\n".utf8)
        let a = Array(req[0..<300]), b = Array(req[300..<600]), c = Array(req[600...])
        let ack = TCP.ack | TCP.psh
        var pk = Self.handshake()
        pk.append(Self.segment(true, flags: ack, seq: 101, ack: 501, a, at: 2))
        pk.append(Self.segment(true, flags: ack, seq: 701, ack: 501, c, at: 2.1))
        pk.append(Self.segment(true, flags: ack, seq: 401, ack: 501, b, at: 2.2))
        let (f, table) = Self.run(pk)
        #expect(f.app == .http && f.appSource == .payload)
        #expect(f.details.httpHost == "long.example.test")
        #expect(f.details.httpPath == String(path.prefix(512)))
        #expect(table.reassemblyStreams == 0)
        #expect(table.reassemblyHeld == 0)

        // With reassembly off, the same segments name nothing.
        var off = FlowTableConfig.noTimeouts
        off.tcpReassembly.budget = 0
        let (g, _) = Self.run(pk, config: off)
        #expect(g.details.httpPath == nil)
    }

    /// Two DNS queries on one connection, each with its length, the first split in two.
    @Test func dnsOverTCP() throws {
        var msg: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in ["www", "reassembly", "test"] { msg.append(UInt8(label.utf8.count)); msg += Array(label.utf8) }
        msg += [0, 0, 1, 0, 1]
        let framed = [UInt8(msg.count >> 8), UInt8(msg.count & 0xFF)] + msg
        let ack = TCP.ack | TCP.psh
        var pk = Self.handshake(dport: 53)
        pk.append(Self.segment(true, flags: ack, seq: 101, ack: 501, Array(framed[0..<10]), at: 2, dport: 53))
        pk.append(Self.segment(true, flags: ack, seq: 111, ack: 501, Array(framed[10...]) + framed, at: 2.1, dport: 53))
        let (f, _) = Self.run(pk)
        #expect(f.app == .dns && f.appSource == .payload)
        #expect(f.details.dnsQuery == "www.reassembly.test")
    }

    // MARK: missed bytes and history

    /// Zeek's rule, as Sniff applies it: bytes of a side that its peer acknowledged but
    /// that were never seen are a content gap: they count in missed_bytes and add 'G'
    /// (originator) or 'g' (responder) at the 1st, 10th, 100th ... gap.
    @Test func gapAckedByThePeer() {
        let ack = TCP.ack | TCP.psh
        var pk = Self.handshake()
        pk.append(Self.segment(true, flags: ack, seq: 101, ack: 501, Array(repeating: 1, count: 100), at: 2))
        // 101+100 ..< 301 never seen.
        pk.append(Self.segment(true, flags: ack, seq: 301, ack: 501, Array(repeating: 3, count: 100), at: 2.1))
        pk.append(Self.segment(false, flags: TCP.ack, seq: 501, ack: 401, at: 2.2))
        let (f, _) = Self.run(pk)
        #expect(f.missedBytes == 100)
        #expect(f.history.string == "ShADaG")
    }

    /// A hole filled later (reordering, retransmission) is no gap; the late segment is
    /// a retransmission to Zeek ('T': it does not advance the highest number).
    @Test func holeFilledLaterIsNoGap() {
        let ack = TCP.ack | TCP.psh
        var pk = Self.handshake()
        pk.append(Self.segment(true, flags: ack, seq: 101, ack: 501, Array(repeating: 1, count: 100), at: 2))
        pk.append(Self.segment(true, flags: ack, seq: 301, ack: 501, Array(repeating: 3, count: 100), at: 2.1))
        pk.append(Self.segment(true, flags: ack, seq: 201, ack: 501, Array(repeating: 2, count: 100), at: 2.15))
        pk.append(Self.segment(false, flags: TCP.ack, seq: 501, ack: 401, at: 2.2))
        let (f, _) = Self.run(pk)
        #expect(f.missedBytes == 0)
        #expect(f.history.string == "ShADTa")
    }

    /// Data past a hole that nothing acknowledges: the hole counts when the flow ends.
    @Test func holeLeftAtTheEnd() {
        let ack = TCP.ack | TCP.psh
        var pk = Self.handshake()
        pk.append(Self.segment(false, flags: ack, seq: 501, ack: 101, Array(repeating: 1, count: 50), at: 2))
        pk.append(Self.segment(false, flags: ack, seq: 601, ack: 101, Array(repeating: 3, count: 50), at: 2.1))
        let (f, _) = Self.run(pk)
        #expect(f.missedBytes == 50)
        #expect(f.history.string.hasSuffix("dg"))
    }

    /// A midstream capture does not count the bytes before its first segment.
    @Test func midstreamStartIsNoGap() {
        let ack = TCP.ack | TCP.psh
        let pk = [Self.segment(true, flags: ack, seq: 7_000_000, ack: 900, Array(repeating: 1, count: 100), at: 1),
                  Self.segment(false, flags: TCP.ack, seq: 900, ack: 7_000_100, at: 1.1)]
        let (f, _) = Self.run(pk)
        #expect(f.missedBytes == 0)
    }

    /// Holes across the 2^32 wrap of the sequence numbers.
    @Test func gapAcrossTheWrap() {
        let ack = TCP.ack | TCP.psh
        let isn: UInt32 = 0xFFFF_FFFF - 150
        let pk = [Self.segment(true, flags: TCP.syn, seq: isn, ack: 0, at: 1),
                  Self.segment(false, flags: TCP.syn | TCP.ack, seq: 500, ack: isn &+ 1, at: 1.1),
                  Self.segment(true, flags: TCP.ack, seq: isn &+ 1, ack: 501, at: 1.2),
                  Self.segment(true, flags: ack, seq: isn &+ 1, ack: 501, Array(repeating: 1, count: 100), at: 2),
                  Self.segment(true, flags: ack, seq: isn &+ 301, ack: 501, Array(repeating: 1, count: 100), at: 2.1),
                  Self.segment(false, flags: TCP.ack, seq: 501, ack: isn &+ 401, at: 2.2)]
        let (f, _) = Self.run(pk)
        #expect(f.missedBytes == 200)
    }
}
