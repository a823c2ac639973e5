import SniffDecode

/// How a flow carried inside a tunnel got there: the tunnel's kind and id, the flow
/// that carried its first packet, and the other flows that carried later ones (Zeek's
/// `tunnel_parents` is the set of every encapsulating connection: a VXLAN or GENEVE
/// endpoint picks its UDP source port per inner flow, so the two directions of one
/// inner conversation usually come in two outer flows). Each parent is kept as its key
/// and start, from which its uid follows (`FlowUID`), so that the uid seed stays the
/// writers' business.
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
    /// The parents after the first, in the order they first carried a packet; at most
    /// `maxParents` - 1, so that a flood of outer flows cannot grow one inner flow.
    public let laterParents: [Parent]

    public struct Parent: Sendable, Equatable {
        public let key: FlowKey
        public let startNanos: Int64
    }

    /// The most parents a flow records (Zeek bounds nothing; a tunnel endpoint uses a
    /// handful of source ports per inner flow at most).
    public static let maxParents = 8

    public init(kind: TunnelKind, id: UInt32?, parentKey: FlowKey, parentStartNanos: Int64, laterParents: [Parent] = [])
    {
        self.kind = kind
        self.id = id
        self.parentKey = parentKey
        self.parentStartNanos = parentStartNanos
        self.laterParents = laterParents
    }

    /// Every parent, the first first.
    public var parents: [Parent] { [Parent(key: parentKey, startNanos: parentStartNanos)] + laterParents }

    /// Whether the flow with this key and start already counts as a parent.
    @inline(__always)
    func hasParent(key: FlowKey, startNanos: Int64) -> Bool {
        if parentKey == key && parentStartNanos == startNanos { return true }
        return laterParents.contains { $0.key == key && $0.startNanos == startNanos }
    }

    /// This tunnel with one more parent, or nil when the set is full.
    func adding(key: FlowKey, startNanos: Int64) -> FlowTunnel? {
        guard laterParents.count + 1 < FlowTunnel.maxParents else { return nil }
        return FlowTunnel(kind: kind, id: id, parentKey: parentKey, parentStartNanos: parentStartNanos,
                          laterParents: laterParents + [Parent(key: key, startNanos: startNanos)])
    }

    public static func == (a: FlowTunnel, b: FlowTunnel) -> Bool {
        a.kind == b.kind && a.id == b.id && a.parentKey == b.parentKey && a.parentStartNanos == b.parentStartNanos
            && a.laterParents == b.laterParents
    }
}
