import SniffCore
import SniffDecode
import SniffAnalysis
import SniffStore
import SniffServer

/// The analysis-thread side of `sniff top`. Per packet it adds to one per-second
/// bucket (no allocation); a few times a second `publish` builds a `TopSnapshot` from
/// the pipeline's tables and swaps it into a slot the UI thread takes. Packet rows and
/// alerts travel through a `LiveHub`, which batches them the same way for the server.
/// Nothing here waits for the UI: a snapshot the UI has not taken is replaced.
/// Unchecked Sendable: pipeline state is the analysis thread's; the snapshot slot is under `lock`.
public final class TopCollector: PacketConsumer, FlowObserver, @unchecked Sendable {
    /// Talkers copied per snapshot: the busiest; the view sorts within them.
    public static let talkerLimit = 2000
    /// Open flows converted per snapshot (newest and biggest halves) and finished flows kept.
    public static let openFlowLimit = 1000
    /// The largest share of the analysis thread the tables (talkers, flows, processes)
    /// may take. Each is a pass over the address:port or flow table, which live under
    /// load hold millions of entries: built at every snapshot, they took three quarters
    /// of the thread and made the capture drop. After a build that took t, the next
    /// waits t / tableShare; totals, rates and history still go out every interval.
    public static let tableShare = 0.05
    /// Finished flows kept: the newest, live; a file's first ones (its whole list, usually).
    public let finishedFlowLimit: Int

    public let hub: LiveHub
    public let publishIntervalNanos: Int64
    let source: String
    let live: Bool

    // Analysis thread.
    private unowned let pipeline: PacketPipeline
    private let table: FlowTable
    private let summary: ProtocolSummaryCollector
    private let engine: AlertEngine
    private let rows: RowBuilder
    private var packetRing: [UInt64]
    private var byteRing: [UInt64]
    private var headSecond: Int64? = nil
    /// Finished flows as rows, made once when the flow ends (per flow, not per packet).
    private var finished: [TopFlow] = []
    private var finishedNext = 0
    public private(set) var finishedNotKept: UInt64 = 0
    private var lastPublish: Int64 = 0
    /// The last tables built, republished until `tablesDue` (wall nanoseconds).
    private var tables = Tables()
    private var tablesDue: Int64 = 0
    /// Live capture: which process owns each flow (set by the run).
    public var processes: FlowProcesses?
    /// Totals per process at two earlier moments at least a second apart: rates are
    /// the difference to the older one, over one to two seconds.
    private var rateOlder: (nanos: Int64, bytes: [String: (UInt64, UInt64)])? = nil
    private var rateNewer: (nanos: Int64, bytes: [String: (UInt64, UInt64)])? = nil

    // Shared with the UI thread.
    private let lock = ConditionLock()
    private var slot: TopSnapshot? = nil

    /// `sampleCapacity`: packet rows per 250 ms the hub keeps (the packet list's input).
    public init(pipeline: PacketPipeline, table: FlowTable, summary: ProtocolSummaryCollector, engine: AlertEngine,
                format: FlowFormat, source: String, live: Bool, sampleCapacity: Int, finishedFlowLimit: Int,
                publishIntervalNanos: Int64 = 250_000_000) {
        self.finishedFlowLimit = finishedFlowLimit
        self.pipeline = pipeline
        self.table = table
        self.summary = summary
        self.engine = engine
        self.rows = RowBuilder(format: format)
        self.source = source
        self.live = live
        self.publishIntervalNanos = publishIntervalNanos
        let n = TopHistory.seconds * TransportKind.allCases.count
        packetRing = Array(repeating: 0, count: n)
        byteRing = Array(repeating: 0, count: n)
        hub = LiveHub(source: source, sampleCapacity: sampleCapacity, publishIntervalNanos: publishIntervalNanos)
        hub.liveCapture = live
        hub.totals = { [unowned pipeline] in pipeline.totals }
        hub.activeFlows = { [unowned table] in table.count }
    }

