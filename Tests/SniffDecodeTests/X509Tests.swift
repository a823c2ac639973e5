import Testing
import SniffCore
import SniffDecode

/// The X.509 reader on certificates built here element by element: RFC 4514's string
/// for each kind of value and escape, both time types, the TLS Certificate message
/// around a certificate, and malformed or hostile encodings (nil, never a trap).
struct X509Tests {
    /// A DER element: tag, the shortest length form, contents.
    static func der(_ tag: UInt8, _ contents: [UInt8]) -> [UInt8] {
        let n = contents.count
        let length: [UInt8] =
            n < 0x80 ? [UInt8(n)] : n < 0x100 ? [0x81, UInt8(n)] : [0x82, UInt8(n >> 8), UInt8(n & 0xFF)]
        return [tag] + length + contents
    }
    static func seq(_ parts: [UInt8]...) -> [UInt8] { der(0x30, parts.flatMap { $0 }) }
    static func utf8(_ s: String) -> [UInt8] { der(0x0C, Array(s.utf8)) }
    static func printable(_ s: String) -> [UInt8] { der(0x13, Array(s.utf8)) }
    /// An attribute of type 2.5.4.n.
    static func atv(_ n: UInt8, _ value: [UInt8]) -> [UInt8] { seq(der(0x06, [0x55, 0x04, n]), value) }
    static func rdn(_ atvs: [UInt8]...) -> [UInt8] { der(0x31, atvs.flatMap { $0 }) }
    static func name(_ rdns: [UInt8]...) -> [UInt8] { der(0x30, rdns.flatMap { $0 }) }

    static func certificate(issuer: [UInt8], subject: [UInt8], notBefore: [UInt8], notAfter: [UInt8]) -> [UInt8] {
        let algorithm = seq(der(0x06, [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02]))  // ecdsa-with-SHA256
        let tbs = seq(
            der(0xA0, der(0x02, [2])), der(0x02, [0x01, 0x23]), algorithm, issuer, seq(notBefore, notAfter), subject,
            seq(algorithm, der(0x03, [0, 4, 1, 2])))
        return seq(tbs, algorithm, der(0x03, [0, 0x30, 0x00]))
    }

    static let example = certificate(
        issuer: name(
            rdn(atv(6, printable("US"))), rdn(atv(10, utf8("Sniff Test CA"))), rdn(atv(3, utf8("Root \"R1\"")))),
        subject: name(
            rdn(atv(6, printable("DE"))), rdn(atv(7, utf8("Zürich, Süd"))),
            rdn(
                atv(11, utf8("Tests")),
                seq(
                    der(0x06, [0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x01]),
                    utf8("42"))),
            rdn(atv(3, utf8("a+b;c<d>e\\f")))),
        notBefore: der(0x17, Array("491231235959Z".utf8)), notAfter: der(0x18, Array("21260101000000Z".utf8)))

    static func parse(_ b: [UInt8]) -> (X509Certificate, String, String)? {
        b.withUnsafeBytes { raw in
            let c = ByteCursor(raw)
            guard let x = X509.parse(c, at: 0, length: raw.count),
                  let s = X509.name(c, at: x.subjectOffset, length: x.subjectLength),
                  let i = X509.name(c, at: x.issuerOffset, length: x.issuerLength) else { return nil }
            return (x, s, i)
        }
    }

    @Test func namesAndTimes() throws {
        let (x, subject, issuer) = try #require(Self.parse(Self.example))
        // The last RDN first; '+' joins a two-valued RDN; specials escaped.
        #expect(subject == #"CN=a\+b\;c\<d\>e\\f,OU=Tests+UID=42,L=Zürich\, Süd,C=DE"#)
        #expect(issuer == #"CN=Root \"R1\",O=Sniff Test CA,C=US"#)
        // UTCTime's two-digit years are 1950-2049 (RFC 5280 4.1.2.5.1).
        #expect(x.notBefore == 2_524_607_999)  // 2049-12-31 23:59:59
        #expect(x.notAfter == 4_922_899_200)   // 2126-01-01 00:00:00
    }

    static func single(_ value: [UInt8], type: [UInt8] = [0x55, 0x04, 0x03]) -> String? {
        let n = name(rdn(seq(der(0x06, type), value)))
        return n.withUnsafeBytes { raw in X509.name(ByteCursor(raw), at: 2, length: raw.count - 2) }
    }

