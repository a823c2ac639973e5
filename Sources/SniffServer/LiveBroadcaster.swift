import Logging
import ServiceLifecycle
import Synchronization
import SniffCore
import SniffDecode
import SniffStore

/// The server side of the live stream: drains the capture's outbox four times a second,
/// gives each client its filtered and rate-limited rows, sends per-second stats and
/// new alerts, keeps the last five minutes of stats for new dashboards, and closes
/// clients whose writes are stuck. It is a ServiceLifecycle service; all of its mutable
/// state is one `State` under one `Mutex`.
public final class LiveBroadcaster: Service, Sendable {
    public let outbox: LiveOutbox?
    let configuration: ServerConfiguration
    let logger: Logger
    let metrics: ServerMetrics?

    struct SecondStats {
        var second: Int64 = 0
        var packets: UInt64 = 0
        var bytes: UInt64 = 0
        var transports: [String: LiveBatch.Counter] = [:]
        var apps: [String: LiveBatch.Counter] = [:]
        var kernelDropped: UInt64 = 0
        var interfaceDropped: UInt64 = 0
        var sniffDropped: UInt64 = 0
        var activeFlows = 0
    }

    struct State {
        var clients: [ObjectIdentifier: LiveClient] = [:]
        var webSocketClients = 0
        var feedClients = 0
        var refused: UInt64 = 0
        var lastRefusalLog: ContinuousClock.Instant? = nil
        var history: [String] = []
        /// Seconds with counters, not yet sent; `nextSecond` is the next one to send.
        var pending: [Int64: SecondStats] = [:]
        var nextSecond: Int64? = nil
        var latestSecond: Int64? = nil
        var lastSecond: SecondStats? = nil
        var kernelDropped: UInt64 = 0
        var interfaceDropped: UInt64 = 0
        var sniffDropped: UInt64 = 0
        var activeFlows = 0
        var totalPackets: UInt64 = 0
        var totalBytes: UInt64 = 0
        var disconnectedSlow: UInt64 = 0

        /// Clients of one kind after a change; counted rather than filtered from the
        /// table, which held thousands of clients in the connect-and-drop test.
        mutating func adjustCount(_ kind: LiveClient.Kind, by delta: Int) -> Int {
            switch kind {
            case .webSocket: webSocketClients += delta; return webSocketClients
            case .feed: feedClients += delta; return feedClients
            }
        }

        /// Adds the batches' counters to their seconds and returns the seconds now
        /// complete, oldest first (see `step`).
        mutating func absorb(_ batches: [LiveBatch], nowSecond: Int64) -> [SecondStats] {
            for b in batches {
                var second = b.second ?? nowSecond
                if nextSecond == nil || second > nextSecond! + 300 {
                    nextSecond = max(second - 300, nextSecond ?? second)
                }
                // Counters for a second already sent (a clock step back) join the next one.
                second = max(second, nextSecond!)
                var s = pending[second] ?? SecondStats(second: second)
                s.packets &+= b.packets; s.bytes &+= b.bytes
                for (k, v) in b.transports {
                    s.transports[k, default: .init()].packets &+= v.packets;
                    s.transports[k, default: .init()].bytes &+= v.bytes
                }
                for (k, v) in b.apps {
                    s.apps[k, default: .init()].packets &+= v.packets; s.apps[k, default: .init()].bytes &+= v.bytes
                }
                pending[second] = s
                latestSecond = max(latestSecond ?? second, b.closesSecond ? second + 1 : second)
                totalPackets &+= b.packets; totalBytes &+= b.bytes
                kernelDropped = b.kernelDropped; interfaceDropped = b.interfaceDropped
                sniffDropped = b.sniffDropped; activeFlows = b.activeFlows
            }
            if nextSecond == nil { nextSecond = nowSecond }
            var done: [SecondStats] = []
            while let n = nextSecond, n < (latestSecond ?? .min) || n + 2 <= nowSecond {
                var s = pending.removeValue(forKey: n) ?? SecondStats(second: n)
                s.kernelDropped = kernelDropped; s.interfaceDropped = interfaceDropped
                s.sniffDropped = sniffDropped; s.activeFlows = activeFlows
                done.append(s)
                lastSecond = s
                nextSecond = n + 1
            }
            return done
        }
    }
    private let state = Mutex(State())

    public init(outbox: LiveOutbox?, configuration: ServerConfiguration, logger: Logger, metrics: ServerMetrics? = nil)
    {
        self.outbox = outbox; self.configuration = configuration; self.logger = logger; self.metrics = metrics
    }

