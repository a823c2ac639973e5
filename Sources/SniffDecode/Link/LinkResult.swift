/// What a link-layer decoder hands to the network layer.
public enum LinkNext: Sendable, Equatable {
    /// The payload is identified by an ethertype and starts at `offset`.
    case ethertype(UInt16, offset: Int)
    /// The link layer says "IPv4 or IPv6, look at the version nibble" (raw IP links).
    case ipByVersion(offset: Int)
    /// The frame carries nothing Sniff decodes further (STP over LLC, unknown family).
    case end
}
