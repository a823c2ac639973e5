import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis

/// The address:port table holds packets' updates and applies them in batches; every
/// read must see exactly what recording each packet at once would have given: the
/// same counters, times, transports and apps, the same endpoints kept when the table is
/// at its limit and the same overflow count, whenever it is read.
struct EndpointTableTests {
    /// The table's meaning, kept the plain way.
    struct Model {
        var stats: [Endpoint: EndpointStat] = [:]
        var overflow: UInt64 = 0
        let limit: Int

        mutating func touch(_ e: Endpoint, sent: Bool, _ p: DecodedPacket) {
            let ns = p.timestamp.totalNanoseconds
            guard var s = stats[e] ?? (stats.count < limit ? EndpointStat() : nil) else { overflow += 1; return }
            if s.sentPackets == 0 && s.receivedPackets == 0 {
                s.first = p.timestamp; s.last = p.timestamp
            } else {
                if ns < s.first.totalNanoseconds { s.first = p.timestamp }
                if ns > s.last.totalNanoseconds { s.last = p.timestamp }
            }
            if sent { s.sentPackets += 1; s.sentBytes += UInt64(p.wireLength) } else { s.receivedPackets += 1; s.receivedBytes += UInt64(p.wireLength) }
            s.transports |= UInt16(1) << UInt16(p.transport.rawValue)
            s.apps.insert(p.app)
            stats[e] = s
        }

        mutating func record(_ p: DecodedPacket) {
            guard p.ipVersion != 0 else { return }
            touch(Endpoint(address: p.src, port: p.hasPorts ? Int32(p.sport) : -1), sent: true, p)
            touch(Endpoint(address: p.dst, port: p.hasPorts ? Int32(p.dport) : -1), sent: false, p)
        }
    }

    @Test func batchedUpdatesReadAsIfEachPacketWereAppliedAtOnce() {
        let limit = 3000
        let table = EndpointTable(expectedEndpoints: 16, limit: limit)
        var model = Model(limit: limit)
        var rng = SplitMix(seed: 5)
        let apps: [AppProtocol] = [.unknown, .dns, .http, .tls]
        for i in 0..<20_000 {
            let r = rng.next()
            // Times go backwards now and then (live frames from two interfaces).
            let at = 1000 + Double(i) / 1000 - (r % 7 == 0 ? 0.5 : 0)
            let v6 = r % 5 == 0
            let src = v6 ? "2001:db8::\(String(r % 900 + 1, radix: 16))" : "10.1.\(r % 9).\(r % 250 + 1)"
            let dst = v6 ? "2001:db8::1:\(String(r % 3 + 1, radix: 16))" : "10.2.0.\(r % 3 + 1)"
            var p = udpPacket(src, UInt16(1024 + (r >> 8) % 2000), dst, 53, payload: Int(r % 300), at: at)
            if r % 11 == 0 { p.hasPorts = false; p.transport = .icmp; p.ipProto = 1 }
            if r % 13 == 0 { p.ipVersion = 0 }
            p.app = apps[Int(r >> 20) % apps.count]
            table.record(p)
            model.record(p)
            // Reads at uneven points, between batches and inside them.
            if i % 997 == 0 { #expect(table.count == model.stats.count) }
        }
        #expect(model.overflow > 0, "the table reached its limit")
        #expect(table.count == model.stats.count)
        #expect(table.overflowPackets == model.overflow)
        var seen: [Endpoint: EndpointStat] = [:]
        table.forEach { e, s in seen[e] = s }
        #expect(seen == model.stats)
        // The busiest first, as the talkers view and the report list them.
        let top = table.top(limit: 50)
        #expect(top.eligible == model.stats.count)
        #expect(top.list.map(\.1.totalPackets) == model.stats.values.map(\.totalPackets).sorted(by: >).prefix(50).map { $0 })
    }
}
