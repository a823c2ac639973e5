/// Zeek's per-endpoint TCP states (`TCP_ENDPOINT_*`), from which `conn_state` is derived.
public enum TCPEndpointState: UInt8, Sendable {
    case inactive = 0, synSent, synAckSent, partial, established, closed, reset

    /// Inactive or partial: Zeek's `o_inactive`/`r_inactive`.
    @inlinable public var isInactiveOrPartial: Bool { self == .inactive || self == .partial }
}
