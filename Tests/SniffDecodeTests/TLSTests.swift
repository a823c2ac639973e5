import Testing
import SniffCore
import SniffDecode

/// TLS ClientHello parsing: a real hello, hand-built variants, and every prefix of the
/// real one (a short read is a result, never a trap).
struct TLSTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = hex.filter { !$0.isWhitespace }.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
        return out
    }

    // The ClientHello of `openssl s_client -servername sniff.example.test` recorded on
    // loopback (Tests/Fixtures/app.pcap frame 40), TCP payload only.
    static let recorded = bytes("""
        160301013f0100013b03034a436b093665111475797213da48477e8ae341c1aea94d9cd6c0f2aecc6ac52020b2714eaf
        c087ebbd17fd6030c538708454b6416f0bbb95257566b0f1cb9cf894003e130213031301c02cc030009fcca9cca8ccaa
        c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000b4
        000000170015000012736e6966662e6578616d706c652e74657374000b000403000102000a00160014001d0017001e00
        19001801000101010201030104002300000016000000170000000d002a0028040305030603080708080809080a080b08
        0408050806040105010601030303010302040205020602002b0009080304030303020301002d00020101003300260024
        001d0020e91b65849e00c1e80cb3298c88d5313c99f13b2d86ed1e49de62964df535cc4e
        """)

    static func parse(_ b: [UInt8]) -> (TLSClientHello?, String?) {
        b.withUnsafeBytes { raw in
            let c = ByteCursor(raw)
            guard let h = TLS.parseClientHello(c, at: 0, length: raw.count) else { return (nil, nil) }
            let sni =
                h.hasSNI
                ? c.slice(at: h.sniOffset, count: h.sniLength).map { String(decoding: $0, as: UTF8.self) } : nil
            return (h, sni)
        }
    }

    @Test func recordedHello() throws {
        let (hello, sni) = TLSTests.parse(TLSTests.recorded)
        let h = try #require(hello)
        #expect(sni == "sniff.example.test")
        #expect(h.recordVersion == 0x0301)
        #expect(h.clientVersion == 0x0303)
        #expect(h.supportedVersion == 0x0304)
        #expect(TLS.versionName(h.version) == "TLSv1.3")
        #expect(h.complete)
    }

    @Test func everyPrefixIsSafe() {
        for n in 0...TLSTests.recorded.count {
            let (hello, sni) = TLSTests.parse(Array(TLSTests.recorded.prefix(n)))
            // The server name is complete only once its bytes are all there.
            if let sni { #expect(sni == "sniff.example.test") }
            if n >= 9 + 38 { #expect(hello != nil, "prefix \(n)") }
        }
    }

    /// A minimal TLS 1.2 hello with the given extensions.
    static func hello(extensions: [UInt8], recordType: UInt8 = 22, handshakeType: UInt8 = 1) -> [UInt8] {
        var body: [UInt8] = [0x03, 0x03] + Array(repeating: 0xAB, count: 32) + [0]  // version, random, no session id
        body += [0x00, 0x02, 0x13, 0x01, 0x01, 0x00]                                  // one suite, null compression
        body += [UInt8(extensions.count >> 8), UInt8(extensions.count & 0xFF)] + extensions
        let hs: [UInt8] = [handshakeType, 0, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
        return [recordType, 0x03, 0x01, UInt8(hs.count >> 8), UInt8(hs.count & 0xFF)] + hs
    }

    static func sniExtension(_ name: String) -> [UInt8] {
        let n = Array(name.utf8)
        let entry: [UInt8] = [0, UInt8(n.count >> 8), UInt8(n.count & 0xFF)] + n
        let list: [UInt8] = [UInt8(entry.count >> 8), UInt8(entry.count & 0xFF)] + entry
        return [0, 0, UInt8(list.count >> 8), UInt8(list.count & 0xFF)] + list
    }

    @Test func builtHellos() throws {
        let (h1, sni1) = TLSTests.parse(TLSTests.hello(extensions: TLSTests.sniExtension("a.example")))
        #expect(sni1 == "a.example")
        #expect(h1?.version == 0x0303)
        // GREASE is skipped when picking the highest supported version.
        let sv: [UInt8] = [0x00, 0x2B, 0x00, 0x05, 0x04, 0x0A, 0x0A, 0x03, 0x04]
        let (h2, sni2) = TLSTests.parse(TLSTests.hello(extensions: sv))
        #expect(sni2 == nil)
        #expect(h2?.supportedVersion == 0x0304)
        // Not a hello: an alert record, a ServerHello.
        #expect(TLSTests.parse(TLSTests.hello(extensions: [], recordType: 21)).0 == nil)
        #expect(TLSTests.parse(TLSTests.hello(extensions: [], handshakeType: 2)).0 == nil)
        // An extension whose length runs past the list is not trusted.
        var bad = TLSTests.sniExtension("b.example")
        bad[3] = 0xFF
        #expect(TLSTests.parse(TLSTests.hello(extensions: bad)).1 == nil)
    }

    @Test func garbageIsNotAHello() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var b = (0..<Int.random(in: 0..<200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if b.count > 5 && Bool.random(using: &rng) { b[0] = 22; b[1] = 3; b[5] = 1 }
            _ = TLSTests.parse(b)
        }
    }
}
