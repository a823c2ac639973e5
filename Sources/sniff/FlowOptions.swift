import ArgumentParser
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
import SniffServer
#if canImport(Glibc)
import Glibc
#endif

/// Flow records, the protocol summary and alerts: options shared by -r and -i.
struct FlowOptions: ParsableArguments {
    @Flag(
        name: .customLong("flows"),
        help: "Print one JSON object per flow (Zeek conn.log field names) on stdout instead of the report.")
    var flows = false

    @Option(
        name: .customLong("flows-file"),
        help: ArgumentHelp("Also write the flows as NDJSON to FILE.", valueName: "FILE"))
    var flowsFile: String?

    @Option(
        name: .customLong("conn-log"),
        help: ArgumentHelp("Write the flows as a Zeek TSV conn.log to FILE (zeek-cut reads it).", valueName: "FILE"))
    var connLog: String?

    @Option(name: .customLong("logs"), help: ArgumentHelp("""
        Write Zeek-style conn.log, ssl.log (TLS and QUIC handshakes), dns.log and http.log (one row per transaction) \
        into DIR, created if missing.
        """, valueName: "DIR"))
    var logs: String?

    @Option(name: .customLong("logs-format"), help: ArgumentHelp("""
        Format of the --logs files: tsv (Zeek's ASCII logs, zeek-cut reads them, the default) or json (JSON lines).
        """, valueName: "tsv|json"))
    var logsFormat: String?

    @Option(name: .customLong("local-nets"), help: ArgumentHelp("""
        Networks counted as local for local_orig/local_resp and the new_host/new_port rules (default: RFC 1918, ULA, \
        loopback, link-local; '' for none).
        """, valueName: "CIDR,..."))
    var localNets: String?

    @Option(name: .customLong("geoip"), help: ArgumentHelp("""
        Countries, cities and ASNs from MaxMind DB files (GeoLite2 or DB-IP lite): an .mmdb FILE, or a DIR holding \
        Country/City and ASN files (default: found in /usr/share/GeoIP or /var/lib/GeoIP).
        """, valueName: "FILE|DIR"))
    var geoip: String?

    @Flag(name: .customLong("resolve"), help: """
        Reverse (PTR) lookups, through the system resolver and in the background, of addresses no DNS answer on the \
        wire named; a name shows once its answer came (off unless given).
        """)
    var resolve = false

    @Option(
        name: .customLong("resolve-in-flight"),
        help: ArgumentHelp("With --resolve: PTR queries outstanding at once, 1 to 64 (default 4).", valueName: "N"))
    var resolveInFlight: Int?

    @Option(
        name: .customLong("resolve-rate"),
        help: ArgumentHelp(
            "With --resolve: PTR queries started per second at most, 1 to 10000 (default 20).", valueName: "N"))
    var resolveRate: Int?

    @Option(name: .customLong("rules"), help: ArgumentHelp("""
        Alert rules from a YAML FILE (see docs/rules.example.yaml); without it the built-in port-scan and SYN-flood \
        rules apply.
        """, valueName: "FILE"))
    var rules: String?

    @Option(
        name: .customLong("alerts"),
        help: ArgumentHelp("Write alerts as NDJSON to FILE (instead of stderr).", valueName: "FILE"))
    var alerts: String?

    @Option(
        name: .customLong("webhook"),
        help: ArgumentHelp(
            "POST each alert as JSON to an http:// or https:// URL (instead of stderr).", valueName: "URL"))
    var webhook: String?

    @Option(
        name: .customLong("webhook-ca"),
        help: ArgumentHelp(
            "Trust the CA certificates in this PEM file for an https webhook (default: the system's).",
            valueName: "FILE"))
    var webhookCA: String?

    @Option(
        name: .customLong("webhook-timeout"),
        help: ArgumentHelp("Seconds before a webhook request is abandoned.", valueName: "SECONDS"))
    var webhookTimeout: Double = 5

    @Option(
        name: .customLong("webhook-retries"), help: ArgumentHelp("Retries of a failed webhook request.", valueName: "N")
    )
    var webhookRetries: Int = 2

    @Option(
        name: .customLong("tcp-timeout"),
        help: ArgumentHelp("Idle timeout of an established TCP flow.", valueName: "SECONDS"))
    var tcpTimeout: Double = 3600

