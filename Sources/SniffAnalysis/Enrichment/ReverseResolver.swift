import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// The bounds of `--resolve`'s reverse lookups.
public struct ReverseLookupLimits: Sendable, Equatable {
    /// PTR queries outstanding at once (one thread each: getnameinfo blocks).
    public var inFlight: Int
    /// Queries started per second at most, however many new addresses arrive.
    public var perSecond: Int
    /// Addresses whose answer (a name, or none) is kept; the least recently answered goes first.
    public var capacity: Int
    /// Addresses waiting for a query; past it a request is dropped, and asked again the
    /// next time a writer wants that address.
    public var queueLimit: Int

    public init(inFlight: Int = 4, perSecond: Int = 20, capacity: Int = 16_384, queueLimit: Int = 1_024) {
        self.inFlight = inFlight
        self.perSecond = perSecond
        self.capacity = capacity
        self.queueLimit = queueLimit
    }

    /// What `--resolve-in-flight` and `--resolve-rate` accept.
    public static let inFlightRange = 1...64
    public static let perSecondRange = 1...10_000
}

/// Reverse (PTR) lookups through the system resolver: `getnameinfo` with NI_NAMEREQD, so
/// /etc/hosts, /etc/resolv.conf and nsswitch.conf apply as for any other program.
///
/// Never on the packet path and never waited for: `name(for:)` answers from the cache
/// and, for an address not asked yet, only queues it (under the lock, without blocking);
/// worker threads ask the resolver. A name therefore shows from the first time a writer
/// asks after its answer came. Bounded: at most `inFlight` queries at once (one worker
/// each), `perSecond` started per second, `queueLimit` addresses waiting and `capacity`
/// answers kept.
/// Unchecked Sendable: every mutable field is under `lock`.
public final class ReverseResolver: @unchecked Sendable {
    /// What the resolver did, for the run's statistics and the tests.
    public struct Counts: Sendable, Equatable {
        /// Queries started.
        public var queries = 0
        public var named = 0
        /// Queries that ended without a name (no PTR record, a timeout, a failure).
        public var unnamed = 0
        /// Requests refused because the queue was full.
        public var dropped = 0
        /// The most queries outstanding at one time.
        public var peakInFlight = 0
    }

    private enum Answer {
        case waiting
        case named(String)
        case unnamed
    }

    public let limits: ReverseLookupLimits
    private let lock = ConditionLock()
    private var answers: LRUCache<IPAddress, Answer>
    private var queue: [IPAddress] = []
    private var queueHead = 0
    private var inFlight = 0
    /// Addresses taken from the queue and not answered yet: waiting for the rate, or in flight.
    private var taken = 0
    private var nextStartNanos: Int64 = 0
    private var stopping = false
    private var counters = Counts()
    private var workers: [WorkerThread] = []

    public init(limits: ReverseLookupLimits = ReverseLookupLimits()) {
        self.limits = limits
        answers = LRUCache(capacity: limits.capacity)
    }

    /// The PTR name of `address` if its answer came; otherwise nil, and the address is
    /// queued for a lookup unless it already was.
    public func name(for address: IPAddress) -> String? {
        lock.withLock {
            switch answers.peek(address) {
            case .named(let name)?: return name
            case .waiting?, .unnamed?: return nil
            case nil:
                enqueue(address)
                return nil
            }
        }
    }

    public var counts: Counts { lock.withLock { counters } }

    /// Waits until nothing is queued or outstanding, or `milliseconds` passed: a file
    /// run's report asks this before writing, so that the names of its last hosts can
    /// still show. True when everything was answered.
    @discardableResult
    public func settle(milliseconds: Int) -> Bool {
        let deadline = ConditionLock.monotonicNanos() + Int64(milliseconds) * 1_000_000
        return lock.withLock {
            while queueHead < queue.count || taken > 0 {
                let left = deadline - ConditionLock.monotonicNanos()
                if left <= 0 || stopping { return false }
                lock.wait(milliseconds: Int(Swift.max(1, Swift.min(left / 1_000_000, 100))))
            }
            return true
        }
    }

    /// Stops the workers: queued addresses are not asked; a query under way ends with
    /// its own timeout (the resolver's, from resolv.conf) before its thread returns.
    public func stop() {
        let running = lock.withLock { () -> [WorkerThread] in
            stopping = true
            lock.broadcast()
            defer { workers.removeAll() }
            return workers
        }
        for w in running { w.join() }
    }

    /// Under the lock.
    private func enqueue(_ address: IPAddress) {
        guard !stopping else { return }
        guard queue.count - queueHead < limits.queueLimit else {
            counters.dropped += 1
            return
        }
        if queueHead > 0 && queueHead * 2 >= queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
        answers.set(address, .waiting)
        queue.append(address)
        if workers.count < limits.inFlight {
            // One more worker per request until the bound: a run that never asks starts none.
            workers.append(WorkerThread(name: "sniff-resolve") { [self] in work() })
        }
        lock.broadcast()
    }

    private func work() {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        while let address = nextAddress() {
            let status = address.withSockaddr { sa, length in
                getnameinfo(sa, length, &host, socklen_t(host.count), nil, 0, NI_NAMEREQD)
            }
            let name = status == 0 ? Self.clean(host) : nil
            lock.withLock {
                inFlight -= 1
                taken -= 1
                if let name {
                    answers.set(address, .named(name))
                    counters.named += 1
                } else {
                    answers.set(address, .unnamed)
                    counters.unnamed += 1
                }
                lock.broadcast()
            }
        }
    }

    /// The next address to ask, once the rate allows a query to start; nil when stopping.
    private func nextAddress() -> IPAddress? {
        lock.withLock {
            while !stopping && queueHead == queue.count { lock.wait(milliseconds: 1000) }
            if stopping { return nil }
            let address = queue[queueHead]
            queueHead += 1
            taken += 1
            // This query's start: one every 1/perSecond seconds, across all workers.
            let now = ConditionLock.monotonicNanos()
            let start = Swift.max(now, nextStartNanos)
            nextStartNanos = start + 1_000_000_000 / Int64(Swift.max(1, limits.perSecond))
            while !stopping {
                let left = start - ConditionLock.monotonicNanos()
                if left <= 0 { break }
                lock.wait(milliseconds: Int(Swift.max(1, (left + 999_999) / 1_000_000)))
            }
            if stopping {
                taken -= 1
                return nil
            }
            inFlight += 1
            counters.queries += 1
            counters.peakInFlight = Swift.max(counters.peakInFlight, inFlight)
            return address
        }
    }

    /// The name as text, control bytes replaced (writers escape the rest).
    private static func clean(_ host: [CChar]) -> String? {
        var bytes: [UInt8] = []
        for c in host {
            if c == 0 { break }
            let b = UInt8(bitPattern: c)
            bytes.append(b < 0x20 || b == 0x7F ? UInt8(ascii: "?") : b)
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }
}
