import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis

/// The live views' picks from the open flows (`sniff top`, the dashboard): the newest
/// and the biggest, chosen in one pass without copying the table, must be exactly what
/// sorting a copy of every open flow gives; the in-place pass visits every open flow
/// once and no ended one.
struct OpenFlowSelectionTests {
    /// 3000 UDP flows of 1 to 40 packets, begun one every 10 ms (out of order within each
    /// second, so that slot order is not start order); the first 600 then time out, which
    /// leaves dead slots among the live ones.
    static func table() -> FlowTable {
        let table = FlowTable(config: FlowTableConfig(), observer: FlowCollector())
        var rng = SplitMix(seed: 17)
        for i in 0..<3000 {
            let second = Double(i / 100) + (i < 600 ? 1000 : 1100)
            let at = second + Double((i * 37) % 100) / 100
            let src = "10.99.\(i / 250).\(i % 250 + 1)"
            for k in 0..<Int(rng.next() % 40 + 1) {
                let p = udpPacket(
                    src, UInt16(20000 + i % 30000), "10.98.0.1", 53, payload: Int(rng.next() % 900),
                    at: at + Double(k) / 1000)
                table.process(p, frame: emptyFrame, now: p.timestamp)
            }
        }
        table.expire(now: Timestamp(totalNanoseconds: Int64(1100 * 1e9)))
        return table
    }

    @Test func newestAndLargestEqualSortingEveryOpenFlow() {
        let table = Self.table()
        let all = table.openFlows()
        #expect(all.count == 2400)
        #expect(table.count == 2400)

        let newest = table.openFlows(newest: 500)
        let byStart = all.sorted { $0.startNanos > $1.startNanos }
        #expect(newest.count == 500)
        #expect(newest.map(\.startNanos) == byStart.prefix(500).map(\.startNanos))
        let afterTheGap = newest.allSatisfy { $0.startNanos >= Int64(1100 * 1e9) }
        #expect(afterTheGap)

        func bytes(_ f: Flow) -> UInt64 { f.orig.wireBytes + f.resp.wireBytes }
        let largest = table.openFlows(largest: 700).map(bytes)
        let sorted = Array(all.map(bytes).sorted(by: >).prefix(700))
        #expect(largest == sorted)
        #expect(table.openFlows(largest: 5000).count == 2400)
        #expect(table.openFlows(newest: 0).isEmpty)
    }

    @Test func inPlacePassVisitsEachOpenFlowOnce() {
        let table = Self.table()
        var keys: [FlowKey] = []
        table.forEachOpen { keys.append($0.key) }
        let copiedKeys = table.openFlows().map(\.key)
        #expect(keys == copiedKeys)
        #expect(Set(keys).count == 2400)

        // Process usage read in place equals the same over a copy (flows of addresses
        // this host does not have: all "not local").
        let processes = FlowProcesses(table: ProcessTable())
        table.forEachOpen { processes.flowStarted($0) }
        let inPlace = processes.usage(table: table), copied = processes.usage(open: table.openFlows())
        #expect(inPlace.processes == copied.processes)
        #expect(inPlace.unknown == copied.unknown)
        #expect(inPlace.others == copied.others)
        #expect(inPlace.others.flows == 2400)
    }
}