    /// A new client, or nil when `maxLiveClients` are connected already (the caller
    /// tells the client and closes the connection).
    public func register(_ kind: LiveClient.Kind) -> LiveClient? {
        let c = LiveClient(
            kind: kind,
            capacity: kind == .webSocket ? configuration.clientQueueCapacity : configuration.feedQueueCapacity,
            rowsPerSecond: configuration.liveRowsPerSecond)
        let now = ContinuousClock.now
        let limit = configuration.maxLiveClients
        let (n, logRefusal) = state.withLock { s -> (Int?, Bool) in
            guard s.clients.count < limit else {
                s.refused &+= 1
                // One line per 10 s at most: a flood must not flood the log too.
                let log = s.lastRefusalLog.map { now - $0 >= .seconds(10) } ?? true
                if log { s.lastRefusalLog = now }
                return (nil, log)
            }
            s.clients[ObjectIdentifier(c)] = c
            return (s.adjustCount(kind, by: 1), false)
        }
        if logRefusal {
            logger.warning("""
                refusing live clients: \(configuration.maxLiveClients) connected already (\(refusedClients) refused \
                so far)
                """)
        }
        guard let n else { return nil }
        metrics?.setClients(kind, n)
        return c
    }

    public func unregister(_ c: LiveClient) {
        c.close()
        let n = state.withLock { s -> Int? in
            guard s.clients.removeValue(forKey: ObjectIdentifier(c)) != nil else { return nil }
            return s.adjustCount(c.kind, by: -1)
        }
        if let n { metrics?.setClients(c.kind, n) }
    }

    /// Clients refused because `maxLiveClients` were connected.
    public var refusedClients: UInt64 { state.withLock { $0.refused } }

    public var clientCount: Int { state.withLock { $0.clients.count } }
    public var slowDisconnects: UInt64 { state.withLock { $0.disconnectedSlow } }

    /// The last five minutes of stats messages, oldest first (for a new dashboard).
    public var recentStats: [String] { state.withLock { $0.history } }

    /// Counters for /api/stats: totals since start and the last full second.
    public var liveSummary: (packets: UInt64, bytes: UInt64, packetsPerSecond: UInt64, bytesPerSecond: UInt64,
                             kernelDropped: UInt64, interfaceDropped: UInt64, sniffDropped: UInt64, activeFlows: Int) {
        state.withLock { s in
            let l = s.lastSecond ?? SecondStats()
            return (
                s.totalPackets, s.totalBytes, l.packets, l.bytes, s.kernelDropped, s.interfaceDropped, s.sniffDropped,
                s.activeFlows
            )
        }
    }

    private var allClients: [LiveClient] { state.withLock { Array($0.clients.values) } }

