import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis

/// Throughput of the flow table on a large capture, run only on demand:
///
///     swift run -c release sniff-bench --packets 3600000 --file /tmp/bench.pcap --keep --only decode
///     SNIFF_FLOW_BENCH=/tmp/bench.pcap swift test -c release --filter FlowBenchmarkTests
///
/// Prints read+decode alone, then read+decode+flows (one table, and 2 shards dispatched
/// on one thread), best of 3, with flows/s, peak flows, memory per flow and peak RSS.
struct FlowBenchmarkTests {
    static var path: String? { ProcessInfo.processInfo.environment["SNIFF_FLOW_BENCH"] }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func run(_ path: String, consumer: PacketConsumer?) throws -> (Double, UInt64) {
        let reader = try CaptureFileReader(path: path)
        var p = DecodedPacket()
        var n: UInt64 = 0
        let t0 = now()
        while let raw = try reader.next() {
            p.reset()
            p.timestamp = raw.timestamp
            p.wireLength = raw.wireLength
            p.capturedLength = UInt32(raw.bytes.count)
            PacketDecoder.decode(raw.bytes, link: raw.link, into: &p)
            consumer?.consume(p, frame: raw.bytes)
            n &+= 1
        }
        return (now() - t0, n)
    }

    final class Counter: FlowObserver {
        var ended: UInt64 = 0
        func flowEnded(_ flow: Flow, reason: FlowEndReason) { ended &+= 1 }
    }

    @Test(.enabled(if: FlowBenchmarkTests.path != nil))
    func throughput() throws {
        let path = FlowBenchmarkTests.path!
        var best = Double.infinity
        var packets: UInt64 = 0
        for _ in 0..<3 {
            let (t, n) = try FlowBenchmarkTests.run(path, consumer: nil); best = min(best, t); packets = n
        }
        print("bench: read+decode           \(packets) packets in \(String(format: "%.3f", best)) s = "
              + "\(String(format: "%.2f", Double(packets) / best / 1e6)) Mpps")
        var bestFlows = Double.infinity
        var flows: UInt64 = 0
        var peak = 0
        var perFlow = 0.0
        for _ in 0..<3 {
            let counter = Counter()
            let table = FlowTable(config: FlowTableConfig(), observer: counter)
            let (t, _) = try FlowBenchmarkTests.run(path, consumer: table)
            let t1 = FlowBenchmarkTests.now()
            table.flush()
            let total = t + (FlowBenchmarkTests.now() - t1)
            bestFlows = min(bestFlows, total)
            flows = counter.ended
            peak = table.stats.peakFlows
            perFlow = table.bytesPerFlowSlot
        }
        print("bench: read+decode+flows     \(String(format: "%.3f", bestFlows)) s = "
              + "\(String(format: "%.2f", Double(packets) / bestFlows / 1e6)) Mpps, \(flows) flows = "
              + "\(String(format: "%.2f", Double(flows) / bestFlows / 1e6)) M flows/s, peak \(peak) open")
        print("bench: flow table only       "
              + "\(String(format: "%.0f", (bestFlows - best) / Double(packets) * 1e9)) ns/packet")
        print("bench: memory per flow       Flow stride \(MemoryLayout<Flow>.stride) B, with index "
              + "\(String(format: "%.0f", perFlow)) B at current capacity")
        var ru = rusage()
        getrusage(RUSAGE_SELF.rawValue, &ru)
        print("bench: peak RSS              \(ru.ru_maxrss / 1024) MiB")
        // Allocations in a second pass through a warmed table, when the counting
        // allocator (Benchmarks/malloc-count) is preloaded.
        if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sniff_malloc_count") {
            typealias CountFn = @convention(c) () -> UInt64
            let mallocCount = unsafeBitCast(sym, to: CountFn.self)
            let counter = Counter()
            let table = FlowTable(config: FlowTableConfig(), observer: counter)
            _ = try FlowBenchmarkTests.run(path, consumer: table)
            table.flush()
            let before = mallocCount()
            _ = try FlowBenchmarkTests.run(path, consumer: table)
            let during = mallocCount() - before
            table.flush()
            print("bench: allocations, warm pass \(during) for \(packets) packets and \(counter.ended / 2) flows = "
                  + "\(String(format: "%.4f", Double(during) / Double(packets))) per packet")
        }
        let sharded = ShardedFlowTable(shards: 2, config: FlowTableConfig(), observer: Counter())
        let (ts, _) = try FlowBenchmarkTests.run(path, consumer: sharded)
        sharded.flush()
        print("bench: 2 shards, one thread  \(String(format: "%.3f", ts)) s")
        for n in [1, 2] {
            let counter = Counter()
            let parallel = ParallelFlowTables(shards: n, config: FlowTableConfig(), observer: counter)
            let (tp, _) = try FlowBenchmarkTests.run(path, consumer: parallel)
            let t1 = FlowBenchmarkTests.now()
            parallel.flush()
            let total = tp + (FlowBenchmarkTests.now() - t1)
            print("bench: \(n) shard thread(s)     \(String(format: "%.3f", total)) s = "
                  + "\(String(format: "%.2f", Double(packets) / total / 1e6)) Mpps, \(counter.ended) flows")
        }
        #expect(flows > 0)
    }

    @Test func flowRecordFitsTheBudget() {
        #expect(MemoryLayout<FlowKey>.size == 40)
        #expect(MemoryLayout<FlowEndpoint>.size == 64)
        // 224 plus missed_bytes (TCP content gaps); the goal is 256 (docs/FLOWS.md).
        #expect(MemoryLayout<Flow>.stride <= 232)
    }
}
