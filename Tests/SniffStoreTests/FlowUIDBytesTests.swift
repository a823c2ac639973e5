import Foundation
import Testing
import SniffCore
@testable import SniffStore
import SniffTestSupport

/// Schema 22 (SQLite): a flow uid Sniff made ("C" and 17 base62 digits) is 13 bytes in
/// the packets and flows tables; any other text stays text in the same column.
struct FlowUIDBytesTests {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    /// Sniff's form, with the first and last digit values in every place.
    static let canonical = ["C" + String(repeating: "0", count: 17), "Czzzzzzzzzzzzzzzzz", "CLaEiM4IvDaz2p0XRJ",
                            "C553xF3cRnE43VYXqy", "Cz0z0z0z0z0z0z0z0z"]
    /// Text that is not: kept as it is.
    static let other = [
        "CU7", "X553xF3cRnE43VYXqy", "C553xF3cRnE43VYXq-", "C553xF3cRnE43VYXqyy", "", "C553xF3cRnE43VYX é"
    ]

    static func bytes(_ uid: String) -> [UInt8]? {
        var u = uid
        var out = [UInt8](repeating: 0, count: FlowUIDBytes.count)
        let ok = u.withUTF8 { t in out.withUnsafeMutableBytes { FlowUIDBytes.write(t, to: $0.baseAddress!) } }
        return ok ? out : nil
    }

    @Test("a uid of Sniff's reads back from its 13 bytes; other text has none")
    func roundTrip() {
        var all = Self.canonical
        // Every digit value in every place: 62 uids, digit k of uid i is (i + 7k) mod 62.
        for i in 0..<62 { all.append("C" + String((0..<17).map { k in Self.alphabet[(i + 7 * k) % 62] })) }
        for uid in all {
            let b = Self.bytes(uid)
            #expect(b != nil, "\(uid)")
            #expect(b.flatMap { b in b.withUnsafeBytes { FlowUIDBytes.text($0) } } == uid)
        }
        for uid in Self.other { #expect(Self.bytes(uid) == nil, "\(uid)") }
    }

    /// A file of version 21 (uids as text, as main's build wrote them) converts: Sniff's
    /// uids become bytes, the rest stays text, the store and the views read the same uids,
    /// and the text filter that joins packets to their flows by uid finds the same rows.
    @Test("version 21's text uids convert to bytes; reads, views and the flow join unchanged")
    func migration() async throws {
        try await TestDatabase.withSQLiteStore("uidbytes", at: SQLiteSchema.uidBytesVersion - 1) { store, url, path in
            let uids = Self.canonical + Self.other.filter { !$0.isEmpty }
            let t0: Int64 = 1_700_000_000_000_000_000
            var packets = WriterPathTests.packets(count: 40, start: t0)
            for i in packets.indices where i % 5 != 4 {
                packets[i].flowUID = uids[i % uids.count]; packets[i].present.insert(.flowUID)
                packets[i].dnsQuery = nil; packets[i].present.remove(.dnsQuery)
            }
            var flows = (0..<20).map { WriterPathTests.flow($0, start: t0) }
            for k in flows.indices {
                flows[k].uid = k < uids.count ? uids[k] : "CU\(k)"
                flows[k].dnsQuery = k % 2 == 0 ? "joined-\(k).example" : nil
            }
            // Packets as version 22's table takes them (version 23 changed its columns).
            try PacketCodesTests.writeV22(path: path, packets, captureID: 1, sensor: "s")
            try await store.write(StoreBatch(id: BatchID(writer: 1, seq: 2), sensor: "s", captureID: 1,
                                             content: .flows(flows)))
            // What version 21 stored: the uids' text.
            _ = try TestDatabase.sqlite(url, "UPDATE packets SET flow_uid = \(FlowUIDBytes.viewText("flow_uid"))")
            _ = try TestDatabase.sqlite(url, "UPDATE flows SET uid = \(FlowUIDBytes.viewText("uid"))")
            #expect(try await TestDatabase.count(url, "packets", where: "typeof(flow_uid) = 'blob'") == 0)
            #expect(try await TestDatabase.count(url, "flows", where: "typeof(uid) = 'blob'") == 0)
            var joined = PacketQuery(limit: 1000)
            joined.filter.text = "joined-"
            let joinedUIDs = Set(flows.filter { $0.dnsQuery?.contains("joined-") == true }.map(\.uid))
            let joinedWant = Set(packets.filter { $0.has(.flowUID) && joinedUIDs.contains($0.flowUID ?? "") }.map(\.n))

            #expect(
                try await store.migrate().map(\.version) == Array(SQLiteSchema.uidBytesVersion...Schema.latestVersion))
            let ours = packets.filter { p in p.has(.flowUID) && p.flowUID.flatMap(Self.bytes) != nil }.count
            #expect(ours > 0 && ours < packets.filter { $0.has(.flowUID) }.count)
            #expect(try await TestDatabase.count(url, "packets", where: "typeof(flow_uid) = 'blob'") == ours)
            #expect(try await TestDatabase.count(url, "flows", where: "typeof(uid) = 'blob'") == Self.canonical.count)
            #expect(
                try await TestDatabase.count(
                    url, "packets", where: "length(flow_uid) = 13 AND typeof(flow_uid) = 'blob'")
                    == (try await TestDatabase.count(url, "packets", where: "typeof(flow_uid) = 'blob'")))

            // The store reads every uid back.
            let stored = try await store.packets(PacketQuery(limit: 1000)).rows.sorted { $0.row.ts < $1.row.ts }
            #expect(stored.map { $0.row.has(.flowUID) ? $0.row.flowUID : nil }
                == packets.map { $0.has(.flowUID) ? $0.flowUID : nil })
            let storedFlows = try await store.flows(FlowQuery(limit: 1000)).rows.map(\.row.uid)
            #expect(storedFlows.sorted() == flows.map(\.uid).sorted())
            // The views show the text.
            #expect(try TestDatabase.sqlite(url, "SELECT group_concat(coalesce(flow_uid, '-'), ' ') FROM (SELECT flow_uid FROM packets_v ORDER BY id)")
                == packets.map { $0.has(.flowUID) ? $0.flowUID ?? "-" : "-" }.joined(separator: " "))
            #expect(
                try TestDatabase.sqlite(url, "SELECT group_concat(uid, ' ') FROM (SELECT uid FROM flows_v ORDER BY id)")
                    == flows.map(\.uid).joined(separator: " "))
            // Packets found through their flow's DNS name: the join compares bytes with bytes.
            let joinedAfter = try await store.packets(joined).rows.map(\.row.n)
            #expect(Set(joinedAfter) == joinedWant && joinedAfter.count == joinedWant.count)
            #expect(!joinedAfter.isEmpty)
            // New rows are written as bytes and a second migrate changes nothing.
            try await store.write(StoreBatch(id: BatchID(writer: 1, seq: 3), sensor: "s", captureID: 1,
                                             content: .flows([WriterPathTests.flow(30, start: t0)].map { f in
                                                 var f = f; f.uid = "CLaEiM4IvDaz2p0XRJ"; return f })))
            #expect(
                try await TestDatabase.count(url, "flows", where: "typeof(uid) = 'blob'") == Self.canonical.count + 1)
            #expect(try await store.migrate().isEmpty)
        }
    }
}
