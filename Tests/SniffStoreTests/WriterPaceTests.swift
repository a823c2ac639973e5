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
    /// A started writer into a new SQLite file at `path` with the given pace.
    static func writer(_ path: String, pace: Int64) -> (SQLiteStore, StoreWriter) {
        let store = SQLiteStore(path: path)
        var config = StoreWriter.Configuration()
        config.journalDirectory = StoreTestEnv.tempDirectory("pace-journal")
        config.replayOldJournals = false
        config.paceNanos = pace
        let writer = StoreWriter(store: store, configuration: config)
        writer.start()
        return (store, writer)
    }

    static func submit(_ rows: [PacketRow], to writer: StoreWriter) {
        writer.submit(StoreBatch(id: writer.makeBatchID(), sensor: "t", captureID: 1, content: .packets(rows)))
    }

    /// Whether `n` batches are stored, waiting a bounded time (a minute: far longer than
    /// any pace here, so a hold that never ended fails).
    static func stored(_ n: UInt64, by writer: StoreWriter) async throws -> Bool {
        let deadline = Date().addingTimeInterval(60)
        while writer.currentStats.batchesStored < n && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        return writer.currentStats.batchesStored == n
    }

    @Test("batches queued during the pace go in one write; the finish stores them at once")
    func gathersAndFinishesAtOnce() async throws {
        try await TestDatabase.withSQLiteFile("pace") { _, path in
            // Ten minutes: far longer than the finish's own timeout below, so a finish
            // that waited for the pace would end with batches left in the journal.
            let (store, writer) = Self.writer(path, pace: 600_000_000_000)
            let batches = SegmentTests.rows(start: Timestamp.now().totalNanoseconds)
            Self.submit(batches[0], to: writer)
            // The first write is not held.
            let first = try await Self.stored(1, by: writer)
            #expect(first)
            for rows in batches[1...] { Self.submit(rows, to: writer) }
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
            // Longer than the first write (it migrates a new file, about a second in a debug
            // build), so that the second batch finds the pace running and is held.
            let (store, writer) = Self.writer(path, pace: 3_000_000_000)
            let batches = SegmentTests.rows(start: Timestamp.now().totalNanoseconds)
            Self.submit(batches[0], to: writer)
            let first = try await Self.stored(1, by: writer)
            #expect(first)
            Self.submit(batches[1], to: writer)
            let second = try await Self.stored(2, by: writer)
            #expect(second && writer.currentStats.writes == 2)
            let report = await writer.finishing(timeoutSeconds: 30)
            #expect(report.complete && report.stats.packetsStored == 1000)
            await store.close()
        }
    }
}
