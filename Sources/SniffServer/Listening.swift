import Synchronization

/// One listener's readiness: the port it bound, or nil when it could not bind. Awaited by
/// whoever says "serving on ...", so that the line is printed only once a connection to
/// that port would be accepted.
final class ListenerReadiness: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Int?, Never>])
        case resolved(Int?)
    }
    private let state = Mutex(State.waiting([]))

    /// Called once by the listener: after its bind, or with nil when the bind failed.
    /// Later calls change nothing.
    func resolve(_ port: Int?) {
        let waiting: [CheckedContinuation<Int?, Never>] = state.withLock { s in
            guard case .waiting(let list) = s else { return [] }
            s = .resolved(port)
            return list
        }
        for c in waiting { c.resume(returning: port) }
    }

    /// The bound port, once the listener has bound (nil if it failed).
    func wait() async -> Int? {
        await withCheckedContinuation { (c: CheckedContinuation<Int?, Never>) in
            let done: Int?? = state.withLock { s in
                switch s {
                case .resolved(let port): return .some(port)
                case .waiting(let list):
                    s = .waiting(list + [c])
                    return .none
                }
            }
            if case .some(let port) = done { c.resume(returning: port) }
        }
    }
}

/// The ports the server listens on, once every listener is bound.
public struct ListeningPorts: Sendable, Equatable {
    public let http: Int
    /// The plain TCP feed's port when `--feed` asked for one.
    public let feed: Int?
}
