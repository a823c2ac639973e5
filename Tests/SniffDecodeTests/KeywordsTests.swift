import Testing
import SniffCore
@testable import SniffDecode

/// `Keywords` rules payloads out by their first byte before comparing keywords: its
/// answer must be the plain in-order comparison's, for every byte a keyword can begin
/// with and every other.
struct KeywordsTests {
    static let lists: [(String, Keywords)] = [
        ("sip", MediaDetectors.sipMethods), ("rtsp", MediaDetectors.rtspMethods),
        ("irc", MessagingDetectors.ircCommands), ("smtp", TextDetectors.smtpHello),
        ("ftp alone", TextDetectors.ftpAlone), ("ftp argument", TextDetectors.ftpWithArgument),
        ("imap", TextDetectors.imapCommands), ("pop3 alone", TextDetectors.pop3Alone),
        ("pop3 argument", TextDetectors.pop3WithArgument), ("memcached alone", DatabaseDetectors.memcachedAlone),
        ("memcached argument", DatabaseDetectors.memcachedWithArguments),
    ]

    static func plain(_ k: Keywords, _ c: ByteCursor, at offset: Int) -> StaticString? {
        k.words.first { k.caseless ? Bytes.hasCaseless(c, $0, at: offset) : Bytes.has(c, $0, at: offset) }
    }

    static func text(_ s: StaticString?) -> String? { s.map { $0.description } }

    @Test(arguments: 0..<lists.count)
    func sameAsComparingEachKeyword(_ list: Int) {
        let (name, k) = KeywordsTests.lists[list]
        var found = 0
        for w in k.words {
            let word = w.withUTF8Buffer { Array($0) }
            for first in 0...255 {
                // The keyword with each possible first byte, at offset 0 and after a prefix.
                for prefix in [[UInt8](), Array("a1 ".utf8)] {
                    let payload = prefix + [UInt8(first)] + word.dropFirst() + Array(" x\r\n".utf8)
                    payload.withUnsafeBytes { raw in
                        let c = ByteCursor(raw)
                        let expected = KeywordsTests.text(KeywordsTests.plain(k, c, at: prefix.count))
                        #expect(KeywordsTests.text(k.first(in: c, at: prefix.count)) == expected,
                                "\(name): \(payload)")
                        if expected != nil { found += 1 }
                    }
                }
            }
        }
        // Each keyword is found at least as itself, at both offsets.
        #expect(found >= 2 * k.words.count)
        // Nothing past the end.
        [UInt8]().withUnsafeBytes { #expect(k.first(in: ByteCursor($0)) == nil) }
    }
}
