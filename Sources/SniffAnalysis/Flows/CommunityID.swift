import Crypto
import SniffCore

/// Community ID v1 flow hashing (corelight/community-id-spec):
/// `"1:" + base64(sha1(seed . saddr . daddr . proto . 0 . sport . dport))`, with the
/// smaller (address, port) first, ICMP types mapped to ports as Zeek does, and no ports
/// for protocols other than TCP, UDP, SCTP, ICMP and ICMPv6.
public enum CommunityID {
    /// Protocols whose ports (or ICMP type/code) go into the hash.
    @inlinable
    public static func hasPorts(_ proto: UInt8) -> Bool {
        switch proto {
        case IPProtocol.tcp, IPProtocol.udp, IPProtocol.sctp, IPProtocol.icmp, IPProtocol.icmpv6: return true
        default: return false
        }
    }

    /// The hash input for a flow key, which is already in the specification's order
    /// (canonical, or sender first for one-way ICMP).
    public static func input(_ key: FlowKey, seed: UInt16 = 0) -> [UInt8] {
        withInput(key, seed: seed) { Array($0) }
    }

    /// Calls `body` with the hash input, built on the stack (at most 2 + 16 + 16 + 2 + 4 bytes).
    static func withInput<R>(_ key: FlowKey, seed: UInt16, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { buf in
            var n = 0
            func put(_ b: UInt8) { buf[n] = b; n += 1 }
            func put16(_ v: UInt16) { put(UInt8(v >> 8)); put(UInt8(v & 0xFF)) }
            func addr(_ high: UInt64, _ low: UInt64) {
                if key.isIPv6 {
                    for i in (0..<8).reversed() { put(UInt8(truncatingIfNeeded: high >> UInt64(i * 8))) }
                    for i in (0..<8).reversed() { put(UInt8(truncatingIfNeeded: low >> UInt64(i * 8))) }
                } else {
                    for i in (0..<4).reversed() { put(UInt8(truncatingIfNeeded: low >> UInt64(i * 8))) }
                }
            }
            put16(seed)
            addr(key.aHigh, key.aLow)
            addr(key.bHigh, key.bLow)
            put(key.proto)
            put(0)
            if hasPorts(key.proto) { put16(key.portA); put16(key.portB) }
            return body(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buf[0..<n])))
        }
    }

    /// Appends "1:..." for `key` to `sink`, allocating nothing.
    public static func append(_ key: FlowKey, seed: UInt16 = 0, into sink: inout ByteSink) {
        sink.append("1:" as StaticString)
        let digest = withInput(key, seed: seed) { Insecure.SHA1.hash(data: $0) }
        digest.withUnsafeBytes { Base64.append($0, into: &sink) }
    }

    public static func string(_ key: FlowKey, seed: UInt16 = 0) -> String {
        var s = ByteSink(capacity: 32)
        append(key, seed: seed, into: &s)
        return s.string
    }

    /// The ID for one packet's tuple; ICMP `sport`/`dport` are the raw type and code.
    public static func string(
        src: IPAddress, dst: IPAddress, proto: UInt8, sport: UInt16, dport: UInt16, seed: UInt16 = 0
    ) -> String {
        var sp = sport, dp = dport, oneWay = false
        if IPProtocol(rawValue: proto).isICMP {
            let m = FlowKey.icmpPorts(type: UInt8(truncatingIfNeeded: sport), code: UInt8(truncatingIfNeeded: dport),
                                      v6: proto == IPProtocol.icmpv6.rawValue)
            sp = m.sport; dp = m.dport; oneWay = m.oneWay
        } else if !hasPorts(proto) {
            sp = 0; dp = 0
        }
        let key = FlowKey.canonical(src: src, sport: sp, dst: dst, dport: dp, proto: proto, oneWay: oneWay).key
        return string(key, seed: seed)
    }
}
