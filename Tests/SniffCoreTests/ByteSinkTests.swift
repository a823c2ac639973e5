import SniffCore
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private func render(_ body: (inout ByteSink) -> Void) -> String {
    var s = ByteSink(capacity: 16)
    body(&s)
    return s.string
}

private func escaped(_ bytes: [UInt8]) -> String {
    render { s in bytes.withUnsafeBytes { s.appendJSONEscaped($0) } }
}

private func decimal(_ v: UInt64) -> String { render { s in s.append(decimal: v) } }
private func decimal(_ v: Int64) -> String { render { s in s.append(decimal: v) } }
private func decimal(_ v: Int) -> String { render { s in s.append(decimal: v) } }
private func decimal(_ v: UInt64, width: Int) -> String { render { s in s.append(decimal: v, width: width) } }
private func hexText(_ v: UInt64, width: Int) -> String { render { s in s.appendHex(v, width: width) } }
private func epochText(_ ts: Timestamp) -> String { render { s in s.appendEpoch(ts) } }

@Suite("ByteSink")
struct ByteSinkTests {
    @Test(arguments: [
        (UInt64(0), "0"), (9, "9"), (10, "10"), (1_000_000, "1000000"),
        (UInt64(UInt32.max), "4294967295"), (UInt64.max, "18446744073709551615"),
    ])
    func unsignedDecimal(_ v: UInt64, _ text: String) {
        #expect(decimal(v) == text)
    }

    @Test(arguments: [
        (Int64(0), "0"), (-1, "-1"), (42, "42"), (-1_234_567, "-1234567"),
        (Int64.max, "9223372036854775807"), (Int64.min, "-9223372036854775808"),
    ])
    func signedDecimal(_ v: Int64, _ text: String) {
        #expect(decimal(v) == text)
        #expect(decimal(Int(v)) == text)
    }

    @Test func zeroPaddedDecimal() {
        #expect(decimal(5, width: 3) == "005")
        #expect(decimal(0, width: 9) == "000000000")
        #expect(decimal(123_456_789, width: 9) == "123456789")
        #expect(decimal(12345, width: 3) == "12345")
        #expect(decimal(7, width: 0) == "7")
    }

    @Test func hex() {
        #expect(hexText(0xAB, width: 2) == "ab")
        #expect(hexText(0x1, width: 4) == "0001")
        #expect(hexText(0xDEAD_BEEF, width: 8) == "deadbeef")
        #expect(hexText(0x0123_4567_89AB_CDEF, width: 16) == "0123456789abcdef")
        #expect(hexText(0, width: 1) == "0")
    }

    @Test(arguments: [
        (Timestamp(seconds: 1_700_000_000, nanoseconds: 123_456_789), "1700000000.123456789"),
        (Timestamp(seconds: 0, nanoseconds: 0), "0.000000000"),
        (Timestamp(seconds: 0, nanoseconds: 1), "0.000000001"),
        (Timestamp(seconds: 1, nanoseconds: 0), "1.000000000"),
        (Timestamp(seconds: 4_294_967_295, nanoseconds: 999_999_000), "4294967295.999999000"),
        (Timestamp(seconds: 4_294_967_296, nanoseconds: 500), "4294967296.000000500"),
        // Negative times (before 1970, or a negative duration) are seconds + fraction
        // with the sign in front of both: -1 s + 0.5 s is -0.5 s.
        (Timestamp(totalNanoseconds: -1), "-0.000000001"),
        (Timestamp(seconds: -1, nanoseconds: 500_000_000), "-0.500000000"),
        (Timestamp(totalNanoseconds: -1_500_000_000), "-1.500000000"),
        (Timestamp(seconds: -2, nanoseconds: 0), "-2.000000000"),
        (Timestamp(seconds: Int64.min, nanoseconds: 0), "-9223372036854775808.000000000"),
        (Timestamp(seconds: Int64.min, nanoseconds: 1), "-9223372036854775807.999999999"),
        (Timestamp(seconds: Int64.max, nanoseconds: 999_999_999), "9223372036854775807.999999999"),
    ])
    func epochSeconds(_ ts: Timestamp, _ text: String) {
        #expect(epochText(ts) == text)
        #expect(ts.epochString == text)
    }

    @Test func epochHasExactlyNineFractionalDigits() {
        // A fixed-seed LCG, so that a failure can be replayed.
        var state: UInt64 = 0x5EED
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        for _ in 0..<1000 {
            let ts = Timestamp(seconds: Int64(next() % 10_000_000_000) - 5_000_000_000,
                               nanoseconds: UInt32(next() % 1_000_000_000))
            let text = ts.epochString
            let parts = text.split(separator: ".")
            #expect(parts.count == 2)
            #expect(parts.last?.count == 9)
            // Parsing it back gives the same instant.
            let negative = text.hasPrefix("-")
            let whole = Int64(parts[0].drop(while: { $0 == "-" }))!
            let frac = Int64(parts[1])!
            let total = (whole * 1_000_000_000 + frac) * (negative ? -1 : 1)
            #expect(total == ts.totalNanoseconds, "\(text)")
        }
    }

