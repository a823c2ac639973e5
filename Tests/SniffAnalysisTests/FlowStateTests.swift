import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
import SniffTestSupport

/// conn_state and history on recorded captures, checked against what Zeek documents for
/// each case (base/protocols/conn/main.zeek).
struct FlowStateTests {
    @Test func recordedTCPStates() throws {
        // Recorded on loopback (Tests/Fixtures/tcp-states.pcap): a complete session, a
        // refused port, an abort by the client, a SYN never answered, a SYN-ACK seen
        // first, then IPv6 complete and refused.
        let all = try flows(of: TestPaths.fixtures.appendingPathComponent("tcp-states.pcap"))
        let got = all.map { FlowSummary($0) }
        let byPort = Dictionary(
            uniqueKeysWithValues: all.map { (Int($0.origPort) == 47104 ? 41004 : Int($0.origPort), $0) })
        func check(
            _ port: Int, _ state: ConnState, _ history: String, sourceLocation: SourceLocation = #_sourceLocation
        ) {
            guard let f = byPort[port] else {
                Issue.record("no flow from port \(port): \(got)", sourceLocation: sourceLocation); return
            }
            #expect(f.connState == state, "\(FlowSummary(f))", sourceLocation: sourceLocation)
            #expect(f.history.string == history, "\(FlowSummary(f))", sourceLocation: sourceLocation)
        }
        check(41000, .sf, "ShADadFf")
        check(41001, .rej, "Sr")
        check(41002, .rsto, "ShADadR")
        check(41003, .s0, "S")
        check(41004, .sf, "^hADadFf")
        check(41005, .sf, "ShADadFf")
        check(41006, .rej, "Sr")
        // The flipped flow's originator is the client that sent the ACK.
        #expect(byPort[41004]?.origPort == 41004)
        #expect(byPort[41004]?.flipped == true)
    }

    @Test(.enabled(if: TestPaths.sharedPcaps != nil, "../shared/pcaps is not beside the package"))
    func completeSessionSizes() throws {
        // tcpdump's print-flags.pcap: one HTTP exchange with SYN, data and FIN both ways.
        let dir = try #require(TestPaths.sharedPcaps)
        let all = try flows(of: dir.appendingPathComponent("print-flags.pcap"))
        #expect(all.count == 1)
        let f = try #require(all.first)
        #expect(f.connState == .sf)
        #expect(f.origPort == 55920 && f.respPort == 80)
        #expect(f.orig.packets == 6 && f.resp.packets == 4)
        #expect(f.history.string.hasPrefix("ShAD"))
    }
}
