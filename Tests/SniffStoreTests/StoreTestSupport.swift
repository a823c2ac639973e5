import Foundation
import PostgresNIO
import Testing
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
@testable import SniffStore
import SniffTestSupport

/// Where the test databases come from. PostgreSQL is the server `scripts/test.sh`
/// starts (initdb in a temporary directory, a random port); it exports:
///   SNIFF_TEST_PG_URL   postgres://postgres@127.0.0.1:PORT/postgres
///   SNIFF_TEST_PG_DATA  its data directory
///   SNIFF_TEST_PG_CTL   the pg_ctl command (run as the postgres user when root)
enum StoreTestEnv {
    static let env = ProcessInfo.processInfo.environment
    static var pgURL: String? { env["SNIFF_TEST_PG_URL"] }
    static var hasPostgres: Bool { pgURL != nil }

    /// Every capture file: Tests/Fixtures, and the shared captures when present.
    static var captures: [URL] {
        TestPaths.captureFiles(in: TestPaths.fixtures) + (TestPaths.sharedPcaps.map(TestPaths.captureFiles(in:)) ?? [])
    }

    static func tempDirectory(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "sniff-store-\(name)-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A database created for one test and removed after it.
enum TestDatabase {
    /// A new PostgreSQL database on the test server; the URL is handed to `body`.
    static func withPostgres<T>(_ name: String = "t", _ body: (String) async throws -> T) async throws -> T {
        guard let base = StoreTestEnv.pgURL else { throw TestSkip.noPostgres }
        let db = "sniff_\(name)_\(UInt32.random(in: 0...UInt32.max))"
        try await admin(base, "CREATE DATABASE \(db)")
        guard let slash = base.lastIndex(of: "/") else { throw TestSkip.noPostgres }
        let url = String(base[..<slash]) + "/" + db
        do {
            let r = try await body(url)
            try? await admin(base, "DROP DATABASE IF EXISTS \(db) WITH (FORCE)")
            return r
        } catch {
            try? await admin(base, "DROP DATABASE IF EXISTS \(db) WITH (FORCE)")
            throw error
        }
    }

    static func withSQLite<T>(_ name: String = "t", _ body: (String) async throws -> T) async throws -> T {
        try await withSQLiteFile(name) { url, _ in try await body(url) }
    }

    /// As withSQLite, also handing `body` the database file's path (for tests that open it
    /// with sqlite3 or look at its size).
    static func withSQLiteFile<T>(_ name: String, _ body: (String, String) async throws -> T) async throws -> T {
        let dir = StoreTestEnv.tempDirectory(name)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try await body("sqlite:\(dir)/sniff.db", "\(dir)/sniff.db")
    }

    /// A SQLite store on a new file, migrated through `version` (the one before a
    /// migration under test, or the latest), with small segments (16 packets, 8 flows)
    /// so that a few rows span several; `body` gets the store, the file's URL and path.
    static func withSQLiteStore<T>(
        _ name: String, at version: Int, _ body: (SQLiteStore, String, String) async throws -> T
    ) async throws -> T {
        try await withSQLiteFile(name) { url, path in
            let store = SQLiteStore(path: path, segmentRows: 16, flowSegmentRows: 8)
            defer { Task { await store.close() } }
            _ = try await store.migrate(through: version)
            return try await body(store, url, path)
        }
    }

    /// Runs `body` once per backend (PostgreSQL only when the test server is up).
    static func forEachBackend(_ name: String, _ body: (String) async throws -> Void) async throws {
        try await withSQLite(name, body)
        if StoreTestEnv.hasPostgres { try await withPostgres(name, body) }
    }

    /// One statement on the server's maintenance database (test setup only).
    static func admin(_ url: String, _ sql: String) async throws {
        try await query(url, sql)
    }

    /// Runs SQL text directly (for checks that must not go through the store).
    @discardableResult
    static func query(_ url: String, _ sql: String) async throws -> [[String?]] {
        guard case .postgres(let t) = try StoreURL(url) else { return [] }
        var config = PostgresConnection.Configuration(
            host: t.host, port: t.port, username: t.user, password: t.password,
            database: t.database, tls: .disable)
        config.options.connectTimeout = .seconds(5)
        var logger = Logger(label: "sniff.test")
        logger.logLevel = .critical
        let c = try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
        defer { Task { try? await c.close() } }
        var out: [[String?]] = []
        for try await row in try await c.query(PostgresQuery(unsafeSQL: sql), logger: logger) {
            out.append(row.map { cell -> String? in
                // Numbers first: String decoding would read an int8's binary bytes as text.
                if let v = try? cell.decode(Int64?.self) { return String(v) }
                if let b = try? cell.decode(Bool?.self) { return String(b) }
                if let s = try? cell.decode(String?.self) { return s }
                return nil
            })
        }
        try await c.close()
        return out
    }

    /// The first column of the first row of a query on a SQLite file, through a
    /// connection of its own (not the store's).
    static func sqlite(_ url: String, _ sql: String) throws -> String {
        guard case .sqlite(let path) = try StoreURL(url) else {
            Issue.record("not a SQLite URL: \(url)")
            return ""
        }
        let c = try SQLiteConnection(path: path)
        return try c.query(sql, []) { $0.optionalText(0) ?? "" }.first ?? ""
    }

    /// `SELECT count(*)` of a table in any backend, without the store's code.
    static func count(_ url: String, _ table: String, where clause: String = "") async throws -> Int {
        if url.hasPrefix("sqlite:") {
            // SQLite's packets name their capture and sensor by a code (schema 23,
            // `PacketCodes`): its view shows both as columns.
            let byOrigin = table == "packets" && (clause.contains("capture_id") || clause.contains("sensor"))
            let sql =
                "SELECT count(*) FROM \(byOrigin ? "packets_v" : table)" + (clause.isEmpty ? "" : " WHERE \(clause)")
            return Int(try sqlite(url, sql)) ?? -1
        }
        let sql = "SELECT count(*) FROM \(table)" + (clause.isEmpty ? "" : " WHERE \(clause)")
        if case .clickhouse(let t) = try StoreURL(url) {
            let http = ClickHouseHTTP(target: t)
            defer { Task { await http.shutdown() } }
            return Int((try await http.rows(sql, what: "test count").first?.first ?? nil) ?? "") ?? -1
        }
        return Int((try await query(url, sql).first?.first ?? nil) ?? "") ?? -1
    }
}

enum TestSkip: Error { case noPostgres }

/// Runs a shell command and returns its output. With `capture: false` the command's
/// output goes to /dev/null instead of a pipe: a daemon it starts (pg_ctl start) would
/// hold a pipe open and the read would never end.
@discardableResult
func shell(_ command: String, capture: Bool = true) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    p.standardInput = FileHandle.nullDevice
    if !capture {
        // system(3) waits with waitpid; Foundation's Process could miss the exit of a
        // command that leaves a daemon behind.
        let status = system(command + " </dev/null >/dev/null 2>&1")
        if status != 0 { throw ShellError(command: command, status: status, output: "") }
        return ""
    }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    if p.terminationStatus != 0 { throw ShellError(command: command, status: p.terminationStatus, output: text) }
    return text
}

struct ShellError: Error, CustomStringConvertible {
    let command: String
    let status: Int32
    let output: String
    var description: String { "\(command) exited \(status): \(output)" }
}

/// What loading one capture produced: the NDJSON lines of `sniff --json` for the same
/// packets, the flows as `--flows` writes them, and the writer's outcome.
struct LoadResult {
    var packetLines: [String] = []
    var flowLines: [String] = []
    var alerts: [Alert] = []
    var totals = CaptureTotals()
    var captureID: Int64 = 0
    var report: StoreWriter.FinishReport? = nil
    /// The report's protocol summary of the same run.
    var summary = ProtocolSummary()
    /// dns.log, http.log and ssl.log as `--logs DIR --logs-format json` writes them.
    var dnsLines: [String] = []
    var httpLines: [String] = []
    var sslLines: [String] = []
}

/// The JSON lines of dns.log and http.log, as `--logs` writes them.
final class TransactionLines: TransactionObserver {
    let dns: ZeekDNSLogWriter
    let http: ZeekHTTPLogWriter
    var dnsLines: [String] = []
    var httpLines: [String] = []
    init(format: FlowFormat) {
        dns = ZeekDNSLogWriter(format: format, logFormat: .json)
        http = ZeekHTTPLogWriter(format: format, logFormat: .json)
    }
    func dnsTransaction(_ t: DNSTransaction) {
        var s = ByteSink(capacity: 512)
        dns.write(t, into: &s)
        dnsLines.append(String(decoding: s.bytes.dropLast(), as: UTF8.self))
    }
    func httpTransaction(_ t: HTTPTransaction) {
        var s = ByteSink(capacity: 512)
        http.write(t, into: &s)
        httpLines.append(String(decoding: s.bytes.dropLast(), as: UTF8.self))
    }
}

/// Reads a capture through the pipeline of `sniff -r FILE --db URL` (flow table,
/// alert engine, store consumer, writer) and, beside it, the NDJSON writers.
func load(_ file: URL, into store: any PacketStore, sensor: String = "test", policy: PacketPolicy = .all,
          captureID: Int64? = nil, journal: String? = nil, format: FlowFormat = FlowFormat(),
          vendors: MACVendors? = nil) async throws -> LoadResult {
    var result = LoadResult()
    let reader: CaptureFileReader
    do { reader = try CaptureFileReader(path: file.path) } catch { return result }
    var config = StoreWriter.Configuration()
    let journalDirectory = journal ?? StoreTestEnv.tempDirectory("journal")
    config.journalDirectory = journalDirectory
    config.replayOldJournals = false
    let writer = StoreWriter(store: store, configuration: config)
    let id = captureID ?? Int64.random(in: 1...Int64.max)
    result.captureID = id
    let consumer = StoreConsumer(
        writer: writer,
        capture: CaptureInfo(
            id: id, sensor: sensor, source: "file \(file.lastPathComponent)",
            start: Timestamp.now().totalNanoseconds),
        policy: policy, format: format)
    consumer.packetBatchSize = 500
    consumer.vendors = vendors
    let flows = FlowCollector()
    let alerts = AlertCollector()
    let engine = AlertEngine(config: AlertConfig(), sink: AlertSinkList([alerts, consumer]), format: format)
    let table = FlowTable(config: FlowTableConfig())
    let summary = ProtocolSummaryCollector()
    table.observer = FlowObserverList([flows, engine, summary, consumer])
    let lines = TransactionLines(format: format)
    let observers = TransactionObserverList([lines, consumer])
    table.transactions = TransactionTracker(observer: observers)
    let pipeline = PacketPipeline()
    pipeline.consumers = [engine, table, summary, consumer]
    pipeline.dnsAnswers = format.hosts
    writer.start()
    consumer.start()
    var json = PacketJSONWriter()
    var sink = ByteSink(capacity: 1 << 12)
    while true {
        let raw: RawPacket?
        do { raw = try reader.next() } catch { break }
        guard let raw else { break }
        guard pipeline.process(raw) else { continue }
        sink.removeAll()
        json.write(pipeline.packet, frame: pipeline.frame, includeInterface: reader.format == .pcapng, into: &sink)
        result.packetLines.append(String(decoding: sink.bytes.dropLast(), as: UTF8.self))
    }
    table.flush()
    engine.finish()
    consumer.finish { c in
        let t = pipeline.totals
        c.packetsSeen = t.packetsSeen; c.packetsMatched = t.packetsMatched; c.bytesSeen = t.bytesSeen
        c.firstPacket = t.firstTimestamp?.totalNanoseconds; c.lastPacket = t.lastTimestamp?.totalNanoseconds
    }
    // A bound against a hang, not a speed check: in the full suite, tests that wait on
    // subprocesses can hold both cooperative threads for about 100 s, and the writer
    // waits with them.
    result.report = await writer.finishing(timeoutSeconds: 300)
    // A folder made here is removed when the store took everything; a caller's own
    // journal is the caller's to inspect.
    if journal == nil, result.report?.complete == true { try? FileManager.default.removeItem(atPath: journalDirectory) }
    let ndjson = FlowNDJSONWriter(format: format)
    for (f, reason) in zip(flows.flows, flows.reasons) {
        var s = ByteSink(capacity: 512)
        ndjson.write(f, reason: reason, into: &s)
        result.flowLines.append(String(decoding: s.bytes.dropLast(), as: UTF8.self))
    }
    let ssl = ZeekSSLLogWriter(format: format, logFormat: .json)
    for f in flows.flows {
        var s = ByteSink(capacity: 512)
        ssl.write(f, into: &s)
        if !s.bytes.isEmpty { result.sslLines.append(String(decoding: s.bytes.dropLast(), as: UTF8.self)) }
    }
    withExtendedLifetime(observers) {}
    result.dnsLines = lines.dnsLines
    result.httpLines = lines.httpLines
    result.alerts = alerts.alerts
    result.totals = pipeline.totals
    result.summary = summary.summary
    return result
}

/// Every packet of one capture, oldest first, through the paginated API.
func allPackets(_ store: any PacketStore, capture: Int64, pageSize: Int = 1000) async throws -> [StoredPacket] {
    var out: [StoredPacket] = []
    var f = TrafficFilter()
    f.capture = capture
    var cursor: String? = nil
    repeat {
        let page = try await store.packets(PacketQuery(filter: f, cursor: cursor, limit: pageSize))
        out += page.rows
        cursor = page.nextCursor
    } while cursor != nil
    return out.reversed()
}

func allFlows(_ store: any PacketStore, capture: Int64) async throws -> [StoredFlow] {
    var out: [StoredFlow] = []
    var f = TrafficFilter()
    f.capture = capture
    var cursor: String? = nil
    repeat {
        let page = try await store.flows(FlowQuery(filter: f, cursor: cursor, limit: 1000))
        out += page.rows
        cursor = page.nextCursor
    } while cursor != nil
    return out
}

/// A JSON object line as a dictionary (numbers as their exact text).
func jsonFields(_ line: String) -> [String: String] {
    guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return [:] }
    var out: [String: String] = [:]
    for (k, v) in obj {
        switch v {
        case let s as String: out[k] = s
        case let n as NSNumber: out[k] = rawJSONField(line, k) ?? n.stringValue
        default: out[k] = "\(v)"
        }
    }
    return out
}

