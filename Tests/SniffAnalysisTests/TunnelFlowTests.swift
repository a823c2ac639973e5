import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
import SniffTestSupport

/// Flows of the packets carried in tunnels, on the tunnel fixtures (Tests/Fixtures/
/// tunnel-*.pcap: the same UDP, TCP and ping traffic inside each kind of tunnel,
/// recorded by scripts/record-fixtures.sh). The inner conversations' packets and bytes
/// against tshark's are checked by FlowTsharkTests, which reads these captures too.
struct TunnelFlowTests {
    struct Case: CustomStringConvertible, Sendable {
        var file: String
        var kind: TunnelKind
        var id: UInt32?
        /// Inner flows: UDP and TCP and the ping, or the multicast UDP of PIM.
        var inner: Int
        var description: String { file }
    }

    static let cases = [
        Case(file: "tunnel-vxlan.pcap", kind: .vxlan, id: 42, inner: 3),
        Case(file: "tunnel-geneve.pcap", kind: .geneve, id: 4242, inner: 3),
        Case(file: "tunnel-gre.pcap", kind: .gre, id: 7001, inner: 3),
        Case(file: "tunnel-ipip.pcap", kind: .ipip, id: nil, inner: 3),
        Case(file: "tunnel-6in4.pcap", kind: .ip6in4, id: nil, inner: 3),
        Case(file: "tunnel-pim.pcap", kind: .pim, id: nil, inner: 1),
        Case(file: "tunnel-gtpu.pcap", kind: .gtpu, id: 0x1234567, inner: 3),
    ]

    /// The tunnel's ends (the veth); every other address is inside.
    static func isOuter(_ a: IPAddress) -> Bool { IPNetwork("10.77.0.0/24")!.contains(a) }

    /// The uid (seed 0) of the flow with this key and start: a tunnel parent's.
    static func uid(_ key: FlowKey, _ startNanos: Int64) -> String {
        var s = ByteSink(capacity: 18)
        FlowUID.append(seed: 0, key: key, startNanos: startNanos, into: &s)
        return s.string
    }

    /// Every flow between addresses inside the tunnel is carried, names its tunnel, and its
    /// parent is a flow between the tunnel's ends that carried its first packet; the
    /// outer flows carry no tunnel.
    @Test(arguments: cases)
    func innerFlowsNameTheirTunnelAndParent(_ c: Case) throws {
        let all = try flows(of: TestPaths.fixtures.appendingPathComponent(c.file))
        let inner = all.filter { !TunnelFlowTests.isOuter($0.origAddress) }
        let outer = all.filter { TunnelFlowTests.isOuter($0.origAddress) }
        // The ICMPv6 listener reports the GENEVE fixture's TAP device sends are inner flows too.
        let expected =
            c.kind == .geneve ? c.inner + inner.filter { $0.respAddress == IPAddress("ff02::16")! }.count : c.inner
        #expect(inner.count == expected, "\(inner.map { FlowSummary($0) })")
        #expect(outer.allSatisfy { $0.details.tunnel == nil })
        var outerUIDs: [String: Flow] = [:]
        for f in outer { outerUIDs[FlowUID.string(seed: 0, flow: f)] = f }
        for f in inner {
            let t = try #require(f.details.tunnel, "\(FlowSummary(f)) has no tunnel")
            #expect(t.kind == c.kind)
            #expect(t.id == c.id)
            let parent = TunnelFlowTests.uid(t.parentKey, t.parentStartNanos)
            let p = try #require(outerUIDs[parent], "\(FlowSummary(f)): parent \(parent) is no outer flow")
            #expect(p.startNanos <= f.startNanos && f.startNanos <= p.lastNanos)
            #expect(Set([p.origAddress, p.respAddress]) == Set([IPAddress("10.77.0.1")!, IPAddress("10.77.0.2")!]))
        }
    }

    /// With carried flows off, only the outer flows are left (the behaviour before).
    @Test func carriedFlowsCanBeTurnedOff() throws {
        let all = try flows(of: TestPaths.fixtures.appendingPathComponent("tunnel-gre.pcap")) {
            $0.carriedFlows = false
        }
        #expect(all.count == 1)
        #expect(all.first?.proto == IPProtocol.gre.rawValue)
    }

    /// Frames that pass the filter, with or without `inner`.
    static func matching(_ file: String, _ configure: (inout PacketFilter) -> Void) throws -> Int {
        var filter = PacketFilter()
        configure(&filter)
        let reader = try CaptureFileReader(path: TestPaths.fixtures.appendingPathComponent(file).path)
        let pipeline = PacketPipeline(filter: filter)
        var n = 0
        while let raw = try reader.next() { if pipeline.process(raw) { n += 1 } }
        return n
    }

