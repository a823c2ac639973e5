import ArgumentParser
import Logging
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
import SniffStore
#if canImport(Glibc)
import Glibc
#endif

/// Storage: where rows go and what is kept. Shared by -r and -i.
struct StoreOptions: ParsableArguments {
    @Flag(
        name: .customLong("store"),
        help: "Store packets, flows and alerts in a database (SQLite sniff.db unless --db names another).")
    var store = false

    @Option(name: .customLong("db"), help: ArgumentHelp("""
        The database: sqlite:PATH, postgres://user:password@host:5432/database (PG* variables fill the gaps) or \
        clickhouse://user:password@host:8123/database. Implies --store.
        """, valueName: "URL"))
    var db: String?

    @Option(
        name: .customLong("store-packets"),
        help: ArgumentHelp(
            "Packets to store: all, none, or sample:N (one in N). Flows are always stored.",
            valueName: "all|none|sample:N"))
    var storePackets: String = "all"

    @Flag(name: .customLong("store-raw"), help: """
        Also store each stored packet's captured bytes, so that `sniff export --format pcap` and \
        /api/export?format=pcap can rebuild a capture (about the capture file's size again in the database).
        """)
    var storeRaw = false

    @Option(
        name: .customLong("sensor"),
        help: ArgumentHelp(
            "Name stored with every row, to tell sensors apart in one database (default: the host name).",
            valueName: "NAME"))
    var sensor: String?

    @Option(
        name: .customLong("retention"),
        help: ArgumentHelp(
            "Delete stored rows older than this (s, m, h, d or w: 7d); PostgreSQL drops whole day partitions.",
            valueName: "AGE"))
    var retention: String?

    @Option(
        name: .customLong("journal"),
        help: ArgumentHelp(
            "Directory for batches waiting for the database; journals left there are replayed at start.",
            valueName: "DIR"))
    var journal: String = "sniff-journal"

    @Option(name: .customLong("store-timeout"), help: ArgumentHelp("""
        At exit, seconds to wait for the database while it stores nothing (an unreachable one is retried) before \
        leaving the rest in the journal; a slow database still storing is waited for (Ctrl-C again stops waiting).
        """, valueName: "SECONDS"))
    var storeTimeout: Double = 60

    @Option(
        name: .customLong("store-memory"),
        help: ArgumentHelp(
            "Rows held in memory while the database is behind, before batches spill to the journal.", valueName: "ROWS")
    )
    var storeMemory: Int = 1_000_000

    @Flag(name: .customLong("store-local-shard"), help: """
        ClickHouse cluster (sniff db migrate --cluster): write into the --db server's own shard, its <table>_local \
        tables, not through the Distributed tables. The sensor's rows stay on that server and it needs no other; \
        reads (sniff serve) still see every shard.
        """)
    var storeLocalShard = false

    var enabled: Bool { store || db != nil }

    func validate() throws {
        if let db {
            do { _ = try StoreURL(db) } catch let e as StoreError { throw ValidationError(e.userMessage) }
        }
        if storeLocalShard { try StoreOptions.requireClickHouse(db) }
        if PacketPolicy(storePackets) == nil {
            throw ValidationError(
                "invalid --store-packets '\(storePackets)': valid values are all, none, sample:N (N at least 1)")
        }
        if let r = retention, RetentionText.nanoseconds(r) == nil {
            throw ValidationError("invalid --retention '\(r)': give a number and a unit, such as 7d, 12h, 30m or 2w")
        }
        if let s = sensor {
            if s.isEmpty || s.utf8.count > 128
                || s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw ValidationError("invalid --sensor: a name of 1 to 128 bytes without control characters")
            }
        }
        if storeRaw, PacketPolicy(storePackets) == PacketPolicy.none {
            throw ValidationError(
                "--store-raw keeps the bytes of stored packets, and --store-packets none stores none: drop one of them")
        }
        if !(storeTimeout >= 0) {
            throw ValidationError("invalid --store-timeout \(storeTimeout): it must be 0 or more seconds")
        }
        if storeMemory < 1 { throw ValidationError("invalid --store-memory \(storeMemory): it must be at least 1 row") }
        if !enabled {
            let given = [
                (storePackets != "all", "--store-packets"), (storeRaw, "--store-raw"), (sensor != nil, "--sensor"),
                (retention != nil, "--retention")
            ]
            if let (_, name) = given.first(where: { $0.0 }) {
                throw ValidationError("\(name) applies to storage: add --store (SQLite sniff.db) or --db URL")
            }
        }
    }

    /// --store-local-shard writes a ClickHouse cluster's shard tables: other databases have none.
    static func requireClickHouse(_ db: String?) throws {
        guard let db, case .clickhouse = try? StoreURL(db) else {
            throw ValidationError("""
                --store-local-shard is for a ClickHouse cluster: give --db \
                clickhouse://user:password@host:8123/database
                """)
        }
    }

    /// The store the rows go into: with --store-local-shard, the ClickHouse server's own shard.
    static func open(_ url: StoreURL, localShard: Bool) -> any PacketStore {
        if localShard, case .clickhouse(let target) = url { return ClickHouseStore(target: target, localShard: true) }
        return StoreFactory.open(url)
    }

    var url: StoreURL {
        // Validated above.
        (try? StoreURL(db ?? "sqlite:" + StoreURL.defaultSQLitePath)) ?? .sqlite(path: StoreURL.defaultSQLitePath)
    }

    var sensorName: String {
        if let sensor { return sensor }
        var buf = [CChar](repeating: 0, count: 256)
        if gethostname(&buf, buf.count) == 0 {
            let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !name.isEmpty { return name }
        }
        return "sniff"
    }
}