    @Option(
        name: .customLong("tcp-closed-timeout"),
        help: ArgumentHelp("Idle timeout of a closed, reset or half-open TCP flow.", valueName: "SECONDS"))
    var tcpClosedTimeout: Double = 10

    @Option(name: .customLong("udp-timeout"), help: ArgumentHelp("Idle timeout of a UDP flow.", valueName: "SECONDS"))
    var udpTimeout: Double = 60

    @Option(
        name: .customLong("icmp-timeout"),
        help: ArgumentHelp("Idle timeout of ICMP and other IP flows.", valueName: "SECONDS"))
    var icmpTimeout: Double = 60

    @Option(
        name: .customLong("active-timeout"),
        help: ArgumentHelp("Split flows open longer than this.", valueName: "SECONDS"))
    var activeTimeout: Double = 1800

    @Flag(
        name: .customLong("no-processes"),
        help: "Live capture: do not look up which local process owns each flow's socket.")
    var noProcesses = false

    @Option(
        name: .customLong("max-flows"),
        help: ArgumentHelp("Flows kept at once; beyond it the longest idle is evicted.", valueName: "N"))
    var maxFlows: Int = 1_000_000

    @Option(name: .customLong("tcp-reassembly-budget"), help: ArgumentHelp("""
        Bytes of each TCP direction reassembled for the payload parsers (TLS, HTTP, DNS over TCP ...); 0 turns \
        reassembly off.
        """, valueName: "BYTES"))
    var tcpReassemblyBudget: Int = TCPReassemblyLimits().budget

    @Option(
        name: .customLong("tcp-reassembly-memory"),
        help: ArgumentHelp(
            "Bytes all TCP streams may hold at once; past it new streams are inspected one segment at a time.",
            valueName: "BYTES"))
    var tcpReassemblyMemory: Int = TCPReassemblyLimits().memory

    func validate() throws {
        if tcpReassemblyBudget < 0 || tcpReassemblyBudget > 1 << 30 {
            throw ValidationError(
                "invalid --tcp-reassembly-budget \(tcpReassemblyBudget): it must be 0 (off) to 1073741824 bytes")
        }
        if tcpReassemblyMemory < 1 {
            throw ValidationError("invalid --tcp-reassembly-memory \(tcpReassemblyMemory): it must be at least 1 byte")
        }
        for (name, v) in [
            ("--tcp-timeout", tcpTimeout), ("--tcp-closed-timeout", tcpClosedTimeout), ("--udp-timeout", udpTimeout),
            ("--icmp-timeout", icmpTimeout), ("--active-timeout", activeTimeout), ("--webhook-timeout", webhookTimeout)
        ]
        where !(v > 0) {
            throw ValidationError("invalid \(name) \(v): it must be a positive number of seconds")
        }
        if let f = logsFormat {
            guard ZeekLogFormat(rawValue: f) != nil else {
                throw ValidationError("invalid --logs-format \(f): use tsv or json")
            }
            if logs == nil { throw ValidationError("--logs-format is for --logs DIR; give the directory too") }
        }
        if logs == "" { throw ValidationError("--logs needs a directory") }
        if maxFlows < 1 { throw ValidationError("invalid --max-flows \(maxFlows): it must be at least 1") }
        if webhookRetries < 0 {
            throw ValidationError("invalid --webhook-retries \(webhookRetries): it must be 0 or more")
        }
        if geoip == "" { throw ValidationError("--geoip needs an .mmdb file or a folder holding them") }
        if let l = localNets {
            do { _ = try LocalNetworks(parsing: l) } catch let e as SniffError { throw ValidationError(e.userMessage) }
        }
        for (name, v, range) in [("--resolve-in-flight", resolveInFlight, ReverseLookupLimits.inFlightRange),
                                 ("--resolve-rate", resolveRate, ReverseLookupLimits.perSecondRange)] {
            guard let v else { continue }
            if !resolve { throw ValidationError("\(name) is for --resolve; give --resolve too") }
            if !range.contains(v) {
                throw ValidationError("invalid \(name) \(v): it must be \(range.lowerBound) to \(range.upperBound)")
            }
        }
        if webhookCA != nil && webhook == nil {
            throw ValidationError("--webhook-ca is for an https --webhook; give the webhook's URL too")
        }
        if let w = webhook {
            do { _ = try WebhookURL(w) } catch let e as SniffError { throw ValidationError(e.userMessage) }
        }
    }

