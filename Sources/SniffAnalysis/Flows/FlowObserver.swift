import SniffDecode

/// Why a flow left the table.
public enum FlowEndReason: UInt8, Sendable, CaseIterable {
    /// No packet for the idle timeout of its class.
    case idle
    /// Open longer than the active timeout: this part is emitted and a new record starts.
    case active
    /// A new TCP connection reused the same addresses and ports (Zeek's IsReuse).
    case reuse
    /// The table was full; the flow idle the longest was evicted.
    case evicted
    /// The capture ended (end of file, or shutdown) while the flow was open.
    case end

    public var name: StaticString {
        switch self {
        case .idle: return "idle"
        case .active: return "active"
        case .reuse: return "reuse"
        case .evicted: return "evicted"
        case .end: return "end"
        }
    }
}

/// Receives flows as the table creates, learns about, and finishes them. Called on the
/// table's thread, per flow (never per packet), and must not block.
public protocol FlowObserver: AnyObject {
    /// A new flow, after its first packet was accounted.
    func flowStarted(_ flow: Flow)
    /// Payload inspection learned something new (app, SNI, Host, DNS query ...).
    func flowUpdated(_ flow: Flow)
    /// The flow is finished and has left the table.
    func flowEnded(_ flow: Flow, reason: FlowEndReason)
    /// A payload gave the flow another app than its port guess, at `nanos`. `packets`
    /// and `bytes` (wire) are the flow's packets before this one: those labeled `old`,
    /// which counts kept per app move to `flow.app`.
    func flowAppChanged(_ flow: Flow, from old: AppProtocol, packets: UInt64, bytes: UInt64, at nanos: Int64)
}

extension FlowObserver {
    public func flowStarted(_ flow: Flow) {}
    public func flowUpdated(_ flow: Flow) {}
    public func flowAppChanged(_ flow: Flow, from old: AppProtocol, packets: UInt64, bytes: UInt64, at nanos: Int64) {}
}

/// Hands every event to several observers, in order.
public final class FlowObserverList: FlowObserver {
    public var observers: [FlowObserver]

    public init(_ observers: [FlowObserver] = []) { self.observers = observers }

    public func flowStarted(_ flow: Flow) { for o in observers { o.flowStarted(flow) } }
    public func flowUpdated(_ flow: Flow) { for o in observers { o.flowUpdated(flow) } }
    public func flowEnded(_ flow: Flow, reason: FlowEndReason) {
        for o in observers { o.flowEnded(flow, reason: reason) }
    }
    public func flowAppChanged(_ flow: Flow, from old: AppProtocol, packets: UInt64, bytes: UInt64, at nanos: Int64) {
        for o in observers { o.flowAppChanged(flow, from: old, packets: packets, bytes: bytes, at: nanos) }
    }
}

/// Collects finished flows in memory (tests, small captures).
public final class FlowCollector: FlowObserver {
    public private(set) var flows: [Flow] = []
    public private(set) var reasons: [FlowEndReason] = []

    public init() {}

    public func flowEnded(_ flow: Flow, reason: FlowEndReason) {
        flows.append(flow)
        reasons.append(reason)
    }
}
