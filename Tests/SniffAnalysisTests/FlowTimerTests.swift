import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
import SniffCapture
import SniffTestSupport

/// Idle and active timeouts, the cap, connection reuse and sharding, driven by the
/// `now` passed to the table (a mock clock: no test waits).
struct FlowTimerTests {
    final class Clock {
        var seconds: Double = 1000
        var now: Timestamp { Timestamp(totalNanoseconds: Int64(seconds * 1e9)) }
    }

    static func table(_ configure: (inout FlowTableConfig) -> Void = { _ in }) -> (FlowTable, FlowCollector) {
        var c = FlowTableConfig()
        configure(&c)
        let collector = FlowCollector()
        return (FlowTable(config: c, observer: collector), collector)
    }

    static func send(_ t: FlowTable, _ p: DecodedPacket, _ clock: Clock) {
        t.process(p, frame: emptyFrame, now: clock.now)
    }

    @Test func udpIdleTimeout() {
        let (t, out) = FlowTimerTests.table()
        let clock = Clock()
        FlowTimerTests.send(t, udpPacket("10.0.0.1", 5000, "10.0.0.2", 53, at: clock.seconds), clock)
        clock.seconds += 59
        t.expire(now: clock.now)
        #expect(out.flows.isEmpty)
        clock.seconds += 1
        t.expire(now: clock.now)
        #expect(out.flows.count == 1)
        #expect(out.reasons == [.idle])
        #expect(t.count == 0)
    }

    /// A flush drops the hash index and the idle lists whole rather than flow by flow:
    /// the table must be as good as new afterwards (a key seen before the flush starts a
    /// new flow, idle timers still fire, a second flush ends only what came after).
    @Test func tableWorksAfterFlush() {
        let (t, out) = FlowTimerTests.table()
        let clock = Clock()
        for i in 0..<300 {
            FlowTimerTests.send(
                t, udpPacket("10.0.\(i / 250).\(i % 250 + 1)", 5000, "10.1.0.1", 53, at: clock.seconds), clock)
        }
        t.flush()
        #expect(out.flows.count == 300)
        #expect(t.count == 0)
        FlowTimerTests.send(t, udpPacket("10.0.0.1", 5000, "10.1.0.1", 53, at: clock.seconds), clock)
        FlowTimerTests.send(t, udpPacket("10.1.0.1", 53, "10.0.0.1", 5000, at: clock.seconds), clock)
        FlowTimerTests.send(t, udpPacket("10.0.0.2", 5001, "10.1.0.1", 53, at: clock.seconds), clock)
        #expect(t.count == 2)
        clock.seconds += 60
        t.expire(now: clock.now)
        #expect(out.flows.count == 302)
        #expect(out.reasons.suffix(2) == [.idle, .idle])
        let reused = out.flows[300]
        #expect(reused.origPort == 5000 && reused.orig.packets == 1 && reused.resp.packets == 1)
        FlowTimerTests.send(t, udpPacket("10.0.0.3", 5002, "10.1.0.1", 53, at: clock.seconds), clock)
        t.flush()
        #expect(out.flows.count == 303)
        #expect(t.count == 0)
    }

    @Test func tcpTimeoutsDependOnState() {
        let (t, out) = FlowTimerTests.table()
        let clock = Clock()
        // An established connection: 3600 s.
        FlowTimerTests.send(
            t, tcpPacket("10.0.0.1", 40000, "10.0.0.2", 22, flags: TCP.syn, seq: 100, at: clock.seconds), clock)
        FlowTimerTests.send(
            t,
            tcpPacket(
                "10.0.0.2", 22, "10.0.0.1", 40000, flags: TCP.syn | TCP.ack, seq: 500, ack: 101, at: clock.seconds),
            clock)
        FlowTimerTests.send(
            t, tcpPacket("10.0.0.1", 40000, "10.0.0.2", 22, flags: TCP.ack, seq: 101, ack: 501, at: clock.seconds),
            clock)
        // A half-open attempt: 10 s.
        FlowTimerTests.send(
            t, tcpPacket("10.0.0.1", 40001, "10.0.0.2", 23, flags: TCP.syn, seq: 7, at: clock.seconds), clock)
        clock.seconds += 10
        t.expire(now: clock.now)
        #expect(out.flows.map { $0.origPort } == [40001])
        #expect(out.flows.first?.connState == .s0)
        clock.seconds += 3000
        t.expire(now: clock.now)
        #expect(out.flows.count == 1)
        clock.seconds += 590
        t.expire(now: clock.now)
        #expect(out.flows.count == 2)
        #expect(out.flows.last?.connState == .s1)
    }

