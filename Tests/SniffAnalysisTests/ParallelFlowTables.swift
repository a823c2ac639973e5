#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SniffCore
import SniffDecode
import SniffAnalysis

// With the analysis tests, not in SniffAnalysis, for the reason ShardedFlowTable.swift
// gives: nothing outside the tests runs it, since on this 2-core machine copying the
// packets to the shard threads costs more than the second core gives. A two-thread
// engine may move it back into the product target.

/// Flow tables on their own threads, one per shard, fed in batches.
///
/// The caller's thread (the one that decodes) picks each packet's shard by the
/// direction-independent key hash and copies the decoded packet, and the frame bytes
/// payload inspection may read, into that shard's current batch. Full batches go to the
/// shard's thread through a bounded queue (a full queue makes the caller wait: nothing
/// is lost). Each shard owns its table outright, so no lock is taken per packet. Flow
/// events come back in batches and are handed to `observer` on the caller's thread, in
/// `drain()` (called from `consume` as batches complete) and in `flush()`.
/// Unchecked Sendable: the caller's thread owns it; shards are reached only through their queues.
final class ParallelFlowTables: PacketConsumer, @unchecked Sendable {
    static let batchSize = 256
    /// Frame bytes kept per packet: headers and the start of the payload.
    static let framePrefix = 2048

    enum Event { case started(Flow), updated(Flow), ended(Flow, FlowEndReason) }

    final class Batch {
        var packets: [DecodedPacket] = []
        var nows: [Timestamp] = []
        var frameStarts: [Int] = []
        var bytes: [UInt8] = []
        var events: [Event] = []
        /// Set by the producer for the last batch of a flush.
        var flush = false

        init() {
            packets.reserveCapacity(ParallelFlowTables.batchSize)
            nows.reserveCapacity(ParallelFlowTables.batchSize)
            frameStarts.reserveCapacity(ParallelFlowTables.batchSize + 1)
            bytes.reserveCapacity(ParallelFlowTables.batchSize * 256)
        }

        func reset() {
            packets.removeAll(keepingCapacity: true)
            nows.removeAll(keepingCapacity: true)
            frameStarts.removeAll(keepingCapacity: true)
            bytes.removeAll(keepingCapacity: true)
            events.removeAll(keepingCapacity: true)
            flush = false
        }
    }

    /// A mutex-and-condition queue of batches.
    /// Unchecked Sendable: every var is under `mutex`.
    final class Queue: @unchecked Sendable {
        private var mutex = pthread_mutex_t()
        private var cond = pthread_cond_t()
        private var items: [Batch] = []
        private let limit: Int

        init(limit: Int) {
            self.limit = limit
            pthread_mutex_init(&mutex, nil)
            pthread_cond_init(&cond, nil)
        }

        deinit {
            pthread_mutex_destroy(&mutex)
            pthread_cond_destroy(&cond)
        }

        func put(_ b: Batch) {
            pthread_mutex_lock(&mutex)
            while items.count >= limit { pthread_cond_wait(&cond, &mutex) }
            items.append(b)
            pthread_cond_broadcast(&cond)
            pthread_mutex_unlock(&mutex)
        }

        func take(wait: Bool) -> Batch? {
            pthread_mutex_lock(&mutex)
            defer { pthread_mutex_unlock(&mutex) }
            while items.isEmpty {
                if !wait { return nil }
                pthread_cond_wait(&cond, &mutex)
            }
            let b = items.removeFirst()
            pthread_cond_broadcast(&cond)
            return b
        }
    }

    /// Collects a shard's events into the batch being processed.
    final class Recorder: FlowObserver {
        var batch: Batch?
        func flowStarted(_ flow: Flow) { batch?.events.append(.started(flow)) }
        func flowUpdated(_ flow: Flow) { batch?.events.append(.updated(flow)) }
        func flowEnded(_ flow: Flow, reason: FlowEndReason) { batch?.events.append(.ended(flow, reason)) }
    }

    // Unchecked Sendable: its table is touched only by its own thread.
    final class Shard: @unchecked Sendable {
        let table: FlowTable
        let recorder = Recorder()
        let input = Queue(limit: 8)
        var thread: pthread_t? = nil

