import Synchronization

/// Pause, resume and stop of a live capture: what POST /api/capture/... asks and what
/// the capture loop reads and reports back. The state it answers is the capture's,
/// not the last request's: once a stop is asked, or the capture ends for any other
/// reason, pause and resume are refused, since nothing would capture again.
public final class CaptureControl: Sendable {
    public enum State: String, Sendable {
        /// Capturing.
        case running
        /// Capturing stopped for a while; packets seen meanwhile are counted and skipped.
        case paused
        /// A stop was asked or the capture is ending; the loop still drains its queue.
        case stopping
        /// The capture loop has ended; the server goes on serving what was stored.
        case stopped
    }

    private struct Flags {
        var paused = false
        var stopRequested = false
        var ending = false
        var ended = false
        /// The pause the capture loop last reported applying; nil before its first report.
        var applied: Bool? = nil

        var state: State {
            if ended { return .stopped }
            if stopRequested || ending { return .stopping }
            return paused ? .paused : .running
        }
    }
    private let flags = Mutex(Flags())

    public init() {}

    /// Read by the capture loop for each batch.
    public var paused: Bool { flags.withLock { $0.paused } }
    /// Read by the capture loop: stop capturing (asked through the API).
    public var stopRequested: Bool { flags.withLock { $0.stopRequested } }

    public var state: State { flags.withLock { $0.state } }

    /// Pauses; nil (nothing changed) when the capture is stopping or stopped.
    public func pause() -> State? { setPaused(true) }

    /// Resumes; nil (nothing changed) when the capture is stopping or stopped.
    public func resume() -> State? { setPaused(false) }

    private func setPaused(_ p: Bool) -> State? {
        flags.withLock { f in
            if f.ended || f.stopRequested || f.ending { return nil }
            f.paused = p
            return p ? .paused : .running
        }
    }

    /// The capture loop, once per batch or idle wait, after publishing its state: from
    /// now on its batches are `paused` or not.
    public func applied(paused: Bool) { flags.withLock { $0.applied = paused } }

    /// Waits (polling, at most `seconds`) until the capture loop has applied the last
    /// pause or resume, so that the answer, /api/stats and the live stream agree as
    /// soon as the dashboard shows it; returns the state then. Without a loop that
    /// reports (none has yet), answers at once.
    public func waitUntilApplied(seconds: Double) async -> State {
        await wait(seconds: seconds) { f in
            f.applied == nil || f.applied == f.paused || f.stopRequested || f.ending || f.ended
        }
    }


    /// Asks the capture to stop; asking again changes nothing.
    @discardableResult
    public func stop() -> State {
        flags.withLock { f in
            if !f.ended { f.stopRequested = true }
            return f.state
        }
    }

    /// The capture loop is ending for a reason of its own (Ctrl-C, count reached, the
    /// interface went down).
    public func captureEnding() { flags.withLock { $0.ending = true } }

    /// The capture loop has ended.
    public func captureEnded() {
        flags.withLock { f in
            f.ending = true
            f.ended = true
        }
    }

    /// Waits (polling, at most `seconds`) until the capture loop has ended, so that a
    /// stop answers "stopped" when the capture really is; returns the state then.
    public func waitUntilStopped(seconds: Double) async -> State {
        await wait(seconds: seconds) { $0.ended }
    }

    /// Polls every 10 ms, at most `seconds`, until `settled`; returns the state then.
    private func wait(seconds: Double, until settled: (Flags) -> Bool) async -> State {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while !flags.withLock({ settled($0) }) && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return state
    }

}
