import SniffCore
import SniffStore
import Synchronization

/// One subscriber of the live stream (a WebSocket or a feed connection): its filter,
/// its per-second row budget, and a bounded stream of rendered messages between the
/// broadcaster and the task that writes to the socket (an `AsyncStream` keeping the
/// newest `capacity`: when it is full the oldest message is dropped and counted). A
/// write that makes no progress for the configured time marks the client as stuck,
/// and its connection is closed.
public final class LiveClient: Sendable {
    public enum Kind: Sendable { case webSocket, feed }
    public let kind: Kind
    public let capacity: Int
    public let rowsPerSecond: Int

    private let messages: AsyncStream<String>
    private let sink: AsyncStream<String>.Continuation
    private struct State {
        var closed = false
        var writeStartedAt: ContinuousClock.Instant? = nil
        var dropped: UInt64 = 0
        var filter = LiveFilter()
        var paused = false
        var capture: Int64? = nil
        var json = false
        // Row budget of the current second.
        var second: Int64 = 0
        var sentThisSecond = 0
        var skipped: UInt64 = 0
    }
    private let state = Mutex(State())

    init(kind: Kind, capacity: Int, rowsPerSecond: Int) {
        self.kind = kind; self.capacity = max(1, capacity); self.rowsPerSecond = rowsPerSecond
        (messages, sink) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(self.capacity))
    }

    public var dropped: UInt64 { state.withLock { $0.dropped } }
    public var filter: LiveFilter {
        get { state.withLock { $0.filter } }
        set { state.withLock { $0.filter = newValue } }
    }
    public var paused: Bool {
        get { state.withLock { $0.paused } }
        set { state.withLock { $0.paused = newValue } }
    }
    /// The capture this client shows (nil: all). Rows and alerts of the capture running
    /// in this process reach it only when that is the one chosen.
    public var capture: Int64? {
        get { state.withLock { $0.capture } }
        set { state.withLock { $0.capture = newValue } }
    }
    /// Feed clients: NDJSON lines instead of text.
    public var json: Bool {
        get { state.withLock { $0.json } }
        set { state.withLock { $0.json = newValue } }
    }
    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Adds a message; drops the oldest when full. Never blocks.
    public func enqueue(_ message: String) {
        if case .dropped = sink.yield(message) { state.withLock { $0.dropped &+= 1 } }
    }

    /// Hands each message to `write`, one at a time, until the client is closed (what
    /// is still queued then is not written) or `write` throws. The time a write takes
    /// is what `isStuck` measures. Only the client's one writer task calls this.
    public func writeMessages(_ write: (String) async throws -> Void) async rethrows {
        for await m in messages {
            let open = state.withLock { s in
                if !s.closed { s.writeStartedAt = ContinuousClock.now }
                return !s.closed
            }
            guard open else { return }
            try await write(m)
            state.withLock { $0.writeStartedAt = nil }
        }
    }

    public func close() {
        state.withLock { $0.closed = true; $0.writeStartedAt = nil }
        sink.finish()
    }

    /// True when a write has been pending for longer than `timeout`.
    public func isStuck(now: ContinuousClock.Instant, timeout: Duration) -> Bool {
        state.withLock { s in
            guard let started = s.writeStartedAt else { return false }
            return now - started > timeout
        }
    }

    /// Picks this client's rows from a batch: its filter, then its per-second budget.
    /// Returns the rows to send and the number skipped since the last call that sent.
    func select(_ rows: [PacketRow], unsampled: UInt64, nowSecond: Int64) -> (rows: [PacketRow], skipped: UInt64) {
        let limit = rowsPerSecond
        return state.withLock { s in
            if s.closed || s.paused { return ([], 0) }
            if nowSecond != s.second { s.second = nowSecond; s.sentThisSecond = 0 }
            var out: [PacketRow] = []
            // Unsampled packets are skipped for every client whose filter is empty;
            // with a filter we cannot tell, so they are not counted.
            if s.filter.isEmpty { s.skipped &+= unsampled }
            for r in rows where s.filter.isEmpty || s.filter.matches(r) {
                if s.sentThisSecond < limit {
                    out.append(r); s.sentThisSecond += 1
                } else {
                    s.skipped &+= 1
                }
            }
            let skipped = s.skipped
            if !out.isEmpty || skipped > 0 { s.skipped = 0 }
            return (out, skipped)
        }
    }
}
