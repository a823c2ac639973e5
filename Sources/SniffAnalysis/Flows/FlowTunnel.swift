import SniffDecode

/// How a flow carried inside a tunnel got there: the tunnel's kind and id, and the
/// flow that carried its first packet (Zeek's `tunnel_parents`, the uid of the
/// encapsulating connection). The parent is kept as its key and start, from which its
/// uid follows (`FlowUID`), so that the uid seed stays the writers' business.
public struct FlowTunnel: Sendable, Equatable {
    public var kind: TunnelKind
    /// VXLAN's or GENEVE's VNI, GRE's key, GTP-U's TEID; nil when the header has none.
    public var id: UInt32?
    public var parentKey: FlowKey
    public var parentStartNanos: Int64

    public init(kind: TunnelKind, id: UInt32?, parentKey: FlowKey, parentStartNanos: Int64) {
        self.kind = kind
        self.id = id
        self.parentKey = parentKey
        self.parentStartNanos = parentStartNanos
    }

}