    var tableConfig: FlowTableConfig {
        var c = FlowTableConfig()
        c.tcpEstablishedTimeout = FlowTableConfig.nanos(seconds: tcpTimeout)
        c.tcpClosedTimeout = FlowTableConfig.nanos(seconds: tcpClosedTimeout)
        c.udpTimeout = FlowTableConfig.nanos(seconds: udpTimeout)
        c.icmpTimeout = FlowTableConfig.nanos(seconds: icmpTimeout)
        c.otherTimeout = FlowTableConfig.nanos(seconds: icmpTimeout)
        c.activeTimeout = FlowTableConfig.nanos(seconds: activeTimeout)
        c.maxFlows = maxFlows
        c.tcpReassembly = TCPReassemblyLimits(budget: tcpReassemblyBudget, memory: tcpReassemblyMemory)
        return c
    }
}

/// The flow side of a run: the table, its writers, the protocol summary and the alert
/// engine, wired as packet consumers. Owned by the analysis thread.
final class FlowRun: FlowObserver {
    let options: FlowOptions
    let live: Bool
    let table: FlowTable
    let summary = ProtocolSummaryCollector()
    let engine: AlertEngine
    let alertSinks: AlertSink
    let format: FlowFormat
    /// Names (passive DNS), countries and ASNs of addresses, for every writer.
    let hosts: HostEnrichment
    private let ndjson: FlowNDJSONWriter
    private let connLog: ZeekConnLogWriter
    private var stdoutSink = ByteSink(capacity: 1 << 16)
    private var fileSink = ByteSink(capacity: 1 << 16)
    private var connSink = ByteSink(capacity: 1 << 16)
    private var flowsFD: Int32 = -1
    private var connFD: Int32 = -1
    private var logFiles: ZeekLogFiles?
    /// dns.log and http.log's transactions (with --logs or storage), and who receives them.
    private var transactions: TransactionTracker?
    private let transactionObservers = TransactionObserverList()
    private(set) var stdoutBroken = false
    private var finished = false
    /// Live capture: which local process owns each flow (nil reading a file, or with
    /// --no-processes).
    let processes: FlowProcesses?
    /// What process attribution cannot see, said once; printed on stderr unless
    /// `holdNotices` (`sniff top` prints them after restoring the terminal).
    var holdNotices = false
    private(set) var heldNotices: [String] = []

