import SniffAnalysis
import SniffCore

/// How ClickHouse's packets keep the two columns that cost the most bytes per packet
/// before schema version `Schema.packetUIDBytesVersion` (docs/SCALING.md §8, *Bytes per
/// packet*), rebuilt on read by ALIAS columns of the old names, so every read (the API's
/// selects, the text filter's `flow_uid IN (…)`, the frame summary's `max(caplen)`)
/// names `flow_uid` and `caplen` as before:
///
/// - the flow uid as its 96 bits (`FixedString(12)`: the high 64 bits, then the low 32,
///   each little-endian) instead of its 18 characters. A uid not in `FlowUID`'s form
///   (none a capture makes) is kept as it is in `flow_uid_text`, with 12 zero bytes,
///   so any text comes back as written;
/// - `caplen` as `caplen_cut`, the bytes the snap length cut off (`len - caplen`,
///   modulo 2^32 so that a capture file's caplen above len comes back too): 0 for
///   nearly every packet, which LZ4 stores in almost nothing.
enum ClickHousePacketColumns {
    static let uidBytes: ClickHouseSchema.Column = ("flow_uid_bin", "FixedString(12)")
    static let uidText: ClickHouseSchema.Column = ("flow_uid_text", "String")
    static let caplenCut: ClickHouseSchema.Column = ("caplen_cut", "UInt32")

    /// The uid as text, from `flow_uid_bin` and `flow_uid_text` (empty: no uid).
    static let uidAlias = "if(flow_uid_bin = \(zeroBytes), flow_uid_text, \(text(ofBytes: "flow_uid_bin")))"
    static let caplenAlias = "toUInt32(len - caplen_cut)"

    /// The ALIAS columns that give reads the old names.
    static let aliases: [ClickHouseSchema.Column] = [
        ("flow_uid", "String ALIAS \(uidAlias)"), ("caplen", "UInt32 ALIAS \(caplenAlias)"),
    ]

    static let zeroBytes = "toFixedString('', 12)"

    /// The sharding key of the cluster's packets: the hash of the uid's text, as before
    /// the uid was stored as bytes, so a packet goes to the shard of its flow, and a
    /// batch stored before the change and replayed after reaches the shard of its first
    /// copy. (A Distributed table's key sees only stored columns, not the ALIAS.)
    static let shardingKey = "cityHash64(sensor, capture_id, if(\(uidAlias) = '', toString(n), \(uidAlias)))"

    /// The 96 bits of a uid in `FlowUID`'s text form ("C", then its digits), nil for any
    /// other text and for 96 zero bits (which stand for "no uid" in `flow_uid_bin`).
    /// Reads the text's bytes in place: called once per stored packet.
    static func bits(_ uid: String) -> (UInt64, UInt32)? {
        var u = uid
        return u.withUTF8 { b -> (UInt64, UInt32)? in
            guard b.count == 1 + FlowUID.highDigits + FlowUID.lowDigits, b[0] == UInt8(ascii: "C") else { return nil }
            func number(_ range: Range<Int>) -> UInt64? {
                var v: UInt64 = 0
                for i in range {
                    let d = digit[Int(b[i])]
                    guard d != 0xFF else { return nil }
                    let (m, o1) = v.multipliedReportingOverflow(by: 62)
                    let (s, o2) = m.addingReportingOverflow(UInt64(d))
                    guard !o1, !o2 else { return nil }
                    v = s
                }
                return v
            }
            let split = 1 + FlowUID.highDigits
            guard let hi = number(1..<split), let lo = number(split..<b.count), lo <= UInt64(UInt32.max),
                hi != 0 || lo != 0
            else { return nil }
            return (hi, UInt32(lo))
        }
    }

