import Testing
import SniffCore
import SniffDecode

/// JA3 against tshark's value for a recorded hello, and JA4 against the worked example and
/// the ALPN rules of FoxIO's specification (technical_details/JA4.md).
struct TLSFingerprintTests {
    /// A ClientHello handshake message (no record header) with these lists.
    static func clientHello(version: UInt16 = 0x0303, ciphers: [UInt16], extensions: [(UInt16, [UInt8])]) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        var ext: [UInt8] = []
        for (type, data) in extensions { ext += u16(Int(type)) + u16(data.count) + data }
        var body = u16(Int(version)) + [UInt8](repeating: 7, count: 32) + [0]
        body += u16(ciphers.count * 2) + ciphers.flatMap { u16(Int($0)) } + [1, 0]
        body += u16(ext.count) + ext
        return [1, 0] + u16(body.count) + body
    }

    static func list16(_ values: [UInt16], prefix: Int = 2) -> [UInt8] {
        let items = values.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        return (prefix == 2 ? [UInt8(items.count >> 8), UInt8(items.count & 0xFF)] : [UInt8(items.count)]) + items
    }

    static func alpn(_ names: [[UInt8]]) -> [UInt8] {
        let list = names.flatMap { [UInt8($0.count)] + $0 }
        return [UInt8(list.count >> 8), UInt8(list.count & 0xFF)] + list
    }

    static func ja4(_ message: [UInt8], _ transport: TLSFingerprint.Transport = .tcp) -> (hash: String, raw: String)? {
        message.withUnsafeBytes { b in
            let c = ByteCursor(b)
            return TLS.parseClientHelloMessage(c, at: 0, length: b.count).flatMap {
                TLSFingerprint.ja4(c, $0, transport: transport)
            }
        }
    }

    /// The specification's example: 15 cipher suites and 16 extensions in this original order
    /// (its JA4_ro), plus GREASE values, which must not count.
    static let example: [UInt8] = {
        let ciphers: [UInt16] = [0x2A2A, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8,
                                 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035]
        let sni = Array("example.com".utf8)
        let exts: [(UInt16, [UInt8])] = [
            (0x8A8A, []), (0x001b, [2, 0, 2]), (0x0000, [0, 14, 0, 0, 11] + sni), (0x0033, []),
            (0x0010, alpn([Array("h2".utf8), Array("http/1.1".utf8)])), (0x4469, []), (0x0017, []), (0x002d, [1, 1]),
            (0x000d, list16([0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601])), (0x0005, []),
            (0x0023, []), (0x0012, []), (0x002b, list16([0x3A3A, 0x0304, 0x0303], prefix: 1)), (0xff01, [0]),
            (0x000b, [1, 0]), (0x000a, list16([0x4A4A, 0x001d, 0x0017])), (0x0015, [0, 0]), (0x9A9A, [0]),
        ]
        return clientHello(ciphers: ciphers, extensions: exts)
    }()

    @Test func specificationExample() throws {
        let (hash, raw) = try #require(Self.ja4(Self.example))
        #expect(hash == "t13d1516h2_8daaf6152771_e5627efa2ab1")
        #expect(raw == "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_"
            + "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_"
            + "0403,0804,0401,0503,0805,0501,0806,0601")
        #expect(Self.ja4(Self.example, .quic)?.hash == "q13d1516h2_8daaf6152771_e5627efa2ab1")
    }

    @Test func specificationHashesOfLists() {
        // Without signature algorithms the list ends without "_" (the spec's 6d807ffa2a79);
        // without ciphers or extensions the hash is twelve zeros.
        #expect(TLSFingerprint.truncatedSHA256("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01")
            == "6d807ffa2a79")
        let bare = Self.clientHello(version: 0x0301, ciphers: [], extensions: [])
        #expect(Self.ja4(bare)?.hash == "t10i000000_000000000000_000000000000")
    }

    @Test(arguments: [
        ([0xAB], "ab"), ([0xAB, 0xCD], "ad"), ([0x30, 0xAB], "3b"), ([0x30, 0x31, 0xAB, 0xCD], "3d"),
        ([0x30, 0xAB, 0xCD, 0x31], "01"), (Array("h".utf8), "hh"), (Array("http/1.1".utf8), "h1"),
    ] as [([UInt8], String)])
    func alpnCharacters(name: [UInt8], expected: String) throws {
        let m = Self.clientHello(ciphers: [0x1301], extensions: [(0x0010, Self.alpn([name]))])
        let hash = try #require(Self.ja4(m)?.hash)
        #expect(hash.dropFirst(8).prefix(2) == Substring(expected))
    }

    @Test func recordedHelloMatchesTshark() throws {
        // tshark 4.0.17 on Tests/Fixtures/app.pcap frame 40 (tls.handshake.ja3).
        try TLSTests.recorded.withUnsafeBytes { b in
            let c = ByteCursor(b)
            let h = try #require(TLS.parseClientHello(c, at: 0, length: b.count))
            #expect(TLSFingerprint.ja3(c, h) == "a3afc2c46ba4a7d7fbe1cfb7a3031c2f")
            // 31 suites, 10 extensions, no ALPN; the hashes as an independent script made
            // them from the specification's text.
            #expect(TLSFingerprint.ja4(c, h, transport: .tcp)?.hash == "t13d311000_e8f1e7e78f70_1f22a2ca17c4")
        }
    }

    @Test func truncatedHelloHasNoFingerprint() {
        TLSTests.recorded.withUnsafeBytes { b in
            let c = ByteCursor(b)
            for n in 0..<b.count {
                guard let h = TLS.parseClientHello(c, at: 0, length: n) else { continue }
                #expect(TLSFingerprint.ja3(c, h) == nil)
                #expect(TLSFingerprint.ja4(c, h, transport: .tcp) == nil)
            }
        }
    }
}
