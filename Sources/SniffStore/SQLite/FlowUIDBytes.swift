import SniffCore

/// A flow uid in SQLite's packets and flows tables since `uidBytesVersion`: Sniff's uids
/// ("C" and 17 base62 digits, `FlowUID`) as 13 bytes instead of 18 of text, the digits'
/// values (0-61) six bits each: digits 1-16 fill bytes 0-11 most significant bit first,
/// digit 17 is byte 12. The "C" is implied. Any other text (a uid Sniff did not make)
/// stays text in the same column, so every value reads back as it was written.
///
/// Six bits a digit rather than the uid's 96-bit number (12 bytes): a view takes each
/// digit out with two hex digits of one or two bytes (`viewText`), in built-in SQL, where
/// base62 of a 64-bit number would need unsigned division SQLite has not.
enum FlowUIDBytes {
    static let count = 13
    private static let alphabet: [UInt8] = Array(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
    /// The value of each ASCII byte as a base62 digit, 255 for none.
    private static let digits: [UInt8] = {
        var t = [UInt8](repeating: 255, count: 256)
        for (v, c) in alphabet.enumerated() { t[Int(c)] = UInt8(v) }
        return t
    }()

    /// Writes the 13 bytes of `uid` at `p`; false (nothing to use) for text that is not
    /// "C" and 17 base62 digits.
    @inline(__always)
    static func write(_ uid: UnsafeBufferPointer<UInt8>, to p: UnsafeMutableRawPointer) -> Bool {
        guard uid.count == 18, uid[0] == UInt8(ascii: "C") else { return false }
        var acc: UInt32 = 0
        var bits = 0, out = 0
        for i in 1...17 {
            let d = digits[Int(uid[i])]
            guard d != 255 else { return false }
            if i == 17 {
                p.storeBytes(of: d, toByteOffset: 12, as: UInt8.self)
                break
            }
            acc = acc << 6 | UInt32(d)
            bits += 6
            if bits >= 8 {
                bits -= 8
                p.storeBytes(of: UInt8(truncatingIfNeeded: acc >> UInt32(bits)), toByteOffset: out, as: UInt8.self)
                out += 1
            }
        }
        return true
    }

    /// The uid's text from its 13 bytes; nil for a BLOB of another size.
    static func text(_ b: UnsafeRawBufferPointer) -> String? {
        guard b.count == count else { return nil }
        return String(unsafeUninitializedCapacity: 18) { s in
            s[0] = UInt8(ascii: "C")
            var acc: UInt32 = 0
            var bits = 0, at = 0
            for i in 1...16 {
                while bits < 6 {
                    acc = acc << 8 | UInt32(b[at]); at += 1; bits += 8
                }
                bits -= 6
                s[i] = alphabet[Int(acc >> UInt32(bits) & 63) % 62]
            }
            s[17] = alphabet[Int(b[12]) % 62]
            return 18
        }
    }

    /// Binds `uid` as its 13 bytes, or as text when it is not one of Sniff's.
    @inline(__always)
    static func bind(_ st: SQLiteStatement, _ k: Int32, _ uid: String, arena: BindArena) {
        var u = uid
        u.withUTF8 { t in
            if let p = arena.reserve(count) {
                if write(t, to: p) {
                    st.bindBlobStatic(k, UnsafeRawBufferPointer(start: p, count: count))
                    return
                }
            } else {
                var room: (UInt64, UInt64) = (0, 0)
                let done = withUnsafeMutableBytes(of: &room) { r -> Bool in
                    guard write(t, to: r.baseAddress!) else { return false }
                    st.bindBlobCopy(k, UnsafeRawBufferPointer(rebasing: r[0..<count]))
                    return true
                }
                if done { return }
            }
            st.bind(k, bytes: t, arena: arena)
        }
    }

    /// A uid column read back: its text from the 13 bytes, or the text stored as is.
    static func read(_ st: SQLiteStatement, _ c: Int32) -> String? {
        if st.isNull(c) { return nil }
        if st.isBlob(c), let t = text(st.blob(c)) { return t }
        return st.text(c)
    }

    /// The uid column `column` as text, in SQL the sqlite3 shell runs without Sniff's
    /// functions (the views): digit i of 1-16 starts at bit 6(i-1) of the BLOB.
    static func viewText(_ column: String) -> String {
        let letters = String(decoding: alphabet, as: UTF8.self)
        func digit(_ i: Int) -> String {
            let bit = 6 * (i - 1), byte = bit / 8
            let value = "(\(ColdSQL.uint(column, "\(byte)", 2)) >> \(10 - bit % 8)) & 63"
            return "substr('\(letters)', (\(value)) + 1, 1)"
        }
        let last = "substr('\(letters)', \(ColdSQL.uint(column, "12", 1)) + 1, 1)"
        let parts = ["'C'"] + (1...16).map(digit) + [last]
        return "CASE WHEN typeof(\(column)) = 'blob' AND length(\(column)) = \(count) THEN "
            + parts.joined(separator: " || ") + " ELSE \(column) END"
    }
}

/// Packets and flows keep their flow uid as 13 bytes (`FlowUIDBytes`): 5 of the 18 bytes
/// of text in every packet row and every flow row. The columns keep their declared type
/// (a BLOB is stored as given whatever the affinity), so the rows are rewritten in place;
/// `packets_v` and `flows_v` are made again to show the text.
extension SQLiteSchema {
    static let uidBytesVersion = 22

    static let uidBytesStatements: [String] = [
        "UPDATE packets SET flow_uid = coalesce(sniff_uid_bytes(flow_uid), flow_uid) WHERE typeof(flow_uid) = 'text'",
        "UPDATE flows SET uid = coalesce(sniff_uid_bytes(uid), uid) WHERE typeof(uid) = 'text'",
        "DROP VIEW packets_v", PacketsV22.viewSQL,
        "DROP VIEW flows_v", FlowTable.viewSQL(tunnels: true),
    ]
}
