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
/// Unchecked Sendable: the queue and flags are under `mutex`; counters are read after close().
public final class WebhookAlertSink: AlertSink, @unchecked Sendable {
    public let url: WebhookURL
    public let timeoutMillis: Int
    public let retries: Int
    public let queueLimit: Int
    private let http: HTTPPost

    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var queue: [Alert] = []
    private var closing = false
    private var thread: pthread_t? = nil
    private var idle = true

    // Counters, read after close().
    public private(set) var sent: UInt64 = 0
    public private(set) var failed: UInt64 = 0
    public private(set) var dropped: UInt64 = 0
    public private(set) var lastError: String?
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
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
        let box = Unmanaged.passRetained(self).toOpaque()
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            let sink = Unmanaged<WebhookAlertSink>.fromOpaque(arg!).takeRetainedValue()
            sink.run()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<WebhookAlertSink>.fromOpaque(box).release()
            http.shutdown()
            throw RuntimeFailure("cannot start the webhook thread (error \(rc))")
        }
        thread = t
    }

    public func deliver(_ alert: Alert) {
        pthread_mutex_lock(&mutex)
        if queue.count >= queueLimit || closing {
            dropped &+= 1
        } else {
            queue.append(alert)
            pthread_cond_signal(&cond)
        }
        pthread_mutex_unlock(&mutex)
    }

    /// Waits until the queue is delivered (each alert bounded by its timeout and
    /// retries), then stops the thread.
    public func close() {
        pthread_mutex_lock(&mutex)
        let wasClosing = closing
        closing = true
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
        if !wasClosing, let t = thread {
            pthread_join(t, nil)
            thread = nil
            http.shutdown()
            if failed > 0 || dropped > 0 {
                log("webhook \(url.host):\(url.port): \(sent) alerts delivered, \(failed) failed, \(dropped) dropped"
                    + (lastError.map { " (last error: \($0))" } ?? ""))
            }
        }
    }

    private func run() {
        while true {
            pthread_mutex_lock(&mutex)
            while queue.isEmpty && !closing { pthread_cond_wait(&cond, &mutex) }
            if queue.isEmpty && closing { pthread_mutex_unlock(&mutex); return }
            let alert = queue.removeFirst()
            pthread_mutex_unlock(&mutex)
            var body = ByteSink(capacity: 512)
            alert.writeJSON(into: &body)
            var attempt = 0
            var delivered = false
            while attempt <= retries {
                switch http.post(url, body: body.bytes) {
                case .success:
                    delivered = true
                case .failure(let e):
                    pthread_mutex_lock(&mutex)
                    lastError = e.description
                    pthread_mutex_unlock(&mutex)
                    // A client error will not get better by retrying.
                    if case .status(let code) = e, (400..<500).contains(code), code != 429 { attempt = retries }
                }
                if delivered { break }
                attempt += 1
                if attempt <= retries { usleep(UInt32(min(2_000_000, 200_000 << min(attempt - 1, 4)))) }
            }
            pthread_mutex_lock(&mutex)
            if delivered { sent &+= 1 } else { failed &+= 1 }
            pthread_mutex_unlock(&mutex)
        }
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&cond)
    }
}