/// The storage side of a run: the store, its writer thread and the consumer in the
/// pipeline. Created only with --store or --db.
final class StoreRun {
    let options: StoreOptions
    let store: any PacketStore
    let writer: StoreWriter
    let consumer: StoreConsumer
    let startedAt = Timestamp.now()

    /// Adds storage to a run when asked for. Call after the flow consumers were added
    /// to `pipeline`, so that a stored packet's flow exists (its uid is in the row).
    static func start(_ command: CaptureCommand, source: String, pipeline: PacketPipeline, flows: FlowRun) -> StoreRun?
    {
        guard command.storeOptions.enabled else { return nil }
        return StoreRun(command, source: source, pipeline: pipeline, flows: flows)
    }

    private init(_ command: CaptureCommand, source: String, pipeline: PacketPipeline, flows: FlowRun) {
        let o = command.storeOptions
        options = o
        let url = o.url
        store = StoreOptions.open(url, localShard: o.storeLocalShard)
        var config = StoreWriter.Configuration()
        config.memoryLimitRows = o.storeMemory
        config.journalDirectory = o.journal
        config.retentionNanos = o.retention.flatMap(RetentionText.nanoseconds)
        // Database trouble and recovery, journal spills and replays, retention.
        config.log = { ComponentLog.store(.warning, $0) }
        writer = StoreWriter(store: store, configuration: config)

        var filters: [String] = []
        if let e = command.source.bpfExpression { filters.append("bpf: \(e)") }
        let f = command.filters
        if !f.ips.isEmpty { filters.append("ip: " + f.ips.map(\.description).joined(separator: ",")) }
        if let n = f.net { filters.append("net: \(n.rawValue)") }
        if let t = f.transport { filters.append("transport: " + t.label.lowercased()) }
        if let l = f.lowestPort { filters.append("lowest-port: \(l)") }
        if let h = f.highestPort { filters.append("highest-port: \(h)") }
        if f.inner { filters.append("inner") }
        var info = CaptureInfo(id: Int64.random(in: 1...Int64.max), sensor: o.sensorName, source: source,
                               start: Timestamp.now().totalNanoseconds)
        info.filters = filters.joined(separator: "; ")
        consumer = StoreConsumer(writer: writer, capture: info, policy: PacketPolicy(o.storePackets) ?? .all,
                                 format: flows.engine.format, storeFrames: o.storeRaw)
        // The hosts table's vendors (ieee-data, when installed): read once, before the
        // first packet.
        consumer.vendors = MACVendors.load()
        // Flows and alerts reach storage beside the other outputs; first among the
        // flow observers, so that a flow's process is asked before the run forgets it.
        if let processes = flows.processes { consumer.processOf = { processes.owner(of: $0) } }
        if let list = flows.table.observer as? FlowObserverList {
            list.observers.insert(consumer, at: 0)
        } else {
            flows.table.observer = FlowObserverList([flows.table.observer, consumer].compactMap { $0 })
        }
        if let sinks = flows.alertSinks as? AlertSinkList {
            sinks.sinks.append(consumer)
        } else {
            ComponentLog.store(
                .warning, "warning: alerts are not stored in this run (the alert sink takes no second receiver)")
        }
        pipeline.consumers.append(consumer)
        // dns, http (and tls, from the flows) tables: the tracker runs as with --logs.
        flows.observeTransactions(consumer)
        let storing = """
            storing in \(url.redacted)\(o.storeLocalShard ? " (its shard's tables)" : "") as sensor \
            \(o.sensorName) (packets: \
            \(consumer.policy)\(o.storeRaw ? " with their bytes" : ""), capture \(info.id))
            """
        ComponentLog.say(ComponentLog.storeLogger, .info, "sniff: " + storing, message: storing)
        writer.start()
        consumer.start()
    }

    /// Live capture: flushes partial batches and records counters now and then.
    func tick(_ pipeline: PacketPipeline) {
        consumer.tick { StoreRun.update(&$0, pipeline.totals) }
    }

