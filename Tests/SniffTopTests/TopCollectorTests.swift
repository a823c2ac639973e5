import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
import SniffStore
import SniffServer
@testable import SniffTop

/// The collector's snapshot of a live table larger than the flows view keeps: the
/// newest half and then the biggest, picked without copying the table.
struct TopCollectorTests {
    static func udp(_ i: Int, bytes: Int, at seconds: Double) -> DecodedPacket {
        var p = DecodedPacket()
        p.timestamp = Timestamp(totalNanoseconds: Int64(seconds * 1e9))
        p.ipVersion = 4
        p.src = IPAddress("10.97.\(i / 250).\(i % 250 + 1)")!
        p.dst = IPAddress("10.96.0.1")!
        p.ipProto = 17
        p.transport = .udp
        p.hasPorts = true
        p.sport = 30000
        p.dport = 53
        p.ipHeaderLength = 20
        p.ipTotalLength = UInt32(28 + bytes)
        p.wireLength = UInt32(42 + bytes)
        p.capturedLength = p.wireLength
        p.hasPayloadLength = true
        p.payloadLength = UInt32(bytes)
        return p
    }

    @Test func flowsViewKeepsTheNewestHalfThenTheBiggest() throws {
        let pipeline = PacketPipeline()
        let table = FlowTable()
        let summary = ProtocolSummaryCollector()
        let sinks = AlertSinkList([])
        let engine = AlertEngine(sink: sinks)
        let collector = TopCollector(
            pipeline: pipeline, table: table, summary: summary, engine: engine, format: FlowFormat(),
            source: "test", live: true, sampleCapacity: 10, finishedFlowLimit: 10)
        // 2500 flows, one a millisecond; flow i carries i % 997 bytes more than the
        // smallest, so the biggest are spread over the whole table.
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        for i in 0..<2500 {
            let p = Self.udp(i, bytes: 10 + i % 997, at: 5000 + Double(i) / 1000)
            table.process(p, frame: empty, now: p.timestamp)
        }
        collector.publish(state: "running", force: true)
        let s = try #require(collector.take())
        #expect(s.openFlows == 2500)
        #expect(s.flows.count == TopCollector.openFlowLimit)
        let allOpen = s.flows.allSatisfy(\.open)
        #expect(allOpen)
        let origins = s.flows.map { $0.row.origH.description }
        #expect(Set(origins).count == origins.count, "no flow twice")
        // The 500 newest: flows 2000 to 2499.
        let newest = Set((2000..<2500).map { "10.97.\($0 / 250).\($0 % 250 + 1)" })
        #expect(newest.isSubset(of: Set(origins)))
        // The other 500: the biggest of flows 0 to 1999 (996 bytes over: flows 996 and 1993).
        let rest = s.flows.filter { !newest.contains($0.row.origH.description) }
        #expect(rest.count == 500)
        let smallestKept: UInt64 = rest.map(\.bytes).min() ?? 0
        var olderBytes: [UInt64] = []
        for i in 0..<2000 { olderBytes.append(UInt64(38 + i % 997)) }
        olderBytes.sort(by: >)
        #expect(smallestKept == olderBytes[499])
    }

    /// Live, the tables are built in steps (one per call of `publish`), so that the
    /// capture thread never waits for a whole pass over millions of entries: a build cut
    /// into the smallest steps gives the same tables as one whole pass over a table that
    /// does not change between the steps.
    @Test func tablesBuiltInStepsEqualOneWholePass() throws {
        let pipeline = PacketPipeline()
        let table = FlowTable()
        let engine = AlertEngine(sink: AlertSinkList([]))
        let collector = TopCollector(
            pipeline: pipeline, table: table, summary: ProtocolSummaryCollector(), engine: engine,
            format: FlowFormat(), source: "test", live: true, sampleCapacity: 10, finishedFlowLimit: 10,
            publishIntervalNanos: 0)
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        for i in 0..<2500 {
            let p = Self.udp(i, bytes: 10 + i % 997, at: 5000 + Double(i) / 1000)
            table.process(p, frame: empty, now: p.timestamp)
            pipeline.endpoints.record(p)
        }
        var stepped = TopCollector.TableBuild(collector)
        var steps = 1
        // A deadline already past: one read of `stepSlots` slots per call.
        while !collector.step(&stepped, until: 0) { steps += 1 }
        let slots = pipeline.endpoints.slotCapacity + table.slotCount
        #expect(steps >= slots / TopCollector.stepSlots, "\(steps) steps for \(slots) slots")
        var whole = TopCollector.TableBuild(collector)
        #expect(collector.step(&whole, until: .max))
        let a = collector.finishTables(stepped, nanos: 0), b = collector.finishTables(whole, nanos: 0)
        #expect(a.talkers.count == 2000)
        #expect(a.talkersTotal == 2501)
        #expect(a.talkers.map(\.endpoint) == b.talkers.map(\.endpoint))
        #expect(a.flows.count == TopCollector.openFlowLimit)
        #expect(a.flows.map(\.row.uid) == b.flows.map(\.row.uid))

        // Through `publish`: each call not forced advances the build by a step of about
        // `stepNanos`, and the snapshots carry the tables once it is done.
        var calls = 0
        var s = TopSnapshot()
        while s.talkers.isEmpty && calls < 100_000 {
            collector.publish(state: "running")
            s = try #require(collector.take())
            calls += 1
        }
        #expect(s.talkers.map(\.endpoint) == b.talkers.map(\.endpoint))
        #expect(s.flows.map(\.row.uid) == b.flows.map(\.row.uid))
    }
}
