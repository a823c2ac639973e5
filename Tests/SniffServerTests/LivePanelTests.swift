import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
import SniffStore
@testable import SniffServer
import SniffTestSupport

/// The live panels' data: exact per-second stats on an interface capture, and the
/// flows still in progress in /api/flows and /api/talkers.
@Suite("Live panels")
struct LivePanelTests {
    static func stats(_ b: LiveBroadcaster) -> [(ts: Int64, packets: Int, bytes: Int, udp: Int)] {
        b.recentStats.compactMap { m in
            guard let o = try? JSONSerialization.jsonObject(with: Data(m.utf8)) as? [String: Any] else { return nil }
            let udp = ((o["transport"] as? [String: Any])?["UDP"] as? [String: Any])?["packets"] as? Int ?? 0
            return ((o["ts"] as? NSNumber)?.int64Value ?? 0, o["packets"] as? Int ?? -1, o["bytes"] as? Int ?? -1, udp)
        }
    }

    /// A hub as on an interface capture (seconds from the packets), its broadcaster,
    /// and a pipeline that feeds it.
    static func interfaceCapture() -> (LiveHub, LiveBroadcaster, PacketPipeline) {
        let hub = LiveHub(sensor: "t", captureID: 1, source: "interface test")
        hub.secondsFromPackets = true
        let broadcaster = LiveBroadcaster(
            outbox: hub.outbox, configuration: ServerConfiguration(), logger: Logger(label: "t"))
        let pipeline = PacketPipeline()
        pipeline.consumers = [hub]
        return (hub, broadcaster, pipeline)
    }

    @Test("a steady 2000 packets/s gives exactly 2000 in every second's stats, however the drains fall")
    func exactSeconds() throws {
        let (hub, broadcaster, pipeline) = Self.interfaceCapture()
        let bytes = Frames.udp(size: 100)
        let base: Int64 = 1_800_000_000
        // Five seconds at 2000 packets/s (one every 0.5 ms, starting 0.3 ms into a
        // second); the server drains every 37th packet and 0.7 s behind, as a loaded
        // server would, so that drain times and second boundaries never line up.
        for i in 0..<10_000 {
            let nanos = base * 1_000_000_000 + 300_000 + Int64(i) * 500_000
            let ts = Timestamp(seconds: nanos / 1_000_000_000, nanoseconds: UInt32(nanos % 1_000_000_000))
            _ = bytes.withUnsafeBytes {
                pipeline.process(RawPacket(bytes: $0, timestamp: ts, wireLength: 100, interfaceID: 0, link: .ethernet))
            }
            if i % 37 == 0 {
                hub.tick(force: true)
                let late = nanos + 700_000_000
                broadcaster.step(
                    now: Timestamp(seconds: late / 1_000_000_000, nanoseconds: UInt32(late % 1_000_000_000)))
            }
        }
        hub.tick(force: true)
        broadcaster.step(now: Timestamp(seconds: base + 8, nanoseconds: 0))
        let s = Self.stats(broadcaster).filter { $0.ts >= base && $0.ts < base + 5 }
        #expect(s.map(\.ts) == Array(base..<base + 5))
        #expect(s.allSatisfy { $0.packets == 2000 && $0.bytes == 200_000 && $0.udp == 2000 }, "\(s)")
        // Seconds are sent in order, once each, and the idle seconds after as zeros.
        let all = Self.stats(broadcaster)
        #expect(all.map(\.ts) == Array(all.first!.ts...(base + 6)))
        #expect(all.filter { $0.ts > base + 4 }.allSatisfy { $0.packets == 0 })
        #expect(broadcaster.liveSummary.packets == 10_000)
    }

