import SniffCore

/// The fields of an X.509 certificate (RFC 5280 section 4.1) that ssl.log reports: where
/// its issuer and subject Names lie in the buffer it was read from, and its validity as
/// seconds since 1970 (UTC). Nothing is copied until a Name is rendered.
public struct X509Certificate: Sendable, Equatable {
    /// Offset and length of each Name's contents (the RDNSequence inside its SEQUENCE).
    public var issuerOffset = 0
    public var issuerLength = 0
    public var subjectOffset = 0
    public var subjectLength = 0
    public var notBefore: Int64 = 0
    public var notAfter: Int64 = 0

    public init() {}
}

/// A reader of the DER encoding (X.690) of a certificate, as far as its subject:
///
///     Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
///     TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber INTEGER,
///         signature AlgorithmIdentifier, issuer Name, validity SEQUENCE { notBefore
///         Time, notAfter Time }, subject Name, ... }
///     Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue)
///
/// Only definite lengths and one-byte tags are DER; anything else, an element that
/// overruns its parent, a bad time or a Name deeper or longer than the bounds below
/// makes the certificate malformed (nil), never a trap. The nesting is fixed (no
/// recursion), so a hostile certificate cannot make it deep.
public enum X509 {
    /// RDNs in one Name and attributes in one RDN, at most (real certificates have a
    /// handful; the bounds keep a hostile Name's rendering small).
    public static let maximumRDNs = 64
    public static let maximumAttributes = 16

    /// One DER element: its tag and where its contents start and end.
    struct Element {
        var tag: UInt8
        var start: Int
        var end: Int
    }

    /// The element at `offset`, which must end by `end`; nil when it is not DER or does
    /// not fit. Lengths take at most four bytes (a certificate never needs more).
    static func element(_ c: ByteCursor, at offset: Int, end: Int) -> Element? {
        guard offset >= 0, offset + 2 <= end, end <= c.count, let tag = c.getUInt8(at: offset), tag & 0x1F != 0x1F,
              let first = c.getUInt8(at: offset + 1) else { return nil }
        var start = offset + 2
        var length = Int(first)
        if first & 0x80 != 0 {
            let n = Int(first & 0x7F)
            guard n >= 1, n <= 4, start + n <= end else { return nil }
            length = 0
            for i in 0 ..< n { length = length << 8 | Int(c.getUInt8(at: start + i) ?? 0) }
            start += n
        }
        guard length <= end - start else { return nil }
        return Element(tag: tag, start: start, end: start + length)
    }

    static let sequenceTag: UInt8 = 0x30
    static let setTag: UInt8 = 0x31
    static let oidTag: UInt8 = 0x06
    static let utcTimeTag: UInt8 = 0x17
    static let generalizedTimeTag: UInt8 = 0x18

    /// Reads the certificate at `offset` (its DER encoding, `length` bytes); nil when
    /// it is malformed, including a Name that would not render.
    public static func parse(_ c: ByteCursor, at offset: Int, length: Int) -> X509Certificate? {
        let limit = offset + length
        guard length > 0, limit <= c.count,
              let cert = element(c, at: offset, end: limit), cert.tag == sequenceTag,
              let tbs = element(c, at: cert.start, end: cert.end), tbs.tag == sequenceTag,
              var e = element(c, at: tbs.start, end: tbs.end) else { return nil }
        if e.tag == 0xA0 {  // [0] EXPLICIT version
            guard let next = element(c, at: e.end, end: tbs.end) else { return nil }
            e = next
        }
        guard e.tag == 0x02,  // serialNumber
              let algorithm = element(c, at: e.end, end: tbs.end), algorithm.tag == sequenceTag,
              let issuer = element(c, at: algorithm.end, end: tbs.end), issuer.tag == sequenceTag,
              let validity = element(c, at: issuer.end, end: tbs.end), validity.tag == sequenceTag,
              let subject = element(c, at: validity.end, end: tbs.end), subject.tag == sequenceTag,
              let before = element(c, at: validity.start, end: validity.end),
              let after = element(c, at: before.end, end: validity.end),
              let notBefore = time(c, before), let notAfter = time(c, after) else { return nil }
        var x = X509Certificate()
        (x.issuerOffset, x.issuerLength) = (issuer.start, issuer.end - issuer.start)
        (x.subjectOffset, x.subjectLength) = (subject.start, subject.end - subject.start)
        (x.notBefore, x.notAfter) = (notBefore, notAfter)
        var scratch = ByteSink(capacity: 0)
        guard appendName(c, at: x.issuerOffset, length: x.issuerLength, into: &scratch),
              appendName(c, at: x.subjectOffset, length: x.subjectLength, into: &scratch) else { return nil }
        return x
    }

    /// The Name as RFC 4514 writes it (the last RDN first, RDNs joined by commas, the
    /// attributes of one RDN by '+', special characters escaped), or nil when malformed.
    public static func name(_ c: ByteCursor, at offset: Int, length: Int) -> String? {
        var out = ByteSink(capacity: 128)
        return appendName(c, at: offset, length: length, into: &out) ? out.string : nil
    }

