import SniffCore
import SniffDecode
import SniffAnalysis
import SniffStore
import Synchronization

/// What the analysis thread hands to the server side: counters for a short interval,
/// a bounded sample of packet rows, and the alerts raised. One batch every ~250 ms,
/// so the analysis thread takes a lock four times a second, never per packet.
public struct LiveBatch: Sendable {
    public struct Counter: Sendable { public var packets: UInt64 = 0; public var bytes: UInt64 = 0 }
    /// Wall clock when the interval ended (nanoseconds).
    public var wallEnd: Int64 = 0
    /// On an interface capture, the packets' second (capture time) that every counter
    /// of this batch belongs to: the hub cuts intervals where that second changes, so
    /// per-second figures equal what /api/timeseries counts. Nil when reading a file.
    public var second: Int64? = nil
    /// True when a packet of a later second closed this batch: its second is complete.
    public var closesSecond = false
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    public var transports: [String: Counter] = [:]
    public var apps: [String: Counter] = [:]
    /// Totals since the capture started (kernel, interface, sniff).
    public var kernelDropped: UInt64 = 0
    public var interfaceDropped: UInt64 = 0
    public var sniffDropped: UInt64 = 0
    public var activeFlows: Int = 0
    /// Sampled rows, oldest first; `unsampled` matching packets did not fit.
    public var rows: [PacketRow] = []
    public var unsampled: UInt64 = 0
    public var alerts: [AlertRow] = []
}

/// What the server side reads of a capture: the published intervals, the flows in
/// progress, the header's source and state. Shared between the analysis thread (which
/// publishes through its `LiveHub`) and the server's tasks, all of it under one mutex.
public final class LiveOutbox: Sendable {
    public let sensor: String
    public let captureID: Int64
    static let capacity = 64

    struct Shared {
        var batches: [LiveBatch] = []
        var dropped: UInt64 = 0
        var source: String
        var state = "running"
        var liveCapture = true
        var span: (first: Int64, last: Int64)? = nil
        var openFlows: [FlowRow] = []
    }
    private let shared: Mutex<Shared>

    public init(sensor: String = "sniff", captureID: Int64 = 0, source: String = "") {
        self.sensor = sensor
        self.captureID = captureID
        shared = Mutex(Shared(source: source))
    }

    /// Called by the hub once per interval: past `capacity` unread batches the oldest
    /// is dropped and counted, so that capture never waits for the server.
    func publish(_ batch: LiveBatch, span: (first: Int64, last: Int64)?, openFlows: [FlowRow]?) {
        shared.withLock { s in
            if span != nil { s.span = span }
            if let openFlows { s.openFlows = openFlows }
            if s.batches.count >= Self.capacity {
                s.batches.removeFirst()
                s.dropped &+= 1
            }
            s.batches.append(batch)
        }
    }

    /// Takes the published batches, oldest first.
    public func drain() -> [LiveBatch] {
        shared.withLock { s in
            let b = s.batches
            s.batches.removeAll(keepingCapacity: true)
            return b
        }
    }

    /// The capture's flows still in progress as of the last snapshot (at most every
    /// `openFlowsIntervalNanos`), largest first; empty when none or not provided.
    public var openFlows: [StoredFlow] {
        let rows = shared.withLock { $0.openFlows }
        return rows.map { StoredFlow(sensor: sensor, captureID: captureID, row: $0) }
    }

    /// Batches dropped because the server side did not drain in time.
    public var droppedBatches: UInt64 { shared.withLock { $0.dropped } }

    /// What the dashboard's header shows as the source ("file x.pcap", "interface eth0").
    public var source: String {
        get { shared.withLock { $0.source } }
        set { shared.withLock { $0.source = newValue } }
    }

    /// True while an interface is captured: the dashboard's chart then follows the wall
    /// clock. False when a file is read: its packets keep their own times.
    public var liveCapture: Bool {
        get { shared.withLock { $0.liveCapture } }
        set { shared.withLock { $0.liveCapture = newValue } }
    }

    /// Times of the first and last packet read so far (nanoseconds), as of the last
    /// published interval; nil before the first packet.
    public var packetSpan: (first: Int64, last: Int64)? { shared.withLock { $0.span } }

    /// "running", "paused", "finished" or "stopped".
    public var state: String {
        get { shared.withLock { $0.state } }
        set { shared.withLock { $0.state = newValue } }
    }
}

/// The in-process bridge from capture to the live feeds. It is a `PacketConsumer` (and
/// an `AlertSink`) on the analysis thread: per packet it bumps counters in plain
/// arrays and, while the interval's sample has room, builds one row. Every 64 packets
/// it looks at the clock and publishes the interval as a `LiveBatch` into its
/// `outbox`, which the server side drains. Not Sendable: its counters belong to the
/// thread that feeds it; the server gets the outbox, never the hub.
public final class LiveHub: PacketConsumer, AlertSink {
    public let outbox: LiveOutbox
    /// Rows kept per interval (the server samples further per client).
    public let sampleCapacity: Int
    public let publishIntervalNanos: Int64
    /// Read on the analysis thread when publishing.
    public var totals: (() -> CaptureTotals)? = nil
    public var activeFlows: (() -> Int)? = nil
    /// The flows still in progress, largest first (called on the analysis thread at
    /// most every `openFlowsIntervalNanos`), for the API's flows and talkers.
    public var openFlowRows: (() -> [FlowRow])? = nil
    public var openFlowsIntervalNanos: Int64 = 500_000_000
    /// Cut intervals at the packets' second changes (an interface capture); set before
    /// the first packet.
    public var secondsFromPackets = false

