import SniffCore

/// Zeek-like connection ids: "C" and 17 base62 characters (96 bits), derived from a seed,
/// the flow key and the start time, so that a run is reproducible and a flow gets the
/// same id whichever shard or thread handled it.
public enum FlowUID {
    /// The 62 digits, in value order (a store that keeps the 96 bits decodes the text with them).
    public static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
    /// The text's digits: 11 for the high 64 bits, then 6 for the low 32.
    public static let highDigits = 11, lowDigits = 6

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The 96 bits of a flow's id.
    public static func bits(seed: UInt64, key: FlowKey, startNanos: Int64) -> (UInt64, UInt32) {
        let a = mix(seed ^ key.fastHash)
        let b = mix(a ^ UInt64(bitPattern: startNanos))
        return (b, UInt32(truncatingIfNeeded: mix(b ^ a) >> 32))
    }

    public static func append(seed: UInt64, flow: Flow, into sink: inout ByteSink) {
        append(seed: seed, key: flow.key, startNanos: flow.startNanos, into: &sink)
    }

    /// The uid of the flow with this key and start (a tunnel's parent, FlowTunnel).
    public static func append(seed: UInt64, key: FlowKey, startNanos: Int64, into sink: inout ByteSink) {
        let (hi, lo) = bits(seed: seed, key: key, startNanos: startNanos)
        sink.append(UInt8(ascii: "C"))
        appendBase62(hi, digits: highDigits, into: &sink)
        appendBase62(UInt64(lo), digits: lowDigits, into: &sink)
    }

    public static func string(seed: UInt64, flow: Flow) -> String {
        var s = ByteSink(capacity: 18)
        append(seed: seed, flow: flow, into: &s)
        return s.string
    }

    /// The uids of every flow that carried `flow` in a tunnel (Zeek's `tunnel_parents`),
    /// the first first, each followed by `separator` but the last.
    public static func appendParents(seed: UInt64, _ t: FlowTunnel, separator: StaticString, into sink: inout ByteSink)
    {
        append(seed: seed, key: t.parentKey, startNanos: t.parentStartNanos, into: &sink)
        for p in t.laterParents {
            sink.append(separator)
            append(seed: seed, key: p.key, startNanos: p.startNanos, into: &sink)
        }
    }

    /// `appendParents` as one comma-separated string, nil outside a tunnel.
    public static func parentsString(seed: UInt64, flow: Flow) -> String? {
        guard let t = flow.details.tunnel else { return nil }
        var s = ByteSink(capacity: 18 * (1 + t.laterParents.count))
        appendParents(seed: seed, t, separator: ",", into: &s)
        return s.string
    }

    static func appendBase62(_ value: UInt64, digits: Int, into sink: inout ByteSink) {
        var v = value
        var tmp: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &tmp) { buf in
            for i in (0..<digits).reversed() {
                buf[i] = alphabet[Int(v % 62)]
                v /= 62
            }
            sink.append(bytes: UnsafeRawBufferPointer(rebasing: buf[0..<digits]))
        }
    }
}