    @Test func closedConnectionsLeaveAfterTenSeconds() {
        let (t, out) = FlowTimerTests.table()
        let clock = Clock()
        let a = "192.168.1.5", b = "93.184.216.34"
        FlowTimerTests.send(t, tcpPacket(a, 40000, b, 80, flags: TCP.syn, seq: 1, at: clock.seconds), clock)
        FlowTimerTests.send(
            t, tcpPacket(b, 80, a, 40000, flags: TCP.syn | TCP.ack, seq: 9, ack: 2, at: clock.seconds), clock)
        FlowTimerTests.send(
            t, tcpPacket(a, 40000, b, 80, flags: TCP.ack | TCP.fin, seq: 2, ack: 10, at: clock.seconds + 1), clock)
        FlowTimerTests.send(
            t, tcpPacket(b, 80, a, 40000, flags: TCP.ack | TCP.fin, seq: 10, ack: 3, at: clock.seconds + 1), clock)
        clock.seconds += 11
        t.expire(now: clock.now)
        #expect(out.flows.count == 1)
        #expect(out.flows.first?.connState == .sf)
        #expect(out.flows.first?.local_origIsRFC1918 == true)
    }

    @Test func activeTimeoutSplitsLongFlows() {
        let (t, out) = FlowTimerTests.table { $0.activeTimeout = 100 * FlowTableConfig.nanosPerSecond }
        let clock = Clock()
        for i in 0..<25 {
            clock.seconds = 1000 + Double(i) * 10
            FlowTimerTests.send(t, udpPacket("10.0.0.1", 5000, "10.0.0.2", 9999, at: clock.seconds), clock)
        }
        t.flush()
        #expect(out.reasons == [.active, .active, .end])
        #expect(out.flows.map(\.orig.packets) == [10, 10, 5])
        // The continuation keeps the originator.
        #expect(Set(out.flows.map(\.origPort)) == [5000])
    }

    @Test func capEvictsTheLongestIdle() {
        let (t, out) = FlowTimerTests.table { $0.maxFlows = 3; $0.initialCapacity = 16 }
        let clock = Clock()
        for port in UInt16(1)...3 {
            clock.seconds += 1
            FlowTimerTests.send(t, udpPacket("10.0.0.1", 6000 + port, "10.0.0.2", 9999, at: clock.seconds), clock)
        }
        // Flow 1 becomes the most recent; flow 2 is now idle the longest.
        clock.seconds += 1
        FlowTimerTests.send(t, udpPacket("10.0.0.1", 6001, "10.0.0.2", 9999, at: clock.seconds), clock)
        clock.seconds += 1
        FlowTimerTests.send(t, udpPacket("10.0.0.1", 6004, "10.0.0.2", 9999, at: clock.seconds), clock)
        #expect(out.reasons == [.evicted])
        #expect(out.flows.first?.origPort == 6002)
        #expect(t.count == 3)
        #expect(t.stats.peakFlows == 3)
    }

    @Test func tableGrowsAndShrinksWithoutLosingFlows() {
        let (t, out) = FlowTimerTests.table { $0.initialCapacity = 16 }
        let clock = Clock()
        for round in 0..<3 {
            for i in 0..<5000 {
                let port = UInt16(1000 + i)
                FlowTimerTests.send(t, udpPacket("10.1.0.\(round)", port, "10.0.0.2", 53, at: clock.seconds), clock)
                FlowTimerTests.send(t, udpPacket("10.0.0.2", 53, "10.1.0.\(round)", port, at: clock.seconds), clock)
            }
            clock.seconds += 61
            t.expire(now: clock.now)
        }
        #expect(out.flows.count == 15000)
        #expect(out.flows.allSatisfy { $0.orig.packets == 1 && $0.resp.packets == 1 && $0.connState == .sf })
        #expect(t.count == 0)
    }

    @Test func synOnClosedConnectionStartsANewFlow() {
        let (t, out) = FlowTimerTests.table()
        let clock = Clock()
        let a = "10.0.0.1", b = "10.0.0.2"
        for isn: UInt32 in [1000, 5000] {
            FlowTimerTests.send(t, tcpPacket(a, 40000, b, 80, flags: TCP.syn, seq: isn, at: clock.seconds), clock)
            FlowTimerTests.send(
                t, tcpPacket(b, 80, a, 40000, flags: TCP.rst | TCP.ack, seq: 0, ack: isn + 1, at: clock.seconds), clock)
            clock.seconds += 1
        }
        t.flush()
        #expect(out.reasons == [.reuse, .end])
        #expect(out.flows.map(\.connState) == [.rej, .rej])
        #expect(FlowUID.string(seed: 0, flow: out.flows[0]) != FlowUID.string(seed: 0, flow: out.flows[1]))
    }

