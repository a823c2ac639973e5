import Foundation
import Testing
import SniffCore
import SniffDecode
@testable import SniffStore

/// The query paths made for latency give the rows and sums the plain SQL gave: `port`
/// and an exact `ip` read as two index ranges (a row matching both sides is listed
/// once), and flow counts read per second with the partial seconds of a range counted
/// from the flows.
@Suite("Fast query paths")
struct FastPathTests {
    /// 400 rows, 1 ms apart, some with the same time: ports and addresses cycle so
    /// that rows match by source, by destination, by both, or not at all.
    static func rows(start: Int64) -> [PacketRow] {
        var rows = syntheticRows(count: 400, start: start)
        let a = IPAddress("10.9.9.9")!, b = IPAddress("10.8.8.8")!
        for i in rows.indices {
            rows[i].ts = start + Int64(i / 3) * 1_000_000  // three rows per time
            switch i % 5 {
            case 0: rows[i].sport = 53; rows[i].dport = 40000; rows[i].src = a; rows[i].dst = b
            case 1: rows[i].sport = 40000; rows[i].dport = 53; rows[i].src = b; rows[i].dst = a
            case 2: rows[i].sport = 53; rows[i].dport = 53; rows[i].src = a; rows[i].dst = a
            case 3: rows[i].sport = 1; rows[i].dport = 2; rows[i].src = b; rows[i].dst = b
            default: rows[i].present.remove(.ports); rows[i].sport = 0; rows[i].dport = 0
            }
        }
        return rows
    }

    @Test("port= and ip= pages: every match once, newest first, across cursors, as a filter in Swift finds them")
    func eitherSide() async throws {
        try await TestDatabase.forEachBackend("fastpath") { url in
            let store = StoreFactory.open(try StoreURL(url))
            try await store.migrate()
            let rows = Self.rows(start: Timestamp.now().totalNanoseconds)
            try await store.write(
                StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "t", captureID: 1, content: .packets(rows)))
            let a = IPAddress("10.9.9.9")!
            let cases: [(String, TrafficFilter, (PacketRow) -> Bool)] = [
                ("port", { var f = TrafficFilter(); f.port = 53; return f }(),
                    { $0.has(.ports) && ($0.sport == 53 || $0.dport == 53) }),
                ("ip", { var f = TrafficFilter(); f.ip = IPNetwork(address: a, prefixLength: 32); return f }(),
                    { $0.src == a || $0.dst == a }),
                ("port+ip", {
                    var f = TrafficFilter(); f.port = 53; f.ip = IPNetwork(address: a, prefixLength: 32); return f
                }(), { $0.has(.ports) && ($0.sport == 53 || $0.dport == 53) && ($0.src == a || $0.dst == a) }),
                ("port+sport", { var f = TrafficFilter(); f.port = 53; f.sport = 40000; return f }(),
                    { $0.has(.ports) && $0.sport == 40000 && $0.dport == 53 }),
            ]
            for (name, filter, matches) in cases {
                // Newest first; equal times by insertion order, newest first.
                let want = rows.enumerated().filter { matches($0.element) }.sorted {
                    ($0.element.ts, $0.offset) > ($1.element.ts, $1.offset)
                }
                var q = PacketQuery(filter: filter, limit: 7)
                var got: [PacketRow] = []
                var pages = 0
                while true {
                    let page = try await store.packets(q)
                    got += page.rows.map(\.row)
                    pages += 1
                    guard let c = page.nextCursor, pages < 500 else { break }
                    q.cursor = c
                }
                #expect(got.map(\.n) == want.map(\.element.n), "\(name)")
                #expect(!want.isEmpty)
            }
            await store.close()
        }
    }

    @Test("Protocol summary flow counts equal counting the flows, for ranges on and off second boundaries")
    func flowCounts() async throws {
        try await TestDatabase.forEachBackend("flowcounts") { url in
            let store = StoreFactory.open(try StoreURL(url))
            try await store.migrate()
            let base = (Timestamp.now().totalNanoseconds / 1_000_000_000 - 100) * 1_000_000_000
            var flows: [FlowRow] = []
            for i in 0..<600 {
                var f = FlowRow()
                f.uid = "C\(i)"; f.ts = base + Int64(i) * 17_000_000; f.lastTs = f.ts + 1
                f.ipProto = i % 3 == 0 ? 17 : 6; f.proto = f.ipProto == 17 ? "udp" : "tcp"
                f.app = ["DNS", "HTTPS", "SSH"][i % 3]; f.appSource = "port"; f.connState = "SF"; f.communityID = "1:x"
                f.origH = IPAddress("10.0.0.1")!; f.respH = IPAddress("10.0.0.2")!
                flows.append(f)
            }
            // Two batches: counts add up across batches of the same second.
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 1, seq: 1), sensor: "t", captureID: 1, content: .flows(Array(flows[..<250]))))
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 1, seq: 2), sensor: "t", captureID: 1, content: .flows(Array(flows[250...]))))
            let s = Int64(1_000_000_000)
            let ranges: [(Int64?, Int64?)] = [
                (nil, nil), (base + s, base + 5 * s), (base + s / 2, base + 5 * s + s / 3),
                (base + 2 * s + 1, base + 2 * s + s / 2), (base + 3 * s + s / 2, nil), (nil, base + 4 * s + 7),
                (base + 20 * s, base + 30 * s)
            ]
            for (from, to) in ranges {
                let inRange = flows.filter { f in (from.map { f.ts >= $0 } ?? true) && (to.map { f.ts < $0 } ?? true) }
                let table = try await store.protocolSummary(RangeQuery(from: from, to: to))
                let byApp = Dictionary(table.apps.map { ($0.name, $0.flows) }, uniquingKeysWith: +)
                for app in ["DNS", "HTTPS", "SSH"] {
                    #expect(
                        byApp[app, default: 0] == UInt64(inRange.filter { $0.app == app }.count),
                        "\(app) \(String(describing: from))..<\(String(describing: to))")
                }
                let byTransport = Dictionary(table.transports.map { ($0.name, $0.flows) }, uniquingKeysWith: +)
                #expect(byTransport.values.reduce(0, +) == UInt64(inRange.count))
            }
            // Retention keeps the counts of the flows it keeps (SQLite deletes rows before
            // the cutoff; PostgreSQL drops whole days before it).
            try await store.maintain(now: base, retentionCutoff: base + 100 * s)
            let left = try await TestDatabase.count(url, "flows")
            #expect(try await store.protocolSummary(RangeQuery()).apps.reduce(0) { $0 + $1.flows } == UInt64(left))
            await store.close()
        }
    }
}
