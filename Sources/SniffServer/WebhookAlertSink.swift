#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SniffCore
import SniffAnalysis

/// POSTs each alert as JSON to a URL from its own thread, with a timeout and retries,
/// so the analysis thread never waits on the network. The queue is bounded: when the
/// receiver cannot keep up, alerts are dropped and counted.
/// Unchecked Sendable: the queue, flags and counters are under `lock` (a condition
/// lock: the thread waits on it for alerts).
public final class WebhookAlertSink: AlertSink, @unchecked Sendable {
    public let url: WebhookURL
    public let timeoutMillis: Int
    public let retries: Int
    public let queueLimit: Int
    private let http: HTTPPost

    private let lock = ConditionLock()
    private var queue: [Alert] = []
    private var closing = false
    private var worker: WorkerThread? = nil

    private var _sent: UInt64 = 0
    private var _failed: UInt64 = 0
    private var _dropped: UInt64 = 0
    private var _lastError: String?
    public var sent: UInt64 { lock.withLock { _sent } }
    public var failed: UInt64 { lock.withLock { _failed } }
    public var dropped: UInt64 { lock.withLock { _dropped } }
    public var lastError: String? { lock.withLock { _lastError } }
    private let log: (String) -> Void

    public init(
        url: String, timeoutSeconds: Double = 5, retries: Int = 2, queueLimit: Int = 1000, caFile: String? = nil,
        log: @escaping (String) -> Void = { msg in
            var s = ByteSink(capacity: 128); s.append("sniff: " + msg + "\n"); s.flush(to: 2)
        }
    ) throws {
        self.url = try WebhookURL(url)
        timeoutMillis = max(1, Int(timeoutSeconds * 1000))
        self.retries = max(0, retries)
        self.queueLimit = max(1, queueLimit)
        self.log = log
        http = try HTTPPost(timeoutMillis: timeoutMillis, caFile: caFile)
        // The thread holds the sink until close() lets it end.
        let worker = WorkerThread(name: "webhook") { [self] in run() }
        guard worker.started else {
            http.shutdown()
            throw RuntimeFailure("cannot start the webhook thread")
        }
        self.worker = worker
    }

    public func deliver(_ alert: Alert) {
        lock.withLock {
            if queue.count >= queueLimit || closing {
                _dropped &+= 1
            } else {
                queue.append(alert)
                lock.signal()
            }
        }
    }

    /// Waits until the queue is delivered (each alert bounded by its timeout and
    /// retries), then stops the thread.
    public func close() {
        let first = lock.withLock {
            let first = !closing
            closing = true
            lock.broadcast()
            return first
        }
        if first, let worker {
            worker.join()
            http.shutdown()
            if failed > 0 || dropped > 0 {
                log("webhook \(url.host):\(url.port): \(sent) alerts delivered, \(failed) failed, \(dropped) dropped"
                    + (lastError.map { " (last error: \($0))" } ?? ""))
            }
        }
    }

    private func run() {
        while true {
            let next = lock.withLock { () -> Alert? in
                while queue.isEmpty && !closing { lock.wait(milliseconds: 1000) }
                return queue.isEmpty ? nil : queue.removeFirst()
            }
            guard let alert = next else { return }
            var body = ByteSink(capacity: 512)
            alert.writeJSON(into: &body)
            var attempt = 0
            var delivered = false
            while attempt <= retries {
                switch http.post(url, body: body.bytes) {
                case .success:
                    delivered = true
                case .failure(let e):
                    lock.withLock { _lastError = e.description }
                    // A client error will not get better by retrying.
                    if case .status(let code) = e, (400..<500).contains(code), code != 429 { attempt = retries }
                }
                if delivered { break }
                attempt += 1
                if attempt <= retries { usleep(UInt32(min(2_000_000, 200_000 << min(attempt - 1, 4)))) }
            }
            lock.withLock { if delivered { _sent &+= 1 } else { _failed &+= 1 } }
        }
    }
}
