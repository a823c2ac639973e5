/// Timeouts and limits of a flow table. Durations are in nanoseconds.
public struct FlowTableConfig: Sendable, Equatable {
    public static let nanosPerSecond: Int64 = 1_000_000_000

    /// Idle timeout of an established TCP connection (both sides past the handshake,
    /// or seen midstream).
    public var tcpEstablishedTimeout: Int64 = 3600 * nanosPerSecond
    /// Idle timeout of a TCP connection that is closed, reset, or still in its
    /// handshake (half-open).
    public var tcpClosedTimeout: Int64 = 10 * nanosPerSecond
    public var udpTimeout: Int64 = 60 * nanosPerSecond
    public var icmpTimeout: Int64 = 60 * nanosPerSecond
    /// Other IP protocols (GRE, ESP, OSPF ...).
    public var otherTimeout: Int64 = 60 * nanosPerSecond
    /// A flow open this long is emitted and continued as a new record.
    public var activeTimeout: Int64 = 1800 * nanosPerSecond
    /// At most this many flows; when full, the flow idle the longest is evicted.
    public var maxFlows: Int = 1_000_000
    /// Flows the table has room for before it first grows.
    public var initialCapacity: Int = 4096
    /// Payload-carrying packets of each flow that are inspected for TLS, HTTP, SSH,
    /// DNS and QUIC.
    public var inspectPackets: Int = 6
    /// TCP stream reassembly for those parsers: per-direction budget and memory cap.
    public var tcpReassembly = TCPReassemblyLimits()

    public init() {}

    /// A configuration whose timers never fire (whole-file conversations).
    public static var noTimeouts: FlowTableConfig {
        var c = FlowTableConfig()
        c.tcpEstablishedTimeout = .max
        c.tcpClosedTimeout = .max
        c.udpTimeout = .max
        c.icmpTimeout = .max
        c.otherTimeout = .max
        c.activeTimeout = .max
        return c
    }

    @inlinable
    public static func nanos(seconds: Double) -> Int64 {
        seconds >= Double(Int64.max) / 1e9 ? .max : Int64(seconds * 1e9)
    }
}