/// The raw text of a top-level number in a JSON line, so that nanosecond times compare exactly.
func rawJSONField(_ line: String, _ key: String) -> String? {
    guard let r = line.range(of: "\"\(key)\":") else { return nil }
    var out = ""
    var i = r.upperBound
    guard i < line.endIndex, line[i] != "\"" else { return nil }
    while i < line.endIndex, line[i] != ",", line[i] != "}" {
        out.append(line[i]); i = line.index(after: i)
    }
    return out
}

/// Synthetic packet rows for load tests: `count` rows from `start`, one per microsecond.
func syntheticRows(count: Int, start: Int64, firstNumber: UInt64 = 1) -> [PacketRow] {
    (0..<count).map { i in
        var r = PacketRow()
        r.n = firstNumber + UInt64(i)
        r.ts = start + Int64(i) * 1000
        r.len = 60 + UInt32(i % 1400); r.caplen = r.len
        r.present = [.ip, .ports, .tcp, .payloadLen, .ethSrc, .ethDst]
        r.ethSrc = MACAddress(0x0200_0000_0001); r.ethDst = MACAddress(0x0200_0000_0002)
        r.ipVersion = 4; r.proto = 6; r.transport = .tcp
        r.src = IPAddress(v4: 0x0A00_0000 | UInt32(i % 250)); r.dst = IPAddress(v4: 0xC0A8_0101)
        r.sport = UInt16(1024 + i % 60000); r.dport = 443
        r.seq = UInt32(truncatingIfNeeded: i &* 7919); r.ack = 1; r.tcpFlags = 0x18; r.window = 512
        r.payloadLen = r.len - 54; r.app = .tls
        return r
    }
}