    /// `alertsToStderr`: without --alerts or --webhook, alerts go to stderr (not when
    /// `sniff top` owns the terminal and lists them itself).
    /// `showsHosts`: the run writes something where countries would show (the report),
    /// so that a missing GeoIP database is worth a note.
    init(options: FlowOptions, live: Bool, alertsToStderr: Bool = true, showsHosts: Bool = false) throws {
        self.options = options
        self.live = live
        let local = try options.localNets.map { try LocalNetworks(parsing: $0) } ?? .defaults
        let geo: GeoIPDatabases
        if let path = options.geoip {
            // Asked for by name: anything wrong with it stops the run (exit 64).
            geo = try GeoIPDatabases.open(path: path)
        } else {
            let (found, warnings) = GeoIPDatabases.discover()
            for w in warnings { ComponentLog.captureWarning(w) }
            geo = found
            let writesFlows = options.flows || options.flowsFile != nil || options.connLog != nil || options.logs != nil
            if found.isEmpty && (showsHosts || writesFlows) {
                // Once per run, and on stderr only for a person at a terminal: scripts
                // reading stderr for errors would take the note for one.
                if Stderr.isTerminal {
                    ComponentLog.captureInfo("note: " + GeoIPDatabases.howToGet)
                } else {
                    ComponentLog.captureLogger.info("\(GeoIPDatabases.howToGet)")
                }
            }
        }
        var limits = ReverseLookupLimits()
        if let n = options.resolveInFlight { limits.inFlight = n }
        if let n = options.resolveRate { limits.perSecond = n }
        hosts = HostEnrichment(geo: geo, localNetworks: local,
                               resolver: options.resolve ? ReverseResolver(limits: limits) : nil)
        format = FlowFormat(localNetworks: local, hosts: hosts)
        ndjson = FlowNDJSONWriter(format: format)
        connLog = ZeekConnLogWriter(format: format)
        let alertConfig = try options.rules.map { try RulesFile.load(path: $0) } ?? AlertConfig()
        // A rule no database can answer would never fire: a usage error, as for --country.
        if let rule = alertConfig.countryRule, !geo.answersCountries {
            throw GeoFilterError(option: "alert rule \"\(rule.name)\" (kind country)", kind: "Country or City")
        }
        if let rule = alertConfig.asnRule, !geo.answersASNs {
            throw GeoFilterError(option: "alert rule \"\(rule.name)\" (kind asn)", kind: "ASN")
        }
        var sinks: [AlertSink] = []
        if let a = options.alerts { sinks.append(try NDJSONAlertSink(path: a)) }
        if let w = options.webhook {
            sinks.append(
                try WebhookAlertSink(
                    url: w, timeoutSeconds: options.webhookTimeout, retries: options.webhookRetries,
                    caFile: options.webhookCA))
        }
        if sinks.isEmpty && alertsToStderr { sinks.append(StderrAlertSink()) }
        // Always a list, so that storage and live feeds can add their own sink.
        alertSinks = AlertSinkList(sinks)
        engine = AlertEngine(config: alertConfig, sink: alertSinks, format: format)
        table = FlowTable(config: options.tableConfig)
        table.useWallClock = live
        if let f = options.flowsFile { flowsFD = try FlowRun.create(f, what: "--flows-file") }
        if let f = options.connLog {
            connFD = try FlowRun.create(f, what: "--conn-log")
            connLog.writeHeader(open: Timestamp.now(), into: &connSink)
        }
        if let dir = options.logs {
            let logFormat = options.logsFormat.flatMap(ZeekLogFormat.init(rawValue:)) ?? .tsv
            let files = try ZeekLogFiles(directory: dir, format: logFormat, flowFormat: format)
            logFiles = files
            transactionObservers.observers.append(files)
            transactions = TransactionTracker(observer: transactionObservers)
            table.transactions = transactions
        }
        if live && !options.noProcesses {
            let t = ProcessTable()
            t.start()
            processes = FlowProcesses(table: t)
        } else {
            processes = nil
        }
        table.observer = FlowObserverList([self, summary, engine])
    }

    /// Turns the DNS/HTTP transaction tracker on (once) and adds a receiver.
    func observeTransactions(_ o: TransactionObserver) {
        transactionObservers.observers.append(o)
        if transactions == nil {
            transactions = TransactionTracker(observer: transactionObservers)
            table.transactions = transactions
        }
    }