    /// `--inner`: the port range, transport, version and addresses are the carried
    /// packet's. The TCP exchange on port 47202 is 10 frames in every fixture (tshark's
    /// conversation); the outer headers never have that port.
    @Test(arguments: cases.filter { $0.kind != .pim })
    func innerFilters(_ c: Case) throws {
        let port: (inout PacketFilter) -> Void = { $0.lowestPort = 47202; $0.highestPort = 47202 }
        #expect(try TunnelFlowTests.matching(c.file, port) == 0)
        #expect(try TunnelFlowTests.matching(c.file) { port(&$0); $0.inner = true } == 10)
        #expect(try TunnelFlowTests.matching(c.file) { $0.inner = true; $0.transport = .udp } == 3)
        let v6 = c.kind == .ip6in4
        #expect(try TunnelFlowTests.matching(c.file) { $0.inner = true; $0.ipVersion = .ipv4 } == (v6 ? 0 : 17))
        #expect(try TunnelFlowTests.matching(c.file) {
            $0.inner = true; $0.networks = [IPNetwork(v6 ? "fd88::2/128" : "10.88.0.2/32")!]
        } == 17)
        #expect(try TunnelFlowTests.matching(c.file) { $0.networks = [IPNetwork("10.88.0.0/16")!] } == 0)
    }

    /// Frames without a tunnel never match `inner`.
    @Test func innerFilterLeavesUntunnelledFramesOut() throws {
        #expect(try TunnelFlowTests.matching("lo-udp-tcp.pcap") { _ in } > 0)
        #expect(try TunnelFlowTests.matching("lo-udp-tcp.pcap") { $0.inner = true } == 0)
    }

    /// conn.log's tunnel_parents and the NDJSON fields carry the parent's uid.
    @Test func writersCarryTheParentUID() throws {
        let all = try flows(of: TestPaths.fixtures.appendingPathComponent("tunnel-gtpu.pcap"))
        let tcp = try #require(all.first { $0.isTCP })
        let parent = try #require(all.first { $0.origPort == GTPU.port })
        let uid = FlowUID.string(seed: 0, flow: parent)
        var s = ByteSink(capacity: 1024)
        ZeekConnLogWriter().write(tcp, into: &s)
        let cols = s.string.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        let at = try #require(ZeekConnLogWriter.fields.firstIndex(of: "tunnel_parents"))
        #expect(cols[at] == uid)
        s = ByteSink(capacity: 1024)
        ZeekConnLogWriter().write(parent, into: &s)
        #expect(s.string.split(separator: "\t", omittingEmptySubsequences: false)[at] == "-")
        s = ByteSink(capacity: 2048)
        FlowNDJSONWriter().write(tcp, into: &s)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(s.string.utf8)) as? [String: Any])
        #expect(json["tunnel_parents"] as? [String] == [uid])
        #expect(json["tunnel"] as? String == "gtpu")
        #expect(json["tunnel_id"] as? Int == 0x1234567)
    }

    /// `tunnel_parents` is a set, as Zeek's: every outer flow that carried a packet of the
    /// inner flow. In the VXLAN fixture each end picks its own UDP source port for the
    /// inner TCP connection (tshark: 10.77.0.1:56456 -> :4789, 6 frames; 10.77.0.2:52500
    /// -> :4789, 4 frames), so the connection has two parents; GRE's one outer flow
    /// carries both directions, so one.
    @Test func parentsAreEveryCarrier() throws {
        let vxlan = try flows(of: TestPaths.fixtures.appendingPathComponent("tunnel-vxlan.pcap"))
        let tcp = try #require(vxlan.first { $0.isTCP && !TunnelFlowTests.isOuter($0.origAddress) })
        let t = try #require(tcp.details.tunnel)
        let carriers = Set(vxlan.filter { f in
            TunnelFlowTests.isOuter(f.origAddress) && [56456, 52500].contains(f.origPort) && f.respPort == 4789
        }.map { FlowUID.string(seed: 0, flow: $0) })
        #expect(carriers.count == 2)
        let uids = t.parents.map { TunnelFlowTests.uid($0.key, $0.startNanos) }
        #expect(Set(uids) == carriers && uids.count == 2)
        // The first parent is the carrier of the first packet (the SYN, from 10.88.0.1).
        #expect(uids.first == TunnelFlowTests.uid(t.parentKey, t.parentStartNanos))
        #expect(FlowUID.parentsString(seed: 0, flow: tcp) == uids.joined(separator: ","))
        var s = ByteSink(capacity: 2048)
        FlowNDJSONWriter().write(tcp, into: &s)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(s.string.utf8)) as? [String: Any])
        #expect(json["tunnel_parents"] as? [String] == uids)
        s = ByteSink(capacity: 1024)
        ZeekConnLogWriter().write(tcp, into: &s)
        let at = try #require(ZeekConnLogWriter.fields.firstIndex(of: "tunnel_parents"))
        #expect(s.string.split(separator: "\t", omittingEmptySubsequences: false)[at] == uids.joined(separator: ","))

        let gre = try flows(of: TestPaths.fixtures.appendingPathComponent("tunnel-gre.pcap"))
        let greTCP = try #require(gre.first { $0.isTCP })
        #expect(greTCP.details.tunnel?.parents.count == 1)
    }
}
