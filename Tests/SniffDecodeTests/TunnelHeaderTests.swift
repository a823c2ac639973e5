import SniffCore
import SniffDecode
import Testing

/// The headers that carry packets into inner flows: GTP-U, PIM Register, and the ids
/// (GRE key, VNI, TEID) and offsets the decoder records for the flow table.
struct TunnelHeaderTests {
    /// A minimal IPv4 header (UDP 10.0.0.1:1000 -> 10.0.0.2:2000) and UDP header.
    static let innerIPv4UDP: [UInt8] = [
        0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00,
        0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x03, 0xe8, 0x07, 0xd0, 0x00, 0x08, 0x00, 0x00,
    ]

    func parseGTPU(_ bytes: [UInt8]) -> (teid: UInt32, offset: Int)? {
        bytes.withUnsafeBytes { GTPU.parse(ByteCursor($0), at: 0) }
    }

    @Test func gtpuPlainGPDU() {
        let h: [UInt8] = [0x30, 0xff, 0x00, 0x1c, 0x01, 0x23, 0x45, 0x67]
        let r = parseGTPU(h + TunnelHeaderTests.innerIPv4UDP)
        #expect(r?.teid == 0x0123_4567)
        #expect(r?.offset == 8)
    }

    /// Sequence flag and a PDU session container extension (type 0x85, one 4-byte unit),
    /// as 5G user planes send.
    @Test func gtpuWithExtensionHeader() {
        let h: [UInt8] = [0x34, 0xff, 0x00, 0x24, 0x00, 0x00, 0x00, 0x09,
                          0x00, 0x00, 0x00, 0x85, 0x01, 0x10, 0x01, 0x00]
        let r = parseGTPU(h + TunnelHeaderTests.innerIPv4UDP)
        #expect(r?.teid == 9)
        #expect(r?.offset == 16)
    }

    @Test func gtpuOtherMessagesAndBrokenChains() {
        // Echo request (type 1), GTP' (PT 0), version 2, an extension of length 0, a cut chain.
        #expect(parseGTPU([0x32, 0x01, 0x00, 0x04, 0, 0, 0, 0, 0, 1, 0, 0]) == nil)
        #expect(parseGTPU([0x20, 0xff, 0x00, 0x1c, 0, 0, 0, 1] + TunnelHeaderTests.innerIPv4UDP) == nil)
        #expect(parseGTPU([0x50, 0xff, 0x00, 0x1c, 0, 0, 0, 1] + TunnelHeaderTests.innerIPv4UDP) == nil)
        #expect(parseGTPU([0x34, 0xff, 0x00, 0x1c, 0, 0, 0, 1, 0, 0, 0, 0x85, 0x00, 0, 0, 0]) == nil)
        #expect(parseGTPU([0x34, 0xff, 0x00, 0x1c, 0, 0, 0, 1, 0, 0, 0, 0x85, 0x02, 0, 0, 0x85]) == nil)
    }

    func registerPayload(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { PIM.registerPayload(ByteCursor($0), at: 0) }
    }

    @Test func pimRegisterOnly() {
        #expect(registerPayload([0x21, 0x00, 0xde, 0xff, 0, 0, 0, 0] + TunnelHeaderTests.innerIPv4UDP) == 8)
        // Null-Register: the N bit, an IP header only.
        #expect(
            registerPayload([0x21, 0x00, 0x9e, 0xff, 0x40, 0, 0, 0] + TunnelHeaderTests.innerIPv4UDP.prefix(20)) == 8)
        // Hello (type 0), Join/Prune (3), PIMv1, and a Register whose payload is not IP.
        #expect(registerPayload([0x20, 0x00, 0, 0, 0, 1, 0, 2, 0, 0x69]) == nil)
        #expect(registerPayload([0x23, 0x00, 0, 0, 1, 0, 0, 0] + TunnelHeaderTests.innerIPv4UDP) == nil)
        #expect(registerPayload([0x11, 0x00, 0, 0, 0, 0, 0, 0] + TunnelHeaderTests.innerIPv4UDP) == nil)
        #expect(registerPayload([0x21, 0x00, 0, 0, 0, 0, 0, 0, 0x00, 0x01]) == nil)
    }

    /// GRE with checksum, key 0x2a and sequence: the key is found after the checksum
    /// word, the carried IPv6 packet after the sequence number.
    @Test func greKeyAndOffset() {
        let p = decode(greKeySeqCsumIPv6)
        #expect(p.tunnel == .gre)
        #expect(p.hasTunnelID && p.tunnelID == 0x2a)
        #expect(p.tunnelOffset == 14 + 20 + 16)
        #expect(!p.tunnelCarriesEthernet)
        let plain = decode(greIPv4)
        #expect(plain.tunnel == .gre && !plain.hasTunnelID)
        #expect(plain.tunnelOffset == 14 + 20 + 4)
    }

    @Test func vxlanNamesItsVNIAndEthernet() {
        let p = decode(vxlanICMP)
        #expect(p.tunnel == .vxlan)
        #expect(p.hasTunnelID && p.tunnelID == 100)
        #expect(p.tunnelCarriesEthernet)
        #expect(p.tunnelOffset == 14 + 20 + 8 + 8)
    }

    /// The names flows, the store and the API use; `none` is never a user's value.
    @Test func tunnelNames() {
        #expect(TunnelKind.allCases.map(\.label) == ["none", "vxlan", "geneve", "gre", "ipip", "6in4", "pim", "gtpu"])
        #expect(TunnelKind(name: "6in4") == .ip6in4)
        #expect(TunnelKind(name: "GRE") == .gre)
        #expect(TunnelKind(name: "none") == nil)
    }
}