    /// Each byte's base-62 value, 0xFF for a byte that is not a digit.
    private static let digit: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (v, c) in FlowUID.alphabet.enumerated() { t[Int(c)] = UInt8(v) }
        return t
    }()

    /// A packet's uid columns, in `packetColumns` order.
    @inline(__always)
    static func write(_ uid: String?, into out: inout RowBinary) {
        if let uid, let (hi, lo) = bits(uid) {
            out.u64(hi); out.u32(lo); out.length(0)
        } else {
            out.u64(0); out.u32(0); out.string(uid ?? "")
        }
    }

    // MARK: SQL

    private static var alphabet: String { String(decoding: FlowUID.alphabet, as: UTF8.self) }

    private static func power(_ k: Int) -> UInt64 { (0..<k).reduce(1) { p, _ in p * 62 } }

    /// `FlowUID`'s text of the 12 bytes in `column` (SQL).
    static func text(ofBytes column: String) -> String {
        func digits(_ value: String, _ count: Int) -> [String] {
            (0..<count).reversed().map { "substring('\(alphabet)', intDiv(\(value), \(power($0))) % 62 + 1, 1)" }
        }
        let hi = "reinterpretAsUInt64(substring(\(column), 1, 8))", lo = "reinterpretAsUInt32(substring(\(column), 9, 4))"
        return "concat('C', " + (digits(hi, FlowUID.highDigits) + digits(lo, FlowUID.lowDigits)).joined(separator: ", ")
            + ")"
    }

    /// The 12 bytes of the uid text in `column` (SQL), meaningful only when the text
    /// is in `FlowUID`'s form (`canonical`).
    static func bytes(ofText column: String) -> String {
        func number(_ start: Int, _ count: Int) -> String {
            (0..<count).map {
                "toUInt64(position('\(alphabet)', substring(\(column), \(start + $0), 1)) - 1) * \(power(count - 1 - $0))"
            }.joined(separator: " + ")
        }
        let hi = "(\(number(2, FlowUID.highDigits)))", lo = "toUInt32(\(number(2 + FlowUID.highDigits, FlowUID.lowDigits)))"
        return "toFixedString(concat(toFixedString(reinterpretAsString(\(hi)), 8), "
            + "toFixedString(reinterpretAsString(\(lo)), 4)), 12)"
    }

    /// Whether the text in `column` is a uid `bits` reads (SQL): "C" and base-62 digits,
    /// each part at most the largest value of its bits (fixed-width digits in the
    /// alphabet's order compare as the numbers do: '0' < 'A' < 'a' in ASCII), not all zero.
    static func canonical(_ column: String) -> String {
        let high = FlowUID.highDigits, low = FlowUID.lowDigits
        let zero = "C" + String(repeating: "0", count: high + low)
        return "(match(\(column), '^C[0-9A-Za-z]{\(high + low)}$') AND substring(\(column), 2, \(high)) <= "
            + "'\(digits(UInt64.max, high))' AND substring(\(column), \(2 + high), \(low)) <= "
            + "'\(digits(UInt64(UInt32.max), low))' AND \(column) != '\(zero)')"
    }

    /// `value` in `count` base-62 digits, as `FlowUID` writes it.
    static func digits(_ value: UInt64, _ count: Int) -> String {
        var v = value, out = [UInt8](repeating: 0, count: count)
        for i in (0..<count).reversed() { out[i] = FlowUID.alphabet[Int(v % 62)]; v /= 62 }
        return String(decoding: out, as: UTF8.self)
    }

    /// The conversion of the rows stored before (`ALTER TABLE … UPDATE`, a mutation):
    /// the assignments that fill the new columns from each old one still stored.
    static func update(flowUID: Bool, caplen: Bool) -> String {
        let uid = [
            "flow_uid_bin = if(\(canonical("flow_uid")), \(bytes(ofText: "flow_uid")), \(zeroBytes))",
            "flow_uid_text = if(\(canonical("flow_uid")), '', flow_uid)",
        ]
        return "UPDATE " + ((flowUID ? uid : []) + (caplen ? ["caplen_cut = toUInt32(len - caplen)"] : [])).joined(
            separator: ", ") + " WHERE 1"
    }
}
