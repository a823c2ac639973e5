import SniffCore

/// Standard base64 (RFC 4648 section 4) with padding, written into a ByteSink.
///
/// Kept rather than Foundation's `base64EncodedString()`: a Community ID is written for
/// every flow of `--flows`, conn.log and the store, and Foundation needs a `Data` and a
/// `String` per ID where this writes into the output buffer and allocates nothing.
public enum Base64 {
    @usableFromInline static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func append(_ bytes: UnsafeRawBufferPointer, into sink: inout ByteSink) {
        var i = 0
        while i + 3 <= bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            sink.append(alphabet[Int(v >> 18)]); sink.append(alphabet[Int((v >> 12) & 63)])
            sink.append(alphabet[Int((v >> 6) & 63)]); sink.append(alphabet[Int(v & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            sink.append(alphabet[Int(v >> 18)]); sink.append(alphabet[Int((v >> 12) & 63)])
            sink.append(UInt8(ascii: "=")); sink.append(UInt8(ascii: "="))
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            sink.append(alphabet[Int(v >> 18)]); sink.append(alphabet[Int((v >> 12) & 63)])
            sink.append(alphabet[Int((v >> 6) & 63)]); sink.append(UInt8(ascii: "="))
        }
    }

    public static func encode(_ bytes: [UInt8]) -> String {
        var s = ByteSink(capacity: (bytes.count + 2) / 3 * 4)
        bytes.withUnsafeBytes { append($0, into: &s) }
        return s.string
    }
}
