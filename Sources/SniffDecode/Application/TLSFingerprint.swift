import Crypto
import SniffCore

/// Client and server fingerprints of a TLS handshake: JA3 and JA3S (Salesforce's MD5 of
/// the hello's version, cipher suites, extensions, groups and point formats) and JA4
/// (FoxIO's readable prefix plus truncated SHA-256 hashes of the sorted lists). They are
/// made once per handshake, so they may allocate.
public enum TLSFingerprint {
    /// How the hello travelled: JA4's first character.
    public enum Transport: Character, Sendable {
        case tcp = "t"
        case quic = "q"
        case dtls = "d"
    }

    /// The 2-byte values of a list, GREASE left out (JA3 and JA4 both ignore it).
    static func values16(_ c: ByteCursor, offset: Int, length: Int) -> [UInt16] {
        guard offset >= 0 else { return [] }
        var out: [UInt16] = []
        var pos = offset
        while pos + 2 <= offset + length, let v = c.getUInt16(at: pos) {
            if !TLS.isGREASE(v) { out.append(v) }
            pos += 2
        }
        return out
    }

    /// The types of the extensions in a list, in order, GREASE left out.
    static func extensionTypes(_ c: ByteCursor, offset: Int, length: Int) -> [UInt16] {
        guard offset >= 0 else { return [] }
        var out: [UInt16] = []
        var pos = offset
        let end = offset + length
        while pos + 4 <= end, let type = c.getUInt16(at: pos), let len = c.getUInt16(at: pos + 2) {
            if !TLS.isGREASE(type) { out.append(type) }
            pos += 4 + Int(len)
        }
        return out
    }

