import Foundation
import Testing
import SniffCore
@testable import SniffCapture

/// The hand-off between the capture thread and the analysis thread when every batch is
/// full: the capture thread waits, a bounded time, for the consumer to release one (the
/// kernel's ring keeps receiving meanwhile) instead of dropping at once; when the wait
/// runs out it drops without waiting again until a batch is free.
@Suite(.serialized)
struct BatchQueueTests {
    /// Takes every free batch and publishes it, as a capture that filled them all.
    static func fill(_ q: BatchQueue, batches: Int) -> [PacketBatch] {
        var out: [PacketBatch] = []
        for _ in 0..<batches {
            guard let b = q.acquireFree() else { break }
            q.publish(b)
            out.append(b)
        }
        return out
    }

    static func millis(since t: Int64) -> Int64 { (ConditionLock.monotonicNanos() - t) / 1_000_000 }

    @Test func producerWaitsForTheConsumerToFreeABatch() throws {
        let q = BatchQueue(batches: 2, batchBytes: 4096, recordsPerBatch: 8, waitMilliseconds: 5000)
        #expect(Self.fill(q, batches: 2).count == 2)
        #expect(q.producerWaits == 0)
        // The consumer takes one and gives it back 200 ms later.
        let consumer = Thread {
            if let b = q.take(milliseconds: 1000) {
                usleep(200_000)
                q.release(b)
            }
        }
        consumer.start()
        let t = ConditionLock.monotonicNanos()
        let b = q.acquireFree()
        let waited = Self.millis(since: t)
        #expect(b != nil)
        #expect(q.producerWaits == 1)
        // It waited for the release, and no longer than that (the bound is 5 s).
        #expect(waited >= 150)
        #expect(waited < 3000)
        #expect(q.sniffDropped == 0)
    }

    @Test func aWaitThatRunsOutDropsUntilABatchIsFree() throws {
        let q = BatchQueue(batches: 2, batchBytes: 4096, recordsPerBatch: 8, waitMilliseconds: 100)
        let held = Self.fill(q, batches: 2)
        #expect(held.count == 2)
        var t = ConditionLock.monotonicNanos()
        #expect(q.acquireFree() == nil)
        #expect(Self.millis(since: t) >= 90)
        #expect(q.producerWaits == 1)
        // The consumer is still stuck: the next frames do not wait again.
        t = ConditionLock.monotonicNanos()
        for _ in 0..<100 { #expect(q.acquireFree() == nil) }
        #expect(Self.millis(since: t) < 50)
        #expect(q.producerWaits == 1)
        // Once a batch is free, it is taken, and a later full queue is waited for again.
        let b = try #require(q.take(milliseconds: 0))
        q.release(b)
        let again = try #require(q.acquireFree())
        q.publish(again)
        t = ConditionLock.monotonicNanos()
        #expect(q.acquireFree() == nil)
        #expect(Self.millis(since: t) >= 90)
        #expect(q.producerWaits == 2)
    }
}
