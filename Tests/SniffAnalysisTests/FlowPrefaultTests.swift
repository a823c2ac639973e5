import Testing
import SniffCore
import SniffDecode
@testable import SniffAnalysis

/// The flows' memory faulted in ahead of them by a helper thread (`FlowTable.prefaultAhead`).
struct FlowPrefaultTests {
    /// `n` new UDP flows, one packet each, from distinct clients.
    static func fill(_ table: FlowTable, flows n: Int, _ each: (Int) -> Void = { _ in }) {
        var p = udpPacket("10.0.0.1", 40000, "192.0.2.1", 53, at: 1)
        for i in 0..<n {
            p.src = IPAddress(v4: 0x0A00_0000 | UInt32(i))
            p.timestamp = Timestamp(totalNanoseconds: 1_000_000_000 + Int64(i) * 1000)
            table.consume(p, frame: emptyFrame)
            each(i)
        }
    }

    @Test func memoryAheadOfTheFlowsIsFaultedIn() {
        var config = FlowTableConfig.noTimeouts
        config.maxFlows = 200_000
        let table = FlowTable(config: config)
        let stride = MemoryLayout<Flow>.stride
        let stretch = FlowTable.prefaultBytes
        let n = 3 * stretch / stride
        var requests: [Int] = []
        var early = 0, behind = 0
        Self.fill(table, flows: n) { i in
            let asked = table.prefaultedBytes
            if asked != (requests.last ?? 0) { requests.append(asked) }
            // Nothing for the first half stretch of flows (small captures pay nothing);
            // after that, always more than the flows written so far.
            if i + 1 < stretch / 2 / stride - 1 && asked != 0 { early += 1 }
            if asked != 0 && asked < (i + 1) * stride { behind += 1 }
        }
        #expect(early == 0)
        #expect(behind == 0)
        // A stretch from the first page past half a stretch, then one more each time the
        // flows are halfway into the last one.
        let first = ((stretch / 2 / stride) * stride + 4095) / 4096 * 4096
        #expect(requests.first == first + stretch)
        #expect(requests.count >= 3)
        for (a, b) in zip(requests, requests.dropFirst()) { #expect(b - a == stretch) }
        #expect(requests.last! < (n * stride) + 2 * stretch)
        // Every flow is there, as written (the helper writes nothing).
        #expect(table.count == n)
        var seen = 0, wrong = 0
        table.forEachOpen { f in
            seen += 1
            if f.orig.packets != 1 || f.respPort != 53 { wrong += 1 }
        }
        #expect(seen == n)
        #expect(wrong == 0)
    }

    @Test func stopsAtTheEndOfTheTable() {
        var config = FlowTableConfig.noTimeouts
        config.maxFlows = 40_000
        let table = FlowTable(config: config)
        Self.fill(table, flows: 60_000)
        #expect(table.prefaultedBytes == 40_000 * MemoryLayout<Flow>.stride)
        #expect(table.count == 40_000)
    }

    @Test func aTableThatGrowsIsNotFaultedInAhead() {
        var config = FlowTableConfig.noTimeouts
        config.maxFlows = FlowTable.reserveLimit + 1
        let table = FlowTable(config: config)
        Self.fill(table, flows: 3 * FlowTable.prefaultBytes / MemoryLayout<Flow>.stride)
        #expect(table.prefaultedBytes == 0)
    }
}