    static func decimal(_ values: [UInt16]) -> String { values.map { String($0) }.joined(separator: "-") }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        var s = ByteSink(capacity: 64)
        for b in digest { s.appendHex(UInt64(b), width: 2) }
        return s.string
    }

    /// The JA3 string: `version,ciphers,extensions,groups,point_formats`, decimal values
    /// joined by "-". Nil unless the hello was read to its end.
    public static func ja3String(_ c: ByteCursor, _ hello: TLSClientHello) -> String? {
        guard hello.complete else { return nil }
        var pointFormats: [String] = []
        if hello.pointFormatsOffset >= 0 {
            for i in 0..<hello.pointFormatsLength {
                if let v = c.getUInt8(at: hello.pointFormatsOffset + i) { pointFormats.append(String(v)) }
            }
        }
        return [String(hello.clientVersion),
                decimal(values16(c, offset: hello.cipherSuitesOffset, length: hello.cipherSuitesLength)),
                decimal(extensionTypes(c, offset: hello.extensionsOffset, length: hello.extensionsLength)),
                decimal(values16(c, offset: hello.groupsOffset, length: hello.groupsLength)),
                pointFormats.joined(separator: "-")].joined(separator: ",")
    }

    /// JA3: the MD5 of the JA3 string, 32 lowercase hex digits.
    public static func ja3(_ c: ByteCursor, _ hello: TLSClientHello) -> String? {
        ja3String(c, hello).map { hex(Insecure.MD5.hash(data: Array($0.utf8))) }
    }

    /// The JA3S string: `version,cipher,extensions`.
    public static func ja3sString(_ c: ByteCursor, _ hello: TLSServerHello) -> String? {
        guard hello.complete else { return nil }
        return [String(hello.serverVersion), String(hello.cipherSuite),
                decimal(extensionTypes(c, offset: hello.extensionsOffset, length: hello.extensionsLength))]
            .joined(separator: ",")
    }

    /// JA3S: the MD5 of the JA3S string.
    public static func ja3s(_ c: ByteCursor, _ hello: TLSServerHello) -> String? {
        ja3sString(c, hello).map { hex(Insecure.MD5.hash(data: Array($0.utf8))) }
    }

    /// JA4's two-character version: "13", "12", ..., "s3", "d2", or "00" when unknown.
    static func ja4Version(_ v: UInt16) -> String {
        switch v {
        case 0x0304: return "13"
        case 0x0303: return "12"
        case 0x0302: return "11"
        case 0x0301: return "10"
        case 0x0300: return "s3"
        case 0x0002: return "s2"
        case 0xFEFF: return "d1"
        case 0xFEFD: return "d2"
        case 0xFEFC: return "d3"
        default: return "00"
        }
    }

    /// The first and last characters of the first ALPN name; when either byte is not an
    /// ASCII letter or digit, the first and last hex digits of the whole name instead.
    static func ja4ALPN(_ c: ByteCursor, _ hello: TLSClientHello) -> String {
        guard hello.alpnOffset >= 0, let n = c.getUInt8(at: hello.alpnOffset), n > 0,
              Int(n) + 1 <= hello.alpnLength,
              let name = c.slice(at: hello.alpnOffset + 1, count: Int(n)) else { return "00" }
        func alnum(_ b: UInt8) -> Bool {
            (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b)
        }
        let first = name[0], last = name[name.count - 1]
        if alnum(first) && alnum(last) {
            return String(decoding: [first, last], as: UTF8.self)
        }
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: [digits[Int(first >> 4)], digits[Int(last & 0x0F)]], as: UTF8.self)
    }

    /// Two decimal digits, at most 99.
    static func twoDigits(_ n: Int) -> String {
        let v = Swift.min(n, 99)
        return v < 10 ? "0\(v)" : String(v)
    }

    static func hex4(_ values: [UInt16]) -> String {
        var s = ByteSink(capacity: values.count * 5)
        for (i, v) in values.enumerated() {
            if i > 0 { s.append("," as StaticString) }
            s.appendHex(UInt64(v), width: 4)
        }
        return s.string
    }

    /// The first 12 hex digits of the SHA-256 of `text`, or twelve zeros when it is empty.
    public static func truncatedSHA256(_ text: String) -> String {
        guard !text.isEmpty else { return "000000000000" }
        return String(hex(SHA256.hash(data: Array(text.utf8))).prefix(12))
    }

    /// JA4 (FoxIO's specification), e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`, and its
    /// raw form with the lists before hashing. Nil unless the hello was read to its end.
    public static func ja4(_ c: ByteCursor, _ hello: TLSClientHello,
                           transport: Transport) -> (hash: String, raw: String)? {
        guard hello.complete else { return nil }
        let ciphers = values16(c, offset: hello.cipherSuitesOffset, length: hello.cipherSuitesLength)
        let extensions = extensionTypes(c, offset: hello.extensionsOffset, length: hello.extensionsLength)
        let algorithms = values16(c, offset: hello.signatureAlgorithmsOffset, length: hello.signatureAlgorithmsLength)
        let prefix = String(transport.rawValue) + ja4Version(hello.version) + (hello.hasSNI ? "d" : "i")
            + twoDigits(ciphers.count) + twoDigits(extensions.count) + ja4ALPN(c, hello)
        let cipherList = hex4(ciphers.sorted())
        // SNI and ALPN are already in the prefix; leaving them out keeps the last part the
        // same for one client whatever it connects to.
        let sortedExtensions = hex4(extensions.filter { $0 != TLS.serverNameExtension && $0 != TLS.alpnExtension }
            .sorted())
        let extensionList = sortedExtensions.isEmpty || algorithms.isEmpty
            ? sortedExtensions : sortedExtensions + "_" + hex4(algorithms)
        let hash = prefix + "_" + truncatedSHA256(cipherList) + "_"
            + (sortedExtensions.isEmpty ? "000000000000" : truncatedSHA256(extensionList))
        return (hash, prefix + "_" + cipherList + "_" + extensionList)
    }
}

extension TLSFingerprint {
    /// The protocol names a client offers with ALPN, in order (at most 16, as the list
    /// is attacker-controlled).
    public static func alpnNames(_ c: ByteCursor, _ hello: TLSClientHello) -> [String] {
        guard hello.alpnOffset >= 0 else { return [] }
        var out: [String] = []
        var pos = hello.alpnOffset
        let end = hello.alpnOffset + hello.alpnLength
        while pos < end, out.count < 16, let n = c.getUInt8(at: pos), pos + 1 + Int(n) <= end,
              let name = c.slice(at: pos + 1, count: Int(n)) {
            out.append(String(decoding: name, as: UTF8.self))
            pos += 1 + Int(n)
        }
        return out
    }
}