    /// Appends the Name's RFC 4514 string to `out`; false (with `out` in any state) when
    /// the Name is malformed.
    public static func appendName(_ c: ByteCursor, at offset: Int, length: Int, into out: inout ByteSink) -> Bool {
        let end = offset + length
        // The RDNs' positions, so that they can be written last first.
        var rdns: [(Int, Int)] = []
        var pos = offset
        while pos < end {
            guard rdns.count < maximumRDNs, let rdn = element(c, at: pos, end: end), rdn.tag == setTag,
                  rdn.end > rdn.start else { return false }
            rdns.append((rdn.start, rdn.end))
            pos = rdn.end
        }
        for (i, rdn) in rdns.reversed().enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            var at = rdn.0
            var n = 0
            while at < rdn.1 {
                guard n < maximumAttributes, let atv = element(c, at: at, end: rdn.1), atv.tag == sequenceTag,
                      let oid = element(c, at: atv.start, end: atv.end), oid.tag == oidTag, oid.end > oid.start,
                      let value = element(c, at: oid.end, end: atv.end), value.end == atv.end else { return false }
                if n > 0 { out.append(UInt8(ascii: "+")) }
                guard appendType(c, oid, into: &out) else { return false }
                out.append(UInt8(ascii: "="))
                guard appendValue(c, value, tlvStart: oid.end, into: &out) else { return false }
                at = atv.end
                n += 1
            }
        }
        return true
    }

    /// Short names of the attribute types: RFC 4514's (CN, L, ST, O, OU, C, STREET, DC,
    /// UID), then the ones OpenSSL prints (and Zeek's ssl.log therefore shows). The key
    /// is the OID's encoded contents; any other type is written in dotted decimal.
    static let attributeNames: [[UInt8]: String] = {
        var names: [[UInt8]: String] = [:]
        let at: [(UInt8, String)] = [
            (3, "CN"), (4, "SN"), (5, "serialNumber"), (6, "C"), (7, "L"), (8, "ST"), (9, "STREET"), (10, "O"),
            (11, "OU"), (12, "title"), (13, "description"), (15, "businessCategory"), (17, "postalCode"),
            (42, "GN"), (43, "initials"), (44, "generationQualifier"), (46, "dnQualifier"), (65, "pseudonym"),
            (97, "organizationIdentifier"),
        ]
        for (n, name) in at { names[[0x55, 0x04, n]] = name }  // 2.5.4.n
        let pilot: [UInt8] = [0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01]  // 0.9.2342.19200300.100.1
        names[pilot + [0x19]] = "DC"
        names[pilot + [0x01]] = "UID"
        names[[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01]] = "emailAddress"  // 1.2.840.113549.1.9.1
        // 1.3.6.1.4.1.311.60.2.1
        let jurisdiction: [UInt8] = [0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3C, 0x02, 0x01]
        names[jurisdiction + [0x01]] = "jurisdictionL"
        names[jurisdiction + [0x02]] = "jurisdictionST"
        names[jurisdiction + [0x03]] = "jurisdictionC"
        return names
    }()

    static func appendType(_ c: ByteCursor, _ oid: Element, into out: inout ByteSink) -> Bool {
        guard let b = c.slice(at: oid.start, count: oid.end - oid.start) else { return false }
        if oid.end - oid.start <= 12, let name = attributeNames[Array(b)] {
            out.append(name)
            return true
        }
        // Dotted decimal: base-128 arcs, the first holding the first two (X.690 8.19).
        var value: UInt64 = 0
        var digits = 0
        var first = true
        for byte in b {
            guard digits < 9, !(digits == 0 && byte == 0x80) else { return false }
            value = value << 7 | UInt64(byte & 0x7F)
            digits += 1
            guard byte & 0x80 == 0 else { continue }
            if first {
                let top = Swift.min(value / 40, 2)
                out.append(decimal: top)
                out.append(UInt8(ascii: "."))
                out.append(decimal: value - top * 40)
                first = false
            } else {
                out.append(UInt8(ascii: "."))
                out.append(decimal: value)
            }
            (value, digits) = (0, 0)
        }
        return digits == 0
    }

    /// A string value, decoded from its ASN.1 string type and escaped as RFC 4514
    /// section 2.4 says; a value of any other type is '#' and the hex of its encoding.
    static func appendValue(_ c: ByteCursor, _ v: Element, tlvStart: Int, into out: inout ByteSink) -> Bool {
        let n = v.end - v.start
        guard let b = c.slice(at: v.start, count: n) else { return false }
        var escaper = RFC4514Escaper(start: out.count)
        switch v.tag {
        case 0x0C, 0x12, 0x13, 0x16, 0x1A:  // UTF8, Numeric, Printable, IA5, Visible
            // Invalid UTF-8 is repaired when the whole name becomes a String.
            for byte in b { escaper.append(byte: byte, into: &out) }
        case 0x14:  // TeletexString, read as Latin-1 as OpenSSL does
            for byte in b { escaper.append(Unicode.Scalar(byte), into: &out) }
        case 0x1E:  // BMPString: UTF-16BE
            guard n & 1 == 0 else { return false }
            var units: [UInt16] = []
            units.reserveCapacity(n / 2)
            var i = 0
            while i < n { units.append(UInt16(b[i]) << 8 | UInt16(b[i + 1])); i += 2 }
            var units16 = units.makeIterator()
            var decoder = UTF16()
            decoding: while true {
                switch decoder.decode(&units16) {
                case .scalarValue(let s): escaper.append(s, into: &out)
                case .error: escaper.append("\u{FFFD}", into: &out)
                case .emptyInput: break decoding
                }
            }
        case 0x1C:  // UniversalString: UTF-32BE
            guard n & 3 == 0 else { return false }
            var i = 0
            while i < n {
                let u = UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
                escaper.append(Unicode.Scalar(u) ?? "\u{FFFD}", into: &out)
                i += 4
            }
        default:
            guard let whole = c.slice(at: tlvStart, count: v.end - tlvStart) else { return false }
            out.append(UInt8(ascii: "#"))
            for byte in whole { out.appendHex(UInt64(byte), width: 2) }
            return true
        }
        escaper.finish(into: &out)
        return true
    }

    /// RFC 4514 section 2.4's escaping of one attribute value, a character at a time:
    /// the special characters with a backslash, a leading '#' or space and a trailing
    /// space too, control characters as \XX.
    struct RFC4514Escaper {
        let start: Int
        /// Where the last character written began when it was an unescaped space.
        var trailingSpace = -1

        init(start: Int) { self.start = start }

        mutating func append(byte: UInt8, into out: inout ByteSink) {
            trailingSpace = -1
            switch byte {
            case UInt8(ascii: ","), UInt8(ascii: "+"), UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "<"),
                 UInt8(ascii: ">"), UInt8(ascii: ";"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case UInt8(ascii: "#") where out.count == start:
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case UInt8(ascii: " "):
                if out.count == start { out.append(UInt8(ascii: "\\")) } else { trailingSpace = out.count }
                out.append(byte)
            case 0 ..< 0x20, 0x7F:
                out.append(UInt8(ascii: "\\"))
                out.appendHex(UInt64(byte), width: 2)
            default:
                out.append(byte)
            }
        }

        mutating func append(_ scalar: Unicode.Scalar, into out: inout ByteSink) {
            if scalar.isASCII {
                append(byte: UInt8(scalar.value), into: &out)
                return
            }
            trailingSpace = -1
            for byte in String(Character(scalar)).utf8 { out.append(byte) }
        }

        /// Escapes a trailing space.
        func finish(into out: inout ByteSink) {
            guard trailingSpace >= 0 else { return }
            out.bytes.insert(UInt8(ascii: "\\"), at: trailingSpace)
        }
    }

    /// A UTCTime ("YYMMDDHHMM[SS]Z", years 1950-2049 as RFC 5280 4.1.2.5.1 says) or
    /// GeneralizedTime ("YYYYMMDDHHMM[SS[.fff]]Z") as seconds since 1970; nil for any
    /// other element or a time that is not one.
    static func time(_ c: ByteCursor, _ e: Element) -> Int64? {
        guard e.tag == utcTimeTag || e.tag == generalizedTimeTag, let b = c.slice(at: e.start, count: e.end - e.start),
              b.count >= 11, b.count <= 32, b[b.count - 1] == UInt8(ascii: "Z") else { return nil }
        var i = 0
        func digits(_ n: Int) -> Int? {
            var v = 0
            for _ in 0 ..< n {
                guard i < b.count - 1, b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                v = v * 10 + Int(b[i] - 0x30)
                i += 1
            }
            return v
        }
        var year: Int
        if e.tag == utcTimeTag {
            guard let yy = digits(2) else { return nil }
            year = yy < 50 ? 2000 + yy : 1900 + yy
        } else {
            guard let yyyy = digits(4) else { return nil }
            year = yyyy
        }
        guard let month = digits(2), let day = digits(2), let hour = digits(2), let minute = digits(2),
              (1 ... 12).contains(month), (1 ... 31).contains(day), hour < 24, minute < 60 else { return nil }
        var second = 0
        if i < b.count - 1 {
            guard let s = digits(2), s <= 60 else { return nil }
            second = s
        }
        if e.tag == generalizedTimeTag, i < b.count - 1, b[i] == UInt8(ascii: ".") {
            i += 1
            guard digits(b.count - 1 - i) != nil else { return nil }  // fractions are dropped
        }
        guard i == b.count - 1 else { return nil }
        return daysFromCivil(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar: years counted
    /// from March, so that the leap day ends a year, in 400-year eras of 146097 days.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return Int64(era * 146_097 + dayOfEra - 719_468)
    }
}
