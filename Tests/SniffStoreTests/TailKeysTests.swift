import Foundation
import Testing
import SniffCore
import SniffDecode
@testable import SniffStore

/// The writer builds each segment's key runs from the keys it kept while inserting
/// (`TailKeys`), not from the rows read back: the runs must be the same bytes either
/// way, across batches that straddle segments, a writer that restarts in the middle of
/// a segment, a batch written twice, and retention.
@Suite("SQLite key runs from the writer's kept keys")
struct TailKeysTests {
    /// Every stored run, and the run the same segment gets when its rows are read back.
    static func compareRuns(_ path: String) throws -> (runs: Int, differ: [String]) {
        let c = try SQLiteConnection(path: path)
        var differ: [String] = []
        var runs = 0
        for table in [SegmentedTable.packets, SegmentedTable.flows] {
            let stored = try c.query(
                "SELECT first_id, kind, data FROM sniff_key_runs WHERE tbl = ?1 ORDER BY first_id, kind",
                [.text(table.name)]
            ) { ($0.int64(0), $0.text(1), Array($0.blob(2))) }
            let segments = try c.query(
                "SELECT first_id, last_id, min_ts, max_ts, ordered FROM sniff_segments WHERE tbl = ?1",
                [.text(table.name)]
            ) { [$0.int64(0), $0.int64(1), $0.int64(2), $0.int64(3), $0.int64(4)] }
            try c.exec("BEGIN IMMEDIATE")
            for s in segments { try table.index(c, first: s[0], last: s[1], readBack: true) }
            let again = try c.query(
                "SELECT first_id, kind, data FROM sniff_key_runs WHERE tbl = ?1 ORDER BY first_id, kind",
                [.text(table.name)]
            ) { ($0.int64(0), $0.text(1), Array($0.blob(2))) }
            let segmentsAgain = try c.query(
                "SELECT first_id, last_id, min_ts, max_ts, ordered FROM sniff_segments WHERE tbl = ?1",
                [.text(table.name)]
            ) { [$0.int64(0), $0.int64(1), $0.int64(2), $0.int64(3), $0.int64(4)] }
            try c.exec("ROLLBACK")
            runs += stored.count
            if stored.count != again.count {
                differ.append("\(table.name): \(stored.count) runs, \(again.count) read back")
            }
            for (a, b) in zip(stored, again) where a.0 != b.0 || a.1 != b.1 || a.2 != b.2 {
                differ.append("\(table.name) segment \(a.0) \(a.1)")
            }
            if segments.sorted(by: { $0[0] < $1[0] }) != segmentsAgain.sorted(by: { $0[0] < $1[0] }) {
                differ.append("\(table.name): segment times differ")
            }
        }
        return (runs, differ)
    }

    @Test("runs built from kept keys are the runs read back from the rows")
    func keptEqualsReadBack() async throws {
        try await TestDatabase.withSQLiteFile("tailkeys") { url, path in
            let start = Timestamp.now().totalNanoseconds
            let packetBatches = SegmentTests.rows(start: start)
            let flowBatches = FlowSegmentTests.flows(start: start)
            var seq: Int64 = 0
            func write(_ store: SQLiteStore, _ content: BatchContent) async throws {
                seq += 1
                try await store.write(
                    StoreBatch(id: BatchID(writer: 1, seq: seq), sensor: "t", captureID: 1, content: content))
            }
            // 500-row batches into 128-row segments (flows: 300 into 100): every batch
            // straddles a segment.
            let first = SQLiteStore(path: path, segmentRows: 128, flowSegmentRows: 100)
            try await first.migrate()
            try await write(first, .packets(packetBatches[0]))
            try await write(first, .flows(flowBatches[0]))
            // Written twice (a replay): stored once, the kept keys unchanged.
            try await first.write(StoreBatch(id: BatchID(writer: 1, seq: seq), sensor: "t", captureID: 1,
                                             content: .flows(flowBatches[0])))
            try await write(first, .packets(packetBatches[1]))
            await first.close()
            // A new writer starts in the middle of a segment: that segment is read back,
            // the next ones come from its kept keys.
            let second = SQLiteStore(path: path, segmentRows: 128, flowSegmentRows: 100)
            try await write(second, .packets(packetBatches[2]))
            try await write(second, .flows(flowBatches[1]))
            try await write(second, .flows(flowBatches[2]))
            try await write(
                second, .packets(syntheticRows(count: 300, start: start + 5_000_000_000, firstNumber: 2001)))
            await second.close()
            let (runs, differ) = try Self.compareRuns(path)
            #expect(runs == 14 * 6 + 9 * 7, "\(runs) runs")
            #expect(differ.isEmpty, "\(differ)")
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM packets") == "1800")
        }
    }

    @Test("kept keys split at a segment's end, and start over when rows do not follow on")
    func splitAndRestart() {
        let keys = TailKeys(kinds: SegmentedTable.packets.kinds.count)
        let rows = syntheticRows(count: 10, start: 1_000)
        keys.append(rows, firstID: 1)
        keys.append(rows, firstID: 11)
        #expect(keys.first == 1 && keys.next == 21)
        let head = keys.take(first: 1, last: 8)
        #expect(head?.times.count == 8)
        #expect(head?.entries[5].map(\.row) == Array(UInt32(0)..<8))
        #expect(keys.first == 9 && keys.next == 21)
        // Not covered (starts at 9, not 5): nothing handed over, rows up to 12 let go.
        #expect(keys.take(first: 5, last: 12) == nil)
        #expect(keys.first == 13)
        let rest = keys.take(first: 13, last: 20)
        #expect(rest?.entries[5].map(\.row) == Array(UInt32(0)..<8))
        #expect(rest?.times == Array(rows.suffix(8).map(\.ts)))
        // A batch that does not follow on starts over.
        keys.append(rows, firstID: 40)
        #expect(keys.first == 40 && keys.next == 50)
        #expect(keys.take(first: 30, last: 45) == nil)
    }
}
