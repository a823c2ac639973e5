import SniffCore
import SniffDecode
import SniffAnalysis
import SniffStore
import SniffServer

/// The analysis-thread side of `sniff top`. Per packet it adds to one per-second
/// bucket (no allocation); a few times a second `publish` builds a `TopSnapshot` from
/// the pipeline's tables and swaps it into a slot the UI thread takes. Packet rows and
/// alerts travel through a `LiveHub`, which batches them the same way for the server.
/// Nothing here waits for the UI: a snapshot the UI has not taken is replaced. Live,
/// the views' tables (talkers, flows, processes) are built in steps of a couple of
/// milliseconds between batches, so that no pass over the big tables holds the capture.
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
    /// Live, a build of the tables is cut into steps of about this long, one per call of
    /// `publish` (the capture loop calls it after every batch), so that the capture
    /// thread never waits for a whole pass: a pass over a few million address:port pairs
    /// or open flows took seconds on a loaded machine, longer than the capture thread
    /// waits for a free batch before it drops.
    public static let stepNanos: Int64 = 2_000_000
    /// Slots a step reads between two looks at the clock.
    static let stepSlots = 4096
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
    /// A file's whole timeline (the time cursor's); never touched live.
    private var timeline = TopTimeline()
    /// `slot(headSecond)`.
    private var headSlot = 0
    /// A file's finished flows as rows, made once when the flow ends (its first ones).
    private var finished: [TopFlow] = []
    /// Live: the newest finished flows, made rows only when the tables are built (a
    /// thousand per build, not one per flow ending: under a flood of new flows tens of
    /// thousands end every second).
    private var ended: [(flow: Flow, reason: FlowEndReason)] = []
    private var finishedNext = 0
    public private(set) var finishedNotKept: UInt64 = 0
    private var lastPublish: Int64 = 0
    /// The last tables built, republished until `tablesDue` (wall nanoseconds).
    private var tables = Tables()
    private var tablesDue: Int64 = 0
    /// The build under way (live), advanced by a step per `publish`.
    private var build: TableBuild? = nil
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
        hub.outbox.liveCapture = live
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
        let sec = p.timestamp.seconds
        let j: Int
        if !live { timeline.add(second: sec, transport: p.transport, wireLength: p.wireLength) }
        if sec == headSecond {
            // Nearly every packet: its second's slot is known, no division.
            j = headSlot
        } else {
            advance(to: sec)
            guard let head = headSecond, sec > head - Int64(TopHistory.seconds) else { return }
            j = TopCollector.slot(sec)
        }
        let i = Int(p.transport.rawValue) * TopHistory.seconds + j
        packetRing[i] &+= 1
        byteRing[i] &+= UInt64(p.wireLength)
    }

    public func flowEnded(_ flow: Flow, reason: FlowEndReason) {
        if live {
            if ended.count < finishedFlowLimit {
                ended.append((flow, reason))
            } else {
                ended[finishedNext] = (flow, reason)
            }
        } else if finished.count < finishedFlowLimit {
            finished.append(TopFlow(row: rows.row(from: flow, reason: reason), open: false))
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
        guard let head = headSecond else { headSecond = second; headSlot = TopCollector.slot(second); return }
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
        headSlot = TopCollector.slot(second)
    }

    /// Publishes a snapshot when the last is older than the interval (or `force`), and
    /// live, advances the tables' build by one step at every call.
    /// Called by the analysis loop between packets (a file) or batches (live).
    public func publish(state: String, fileProgress: (done: Int, total: Int)? = nil, force: Bool = false) {
        let now = Timestamp.now().totalNanoseconds
        let due = force || now - lastPublish >= publishIntervalNanos
        if force {
            // The last snapshot (end of the file or the capture) has every table whole.
            var b = TableBuild(self)
            _ = step(&b, until: .max)
            tables = finishTables(b, nanos: now)
            build = nil
        } else {
            if due && build == nil && now >= tablesDue { build = TableBuild(self) }
            if build != nil {
                // A file is read by the analysis thread alone, with no capture to keep up
                // with: its builds are whole, paced by `tableShare` only.
                let done = step(&build!, until: live ? now + TopCollector.stepNanos : .max)
                if done {
                    let b = build!
                    build = nil
                    let start = Timestamp.now().totalNanoseconds
                    tables = finishTables(b, nanos: now)
                    let end = Timestamp.now().totalNanoseconds
                    tablesDue = end + Int64(Double(b.spent + end - start) / TopCollector.tableShare)
                }
            }
        }
        guard due else { return }
        lastPublish = now
        if live { advance(to: now / 1_000_000_000) }
        var snap = snapshot(state: state, wallNanos: now, fileProgress: fileProgress)
        // The last snapshot of a file carries its timeline (copied once, not four times a second).
        if force && !live { snap.timeline = timeline }
        hub.outbox.state = state
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

    /// A build of the tables: a pass over the address:port table (the talkers), then one
    /// over the flow table (the flows view's newest and biggest open flows, and each
    /// process's usage), in steps. Between two steps the analysis goes on, so a live
    /// build sums tables that move under it (as any live view does); a file's is whole.
    struct TableBuild {
        enum Phase { case talkers, flows, done }
        var phase = Phase.talkers
        /// The next slot of the table the phase reads.
        var next = 0
        /// The address:port table's slots when its pass began: a growth moves every
        /// entry, and the pass starts again.
        var endpointSlots: Int
        var talkers = EndpointTable.Busiest(limit: TopCollector.talkerLimit)
        /// Every open flow while there are at most `openFlowLimit` (in slot order).
        var all: [Flow] = []
        var allComplete = true
        var newest = FlowTable.Greatest(.newest, limit: TopCollector.openFlowLimit / 2)
        var largest = FlowTable.Greatest(.largest, limit: TopCollector.openFlowLimit)
        var usage: FlowProcesses.UsageSum?
        /// Time spent in its steps so far.
        var spent: Int64 = 0

        init(_ c: TopCollector) {
            endpointSlots = c.pipeline.endpoints.slotCapacity
            usage = c.processes?.startUsage()
        }
    }

    /// Advances `b` until it is done (true) or the clock passes `deadline`.
    func step(_ b: inout TableBuild, until deadline: Int64) -> Bool {
        let start = Timestamp.now().totalNanoseconds
        defer { b.spent += Timestamp.now().totalNanoseconds - start }
        let endpoints = pipeline.endpoints
        while b.phase != .done {
            let from = b.next
            b.next += TopCollector.stepSlots
            switch b.phase {
            case .talkers:
                if endpoints.slotCapacity != b.endpointSlots {
                    b.endpointSlots = endpoints.slotCapacity
                    b.talkers = EndpointTable.Busiest(limit: TopCollector.talkerLimit)
                    b.next = 0
                    continue
                }
                endpoints.forEach(slots: from..<b.next) { e, s in b.talkers.add(e, s) }
                if b.next >= b.endpointSlots { b.phase = .flows; b.next = 0 }
            case .flows:
                let procs = processes, local = procs?.localAddresses ?? []
                table.forEachOpen(slots: from..<b.next) { i, f in
                    if b.allComplete {
                        if b.all.count < TopCollector.openFlowLimit {
                            b.all.append(f)
                        } else {
                            b.allComplete = false; b.all = []
                        }
                    }
                    b.newest.offer(f, slot: i)
                    b.largest.offer(f, slot: i)
                    if let procs, b.usage != nil { procs.add(f, to: &b.usage!, local: local) }
                }
                if b.next >= table.slotCount { b.phase = .done }
            case .done:
                break
            }
            if b.phase != .done && Timestamp.now().totalNanoseconds >= deadline { return false }
        }
        return true
    }

    func finishTables(_ b: TableBuild, nanos: Int64) -> Tables {
        var t = Tables()
        t.talkers = b.talkers.list.map { TopTalker(endpoint: $0.0, stat: $0.1) }
        t.talkersTotal = b.talkers.eligible
        t.flows = flowRows(b)
        if let processes, let u = b.usage { t.processes = processRows(processes.finish(u), nanos: nanos) }
        return t
    }

    /// The open flows (at most `openFlowLimit`: the newest half, then the biggest by
    /// wire bytes) and the last finished ones, as Zeek rows. Picked in one pass over
    /// the table, never a copy or a sort of all its flows.
    func flowRows(_ b: TableBuild) -> [TopFlow] {
        var open: [Flow]
        if b.allComplete {
            open = b.all
        } else {
            open = b.newest.flows
            let newest = Set(open.map(\.key))
            for f in b.largest.flows where open.count < TopCollector.openFlowLimit {
                if !newest.contains(f.key) { open.append(f) }
            }
        }
        var out: [TopFlow] = []
        out.reserveCapacity(open.count + finished.count + ended.count)
        for f in open { out.append(TopFlow(row: rows.row(from: f, reason: nil), open: true)) }
        out += finished
        for e in ended { out.append(TopFlow(row: rows.row(from: e.flow, reason: e.reason), open: false)) }
        return out
    }

    /// The processes view's rows, with rates from the totals a second or two ago.
    func processRows(
        _ usage: (processes: [FlowProcesses.Usage], unknown: FlowProcesses.Usage, others: FlowProcesses.Usage),
        nanos: Int64
    ) -> [TopProcess] {
        let (list, unknown, others) = usage
        var rows: [TopProcess] = list.compactMap { u in
            guard let pr = u.process else { return nil }
            return TopProcess(pid: pr.pid, command: pr.command, user: pr.user, container: pr.container ?? "-",
                              flows: u.flows, sent: u.sent, received: u.received)
        }
        // No direction can be told for these: their bytes count as received.
        for (name, u) in [("(unknown)", unknown), ("(not local)", others)] where u.flows > 0 {
            rows.append(
                TopProcess(pid: 0, command: name, user: "-", container: "-", flows: u.flows, sent: 0, received: u.bytes)
            )
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