    /// Adds itself and its hub to the pipeline, the flow table's observers and the alert sinks.
    public func attach(alertSinks: AlertSinkList) {
        pipeline.consumers += [self, hub]
        let previous = table.observer
        table.observer = FlowObserverList(previous.map { [$0, self] } ?? [self])
        alertSinks.sinks.append(hub)
    }

    // MARK: analysis thread

    public func consume(_ p: DecodedPacket, frame: UnsafeRawBufferPointer) {
        advance(to: p.timestamp.seconds)
        let sec = p.timestamp.seconds
        guard let head = headSecond, sec > head - Int64(TopHistory.seconds) else { return }
        let i = Int(p.transport.rawValue) * TopHistory.seconds + TopCollector.slot(sec)
        packetRing[i] &+= 1
        byteRing[i] &+= UInt64(p.wireLength)
    }

    public func flowEnded(_ flow: Flow, reason: FlowEndReason) {
        let row = TopFlow(row: rows.row(from: flow, reason: reason), open: false)
        if finished.count < finishedFlowLimit {
            finished.append(row)
        } else if live {
            finished[finishedNext] = row
        } else {
            finishedNotKept &+= 1
        }
        finishedNext = (finishedNext + 1) % finishedFlowLimit
    }

    static func slot(_ second: Int64) -> Int {
        let m = Int(second % Int64(TopHistory.seconds))
        return m < 0 ? m + TopHistory.seconds : m
    }

    /// Moves the newest second forward, clearing the seconds skipped. Live capture
    /// calls it with the wall clock too, so quiet seconds show as zero.
    public func advance(to second: Int64) {
        guard let head = headSecond else { headSecond = second; return }
        guard second > head else { return }
        let gap = min(Int64(TopHistory.seconds), second - head)
        var s = head + 1
        for _ in 0..<gap {
            let j = TopCollector.slot(s)
            for t in 0..<TransportKind.allCases.count {
                packetRing[t * TopHistory.seconds + j] = 0
                byteRing[t * TopHistory.seconds + j] = 0
            }
            s += 1
        }
        headSecond = second
    }

    /// Publishes a snapshot when the last is older than the interval (or `force`).
    /// Called by the analysis loop between packets.
    public func publish(state: String, fileProgress: (done: Int, total: Int)? = nil, force: Bool = false) {
        let now = Timestamp.now().totalNanoseconds
        guard force || now - lastPublish >= publishIntervalNanos else { return }
        lastPublish = now
        if live { advance(to: now / 1_000_000_000) }
        if force || now >= tablesDue {
            tables = buildTables(nanos: now)
            let cost = Timestamp.now().totalNanoseconds - now
            tablesDue = now + Int64(Double(cost) / TopCollector.tableShare)
        }
        let snap = snapshot(state: state, wallNanos: now, fileProgress: fileProgress)
        hub.state = state
        hub.tick(force: true)
        lock.withLock { slot = snap }
    }

    func snapshot(state: String, wallNanos: Int64, fileProgress: (done: Int, total: Int)?) -> TopSnapshot {
        var s = TopSnapshot()
        s.source = source
        s.live = live
        s.state = state
        s.totals = pipeline.totals
        s.wallNanos = wallNanos
        s.fileProgress = fileProgress
        if let head = headSecond {
            s.history.lastSecond = head
            for t in 0..<TransportKind.allCases.count {
                for k in 0..<TopHistory.seconds {
                    let sec = head - Int64(TopHistory.seconds - 1 - k)
                    let j = t * TopHistory.seconds + TopCollector.slot(sec)
                    s.history.packets[t][k] = packetRing[j]
                    s.history.bytes[t][k] = byteRing[j]
                }
            }
        }
        let sum = summary.summary
        s.transports = TransportKind.allCases.map { sum.transport($0) }
        s.apps = sum.appsByBytes.map {
            TopApp(name: $0.0.name, packets: $0.1.packets, bytes: $0.1.bytes, flows: $0.1.flows)
        }
        s.talkers = tables.talkers
        s.talkersTotal = tables.talkersTotal
        s.flows = tables.flows
        s.processesShown = processes != nil
        s.processes = tables.processes
        let st = table.stats
        s.openFlows = table.count
        s.flowsStarted = st.flowsCreated
        s.flowsEnded = st.flowsEnded
        s.alertsRaised = engine.alertsRaised
        return s
    }