    static func update(_ c: inout CaptureInfo, _ t: CaptureTotals) {
        c.packetsSeen = t.packetsSeen
        c.packetsMatched = t.packetsMatched
        c.bytesSeen = t.bytesSeen
        c.firstPacket = t.firstTimestamp?.totalNanoseconds
        c.lastPacket = t.lastTimestamp?.totalNanoseconds
        c.kernelDropped = t.kernelDropped
        c.interfaceDropped = t.interfaceDropped
        c.sniffDropped = t.sniffDropped
    }

    /// What the run stored: `check` turns pending rows into the exit status.
    struct Outcome {
        let report: StoreWriter.FinishReport
        let url: String

        func check() throws {
            // Lost rows cannot be replayed: a failure, not "try again later".
            if report.lost { throw ExitCode(StoreRun.lostExitCode) }
            if !report.complete { throw ExitCode(StoreRun.incompleteExitCode) }
        }
    }

    /// A file read again into the same database is stored again, as a new capture (as
    /// tshark and Zeek read a file as often as asked), and said here: the same file
    /// name, first packet time and packet count as a capture already stored. The
    /// dashboard and the API's capture= show each capture apart.
    func sameFileNote(_ t: CaptureTotals) -> String? {
        let mine = consumer.capture
        guard mine.source.hasPrefix("file "), let first = t.firstTimestamp?.totalNanoseconds else { return nil }
        // The file's name without its directory: the same file given another way.
        func fileName(_ source: String) -> Substring? {
            guard source.hasPrefix("file ") else { return nil }
            return source.dropFirst(5).split(separator: "/").last
        }
        let path = String(mine.source.dropFirst(5)), name = fileName(mine.source)
        let store = self.store
        guard
            let stored = try? Blocking.run({ try await store.captures(CaptureQuery(limit: PacketQuery.maximumLimit)) }),
            let same = stored.filter({
                $0.id != mine.id && fileName($0.source) == name && $0.firstPacket == first
                    && $0.packetsSeen == t.packetsSeen
            }).min(by: { $0.start < $1.start })
        else { return nil }
        return
            "\(path) is already stored as capture \(same.id) (\(same.packetsSeen) packets); stored it again as capture "
            + "\(mine.id); the dashboard and the API (capture=) show each capture apart"
    }

    /// Exit status when rows are left in the journal (EX_TEMPFAIL: try again later).
    static let incompleteExitCode: Int32 = 75
    /// Exit status when rows were lost (the journal's disk was full).
    static let lostExitCode: Int32 = 1

    /// Flushes the last rows (call after the flows were finished), waits for the
    /// writer and prints the final line: captured, stored, pending.
    func finish(_ pipeline: PacketPipeline) -> Outcome {
        consumer.finish { StoreRun.update(&$0, pipeline.totals) }
        // The first Ctrl-C ended the capture; a second one stops waiting for the database.
        Signals.stopRequested = 0
        let report = writer.finish(timeoutSeconds: options.storeTimeout, giveUp: { Signals.shouldStop }) { s in
            ComponentLog.store(.notice, """
                waiting for the database: \(s.packetsPending) packets pending (\(s.lastError ?? "writing")); Ctrl-C \
                again to leave them in the journal
                """)
        }
        let s = report.stats
        let captured = pipeline.totals.packetsSeen
        var line = """
            sniff: store: \(captured) packets captured, \(s.packetsStored) stored, \(s.packetsPending) pending, \
            \(s.packetsLost) lost
            """
        if case .sample(let n) = consumer.policy { line += " (1 in \(n) kept)" }
        if case .none = consumer.policy { line += " (packets not kept; flows and traffic sums stored)" }
        if s.writeSeconds > 0 && s.rowsStored > 0 {
            line += """
                ; \(s.rowsStored) rows in \(Int(s.writeSeconds * 1000)) ms of writing \
                (\(Int(Double(s.rowsStored) / s.writeSeconds)) rows/s)
                """
        }
        ComponentLog.store(.info, String(line.dropFirst("sniff: store: ".count)))
        if report.lost {
            let why = s.lastJournalFailure ?? "the journal could not be written"
            ComponentLog.store(.error, """
                error: \(s.packetsLost) packets (\(s.rowsLost) rows in \(s.batchesLost) batches) were lost, kept \
                neither in memory nor in the journal \(options.journal): \(why)
                """)
        }
        if s.journalBatches > 0 {
            let paths = report.journalPaths.joined(separator: ", ")
            ComponentLog.store(.warning, """
                \(report.pendingBatches) batches could not be stored and are kept in \(paths); replay them with: \
                sniff db replay --db '\(options.url.redacted)'\(options.storeLocalShard ? " --store-local-shard" : "") \
                \(report.journalPaths.joined(separator: " "))
                """)
        }
        if let note = sameFileNote(pipeline.totals) { ComponentLog.store(.warning, note) }
        let store = self.store
        try? Blocking.run { await store.close() }
        return Outcome(report: report, url: options.url.redacted)
    }
}
