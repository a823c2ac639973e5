import SniffCore
import SniffStore

/// One subscriber of the live stream (a WebSocket or a feed connection): its filter,
/// its per-second row budget, and a bounded stream of rendered messages between the
/// broadcaster and the task that writes to the socket (an `AsyncStream` keeping the
/// newest `capacity`: when it is full the oldest message is dropped and counted). A
/// write that makes no progress for the configured time marks the client as stuck,
/// and its connection is closed.
/// Unchecked Sendable: every var is under `lock`; the stream and its continuation are Sendable.
public final class LiveClient: @unchecked Sendable {
    public enum Kind: Sendable { case webSocket, feed }
    public let kind: Kind
    public let capacity: Int
    public let rowsPerSecond: Int

    private let messages: AsyncStream<String>
    private let sink: AsyncStream<String>.Continuation
    private let lock = ConditionLock()
    private var closed = false
    private var writeStartedAt: ContinuousClock.Instant? = nil
    private var _dropped: UInt64 = 0
    private var _filter = LiveFilter()
    private var _paused = false
    private var _capture: Int64? = nil
    private var _json = false
    // Row budget of the current second.
    private var second: Int64 = 0
    private var sentThisSecond = 0
    private var skipped: UInt64 = 0

    init(kind: Kind, capacity: Int, rowsPerSecond: Int) {
        self.kind = kind; self.capacity = max(1, capacity); self.rowsPerSecond = rowsPerSecond
        (messages, sink) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(self.capacity))
    }

    public var dropped: UInt64 { lock.withLock { _dropped } }
    public var filter: LiveFilter {
        get { lock.withLock { _filter } }
        set { lock.withLock { _filter = newValue } }
    }
    public var paused: Bool {
        get { lock.withLock { _paused } }
        set { lock.withLock { _paused = newValue } }
    }
    /// The capture this client shows (nil: all). Rows and alerts of the capture running
    /// in this process reach it only when that is the one chosen.
    public var capture: Int64? {
        get { lock.withLock { _capture } }
        set { lock.withLock { _capture = newValue } }
    }
    /// Feed clients: NDJSON lines instead of text.
    public var json: Bool {
        get { lock.withLock { _json } }
        set { lock.withLock { _json = newValue } }
    }
    public var isClosed: Bool { lock.withLock { closed } }

    /// Adds a message; drops the oldest when full. Never blocks.
    public func enqueue(_ message: String) {
        if case .dropped = sink.yield(message) { lock.withLock { _dropped &+= 1 } }
    }

    /// Hands each message to `write`, one at a time, until the client is closed (what
    /// is still queued then is not written) or `write` throws. The time a write takes
    /// is what `isStuck` measures. Only the client's one writer task calls this.
    public func writeMessages(_ write: (String) async throws -> Void) async rethrows {
        for await m in messages {
            let open = lock.withLock {
                if !closed { writeStartedAt = ContinuousClock.now }
                return !closed
            }
            guard open else { return }
            try await write(m)
            lock.withLock { writeStartedAt = nil }
        }
    }

    public func close() {
        lock.withLock { closed = true; writeStartedAt = nil }
        sink.finish()
    }

    /// True when a write has been pending for longer than `timeout`.
    public func isStuck(now: ContinuousClock.Instant, timeout: Duration) -> Bool {
        lock.withLock {
            guard let s = writeStartedAt else { return false }
            return now - s > timeout
        }
    }

    /// Picks this client's rows from a batch: its filter, then its per-second budget.
    /// Returns the rows to send and the number skipped since the last call that sent.
    func select(_ rows: [PacketRow], unsampled: UInt64, nowSecond: Int64) -> (rows: [PacketRow], skipped: UInt64) {
        lock.withLock {
            if closed || _paused { return ([], 0) }
            if nowSecond != second { second = nowSecond; sentThisSecond = 0 }
            var out: [PacketRow] = []
            // Unsampled packets are skipped for every client whose filter is empty;
            // with a filter we cannot tell, so they are not counted.
            if _filter.isEmpty { skipped &+= unsampled }
            for r in rows where _filter.isEmpty || _filter.matches(r) {
                if sentThisSecond < rowsPerSecond {
                    out.append(r); sentThisSecond += 1
                } else {
                    skipped &+= 1
                }
            }
            let s = skipped
            if !out.isEmpty || s > 0 { skipped = 0 }
            return (out, s)
        }
    }
}
