import Foundation
import Testing
import SniffCore
import SniffDecode
@testable import SniffStore
import SniffTestSupport

/// The summaries under the dashboard's filters: transport and app from the per-second
/// rollups, addresses and ports from flows, one capture of two identical ones.
@Suite("Filtered summaries")
struct FilteredSummaryTests {
    static let sample = TestPaths.packageRoot.appendingPathComponent("samples/sample.pcapng")

    static func packets(_ t: ProtocolSummaryTable) -> (transports: UInt64, apps: UInt64) {
        (t.transports.reduce(0) { $0 + $1.packets }, t.apps.reduce(0) { $0 + $1.packets })
    }

    @Test("transport, app, ip, port and capture reach the summary, the time series and the talkers")
    func filters() async throws {
        try await TestDatabase.forEachBackend("filtered") { url in
            let store = StoreFactory.open(try StoreURL(url))
            let first = try await load(Self.sample, into: store)
            let second = try await load(Self.sample, into: store)
            let rows = try await allPackets(store, capture: first.captureID)
            let flows = try await allFlows(store, capture: first.captureID)
            #expect(rows.count > 300)
            let one = RangeQuery(capture: first.captureID)
            let all = try await store.protocolSummary(RangeQuery())
            let mine = try await store.protocolSummary(one)
            // The file stored twice: one capture is half of all.
            #expect(Self.packets(mine).transports == UInt64(rows.count), "\(url.prefix(6))")
            #expect(Self.packets(all).transports == 2 * UInt64(rows.count), "\(url.prefix(6))")
            #expect(
                Self.packets(try await store.protocolSummary(RangeQuery(capture: second.captureID))).transports
                    == UInt64(rows.count))

            // Transport: exact, from the rollups.
            var udp = one
            udp.traffic.transport = .udp
            let u = try await store.protocolSummary(udp)
            let udpRows = rows.filter { $0.row.transport == .udp }.count
            #expect(!u.countedFromFlows)
            #expect(u.transports.map(\.name) == ["UDP"], "\(u.transports)")
            #expect(u.transports.first == mine.transports.first { $0.name == "UDP" })
            #expect(Self.packets(u).apps == UInt64(udpRows), "\(url.prefix(6)): apps of UDP")
            #expect(u.transports.first?.flows == UInt64(flows.filter { $0.row.ipProto == 17 }.count))
            let series = try await store.timeSeries(TimeSeriesQuery(range: udp, step: .second, by: .app))
            #expect(series.reduce(0) { $0 + $1.packets } == UInt64(udpRows), "\(url.prefix(6)): time series of UDP")

            // App: the rollup's DNS packets, under their transports.
            var dns = one
            dns.traffic.app = .dns
            let d = try await store.protocolSummary(dns)
            let dnsAll = try #require(mine.apps.first { $0.name == "DNS" })
            #expect(d.apps == [dnsAll], "\(url.prefix(6))")
            #expect(Self.packets(d).transports == dnsAll.packets)

            // A range that starts and ends inside a second: the edges' flows filtered too.
            let times = flows.map(\.row.ts).sorted()
            var edged = udp
            edged.from = times[times.count / 4] + 1
            edged.to = times[3 * times.count / 4] + 500_000_000
            let e = try await store.protocolSummary(edged)
            let inRange = flows.filter { $0.row.ipProto == 17 && $0.row.ts >= edged.from! && $0.row.ts < edged.to! }
            #expect(
                e.transports.reduce(0) { $0 + $1.flows } == UInt64(inRange.count),
                "\(url.prefix(6)): flows at the edges")

            // An address: counted from the flows that have it at either end.
            let counts = Dictionary(flows.map { ($0.row.origH, 1) }, uniquingKeysWith: +)
            let host = try #require(counts.max { $0.value < $1.value }?.key)
            var byIP = one
            byIP.traffic.ip = IPNetwork(address: host, prefixLength: host.isIPv6 ? 128 : 32)
            let matching = flows.filter { $0.row.origH == host || $0.row.respH == host }
            let f = try await store.protocolSummary(byIP)
            #expect(f.countedFromFlows)
            #expect(
                f.transports.reduce(0) { $0 + $1.flows } == UInt64(matching.count),
                "\(url.prefix(6)): flows of \(host)")
            #expect(Self.packets(f).transports == matching.reduce(0) { $0 + $1.row.totalPackets }, "\(url.prefix(6))")
            #expect(Self.packets(f).apps == Self.packets(f).transports)
            let t = try await store.talkers(TalkersQuery(range: byIP, limit: 1000))
            let h = try #require(t.hosts.first { $0.address == host })
            #expect(h.flows == UInt64(matching.count), "\(url.prefix(6)): talkers of \(host)")
            // Every other host is a peer of that address.
            let peers = Set(matching.flatMap { [$0.row.origH, $0.row.respH] })
            #expect(t.hosts.allSatisfy { peers.contains($0.address) }, "\(t.hosts.map(\.address))")
            #expect(try await store.talkers(TalkersQuery(range: one, limit: 1000)).hosts.count > t.hosts.count)

            // A port: the flows with it at either end.
            let port = try #require(flows.first { $0.row.ipProto == 17 }?.row.respP)
            var byPort = one
            byPort.traffic.port = port
            let p = try await store.protocolSummary(byPort)
            #expect(
                p.transports.reduce(0) { $0 + $1.flows }
                    == UInt64(flows.filter { $0.row.origP == port || $0.row.respP == port }.count),
                "\(url.prefix(6)): port \(port)")
            await store.close()
        }
    }
}