    @Test func valuesOfEveryKind() {
        #expect(Self.single(Self.utf8("#lead and trail ")) == ##"CN=\#lead and trail\ "##)
        #expect(Self.single(Self.utf8(" x")) == #"CN=\ x"#)
        #expect(Self.single(Self.utf8("tab\there\u{7F}")) == #"CN=tab\09here\7f"#)
        // BMPString
        #expect(Self.single(Self.der(0x1E, [0x00, 0x41, 0x00, 0xE9, 0xD8, 0x3D, 0xDE, 0x00])) == "CN=Aé😀")
        #expect(Self.single(Self.der(0x1E, [0xD8, 0x3D])) == "CN=\u{FFFD}")  // lone surrogate
        #expect(Self.single(Self.der(0x1C, [0, 0, 0, 0x41, 0, 1, 0xF6, 0x00])) == "CN=A😀")  // UniversalString
        #expect(Self.single(Self.der(0x14, [0x41, 0xE9])) == "CN=Aé")  // Teletex as Latin-1
        #expect(Self.single(Self.der(0x04, [0xAB, 0x01])) == "CN=#0402ab01")  // other: hex of its TLV
        // Types without a short name in dotted decimal (2.999.1), emailAddress by name.
        #expect(Self.single(Self.utf8("x"), type: [0x88, 0x37, 0x01]) == "2.999.1=x")
        #expect(
            Self.single(Self.der(0x16, Array("a@b".utf8)), type: [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01])
                == "emailAddress=a@b")
        #expect(Self.single(Self.der(0x1E, [0x00])) == nil)   // odd BMPString
        #expect(Self.single(Self.utf8("x"), type: [0x55, 0x84]) == nil)  // an OID cut inside an arc
    }

    @Test func times() throws {
        func notAfter(_ tag: UInt8, _ s: String) -> Int64? {
            let b = Self.certificate(
                issuer: Self.name(), subject: Self.name(), notBefore: Self.der(0x17, Array("700101000000Z".utf8)),
                notAfter: Self.der(tag, Array(s.utf8)))
            return Self.parse(b)?.0.notAfter
        }
        #expect(notAfter(0x17, "500101000000Z") == -631_152_000)       // 1950
        #expect(notAfter(0x17, "0002290000Z") == 951_782_400)          // no seconds; 2000-02-29
        #expect(notAfter(0x18, "99991231235959Z") == 253_402_300_799)  // RFC 5280's "no expiry"
        #expect(notAfter(0x18, "20240229120000.123Z") == 1_709_208_000)
        for bad in ["991332000000Z", "990230250000Z", "9901010000Z0", "99010100000", "99+1010000Z"] {
            #expect(notAfter(0x17, bad) == nil, "\(bad)")
        }
        #expect(notAfter(0x02, "991231235959Z") == nil)
    }

    @Test func malformedEncodings() {
        let good = Self.example
        #expect(Self.parse(good) != nil)
        // Every prefix is malformed (the outer length overruns), never a trap.
        for n in 0 ..< good.count { #expect(Self.parse(Array(good.prefix(n))) == nil) }
        // Indefinite length, a multi-byte tag, a five-byte length.
        #expect(Self.parse([0x30, 0x80, 0x00, 0x00]) == nil)
        #expect(Self.parse([0x1F, 0x81, 0x01, 0x00]) == nil)
        #expect(Self.parse([0x30, 0x85, 0, 0, 0, 0, 1, 0]) == nil)
        // Each byte flipped: a result or nil, and any Name found renders.
        for i in 0 ..< good.count {
            var b = good
            b[i] ^= 0xFF
            if let (x, _, _) = Self.parse(b) { #expect(x.subjectOffset + x.subjectLength <= b.count) }
        }
        // More RDNs than the bound.
        let many = Self.der(0x30, (0 ..< X509.maximumRDNs + 1).flatMap { _ in Self.rdn(Self.atv(3, Self.utf8("x"))) })
        #expect(many.withUnsafeBytes { X509.name(ByteCursor($0), at: 4, length: $0.count - 4) } == nil)
        let bounded = Self.der(0x30, (0 ..< X509.maximumRDNs).flatMap { _ in Self.rdn(Self.atv(3, Self.utf8("x"))) })
        #expect(bounded.withUnsafeBytes { X509.name(ByteCursor($0), at: 4, length: $0.count - 4) }?.utf8.count
                == X509.maximumRDNs * 5 - 1)
    }

    /// A 24-bit length.
    static func u24(_ n: Int) -> [UInt8] { [UInt8(n >> 16), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }

    @Test func certificateMessage() {
        let hello: [UInt8] = [2] + Self.u24(38) + [UInt8](repeating: 3, count: 38)
        let cert = Self.example
        let message: [UInt8] = [11] + Self.u24(cert.count + 6) + Self.u24(cert.count + 3) + Self.u24(cert.count) + cert
        func search(_ h: [UInt8], ended: Bool) -> TLSCertificateSearch {
            h.withUnsafeBytes { TLS.leafCertificate(ByteCursor($0), ended: ended) }
        }
        #expect(search(hello + message, ended: false) == .found(offset: hello.count + 10, length: cert.count))
        #expect(search(hello + message.dropLast(), ended: false) == .pending)
        #expect(search(hello + message.dropLast(), ended: true) == .malformed)
        #expect(search(hello, ended: false) == .pending)
        #expect(search(hello, ended: true) == .absent)
        #expect(search(hello + [12, 0, 0, 0], ended: false) == .absent)   // ServerKeyExchange: no certificate
        #expect(search(hello + [11] + Self.u24(3) + Self.u24(0), ended: false) == .absent)
        #expect(search(hello + [11] + Self.u24(6) + Self.u24(3) + Self.u24(5), ended: false) == .malformed)

        // The same messages in records: the Certificate split over two, then a
        // ChangeCipherSpec record, which ends the handshake in the clear.
        let all = hello + message
        let cut = hello.count + 100
        func record(_ type: UInt8, _ b: ArraySlice<UInt8>) -> [UInt8] {
            [type, 3, 3, UInt8(b.count >> 8), UInt8(b.count & 0xFF)] + b
        }
        let records = record(22, all[..<cut]) + record(22, all[cut...]) + record(20, [1])
        var gathered: [UInt8] = []
        let ended = records.withUnsafeBytes {
            TLS.handshakeBytes(ByteCursor($0), at: 0, length: $0.count, into: &gathered)
        }
        #expect(ended && gathered == all)
        let partial = records.withUnsafeBytes {
            TLS.handshakeBytes(ByteCursor($0), at: 0, length: cut + 20, into: &gathered)
        }
        #expect(!partial && gathered == Array(all[..<(cut + 10)]))
    }
}
