import SniffDecode

/// How a flow carried inside a tunnel got there: the tunnel's kind and id, and the
/// flow that carried its first packet (Zeek's `tunnel_parents`, the uid of the
/// encapsulating connection). The parent is kept as its key and start, from which its
/// uid follows (`FlowUID`), so that the uid seed stays the writers' business.
///
/// A class, so that `FlowDetails` grows by one pointer rather than by these 60 bytes:
/// every flow whose payload told something holds a details box, and on the benchmark's
/// small-packet capture the larger box cost 52 MiB of peak memory and 3% of the time.
public final class FlowTunnel: Sendable, Equatable {
    public let kind: TunnelKind
    /// VXLAN's or GENEVE's VNI, GRE's key, GTP-U's TEID; nil when the header has none.
    public let id: UInt32?
    public let parentKey: FlowKey
    public let parentStartNanos: Int64

    public init(kind: TunnelKind, id: UInt32?, parentKey: FlowKey, parentStartNanos: Int64) {
        self.kind = kind
        self.id = id
        self.parentKey = parentKey
        self.parentStartNanos = parentStartNanos
    }

    public static func == (a: FlowTunnel, b: FlowTunnel) -> Bool {
        a.kind == b.kind && a.id == b.id && a.parentKey == b.parentKey && a.parentStartNanos == b.parentStartNanos
    }
}