    private var builder = RowBuilder()
    private var packets: UInt64 = 0
    private var bytes: UInt64 = 0
    private var transportPackets = [UInt64](repeating: 0, count: 256)
    private var transportBytes = [UInt64](repeating: 0, count: 256)
    private var appPackets = [UInt64](repeating: 0, count: 256)
    private var appBytes = [UInt64](repeating: 0, count: 256)
    private var rows: [PacketRow] = []
    private var unsampled: UInt64 = 0
    private var alerts: [AlertRow] = []
    private var sinceCheck: UInt32 = 0
    private var lastPublish = Timestamp.now()
    private var lastOpenFlows: Timestamp? = nil
    /// The packets' second the current counters belong to (with `secondsFromPackets`).
    private var currentSecond: Int64 = .min

    public convenience init(
        sensor: String = "sniff", captureID: Int64 = 0, source: String = "", sampleCapacity: Int = 2000,
        publishIntervalNanos: Int64 = 250_000_000
    ) {
        self.init(
            outbox: LiveOutbox(sensor: sensor, captureID: captureID, source: source), sampleCapacity: sampleCapacity,
            publishIntervalNanos: publishIntervalNanos)
    }

    /// A hub feeding an outbox made beforehand (the server may be given it first).
    public init(outbox: LiveOutbox, sampleCapacity: Int = 2000, publishIntervalNanos: Int64 = 250_000_000) {
        self.outbox = outbox
        self.sampleCapacity = sampleCapacity
        self.publishIntervalNanos = publishIntervalNanos
        rows.reserveCapacity(sampleCapacity)
    }

    public func consume(_ p: DecodedPacket, frame: UnsafeRawBufferPointer) {
        if secondsFromPackets {
            // A later second closes the interval (an empty one too: it tells the server
            // that the second is complete). A packet stamped a little earlier (out of
            // order across a second boundary) counts in the current second.
            let s = p.timestamp.seconds
            if s > currentSecond {
                if currentSecond != .min { publish(now: Timestamp.now(), closing: true) }
                currentSecond = s
            }
        }
        packets &+= 1
        let len = UInt64(p.wireLength)
        bytes &+= len
        let t = Int(p.transport.rawValue), a = Int(p.app.rawValue)
        transportPackets[t] &+= 1; transportBytes[t] &+= len
        appPackets[a] &+= 1; appBytes[a] &+= len
        if rows.count < sampleCapacity {
            rows.append(builder.row(from: p, frame: frame))
        } else {
            unsampled &+= 1
        }
        sinceCheck &+= 1
        if sinceCheck & 63 == 0 { tick() }
    }

    public func deliver(_ alert: Alert) {
        if alerts.count < 1000 { alerts.append(builder.row(from: alert)) }
    }

    public func close() {}

    /// Publishes the interval when it is old enough (the consumer does every 64
    /// packets; live loops call it when idle).
    public func tick(force: Bool = false) {
        let now = Timestamp.now()
        guard force || now.nanoseconds(since: lastPublish) >= publishIntervalNanos else { return }
        publish(now: now, closing: false)
    }

    private func publish(now: Timestamp, closing: Bool) {
        lastPublish = now
        var b = LiveBatch()
        b.wallEnd = now.totalNanoseconds
        if secondsFromPackets && currentSecond != .min { b.second = currentSecond; b.closesSecond = closing }
        b.packets = packets; b.bytes = bytes
        for k in TransportKind.allCases where transportPackets[Int(k.rawValue)] > 0 {
            let name = k.name.map { "\($0)" } ?? "none"
            b.transports[name] = .init(
                packets: transportPackets[Int(k.rawValue)], bytes: transportBytes[Int(k.rawValue)])
            transportPackets[Int(k.rawValue)] = 0; transportBytes[Int(k.rawValue)] = 0
        }
        for k in AppProtocol.allCases where appPackets[Int(k.rawValue)] > 0 {
            b.apps[k.name] = .init(packets: appPackets[Int(k.rawValue)], bytes: appBytes[Int(k.rawValue)])
            appPackets[Int(k.rawValue)] = 0; appBytes[Int(k.rawValue)] = 0
        }
        var span: (first: Int64, last: Int64)? = nil
        if let t = totals?() {
            b.kernelDropped = t.kernelDropped; b.interfaceDropped = t.interfaceDropped; b.sniffDropped = t.sniffDropped
            if let f = t.firstTimestamp, let l = t.lastTimestamp { span = (f.totalNanoseconds, l.totalNanoseconds) }
        }
        b.activeFlows = activeFlows?() ?? 0
        b.rows = rows; b.unsampled = unsampled; b.alerts = alerts
        rows.removeAll(keepingCapacity: true); unsampled = 0; alerts.removeAll()
        packets = 0; bytes = 0
        var open: [FlowRow]? = nil
        if let f = openFlowRows, lastOpenFlows.map({ now.nanoseconds(since: $0) >= openFlowsIntervalNanos }) ?? true {
            lastOpenFlows = now
            open = f()
        }
        outbox.publish(b, span: span, openFlows: open)
    }
}
