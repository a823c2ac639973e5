import SniffCore

/// Names for the numbers a hello carries, as logs print them.
extension TLS {
    /// The version as Zeek's ssl.log writes it: "TLSv13", "TLSv12" ... "SSLv3", "DTLSv12";
    /// otherwise as `versionName` does (hex).
    public static func logVersionName(_ v: UInt16) -> String {
        switch v {
        case 0x0200: return "SSLv2"
        case 0x0300: return "SSLv3"
        case 0x0301: return "TLSv10"
        case 0x0302: return "TLSv11"
        case 0x0303: return "TLSv12"
        case 0x0304: return "TLSv13"
        case 0xFEFF: return "DTLSv10"
        case 0xFEFD: return "DTLSv12"
        case 0xFEFC: return "DTLSv13"
        default: return versionName(v)
        }
    }

    /// The IANA name of a cipher suite (the TLS Cipher Suites registry) for the suites
    /// servers choose in practice; others as "0x" and four hex digits.
    public static func cipherSuiteName(_ suite: UInt16) -> String {
        if let name = cipherSuiteNames[suite] { return name }
        var s = ByteSink(capacity: 8)
        s.append("0x" as StaticString)
        s.appendHex(UInt64(suite), width: 4)
        return s.string
    }

    static let cipherSuiteNames: [UInt16: String] = [
        0x0004: "TLS_RSA_WITH_RC4_128_MD5",
        0x0005: "TLS_RSA_WITH_RC4_128_SHA",
        0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
        0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0x1301: "TLS_AES_128_GCM_SHA256",
        0x1302: "TLS_AES_256_GCM_SHA384",
        0x1303: "TLS_CHACHA20_POLY1305_SHA256",
        0x1304: "TLS_AES_128_CCM_SHA256",
        0x1305: "TLS_AES_128_CCM_8_SHA256",
        0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ]
}

extension TLSFingerprint {
    /// The versions a client lists in supported_versions, in its order, GREASE left out.
    public static func offeredVersions(_ c: ByteCursor, _ hello: TLSClientHello) -> [UInt16] {
        values16(c, offset: hello.supportedVersionsOffset, length: hello.supportedVersionsLength)
    }

    /// The protocol the server chose with ALPN, or nil.
    public static func alpnChosen(_ c: ByteCursor, _ hello: TLSServerHello) -> String? {
        guard hello.alpnOffset >= 0, let b = c.slice(at: hello.alpnOffset, count: hello.alpnLength) else { return nil }
        return String(decoding: b, as: UTF8.self)
    }
}
