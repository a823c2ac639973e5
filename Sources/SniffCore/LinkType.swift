/// A LINKTYPE_ value from the pcap/pcapng headers (the tcpdump.org registry).
public struct LinkType: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    // Computed and inlinable: PacketDecoder switches on them for every frame, and a
    // stored static would be a call (and a once-check) from another module.
    @inlinable public static var null: LinkType { LinkType(0) }
    @inlinable public static var ethernet: LinkType { LinkType(1) }
    /// DLT_RAW on some BSDs.
    @inlinable public static var rawOpenBSD: LinkType { LinkType(12) }
    /// DLT_RAW on BSD/OS.
    @inlinable public static var rawBSDOS: LinkType { LinkType(14) }
    @inlinable public static var raw: LinkType { LinkType(101) }
    @inlinable public static var loop: LinkType { LinkType(108) }
    @inlinable public static var linuxSLL: LinkType { LinkType(113) }
    @inlinable public static var ipv4: LinkType { LinkType(228) }
    @inlinable public static var ipv6: LinkType { LinkType(229) }
    @inlinable public static var linuxSLL2: LinkType { LinkType(276) }

    @inlinable public static func ~= (pattern: LinkType, value: LinkType) -> Bool { pattern.rawValue == value.rawValue }

    /// The name used in NDJSON's `link` field.
    public var name: String {
        switch rawValue {
        case 0: return "null"
        case 1: return "ethernet"
        case 12, 14, 101: return "raw"
        case 108: return "loop"
        case 113: return "linux_sll"
        case 228: return "ipv4"
        case 229: return "ipv6"
        case 276: return "linux_sll2"
        default: return "linktype_\(rawValue)"
        }
    }

    public var isKnown: Bool {
        switch rawValue {
        case 0, 1, 12, 14, 101, 108, 113, 228, 229, 276: return true
        default: return false
        }
    }

    public var description: String { "\(name) (\(rawValue))" }
}