    static func create(_ path: String, what: String) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw RuntimeFailure(
                "cannot open \(path) for \(what): \(String(cString: strerror(errno))); check the path and permissions")
        }
        return fd
    }

    /// Wires the run into `pipeline`. Consumers in order: the engine sees packets for
    /// rate rules, the table labels each with its flow's app, then the summary counts it
    /// under that app. Passive DNS sees answers before them all, so that a name answered
    /// in a packet is known to the flows it ends.
    func attach(to pipeline: PacketPipeline) {
        pipeline.consumers += [engine, table, summary]
        pipeline.dnsAnswers = hosts
    }

    func flowStarted(_ flow: Flow) {
        processes?.flowStarted(flow)
        hosts.resolveAhead(flow.origAddress, flow.respAddress)
    }

    func flowEnded(_ flow: Flow, reason: FlowEndReason) {
        let process = processes?.process(of: flow)
        if options.flows && !stdoutBroken {
            ndjson.write(flow, process: process, into: &stdoutSink)
            if stdoutSink.count >= 1 << 16, !stdoutSink.flush(to: 1) { stdoutBroken = true }
        }
        if flowsFD >= 0 {
            ndjson.write(flow, process: process, into: &fileSink)
            if fileSink.count >= 1 << 16 { fileSink.flush(to: flowsFD) }
        }
        if connFD >= 0 {
            connLog.write(flow, process: process, into: &connSink)
            if connSink.count >= 1 << 16 { connSink.flush(to: connFD) }
        }
        logFiles?.write(flow, process: process)
        processes?.flowEnded(flow)
    }

    /// Live capture: runs the idle timers on wall time between packets, and pushes
    /// finished flows out.
    func tick() {
        table.expire(now: Timestamp.now())
        if let notice = processes?.tick() {
            if holdNotices {
                heldNotices.append("sniff: warning: " + notice)
            } else {
                ComponentLog.captureWarning(notice)
            }
        }
        if options.flows && !stdoutBroken && !stdoutSink.isEmpty, !stdoutSink.flush(to: 1) { stdoutBroken = true }
        if flowsFD >= 0 { fileSink.flush(to: flowsFD) }
        if connFD >= 0 { connSink.flush(to: connFD) }
        logFiles?.flush()
    }

    /// Emits the open flows, delivers held-back alert summaries and closes the files.
    /// Safe to call more than once.
    func finish() {
        guard !finished else { return }
        finished = true
        // A file's last flows are written now: their ends' PTR lookups (queued when the
        // flows started) get a bounded moment to answer, so their names can show.
        if !live { hosts.resolver?.settle(milliseconds: FlowRun.resolveSettleMilliseconds) }
        table.flush()
        processes?.table.stop()
        engine.finish()
        alertSinks.close()
        if options.flows && !stdoutBroken { if !stdoutSink.flush(to: 1) { stdoutBroken = true } }
        if flowsFD >= 0 { fileSink.flush(to: flowsFD); _ = close(flowsFD); flowsFD = -1 }
        if connFD >= 0 {
            connLog.writeFooter(close: Timestamp.now(), into: &connSink)
            connSink.flush(to: connFD)
            _ = close(connFD)
            connFD = -1
        }
        logFiles?.finish()
        hosts.resolver?.stop()
    }

    /// How long a file run's end waits for outstanding PTR lookups.
    static let resolveSettleMilliseconds = 3_000

    /// The report's extra sections: the protocol summary, flow counts and alerts.
    func sections() -> [ReportSection] {
        let s = summary.summary
        var lines: [String] = []
        func row(_ name: String, _ c: ProtocolSummary.Counts) -> String {
            name.padding(12) + String(c.packets).leftPadded(12) + String(c.bytes).leftPadded(16)
                + String(c.flows).leftPadded(10)
        }
        lines.append(
            "transport".padding(12) + "packets".leftPadded(12) + "bytes".leftPadded(16) + "flows".leftPadded(10))
        for t in TransportKind.allCases {
            let c = s.transport(t)
            guard c.packets > 0 || c.flows > 0 else { continue }
            lines.append(row(t.label, c))
        }
        let apps = s.appsByBytes
        if !apps.isEmpty {
            lines.append("")
            lines.append("app".padding(12) + "packets".leftPadded(12) + "bytes".leftPadded(16) + "flows".leftPadded(10))
            for (a, c) in apps { lines.append(row(a.name, c)) }
        }
        let st = table.stats
        var flowLines = [
            "flows started \(st.flowsCreated), finished \(st.flowsEnded), open \(table.count), peak \(st.peakFlows)"
        ]
        let reasons = FlowEndReason.allCases.filter { st.ended($0) > 0 }.map { "\($0.name) \(st.ended($0))" }
        if !reasons.isEmpty { flowLines.append("ended by: " + reasons.joined(separator: ", ")) }
        let r = table.reassemblyStats
        if r.streams > 0 || r.notBuffered > 0 {
            flowLines.append("tcp reassembly: streams \(r.streams), not buffered (memory cap) \(r.notBuffered), "
                             + "retransmitted bytes \(r.duplicateBytes), conflicting \(r.conflictBytes), "
                             + "over budget \(r.overBudgetBytes), peak held \(r.peakHeld)")
        }
        var alertLines = ["""
            raised \(engine.alertsRaised), delivered \(engine.alertsDelivered), held back \
            \(engine.limiter.suppressed + engine.limiter.droppedByRate)
            """]
        alertLines.append("rules: " + engine.config.rules.map { "\($0.name) (\($0.kindName))" }.joined(separator: ", "))
        var out = [
            ReportSection(title: "Protocol summary", lines: lines),
            ReportSection(title: "Flows", lines: flowLines)
        ]
        if let processes {
            out.append(
                ReportSection(title: "Processes", lines: ProcessReport.lines(processes, open: table.openFlows())))
        }
        out.append(ReportSection(title: "Alerts", lines: alertLines))
        return out
    }
}

extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
    func leftPadded(_ width: Int) -> String {
        count >= width ? " " + self : String(repeating: " ", count: width - count) + self
    }
}