    @Test func retransmissionsAndZeroWindowsAreLogScale() {
        let (t, out) = FlowTimerTests.table()
        let clock = Clock()
        let a = "10.0.0.1", b = "10.0.0.2"
        FlowTimerTests.send(t, tcpPacket(a, 40000, b, 80, flags: TCP.syn, seq: 1, at: 1000), clock)
        FlowTimerTests.send(t, tcpPacket(b, 80, a, 40000, flags: TCP.syn | TCP.ack, seq: 100, ack: 2, at: 1000), clock)
        FlowTimerTests.send(t, tcpPacket(a, 40000, b, 80, flags: TCP.ack, seq: 2, ack: 101, at: 1000), clock)
        for _ in 0..<12 {
            FlowTimerTests.send(
                t, tcpPacket(a, 40000, b, 80, flags: TCP.ack | TCP.psh, seq: 2, ack: 101, payload: 100, at: 1000), clock
            )
        }
        FlowTimerTests.send(
            t, tcpPacket(b, 80, a, 40000, flags: TCP.ack, seq: 101, ack: 102, at: 1000, window: 0), clock)
        t.flush()
        // D once, then 11 retransmissions: T at the 1st and the 10th.
        #expect(out.flows.first?.history.string == "ShADTTaw")  // the ack adds a before the zero window w
    }

    @Test func shardedEqualsSingle() throws {
        var files = [
            TestPaths.fixtures.appendingPathComponent("app.pcap"),
            TestPaths.fixtures.appendingPathComponent("tcp-states.pcap"),
            TestPaths.fixtures.appendingPathComponent("dns.pcap")
        ]
        if let shared = TestPaths.sharedPcaps {
            files += ["resp_1_benchmark.pcap", "mptcp-v0.pcap", "bgp-4byte-asn.pcap", "eapon1.pcap"].map {
                shared.appendingPathComponent($0)
            }
        }
        var sink = ByteSink()
        let writer = FlowNDJSONWriter()
        func lines(_ fl: [Flow]) -> [String] {
            fl.map { sink.removeAll(); writer.write($0, into: &sink); return sink.string }.sorted()
        }
        for file in files {
            let single = try flows(of: file, config: FlowTableConfig())
            for n in [2, 3, 8] {
                let sharded = try shardedFlows(of: file, shards: n)
                #expect(lines(sharded) == lines(single), "\(file.lastPathComponent) with \(n) shards")
            }
        }
    }

    @Test func hashIsDirectionIndependent() {
        var p = tcpPacket("10.0.0.1", 40000, "10.9.0.2", 443, flags: TCP.syn, at: 0)
        let k1 = FlowKey(packet: p)
        p = tcpPacket("10.9.0.2", 443, "10.0.0.1", 40000, flags: TCP.syn | TCP.ack, at: 0)
        let k2 = FlowKey(packet: p)
        #expect(k1 == k2)
        #expect(k1?.fastHash == k2?.fastHash)
    }
}

extension Flow {
    var local_origIsRFC1918: Bool { LocalNetworks.defaults.contains(origAddress) }
}

/// The threaded shards give the same flows as one table.
struct ParallelFlowTablesTests {
    @Test func threadedEqualsSingle() throws {
        var files = [
            TestPaths.fixtures.appendingPathComponent("app.pcap"),
            TestPaths.fixtures.appendingPathComponent("tcp-states.pcap"),
            TestPaths.fixtures.appendingPathComponent("dns.pcap")
        ]
        if let shared = TestPaths.sharedPcaps {
            files += ["resp_1_benchmark.pcap", "mptcp-v0.pcap", "eapon1.pcap"].map { shared.appendingPathComponent($0) }
        }
        var sink = ByteSink()
        let writer = FlowNDJSONWriter()
        func lines(_ fl: [Flow]) -> [String] {
            fl.map { sink.removeAll(); writer.write($0, into: &sink); return sink.string }.sorted()
        }
        for file in files {
            let single = try flows(of: file, config: FlowTableConfig())
            for n in [1, 2, 3] {
                let reader = try CaptureFileReader(path: file.path)
                let pipeline = PacketPipeline()
                let collector = FlowCollector()
                let parallel = ParallelFlowTables(shards: n, config: FlowTableConfig(), observer: collector)
                pipeline.consumers = [parallel]
                while let raw = try reader.next() { pipeline.process(raw) }
                parallel.flush()
                #expect(lines(collector.flows) == lines(single), "\(file.lastPathComponent) with \(n) threads")
            }
        }
    }
}
