import Foundation
import Testing
import SniffCore
@testable import SniffStore
import SniffTestSupport

/// Schema 23 (SQLite): a packet row names its capture and sensor by an `origin` code and
/// its MAC addresses by codes (`PacketCodes`); reads, filters and `packets_v` show what
/// version 22 showed.
struct PacketCodesTests {
    static let t0: Int64 = 1_700_000_000_000_000_000
    /// (capture, sensor) of the rows 0..<20, 20..<40, 40..<60 of `rows`.
    static let origins: [(Int64, String)] = [
        (7_000_000_000_000_000_001, "a"), (9, "sensor-ü"), (7_000_000_000_000_000_001, "b")
    ]
    static var rows: [PacketRow] { WriterPathTests.packets(count: 60, start: t0) }

    /// `packets_v` as text, one line a row, in id order.
    static func view(_ url: String) throws -> String {
        try TestDatabase.sqlite(url, """
            SELECT group_concat(line, char(10)) FROM (SELECT id, capture_id || ' ' || sensor || ' ' || n || ' ' || time
                || ' ' || coalesce(eth_src, '-') || ' ' || coalesce(eth_dst, '-') || ' ' || coalesce(src, '-') || ' '
                || coalesce(vlan, '-') || ' ' || coalesce(seq, '-') || ' ' || app || ' ' || coalesce(info, '-') AS line
                FROM packets_v ORDER BY id)
            """)
    }

    /// Appends `rows` to the packets table of version 22 (`PacketsV22`), as main's
    /// build before version 23 wrote them, ids after the last.
    static func writeV22(path: String, _ rows: [PacketRow], captureID: Int64, sensor: String) throws {
        let c = try SQLiteConnection(path: path)
        let first = (try c.scalar("SELECT max(id) FROM packets") ?? 0) + 1
        let st = try c.prepare(PacketsV22.insertSQL)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 32, alignment: 8)
        defer { scratch.deallocate() }
        let arena = BindArena()
        try c.exec("BEGIN")
        for (i, r) in rows.enumerated() {
            PacketsV22.bind(st, id: first + Int64(i), captureID: captureID, sensor: sensor, r, raw: nil,
                            scratch: scratch, arena: arena)
            try st.run()
            arena.reset()
        }
        try c.exec("COMMIT")
    }

    /// A file of version 22 (rows written as main's build wrote them: capture id and
    /// sensor in every row, the MACs in the cold BLOB) converts: the store reads every
    /// field back, the capture and sensor filters find the same rows, `packets_v` shows
    /// the same text, and the rows take less room.
    @Test("version 22's packets convert to codes; reads, filters and packets_v unchanged")
    func migration() async throws {
        try await TestDatabase.withSQLiteStore("packetcodes", at: PacketCodes.version - 1) { store, url, path in
            let rows = Self.rows
            for k in 0..<3 {
                try Self.writeV22(path: path, Array(rows[(20 * k)..<(20 * k + 20)]), captureID: Self.origins[k].0,
                                  sensor: Self.origins[k].1)
            }
            let viewBefore = try Self.view(url)
            #expect(viewBefore.split(separator: "\n").count == rows.count)
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM packets_v WHERE eth_src IS NOT NULL") == "30")
            let bytesBefore = try TestDatabase.sqlite(url, "SELECT sum(length(cold)) FROM packets")

            #expect(try await store.migrate().map(\.version) == Array(PacketCodes.version...Schema.latestVersion))
            #expect(try Self.view(url) == viewBefore)
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_origins") == "3")
            // Two MACs of 48 bits: 30 distinct sources (even rows) and the broadcast.
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_macs") == "31")
            let bytesAfter = try TestDatabase.sqlite(url, "SELECT sum(length(cold)) FROM packets")
            #expect((Int(bytesBefore) ?? 0) - (Int(bytesAfter) ?? 0) == 6 * (30 + 20))

            let got = try await store.packets(PacketQuery(limit: 1000)).rows.sorted { $0.row.ts < $1.row.ts }
            #expect(got.count == rows.count)
            for (i, (g, w)) in zip(got, rows).enumerated() {
                #expect(g.row == w, "packet \(w.n)")
                #expect(g.captureID == Self.origins[i / 20].0 && g.sensor == Self.origins[i / 20].1)
            }
            // The capture and sensor filters, alone and together.
            func count(capture: Int64?, sensor: String?) async throws -> Int {
                var q = PacketQuery(limit: 1000)
                q.filter.capture = capture; q.filter.sensor = sensor
                return try await store.packets(q).rows.count
            }
            #expect(try await count(capture: Self.origins[0].0, sensor: nil) == 40)
            #expect(try await count(capture: nil, sensor: "sensor-ü") == 20)
            #expect(try await count(capture: Self.origins[0].0, sensor: "b") == 20)
            #expect(try await count(capture: 9, sensor: "a") == 0)
            #expect(try await count(capture: 12345, sensor: nil) == 0)

            // New rows reuse the codes and add new ones; a second migrate changes nothing.
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 1, seq: 1), sensor: "a", captureID: Self.origins[0].0,
                    content: .packets(WriterPathTests.packets(count: 10, start: Self.t0 + 1_000_000))))
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 1, seq: 2), sensor: "c", captureID: 1,
                    content: .packets(WriterPathTests.packets(count: 4, start: Self.t0 + 2_000_000))))
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_origins") == "4")
            #expect(try TestDatabase.sqlite(url, "SELECT count(*) FROM sniff_macs") == "31")
            #expect(try await count(capture: Self.origins[0].0, sensor: "a") == 30)
            #expect(try await count(capture: 1, sensor: "c") == 4)
            #expect(try await store.migrate().isEmpty)
        }
    }

    /// A transaction that rolls back takes its new codes with it: the writer's cache
    /// forgets them, and the next batch's rows name codes the file has.
    @Test("codes given in a transaction that rolled back are not reused")
    func rollbackForgetsCodes() async throws {
        try await TestDatabase.withSQLiteFile("packetcodes_rollback") { url, path in
            let store = SQLiteStore(path: path, segmentRows: 16, flowSegmentRows: 8)
            defer { Task { await store.close() } }
            try await store.migrate()
            let c = try SQLiteConnection(path: path)
            try c.exec("BEGIN IMMEDIATE")
            let origin = try c.packetCodes.originCode(captureID: 5, sensor: "gone", c)
            let mac = try c.packetCodes.macCode(0x0200_0000_0001, c)
            try c.exec("ROLLBACK")
            c.packetCodes.forget()
            // Another value takes the same codes after the rollback.
            try await store.write(StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "kept", captureID: 6,
                                             content: .packets(WriterPathTests.packets(count: 4, start: Self.t0))))
            #expect(
                try TestDatabase.sqlite(
                    url, "SELECT capture_id || ' ' || sensor FROM sniff_origins WHERE code = \(origin)")
                    == "6 kept")
            #expect(
                try TestDatabase.sqlite(url, "SELECT mac FROM sniff_macs WHERE code = \(mac)") != "\(0x0200_0000_0001)")
            let read = c.packetCodes.origin(origin, c)
            #expect(read.captureID == 6 && read.sensor == "kept")
            let got = try await store.packets(PacketQuery(limit: 10)).rows
            #expect(got.count == 4 && got.allSatisfy { $0.captureID == 6 && $0.sensor == "kept" })
        }
    }
}