    @Test func jsonEscapesQuotesBackslashAndControls() {
        #expect(escaped(Array("plain text".utf8)) == "plain text")
        #expect(escaped(Array("say \"hi\"".utf8)) == "say \\\"hi\\\"")
        #expect(escaped(Array("C:\\path".utf8)) == "C:\\\\path")
        #expect(escaped([0x0A, 0x0D, 0x09]) == "\\n\\r\\t")
        #expect(escaped([0x00]) == "\\u0000")
        #expect(escaped([0x01, 0x08, 0x0C, 0x1F]) == "\\u0001\\u0008\\u000c\\u001f")
        #expect(escaped([0x7F]) == "\\u007f")
        #expect(escaped([0x20, 0x7E, 0x2F]) == " ~/")
    }

    @Test func jsonKeepsValidMultiByteUTF8() {
        for text in [
            "é", "€", "日本語", "😀", "Ω≈ç√", "\u{10FFFF}", "\u{80}", "\u{7FF}", "\u{800}", "\u{FFFF}", "\u{10000}"
        ] {
            #expect(escaped(Array(text.utf8)) == text)
        }
    }

    @Test(arguments: [
        ([0x80] as [UInt8], "\\ufffd"),                            // lone continuation byte
        ([0xC3], "\\ufffd"),                                       // cut at the end
        ([0xC3, 0x41], "\\ufffdA"),                                // cut before ASCII
        ([0xC0, 0x80], "\\ufffd\\ufffd"),                          // overlong NUL
        ([0xE0, 0x80, 0xAF], "\\ufffd\\ufffd\\ufffd"),             // overlong '/'
        ([0xED, 0xA0, 0x80], "\\ufffd\\ufffd\\ufffd"),             // UTF-16 surrogate
        ([0xF4, 0x90, 0x80, 0x80], "\\ufffd\\ufffd\\ufffd\\ufffd"), // above U+10FFFF
        ([0xF5, 0x80, 0x80, 0x80], "\\ufffd\\ufffd\\ufffd\\ufffd"),
        ([0xE2, 0x82, 0x41], "\\ufffd\\ufffdA"),                   // three-byte cut short
        ([0xFF, 0xFE], "\\ufffd\\ufffd"),
        ([0x61, 0xC3, 0xA9, 0xFF, 0x62], "aé\\ufffdb"),
    ])
    func jsonReplacesInvalidUTF8(_ bytes: [UInt8], _ text: String) {
        #expect(escaped(bytes) == text)
    }

    /// Runs of plain bytes are copied whole: random mixes of plain text, escapes and
    /// UTF-8 (valid and not) come out as escaping one byte at a time gives.
    @Test func jsonRunsEqualByteByByteEscaping() {
        func reference(_ bytes: [UInt8]) -> String {
            var out = ""
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                if b >= 0x80 {
                    let len = bytes.withUnsafeBytes { ByteSink.utf8SequenceLength($0, at: i) }
                    if len == 0 { out += "\\ufffd"; i += 1 } else {
                        out += String(decoding: bytes[i..<(i + len)], as: UTF8.self); i += len
                    }
                    continue
                }
                switch b {
                case 0x22: out += "\\\""
                case 0x5C: out += "\\\\"
                case 0x0A: out += "\\n"
                case 0x0D: out += "\\r"
                case 0x09: out += "\\t"
                case 0x00..<0x20, 0x7F: out += "\\u00" + (b < 0x10 ? "0" : "") + String(b, radix: 16)
                default: out += String(UnicodeScalar(b))
                }
                i += 1
            }
            return out
        }
        var rng = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [Array("plain".utf8), [0x22], [0x5C], [0x0A], [0x00], [0x7F], [0x1F],
                                 Array("é€😀".utf8), [0xC3], [0xFF], [0xE2, 0x82], Array(" ~/{}".utf8)]
        for _ in 0..<500 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...12, using: &rng) { bytes += pieces.randomElement(using: &rng)! }
            #expect(escaped(bytes) == reference(bytes), "\(bytes)")
        }
    }

    @Test func jsonStringOverload() {
        let text = render { s in s.appendJSONEscaped("a\"b\\c\nd é") }
        #expect(text == "a\\\"b\\\\c\\nd é")
    }

    @Test func reuseKeepsCapacity() {
        var s = ByteSink(capacity: 64)
        s.append("hello" as StaticString)
        s.append(UInt8(ascii: " "))
        s.append("world")
        #expect(s.string == "hello world")
        #expect(s.count == 11)
        let capacity = s.bytes.capacity
        s.removeAll()
        #expect(s.isEmpty)
        #expect(s.bytes.capacity == capacity)
        [UInt8]([0x41, 0x42]).withUnsafeBytes { s.append(bytes: $0) }
        #expect(s.string == "AB")
    }

    @Test func flushWritesEverythingAndEmpties() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        var s = ByteSink()
        s.append("line one\nline two\n" as StaticString)
        let flushed = s.flush(to: fds[1])
        #expect(flushed)
        close(fds[1])
        #expect(s.isEmpty)
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(fds[0], &buffer, 64)
        #expect(String(decoding: buffer.prefix(max(0, n)), as: UTF8.self) == "line one\nline two\n")
        var closed = ByteSink()
        closed.append("x" as StaticString)
        let flushedToBadFD = closed.flush(to: -1)
        #expect(!flushedToBadFD)
    }
}