    /// The views' tables, paced by their cost (`tableShare`).
    struct Tables {
        var talkers: [TopTalker] = []
        var talkersTotal = 0
        var flows: [TopFlow] = []
        var processes: [TopProcess] = []
    }

    func buildTables(nanos: Int64) -> Tables {
        var t = Tables()
        let top = pipeline.endpoints.top(limit: TopCollector.talkerLimit)
        t.talkers = top.list.map { TopTalker(endpoint: $0.0, stat: $0.1) }
        t.talkersTotal = top.eligible
        t.flows = flowRows()
        if let processes { t.processes = processRows(processes, nanos: nanos) }
        return t
    }

    /// The open flows (at most `openFlowLimit`: the newest half, then the biggest by
    /// wire bytes) and the last finished ones, as Zeek rows. Picked in one pass each
    /// over the table, never a copy or a sort of all its flows.
    func flowRows() -> [TopFlow] {
        var open: [Flow]
        if table.count <= TopCollector.openFlowLimit {
            open = table.openFlows()
        } else {
            let half = TopCollector.openFlowLimit / 2
            open = table.openFlows(newest: half)
            let newest = Set(open.map(\.key))
            for f in table.openFlows(largest: TopCollector.openFlowLimit) where open.count < TopCollector.openFlowLimit {
                if !newest.contains(f.key) { open.append(f) }
            }
        }
        var out: [TopFlow] = []
        out.reserveCapacity(open.count + finished.count)
        for f in open { out.append(TopFlow(row: rows.row(from: f, reason: nil), open: true)) }
        out += finished
        return out
    }

    /// The processes view's rows, with rates from the totals a second or two ago.
    func processRows(_ p: FlowProcesses, nanos: Int64) -> [TopProcess] {
        let (list, unknown, others) = p.usage(table: table)
        var rows: [TopProcess] = list.compactMap { u in
            guard let pr = u.process else { return nil }
            return TopProcess(pid: pr.pid, command: pr.command, user: pr.user, container: pr.container ?? "-",
                              flows: u.flows, sent: u.sent, received: u.received)
        }
        // No direction can be told for these: their bytes count as received.
        for (name, u) in [("(unknown)", unknown), ("(not local)", others)] where u.flows > 0 {
            rows.append(TopProcess(pid: 0, command: name, user: "-", container: "-", flows: u.flows, sent: 0, received: u.bytes))
        }
        func key(_ r: TopProcess) -> String { "\(r.pid) \(r.command)" }
        var now: [String: (UInt64, UInt64)] = [:]
        for r in rows { now[key(r)] = (r.sent, r.received) }
        if let base = rateOlder ?? rateNewer, nanos > base.nanos {
            let secs = Double(nanos - base.nanos) / 1e9
            for i in rows.indices {
                let before = base.bytes[key(rows[i])] ?? (0, 0)
                rows[i].sentPerSecond = UInt64(Double(rows[i].sent &- min(before.0, rows[i].sent)) / secs)
                rows[i].receivedPerSecond = UInt64(Double(rows[i].received &- min(before.1, rows[i].received)) / secs)
            }
        }
        if rateNewer == nil || nanos - rateNewer!.nanos >= 1_000_000_000 {
            rateOlder = rateNewer
            rateNewer = (nanos, now)
        }
        return rows
    }

    // MARK: UI thread

    /// The newest snapshot since the last call, if any.
    public func take() -> TopSnapshot? {
        lock.withLock {
            let s = slot
            slot = nil
            return s
        }
    }
}
