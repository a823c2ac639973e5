import Foundation
import Testing
import SniffCore
@testable import SniffStore

/// The write pace through a real writer and SQLite file: batches queued behind a write
/// wait for the pace and go in one call, and a finish never waits for it (a pace that
/// held a finishing writer's last call once made every short load into ClickHouse a
/// second longer).
@Suite("Store writer pace")
struct WriterPaceTests {
    @Test("batches queued during the pace go in one write; the finish stores them at once")
    func gathersAndFinishesAtOnce() async throws {
        try await TestDatabase.withSQLiteFile("pace") { _, path in
            let store = SQLiteStore(path: path)
            var config = StoreWriter.Configuration()
            config.journalDirectory = StoreTestEnv.tempDirectory("pace-journal")
            config.replayOldJournals = false
            // Ten minutes: far longer than the finish's own timeout below, so a finish
            // that waited for the pace would end with batches left in the journal.
            config.paceNanos = 600_000_000_000
            let writer = StoreWriter(store: store, configuration: config)
            writer.start()
            let batches = SegmentTests.rows(start: Timestamp.now().totalNanoseconds)
            writer.submit(StoreBatch(id: writer.makeBatchID(), sensor: "t", captureID: 1, content: .packets(batches[0])))
            // The first write is not held; wait (bounded) until it is stored.
            let deadline = Date().addingTimeInterval(60)
            while writer.currentStats.batchesStored < 1 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(writer.currentStats.batchesStored == 1)
            for rows in batches[1...] {
                writer.submit(StoreBatch(id: writer.makeBatchID(), sensor: "t", captureID: 1, content: .packets(rows)))
            }
            let report = await writer.finishing(timeoutSeconds: 30)
            #expect(report.complete && report.pendingBatches == 0)
            #expect(report.stats.batchesStored == 3 && report.stats.packetsStored == 1500)
            // Two calls: the first batch, then the two queued behind the pace together.
            #expect(report.stats.writes == 2)
            let stats = try await store.stats()
            #expect(stats.packets == 1500)
            await store.close()
        }
    }

    @Test("a held write goes when the pace's time is up, without a close or more batches")
    func holdEndsWithTheTime() async throws {
        try await TestDatabase.withSQLiteFile("pace-time") { _, path in
            let store = SQLiteStore(path: path)
            var config = StoreWriter.Configuration()
            config.journalDirectory = StoreTestEnv.tempDirectory("pace-time-journal")
            config.replayOldJournals = false
            // Longer than the first write (it migrates a new file, about a second in a debug
            // build), so that the second batch finds the pace running and is held.
            config.paceNanos = 3_000_000_000
            let writer = StoreWriter(store: store, configuration: config)
            writer.start()
            let batches = SegmentTests.rows(start: Timestamp.now().totalNanoseconds)
            func stored(_ n: UInt64) async throws -> Bool {
                // Bounded, and far longer than the pace: a hold that never ended fails here.
                let deadline = Date().addingTimeInterval(60)
                while writer.currentStats.batchesStored < n && Date() < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                return writer.currentStats.batchesStored == n
            }
            writer.submit(StoreBatch(id: writer.makeBatchID(), sensor: "t", captureID: 1, content: .packets(batches[0])))
            let first = try await stored(1)
            #expect(first)
            writer.submit(StoreBatch(id: writer.makeBatchID(), sensor: "t", captureID: 1, content: .packets(batches[1])))
            let second = try await stored(2)
            #expect(second && writer.currentStats.writes == 2)
            let report = await writer.finishing(timeoutSeconds: 30)
            #expect(report.complete && report.stats.packetsStored == 1000)
            await store.close()
        }
    }
}
