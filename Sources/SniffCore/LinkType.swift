/// A LINKTYPE_ value from the pcap/pcapng headers (the tcpdump.org registry).
public struct LinkType: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    @inlinable public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static let null = LinkType(0)
    public static let ethernet = LinkType(1)
    public static let rawOpenBSD = LinkType(12)  // DLT_RAW on some BSDs
    public static let rawBSDOS = LinkType(14)    // DLT_RAW on BSD/OS
    public static let raw = LinkType(101)
    public static let loop = LinkType(108)
    public static let linuxSLL = LinkType(113)
    public static let ipv4 = LinkType(228)
    public static let ipv6 = LinkType(229)
    public static let linuxSLL2 = LinkType(276)

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