    @Test("a second is sent once a later second's packets arrive, not later than a second after it ends")
    func secondsComplete() throws {
        let (hub, broadcaster, pipeline) = Self.interfaceCapture()
        let bytes = Frames.udp(size: 60)
        func packet(_ s: Int64, _ ms: UInt32) {
            _ = bytes.withUnsafeBytes {
                pipeline.process(
                    RawPacket(
                        bytes: $0, timestamp: Timestamp(seconds: s, nanoseconds: ms * 1_000_000), wireLength: 60,
                        interfaceID: 0, link: .ethernet))
            }
        }
        packet(100, 100); packet(100, 900)
        hub.tick(force: true)
        broadcaster.step(now: Timestamp(seconds: 100, nanoseconds: 950_000_000))
        #expect(Self.stats(broadcaster).filter { $0.packets > 0 }.isEmpty)
        packet(101, 10)
        broadcaster.step(now: Timestamp(seconds: 101, nanoseconds: 20_000_000))
        #expect(Self.stats(broadcaster).last.map { ($0.ts, $0.packets) } ?? (0, 0) == (100, 2))
        // No more packets: second 101 goes out by the wall clock.
        hub.tick(force: true)
        broadcaster.step(now: Timestamp(seconds: 102, nanoseconds: 500_000_000))
        #expect(Self.stats(broadcaster).last.map { ($0.ts, $0.packets) } ?? (0, 0) == (100, 2))
        broadcaster.step(now: Timestamp(seconds: 103, nanoseconds: 0))
        #expect(Self.stats(broadcaster).last.map { ($0.ts, $0.packets) } ?? (0, 0) == (101, 1))
    }

    @Test("flows in progress are in /api/flows (open_rows, filtered) and in /api/talkers", arguments: bothSetups)
    func openFlows(_ setup: TestingSetup) async throws {
        let dir = ServerTestEnv.tempDirectory("open")
        let db = try await loadDatabase([], path: dir + "/open.db")
        let hub = LiveHub(sensor: "live", captureID: 7, source: "interface test")
        let table = FlowTable(config: FlowTableConfig())
        let builder = RowBuilder()
        hub.openFlowRows = { table.openFlows(largest: 1000).map { builder.row(from: $0, reason: nil) } }
        let pipeline = PacketPipeline()
        pipeline.consumers = [table, hub]
        let reader = try CaptureFileReader(path: TestPaths.fixtures.appendingPathComponent("lo-udp-tcp.pcap").path)
        while let raw = try reader.next() { pipeline.process(raw) }
        hub.tick(force: true)
        let open = table.openFlows(largest: 1000)
        #expect(open.count >= 2 && open.count == table.count)
        let bytes = open.map { $0.orig.wireBytes + $0.resp.wireBytes }
        #expect(bytes == bytes.sorted(by: >))
        #expect(table.openFlows(largest: 1).first.map { $0.orig.wireBytes + $0.resp.wireBytes } == bytes.first)
        let udpPort = try #require(open.first { $0.proto == 17 }?.respPort)
        let (_, app) = makeApp(db.store, live: hub.outbox)
        try await app.test(setup) { client in
            let all = try await client.execute(uri: "/api/flows?sort=bytes", method: .get) { jsonObject($0.body) }
            #expect((all["rows"] as? [Any])?.count == 0)
            let rows = all["open_rows"] as? [[String: Any]] ?? []
            #expect(rows.count == open.count)
            #expect(rows.allSatisfy { $0["sensor"] as? String == "live" && $0["end_reason"] == nil })
            let f = try await client.execute(uri: "/api/flows?transport=udp&port=\(udpPort)", method: .get) {
                jsonObject($0.body)
            }
            let frows = f["open_rows"] as? [[String: Any]] ?? []
            #expect(!frows.isEmpty && frows.count < rows.count)
            #expect(
                frows.allSatisfy {
                    $0["proto"] as? String == "udp"
                        && ($0["id.resp_p"] as? Int == Int(udpPort) || $0["id.orig_p"] as? Int == Int(udpPort))
                })
            // A later page (with a cursor) lists stored flows only.
            let none = try await client.execute(uri: "/api/flows?sort=bytes&from=2100-01-01T00:00:00Z", method: .get) {
                jsonObject($0.body)
            }
            #expect((none["open_rows"] as? [Any])?.count == 0)
            let t = try await client.execute(uri: "/api/talkers", method: .get) { jsonObject($0.body) }
            let hosts = (t["hosts"] as? [[String: Any]] ?? []).compactMap { $0["address"] as? String }
            #expect(Set(hosts) == Set(open.flatMap { ["\($0.origAddress)", "\($0.respAddress)"] }))
            let pairs = t["pairs"] as? [[String: Any]] ?? []
            let total = pairs.compactMap { $0["packets"] as? Int }.reduce(0, +)
            #expect(total == 2 * open.map { Int($0.orig.packets + $0.resp.packets) }.reduce(0, +))
        }
        // Without a hub (sniff serve) there is no open_rows.
        let (_, plain) = makeApp(db.store)
        try await plain.test(.router) { client in
            let all = try await client.execute(uri: "/api/flows", method: .get) { jsonObject($0.body) }
            #expect(all["open_rows"] == nil)
        }
    }
}
