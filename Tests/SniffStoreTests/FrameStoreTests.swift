import Foundation
import Testing
import SniffCore
import SniffDecode
@testable import SniffStore

/// Rows whose bytes are kept the way `StoreConsumer` keeps them with --store-raw: one
/// byte array for the batch, each row a range of it. Every third row keeps none; row
/// sizes run from 0 to 299 bytes and the bytes take every value (COPY's escapes,
/// NUL, backslash, tab and newline among them).
func rowsWithFrames(count: Int, start: Int64) -> (rows: [PacketRow], frames: [UInt8], expected: [Int: [UInt8]]) {
    var rows = syntheticRows(count: count, start: start)
    var frames: [UInt8] = []
    var expected: [Int: [UInt8]] = [:]
    for i in rows.indices where i % 3 != 2 {
        let bytes = (0..<(i % 300)).map { UInt8(truncatingIfNeeded: i &* 7 &+ $0) }
        rows[i].frameOffset = UInt32(frames.count)
        rows[i].frameLength = UInt32(bytes.count)
        rows[i].present.insert(.frame)
        rows[i].caplen = UInt32(bytes.count)
        frames += bytes
        expected[i] = bytes
    }
    return (rows, frames, expected)
}

@Suite("Packet bytes (--store-raw)")
struct FrameStoreTests {
    @Test("Kept bytes come back byte for byte, oldest first, page by page, from SQLite and PostgreSQL")
    func roundTrip() async throws {
        try await TestDatabase.forEachBackend("frames") { url in
            let store = StoreFactory.open(try StoreURL(url))
            try await store.migrate()
            let start = Timestamp.now().totalNanoseconds
            let (rows, frames, expected) = rowsWithFrames(count: 700, start: start)
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 1, seq: 1), sensor: "t", captureID: 1, content: .packets(rows), frames: frames))

            let summary = try await store.frameSummary(TrafficFilter())
            #expect(summary.links == [FrameSummary.Link(link: .ethernet, packets: 700, withBytes: Int64(expected.count),
                                                          maxCaplen: Int64(rows.map(\.caplen).max()!))])
            #expect(summary.withoutBytes == Int64(700 - expected.count))

            var q = PacketQuery(limit: 100)
            var got: [(Int64, [UInt8])] = []
            var pages = 0
            while true {
                let page = try await store.frames(q)
                #expect(page.frames.count <= 100)
                for f in page.frames {
                    #expect(f.link == .ethernet)
                    got.append((f.ts, Array(page.bytes[f.offset..<(f.offset + f.count)])))
                }
                pages += 1
                guard let c = page.nextCursor else { break }
                q.cursor = c
            }
            #expect(pages == (expected.count + 99) / 100)
            let want = expected.keys.sorted().map { (rows[$0].ts, expected[$0]!) }
            #expect(got.map(\.0) == want.map(\.0), "oldest first, rows without bytes left out")
            #expect(got.map(\.1) == want.map(\.1))

            // Either port (read as two index ranges per page) gives the same frames.
            var pf = TrafficFilter()
            pf.port = 443
            var pq = PacketQuery(filter: pf, limit: 64)
            var byPort: [Int64] = []
            while true {
                let page = try await store.frames(pq)
                byPort += page.frames.map(\.ts)
                guard let c = page.nextCursor else { break }
                pq.cursor = c
            }
            #expect(byPort == want.map(\.0))

            // Filters apply; a row without bytes is counted as such.
            var f = TrafficFilter()
            f.sport = rows[2].sport
            let one = try await store.frameSummary(f)
            #expect(one.packets == 1 && one.withoutBytes == 1)
            #expect(try await store.frames(PacketQuery(filter: f)).frames.isEmpty)
            f.sport = rows[4].sport
            let four = try await store.frames(PacketQuery(filter: f))
            #expect(four.frames.count == 1 && four.bytes == expected[4])

            // Pages of ordinary rows are unchanged by the column.
            let page = try await store.packets(PacketQuery(limit: 1))
            #expect(page.rows.first?.row.ts == rows.last?.ts)
            await #expect(throws: StoreError.self) { try await store.frames(PacketQuery(cursor: "p.1.2")) }
            await store.close()
        }
    }

    @Test("A journal keeps the bytes; offsets past them are refused, and old journals read the same")
    func journal() throws {
        let (rows, frames, _) = rowsWithFrames(count: 20, start: 5)
        let b = StoreBatch(
            id: BatchID(writer: 2, seq: 3), sensor: "s", captureID: 4, content: .packets(rows), createdAt: 6,
            frames: frames)
        var w = BinaryWriter()
        BatchCodec.encode(b, into: &w)
        let back = try w.bytes.withUnsafeBytes { raw -> StoreBatch in
            var r = BinaryReader(raw)
            let d = try BatchCodec.decode(&r)
            #expect(r.isAtEnd)
            return d
        }
        #expect(back == b)

        // A row pointing past the bytes (a corrupt journal) is an error, not a read.
        var bad = rows
        bad[0].frameOffset = UInt32(frames.count)
        bad[0].frameLength = 1
        var w2 = BinaryWriter()
        BatchCodec.encode(
            StoreBatch(id: b.id, sensor: "s", captureID: 4, content: .packets(bad), createdAt: 6, frames: frames),
            into: &w2)
        #expect(throws: (any Error).self) {
            try w2.bytes.withUnsafeBytes { raw in var r = BinaryReader(raw); _ = try BatchCodec.decode(&r) }
        }

        // Rows without bytes encode as before --store-raw existed.
        let plain = syntheticRows(count: 3, start: 5)
        var w3 = BinaryWriter()
        BatchCodec.encode(
            StoreBatch(id: b.id, sensor: "s", captureID: 4, content: .packets(plain), createdAt: 6), into: &w3)
        var w4 = BinaryWriter()
        BatchCodec.encode(
            StoreBatch(id: b.id, sensor: "s", captureID: 4, content: .packets(plain), createdAt: 6, frames: [1, 2, 3]),
            into: &w4)
        #expect(w3.bytes == w4.bytes)
    }

    @Test("Kept bytes count toward --store-memory: a batch of them goes to the journal where its rows alone would not")
    func memoryWeight() async throws {
        let dir = StoreTestEnv.tempDirectory("frames-memory")
        // A database that cannot be opened: batches wait in memory, then in the journal.
        let store = StoreFactory.open(try StoreURL("sqlite:\(dir)/missing/dir/x.db"))
        var config = StoreWriter.Configuration()
        config.memoryLimitRows = 1000
        config.journalDirectory = dir + "/journal"
        config.replayOldJournals = false
        let writer = StoreWriter(store: store, configuration: config)
        writer.start()
        let plain = syntheticRows(count: 10, start: 1)
        writer.submit(StoreBatch(id: writer.makeBatchID(), sensor: "t", captureID: 1, content: .packets(plain)))
        #expect(writer.currentStats.journalBatches == 0)
        #expect(writer.currentStats.memoryRows == 10)
        // 10 rows holding 600 000 bytes weigh 10 + 1171 rows: past the bound of 1000.
        let (rows, _, _) = rowsWithFrames(count: 10, start: 1)
        let bytes = [UInt8](repeating: 0xAB, count: 600_000)
        writer.submit(
            StoreBatch(id: writer.makeBatchID(), sensor: "t", captureID: 1, content: .packets(rows), frames: bytes))
        #expect(writer.currentStats.journalBatches == 1)
        #expect(writer.currentStats.memoryRows == 10)
        #expect(
            StoreBatch(
                id: BatchID(writer: 1, seq: 1), sensor: "t", captureID: 1, content: .packets(rows), frames: bytes
            ).memoryWeight == 10 + 1171)
        _ = await writer.finishing(timeoutSeconds: 0)
        await store.close()
    }

    @Test("Migration 4 (the raw column) is applied once; rows written without bytes count as such")
    func migration() async throws {
        try await TestDatabase.forEachBackend("frames_migrate") { url in
            let store = StoreFactory.open(try StoreURL(url))
            try await store.migrate()
            let info = try await store.info()
            #expect(info.schemaVersion == Schema.latestVersion)
            #expect(info.migrations.contains { $0.version == 4 && $0.appliedAt != nil })
            // Written rows without bytes read back as "no bytes".
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 1, seq: 1), sensor: "t", captureID: 1,
                    content: .packets(syntheticRows(count: 3, start: Timestamp.now().totalNanoseconds))))
            #expect(try await store.frameSummary(TrafficFilter()).withoutBytes == 3)
            #expect(try await store.migrate().isEmpty)
            await store.close()
        }
    }
}
