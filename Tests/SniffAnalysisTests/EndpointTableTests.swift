import Testing
import SniffCore
import SniffDecode
import SniffAnalysis

/// The address:port table grows a little at a time (its old entries move over the next
/// new entries): during and after a growth every entry is there exactly once, with
/// every packet counted, whether it was updated before, during or after its move.
struct EndpointTableTests {
    /// 60 bytes on the wire from one of 16 M sources to one of a few servers.
    static func udp(from src: Int, to dst: Int) -> DecodedPacket {
        udpPacket("10.\(src >> 16).\((src >> 8) & 255).\(src & 255)", UInt16(20000 + src % 1000), "10.200.0.\(dst)", 53,
                  payload: 18, at: 1 + Double(src) / 1e9)
    }

    static func isPowerOfTwo(_ n: Int) -> Bool { n > 0 && n & (n - 1) == 0 }

    /// Every entry and its packets, from one pass, and from a scan in small steps.
    static func check(_ table: EndpointTable, _ expected: [Endpoint: (sent: UInt64, received: UInt64)]) {
        var seen: [Endpoint: (sent: UInt64, received: UInt64)] = [:]
        var twice = 0
        table.forEach { e, s in
            if seen[e] != nil { twice += 1 }
            seen[e] = (s.sentPackets, s.receivedPackets)
        }
        #expect(twice == 0)
        #expect(seen.count == expected.count)
        #expect(table.count == expected.count)
        let wrong = expected.filter { e, v in seen[e].map { $0.sent != v.sent || $0.received != v.received } ?? true }
        #expect(wrong.isEmpty, "\(wrong.count) entries missing or miscounted")
        var stepped = 0
        var from = 0
        while from < table.slotCapacity {
            table.forEach(slots: from..<(from + 1000)) { _, _ in stepped += 1 }
            from += 1000
        }
        #expect(stepped == expected.count)
    }

    @Test func growthMovesEveryEntryOnce() {
        let table = EndpointTable()
        var expected: [Endpoint: (sent: UInt64, received: UInt64)] = [:]
        var checkedDuring = 0
        var checkedAt = 0
        for i in 0..<120_000 {
            // A new source each time; every third packet, an earlier source again (in
            // the old table during a growth, or already moved).
            for src in (i % 3 == 0 ? [i, i / 2] : [i]) {
                let p = Self.udp(from: src, to: src % 7)
                table.record(p)
                expected[Endpoint(address: p.src, port: Int32(p.sport)), default: (0, 0)].sent += 1
                expected[Endpoint(address: p.dst, port: Int32(p.dport)), default: (0, 0)].received += 1
            }
            // Once in the middle of each growth (the first two: 65 536 slots to 131 072,
            // then to 262 144).
            if !Self.isPowerOfTwo(table.slotCapacity) && table.slotCapacity != checkedAt && i % 1000 == 0 {
                checkedAt = table.slotCapacity
                checkedDuring += 1
                Self.check(table, expected)
            }
        }
        #expect(checkedDuring == 2, "checked while the old table was still moving")
        Self.check(table, expected)
        #expect(Self.isPowerOfTwo(table.slotCapacity))
        // The busiest: the seven servers every packet went to.
        let top = Set(table.top(limit: 7).list.map { $0.0.address.description })
        #expect(top == Set((0..<7).map { "10.200.0.\($0)" }))
    }

    /// The next table is mapped at 60% (39 321 of 65 536 slots) and faulted in by a helper
    /// thread; the growth at 70% takes it, and every entry is there once, counted, before,
    /// during and after the move, and again for the next growth.
    @Test func growthTakesTheTablePreparedAhead() {
        let table = EndpointTable()
        var expected: [Endpoint: (sent: UInt64, received: UInt64)] = [:]
        var spares: [Int] = []
        var src = 0
        func add() {
            let p = Self.udp(from: src, to: src % 7)
            table.record(p)
            expected[Endpoint(address: p.src, port: Int32(p.sport)), default: (0, 0)].sent += 1
            expected[Endpoint(address: p.dst, port: Int32(p.dport)), default: (0, 0)].received += 1
            src += 1
            if table.spareSlots != 0 && spares.last != table.spareSlots { spares.append(table.spareSlots) }
        }
        while table.count < 39_000 { add() }
        #expect(table.spareSlots == 0, "not before 60%")
        let before = table.bytesAllocated
        while table.count < 40_000 { add() }
        #expect(table.spareSlots == 131_072)
        #expect(table.bytesAllocated == 3 * before)
        Self.check(table, expected)
        while table.slotCapacity == 65_536 { add() }
        #expect(table.spareSlots == 0, "the growth took it")
        #expect(table.slotCapacity == 65_536 + 131_072)
        Self.check(table, expected)
        // Through the growth to 262 144 slots, prepared at 78 643 entries.
        while table.count < 100_000 { add() }
        #expect(spares == [131_072, 262_144])
        #expect(table.slotCapacity == 262_144)
        Self.check(table, expected)
    }

    /// A table that stops at its limit before it would grow again prepares no next table.
    @Test func noTablePreparedPastTheLimit() {
        let table = EndpointTable(limit: 40_000)
        for src in 0..<50_000 {
            table.record(Self.udp(from: src, to: 1))
            #expect(table.spareSlots == 0)
        }
        #expect(table.count == 40_000)
        #expect(table.slotCapacity == 65_536)
        #expect(table.overflowPackets == 10_001)
    }
}
