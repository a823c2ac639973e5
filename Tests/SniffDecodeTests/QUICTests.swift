import Testing
import SniffCore
import SniffDecode

struct QUICTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = hex.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
        return out
    }

    static func parse(_ b: [UInt8]) -> QUICLongHeader? {
        b.withUnsafeBytes { QUIC.parseLongHeader(ByteCursor($0), at: 0, length: $0.count) }
    }

    // The first bytes of a v1 Initial (Tests/Fixtures/app.pcap frame 63): long header,
    // version 1, 8-byte DCID, 4-byte SCID, then the token length and more.
    static let initial = bytes("c100000001088394c8f03e515708045a1ff1c500449a94886ea246b451109b7ca3e1c0a527295de335b585")

    @Test func recordedInitial() throws {
        let h = try #require(QUICTests.parse(QUICTests.initial))
        #expect(h.version == QUIC.version1)
        #expect(h.isInitial)
        #expect(h.dcidLength == 8 && h.scidLength == 4)
        #expect(QUIC.versionName(h.version) == "1")
    }

    @Test func versions() {
        var b = QUICTests.initial
        b[1] = 0x6B; b[2] = 0x33; b[3] = 0x43; b[4] = 0xCF
        #expect(QUICTests.parse(b)?.version == QUIC.version2)
        b[1] = 0xFF; b[2] = 0x00; b[3] = 0x00; b[4] = 0x1D
        #expect(QUIC.versionName(QUICTests.parse(b)!.version) == "draft-29")
        b[1] = 0x12; b[2] = 0x34; b[3] = 0x56; b[4] = 0x78
        #expect(QUICTests.parse(b) == nil)  // unknown version
        var short = QUICTests.initial
        short[0] = 0x41
        #expect(QUICTests.parse(short) == nil)  // short header
        var longCID = QUICTests.initial
        longCID[5] = 21
        #expect(QUICTests.parse(longCID) == nil)
        // Version negotiation listing v1.
        let vn = QUICTests.bytes("80000000000401020304040a0b0c0d00000001")
        #expect(QUICTests.parse(vn)?.isVersionNegotiation == true)
    }

    @Test func everyPrefixIsSafe() {
        for n in 0...QUICTests.initial.count {
            let h = QUICTests.parse(Array(QUICTests.initial.prefix(n)))
            if n >= 19 { #expect(h != nil) } else { #expect(h == nil) }
        }
    }
}
