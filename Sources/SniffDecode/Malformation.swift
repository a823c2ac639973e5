import SniffCore

/// Why a packet could not be decoded as its headers claim, stored as small integers and
/// rendered to text only on output.
public struct Malformation: Error, Sendable, Equatable {
    public enum Layer: UInt8, Sendable {
        case ethernet, llc, vlan, null, sll, sll2, arp, ipv4, ipv6, ipv6ext, tcp, udp, icmp, icmpv6
        case gre, vxlan, geneve, dns, tunnel, raw

        public var name: StaticString {
            switch self {
            case .ethernet: return "ethernet"
            case .llc: return "llc"
            case .vlan: return "vlan"
            case .null: return "null"
            case .sll: return "linux_sll"
            case .sll2: return "linux_sll2"
            case .arp: return "arp"
            case .ipv4: return "ipv4"
            case .ipv6: return "ipv6"
            case .ipv6ext: return "ipv6"
            case .tcp: return "tcp"
            case .udp: return "udp"
            case .icmp: return "icmp"
            case .icmpv6: return "icmpv6"
            case .gre: return "gre"
            case .vxlan: return "vxlan"
            case .geneve: return "geneve"
            case .dns: return "dns"
            case .tunnel: return "tunnel"
            case .raw: return "raw"
            }
        }
    }

    public enum Kind: UInt8, Sendable {
        /// a = bytes present, b = bytes needed
        case short
        /// a = version found
        case badVersion
        /// a = header length, b = minimum
        case headerLength
        /// a = total length, b = bytes captured
        case totalLengthExceedsCaptured
        /// a = total length, b = header length
        case totalLengthBelowHeader
        /// a = option kind, b = option length
        case badOption
        /// a = length field
        case lengthField
        /// a = DNSNameError raw value
        case dnsName
        /// a = nesting depth limit
        case tooDeep
        /// a = address family / protocol value
        case unknownFamily
        /// a = tvalue of the 802.3 length, b = bytes present
        case lengthExceedsFrame
        /// A fragment whose data overlaps data already received with different bytes
        /// (or only partly): a = its offset, b = its length
        case fragmentOverlap
        /// The first fragment cannot hold the transport header: a = bytes, b = needed
        case tinyFragment
        /// A datagram past 65535 bytes: a = fragment offset, b = fragment length
        case fragmentTooLarge
        /// A fragment that is not the last whose length is not a multiple of 8, or that
        /// ends past the end the last fragment set: a = offset, b = length
        case fragmentLength
    }

    public var kind: Kind
    public var layer: Layer
    public var a: UInt32
    public var b: UInt32

    @inlinable
    public init(_ kind: Kind, _ layer: Layer, _ a: UInt32 = 0, _ b: UInt32 = 0) {
        self.kind = kind; self.layer = layer; self.a = a; self.b = b
    }

    public func write(into s: inout ByteSink) {
        s.append(layer.name)
        s.append(": " as StaticString)
        switch kind {
        case .short:
            s.append("header cut short, " as StaticString)
            s.append(decimal: UInt64(a)); s.append(" of " as StaticString)
            s.append(decimal: UInt64(b)); s.append(" bytes" as StaticString)
        case .badVersion:
            s.append("version " as StaticString); s.append(decimal: UInt64(a))
        case .headerLength:
            s.append("header length " as StaticString); s.append(decimal: UInt64(a))
            s.append(" < " as StaticString); s.append(decimal: UInt64(b))
        case .totalLengthExceedsCaptured:
            s.append(layer == .ipv6 ? "payload length " as StaticString : "total length " as StaticString)
            s.append(decimal: UInt64(a)); s.append(" > " as StaticString)
            s.append(decimal: UInt64(b)); s.append(" captured" as StaticString)
        case .totalLengthBelowHeader:
            s.append("total length " as StaticString); s.append(decimal: UInt64(a))
            s.append(" < header length " as StaticString); s.append(decimal: UInt64(b))
        case .badOption:
            s.append("option " as StaticString); s.append(decimal: UInt64(a))
            s.append(" with length " as StaticString); s.append(decimal: UInt64(b))
            s.append(" overruns the header" as StaticString)
        case .lengthField:
            s.append("length field " as StaticString); s.append(decimal: UInt64(a))
            s.append(" is invalid" as StaticString)
        case .dnsName:
            s.append(DNSNameError(rawValue: UInt8(truncatingIfNeeded: a))?.text ?? "bad name")
        case .tooDeep:
            s.append("more than " as StaticString); s.append(decimal: UInt64(a))
            s.append(" nested headers" as StaticString)
        case .unknownFamily:
            s.append("unknown address family " as StaticString); s.append(decimal: UInt64(a))
        case .lengthExceedsFrame:
            s.append("length " as StaticString); s.append(decimal: UInt64(a))
            s.append(" > " as StaticString); s.append(decimal: UInt64(b))
            s.append(" bytes in frame" as StaticString)
        case .fragmentOverlap:
            s.append("fragment at offset " as StaticString); s.append(decimal: UInt64(a))
            s.append(" (" as StaticString); s.append(decimal: UInt64(b))
            s.append(" bytes) overlaps data already received" as StaticString)
        case .tinyFragment:
            s.append("first fragment holds " as StaticString); s.append(decimal: UInt64(a))
            s.append(" bytes of a " as StaticString); s.append(decimal: UInt64(b))
            s.append("-byte transport header" as StaticString)
        case .fragmentTooLarge:
            s.append("fragment at offset " as StaticString); s.append(decimal: UInt64(a))
            s.append(" (" as StaticString); s.append(decimal: UInt64(b))
            s.append(" bytes) makes the datagram larger than 65535 bytes" as StaticString)
        case .fragmentLength:
            s.append("fragment at offset " as StaticString); s.append(decimal: UInt64(a))
            s.append(" has an invalid length " as StaticString); s.append(decimal: UInt64(b))
        }
    }

    public var text: String {
        var s = ByteSink(capacity: 64)
        write(into: &s)
        return s.string
    }
}