    public func run() async throws {
        let timeout = Duration.milliseconds(Int64(configuration.slowClientTimeoutSeconds * 1000))
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .milliseconds(250))
            step(now: Timestamp.now())
            let now = ContinuousClock.now
            for c in allClients where c.isStuck(now: now, timeout: timeout) {
                logger.warning("""
                    disconnecting a \(c.kind == .webSocket ? "WebSocket" : "feed") client: no write progress for \
                    \(configuration.slowClientTimeoutSeconds) s (\(c.dropped) messages dropped)
                    """)
                state.withLock { $0.disconnectedSlow &+= 1 }
                unregister(c)
            }
        }
        for c in allClients { c.close() }
    }

    /// One round: drain the outbox, fan out rows and alerts, and send the seconds that are
    /// complete. A batch's counters belong to its `second` (the packets' second on an
    /// interface capture, else the wall-clock second it was drained in). A second is
    /// complete once a later second's counters arrived, or one whole second after it
    /// ended on the wall clock (an idle capture sends zeros). `latestSecond` is the
    /// newest second known to have begun.
    func step(now: Timestamp) {
        let batches = outbox?.drain() ?? []
        let nowSecond = now.seconds
        let all = allClients
        let secondsDone = state.withLock { $0.absorb(batches, nowSecond: nowSecond) }
        if !batches.isEmpty { metrics?.recordLive(batches) }
        // Rows and alerts. Clients that get the same rows share one rendered message
        // (the common case: many dashboards without a filter).
        var rendered: [String: String] = [:]
        let running = outbox?.captureID
        for c in all {
            // A client that chose another capture (a stored one) gets none of this one's
            // rows or alerts; the per-second stats still reach it, labelled by the page.
            if let chosen = c.capture, chosen != running { continue }
            var rows: [PacketRow] = []
            var skipped: UInt64 = 0
            for b in batches {
                let r = c.select(b.rows, unsampled: b.unsampled, nowSecond: nowSecond)
                rows += r.rows; skipped &+= r.skipped
            }
            switch c.kind {
            case .webSocket:
                // At most 100 rows per message, so that a message stays well under 64 KB.
                var start = 0
                repeat {
                    let end = min(rows.count, start + 100)
                    let chunk = Array(rows[start..<end])
                    if !chunk.isEmpty || skipped > 0 {
                        let sk = end == rows.count ? skipped : 0
                        let dropped = c.dropped
                        let first = chunk.first, last = chunk.last
                        let key = "\(first?.n ?? 0).\(first?.ts ?? 0)."
                            + "\(last?.n ?? 0).\(last?.ts ?? 0).\(chunk.count).\(sk)"
                        if dropped == 0, let m = rendered[key] {
                            c.enqueue(m)
                        } else {
                            let m = packetsMessage(chunk, skipped: sk, dropped: dropped)
                            if dropped == 0 { rendered[key] = m }
                            c.enqueue(m)
                        }
                    }
                    start = end
                } while start < rows.count
                for b in batches { for a in b.alerts { c.enqueue(alertMessage(a)) } }
            case .feed:
                let json = c.json
                for r in rows {
                    c.enqueue(
                        json
                            ? StoredPacket(sensor: outbox?.sensor ?? "", captureID: outbox?.captureID ?? 0, row: r).json
                            : PacketLine.text(r))
                }
                if skipped > 0 {
                    c.enqueue("# skipped \(skipped) packets (at most \(c.rowsPerSecond) lines per second)")
                }
            }
        }
        for s in secondsDone {
            let message = statsMessage(s)
            state.withLock { s in
                s.history.append(message)
                if s.history.count > 300 { s.history.removeFirst(s.history.count - 300) }
            }
            for c in all where c.kind == .webSocket { c.enqueue(message) }
        }
    }

    func statsMessage(_ s: SecondStats) -> String {
        var o = JSONObject(capacity: 512)
        o.string("type", "stats")
        o.number("ts", s.second)
        o.number("packets", s.packets)
        o.number("bytes", s.bytes)
        func counters(_ d: [String: LiveBatch.Counter]) -> (inout ByteSink) -> Void {
            { sink in
                var m = JSONObject()
                for (k, v) in d.sorted(by: { $0.key < $1.key }) {
                    m.raw(k) { s in
                        var c = JSONObject(capacity: 48)
                        c.number("packets", v.packets); c.number("bytes", v.bytes)
                        s.bytes.append(contentsOf: c.finish().bytes)
                    }
                }
                sink.bytes.append(contentsOf: m.finish().bytes)
            }
        }
        o.raw("transport", counters(s.transports))
        o.raw("app", counters(s.apps))
        o.raw("drops") { sink in
            var d = JSONObject(capacity: 64)
            d.number("kernel", s.kernelDropped); d.number("interface", s.interfaceDropped);
            d.number("sniff", s.sniffDropped)
            sink.bytes.append(contentsOf: d.finish().bytes)
        }
        o.number("active_flows", s.activeFlows)
        o.string("state", outbox?.state ?? "idle")
        o.string("source", outbox?.source ?? "database")
        return o.finish().string
    }

    func packetsMessage(_ rows: [PacketRow], skipped: UInt64, dropped: UInt64) -> String {
        var o = JSONObject(capacity: 256 + rows.count * 300)
        o.string("type", "packets")
        let sensor = outbox?.sensor ?? "", capture = outbox?.captureID ?? 0
        // Newest first, as the packets table shows them.
        o.raw("rows") { s in
            JSONArray.write(rows.reversed(), into: &s) { r, s in
                StoredPacket(sensor: sensor, captureID: capture, row: r).writeJSON(into: &s)
            }
        }
        o.number("skipped", skipped)
        o.number("dropped_messages", dropped)
        return o.finish().string
    }

    func alertMessage(_ a: AlertRow) -> String {
        var o = JSONObject(capacity: 512)
        o.string("type", "alert")
        o.raw("alert") { s in
            StoredAlert(sensor: outbox?.sensor ?? "", captureID: outbox?.captureID ?? 0, row: a).writeJSON(into: &s)
        }
        return o.finish().string
    }

    func helloMessage() -> String {
        var o = JSONObject()
        o.string("type", "hello")
        o.string("source", outbox?.source ?? "database")
        o.string("state", outbox?.state ?? "idle")
        o.bool("live", outbox != nil)
        // The capture whose rows and stats stream here, as a string (ids exceed 2^53).
        if let outbox { o.string("capture", String(outbox.captureID)) }
        o.number("rows_per_second", configuration.liveRowsPerSecond)
        return o.finish().string
    }
}