        init(config: FlowTableConfig) {
            table = FlowTable(config: config, observer: recorder)
        }

        func run(output: Queue) {
            while let b = input.take(wait: true) {
                recorder.batch = b
                for i in 0..<b.packets.count {
                    let start = b.frameStarts[i], end = b.frameStarts[i + 1]
                    _ = b.bytes.withUnsafeBytes { raw in
                        table.process(
                            b.packets[i], frame: UnsafeRawBufferPointer(rebasing: raw[start..<end]), now: b.nows[i])
                    }
                }
                let last = b.flush
                if last { table.flush() }
                recorder.batch = nil
                output.put(b)
                if last { return }
            }
        }
    }

    var observer: FlowObserver?
    var useWallClock = false
    private let shards: [Shard]
    private var current: [Batch]
    private var spare: [Batch] = []
    private let output: Queue
    private var inFlight = 0
    private var finished = false

    init(shards n: Int, config: FlowTableConfig = FlowTableConfig(), observer: FlowObserver? = nil) {
        let count = Swift.max(1, n)
        var c = config
        c.maxFlows = Swift.max(1, config.maxFlows / count)
        c.initialCapacity = Swift.max(16, config.initialCapacity / count)
        self.observer = observer
        shards = (0..<count).map { _ in Shard(config: c) }
        current = (0..<count).map { _ in Batch() }
        output = Queue(limit: Int.max)
        for s in shards {
            let context = Unmanaged.passRetained(ShardStart(shard: s, output: output)).toOpaque()
            var t = pthread_t()
            pthread_create(&t, nil, { arg in
                let start = Unmanaged<ShardStart>.fromOpaque(arg!).takeRetainedValue()
                start.shard.run(output: start.output)
                return nil
            }, context)
            s.thread = t
        }
    }

    // Unchecked Sendable: set before the thread starts, read by it only.
    final class ShardStart: @unchecked Sendable {
        let shard: Shard
        let output: Queue
        init(shard: Shard, output: Queue) { self.shard = shard; self.output = output }
    }

    deinit { if !finished { flush() } }

    func consume(_ packet: DecodedPacket, frame: UnsafeRawBufferPointer) {
        let s = ShardedFlowTable.shard(of: packet, count: shards.count)
        let b = current[s]
        if b.frameStarts.isEmpty { b.frameStarts.append(0) }
        b.packets.append(packet)
        b.nows.append(useWallClock ? Timestamp.now() : packet.timestamp)
        let keep =
            packet.payloadCaptured > 0 || packet.hasDNS
            ? Swift.min(
                frame.count, packet.payloadOffset + Swift.min(packet.payloadCaptured, ParallelFlowTables.framePrefix))
            : 0
        if keep > 0 { b.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: frame[0..<keep])) }
        b.frameStarts.append(b.bytes.count)
        if b.packets.count >= ParallelFlowTables.batchSize { send(s) }
    }

    private func send(_ s: Int) {
        let b = current[s]
        current[s] = spare.popLast() ?? Batch()
        inFlight += 1
        shards[s].input.put(b)
        drain(wait: false)
    }

    /// Hands finished batches' events to the observer (on this thread).
    private func drain(wait: Bool) {
        while inFlight > 0, let b = output.take(wait: wait) {
            inFlight -= 1
            if let o = observer {
                for e in b.events {
                    switch e {
                    case .started(let f): o.flowStarted(f)
                    case .updated(let f): o.flowUpdated(f)
                    case .ended(let f, let r): o.flowEnded(f, reason: r)
                    }
                }
            }
            b.reset()
            spare.append(b)
        }
    }

    /// Sends the partial batches, waits for every shard to finish and emit its open
    /// flows, then stops the threads. The tables cannot be used afterwards.
    func flush() {
        guard !finished else { return }
        finished = true
        for s in 0..<shards.count {
            current[s].flush = true
            if current[s].frameStarts.isEmpty { current[s].frameStarts.append(0) }
            send(s)
        }
        drain(wait: true)
        for s in shards { if let t = s.thread { pthread_join(t, nil) } }
    }

    /// Per-shard counters (read after `flush`).
    var stats: [FlowTableStats] { shards.map(\.table.stats) }
}
