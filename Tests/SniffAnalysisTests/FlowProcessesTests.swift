import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis

/// Process attribution's two kinds of flow without an owner: "unknown" (one end is
/// this host's, but no socket was found) and "not local" (neither end is this host's,
/// as on a mirror port). FlowProcesses keeps no record of the second kind and tells
/// them apart by the host's addresses, so both the open flows' usage and the totals
/// of ended flows must still put each flow on its side.
@Suite(.serialized)
struct FlowProcessesTests {
    @Test func unknownAndNotLocalFlowsAreToldApartOpenAndEnded() throws {
        let procs = ProcessTable()
        procs.start()
        defer { procs.stop() }
        // The first scan read this namespace's addresses; loopback's is among them.
        try #require(procs.isLocal(IPAddress(v4: 0x7F00_0001)))
        #expect(!procs.isLocal(IPAddress(v4: 0xC000_0201), or: IPAddress(v4: 0xC633_6401)))

        let table = FlowTable(config: FlowTableConfig(), observer: FlowCollector())
        let now = Date().timeIntervalSince1970
        // A local address on ports nothing here listens on: unknown. Two documentation
        // networks (RFC 5737): not this host's.
        for (src, dst, payload) in [("127.0.0.1", "127.0.0.1", 100), ("192.0.2.1", "198.51.100.1", 300)] {
            for k in 0..<3 {
                let p = udpPacket(src, 61_001, dst, 61_002, payload: payload, at: now + Double(k) / 1000)
                table.process(p, frame: emptyFrame, now: p.timestamp)
            }
        }
        let open = table.openFlows()
        try #require(open.count == 2)
        let processes = FlowProcesses(table: procs)
        for f in open { processes.flowStarted(f) }

        let during = processes.usage(open: open)
        #expect(during.processes.isEmpty)
        #expect(during.unknown.flows == 1)
        #expect(during.others.flows == 1)
        #expect(during.others.bytes > during.unknown.bytes)
        let inPlace = processes.usage(table: table)
        #expect(inPlace.unknown == during.unknown)
        #expect(inPlace.others == during.others)

        for f in open {
            #expect(processes.process(of: f) == nil)
            processes.flowEnded(f)
        }
        #expect(processes.unknown == during.unknown)
        #expect(processes.others == during.others)
        // Ended flows are forgotten: nothing left open counts twice.
        let after = processes.usage(open: [])
        #expect(after.unknown == during.unknown)
        #expect(after.others == during.others)
    }
}
