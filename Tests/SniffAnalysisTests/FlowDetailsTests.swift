import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
import SniffTestSupport

/// The details of a flow are changed in place when nothing else holds them; a copy of
/// the flow or of its details, as an observer keeps one, must never change under it.
struct FlowDetailsTests {
    private func flow() -> Flow {
        let key = FlowKey(a: IPAddress("10.0.0.1")!, portA: 40000, b: IPAddress("10.0.0.2")!, portB: 443, proto: 6)
        return Flow(key: key, origIsA: true, nanos: 1_000_000_000)
    }

    @Test func copiesOfAFlowKeepWhatTheySaw() {
        var f = flow()
        f.updateDetails { $0.dnsQuery = "a.example" }
        let copy = f
        f.updateDetails { $0.dnsQuery = "b.example"; $0.ja3 = "ja3-1"; $0.tlsCipher = 0x1301 }
        #expect(copy.details.dnsQuery == "a.example")
        #expect(copy.details.ja3 == nil && copy.details.tlsCipher == 0)
        #expect(f.details.dnsQuery == "b.example" && f.details.ja3 == "ja3-1" && f.details.tlsCipher == 0x1301)

        // The handshake fields live in a box of their own: a copy of the details taken
        // before a change keeps the old ones too.
        let before = f.details
        f.updateDetails { $0.ja3 = "ja3-2"; $0.tlsALPNOffered = ["h2"]; $0.tlsCertificate = .absent }
        #expect(before.ja3 == "ja3-1" && before.tlsALPNOffered.isEmpty && before.tlsCertificate == .unknown)
        #expect(f.details.ja3 == "ja3-2" && f.details.tlsALPNOffered == ["h2"] && f.details.tlsCertificate == .absent)
        #expect(before != f.details)

        // With no copy left, further changes still land (where the details lie).
        f.updateDetails { $0.httpHost = "host.example"; $0.ja4 = "t13d" }
        #expect(f.details.httpHost == "host.example" && f.details.ja4 == "t13d" && f.details.ja3 == "ja3-2")
    }

    @Test func handshakeFieldsBackAtTheirDefaultsCompareEqualToNone() {
        var d = FlowDetails()
        d.ja3 = "x"
        d.tlsOfferedVersions = [0x0304]
        #expect(d != FlowDetails())
        d.ja3 = nil
        d.tlsOfferedVersions = []
        #expect(d == FlowDetails())
        // So an update that changes nothing gives a flow no details.
        var f = flow()
        f.updateDetails { $0.tlsCipher = 0 }
        #expect(f.details == FlowDetails())
    }

    /// A run that prints no packets lets the pipeline drop its copy of each packet:
    /// the flows must be the same as with it, tunnels and fragments included.
    @Test func flowsDoNotDependOnKeepingThePacket() throws {
        for name in ["tunnel-vxlan.pcap", "tunnel-gre.pcap", "frag.pcap", "tcp-states.pcap", "dns.pcap", "tls.pcap"] {
            let url = TestPaths.fixtures.appendingPathComponent(name)
            func run(keeping: Bool) throws -> [String] {
                try flows(of: url) { $0.keepsPacket = keeping }.map {
                    "\(FlowSummary($0)) \($0.app) \($0.details.dnsQuery ?? "") "
                        + "\($0.details.tlsSNI ?? "") \($0.details.ja3 ?? "")"
                }
            }
            let kept = try run(keeping: true)
            #expect(!kept.isEmpty, "\(name)")
            #expect(try run(keeping: false) == kept, "\(name)")
        }
    }
}
