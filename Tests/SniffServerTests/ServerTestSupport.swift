import Foundation
import Testing
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
import SniffStore
@testable import SniffServer
import SniffTestSupport

enum ServerTestEnv {
    static let env = ProcessInfo.processInfo.environment

    /// The database the API suites load (SharedDatabase), when not a SQLite file.
    static var apiDatabaseURL: String? { env["SNIFF_TEST_API_PG_URL"] ?? env["SNIFF_TEST_API_CH_URL"] }

    /// The fixtures, then the shared captures (when present) by name while they fit a
    /// budget, so that the database has variety without a slow test.
    static var captures: [URL] {
        var out = TestPaths.captureFiles(in: TestPaths.fixtures)
        if let s = TestPaths.sharedPcaps {
            var budget = 4_000_000
            for u in TestPaths.captureFiles(in: s) {
                let size = (try? FileManager.default.attributesOfItem(atPath: u.path)[.size] as? Int) ?? 0
                if size <= budget { out.append(u); budget -= size }
            }
        }
        return out
    }

    static func tempDirectory(_ name: String) -> String {
        let d = NSTemporaryDirectory() + "sniff-server-tests-\(name)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}

/// A database loaded from captures, with the packets' NDJSON lines kept for counting
/// independently of the store.
struct LoadedDatabase: Sendable {
    let url: String
    let store: any PacketStore
    /// One dictionary per packet from PacketJSONWriter (values as JSON-decoded).
    let packets: [[String: String]]
    /// The capture id of each file, in order.
    var captureIDs: [Int64] = []
}

/// Loads captures through the same pipeline as `sniff -r FILE --db`.
/// `storeFrames` keeps the packets' bytes (`--store-raw`).
/// `hosts`: names from passive DNS (and GeoIP when it has databases) for the flows.
/// `url`: another database than the SQLite file at `path`.
/// DNS and HTTP transactions are followed (the protocol logs), as when `sniff` stores.
func loadDatabase(
    _ files: [URL], path: String, url: String? = nil, hub: LiveHub? = nil, storeFrames: Bool = false,
    hosts: HostEnrichment? = nil, vendors: MACVendors? = nil, fixedCaptureIDs: [Int64]? = nil
) async throws -> LoadedDatabase {
    let url = url ?? "sqlite:" + path
    let store = StoreFactory.open(try StoreURL(url))
    try await store.migrate()
    var lines: [[String: String]] = []
    var captureIDs: [Int64] = []
    for file in files {
        guard let reader = try? CaptureFileReader(path: file.path) else { continue }
        var config = StoreWriter.Configuration()
        let journal = ServerTestEnv.tempDirectory("journal")
        config.journalDirectory = journal
        config.replayOldJournals = false
        let writer = StoreWriter(store: store, configuration: config)
        let format = FlowFormat(hosts: hosts)
        // Fixed ids load the same captures into two databases as the same rows.
        let captureID = fixedCaptureIDs.map { $0[captureIDs.count] } ?? Int64.random(in: 1...Int64.max)
        captureIDs.append(captureID)
        let consumer = StoreConsumer(
            writer: writer,
            capture: CaptureInfo(
                id: captureID, sensor: "test",
                source: "file \(file.lastPathComponent)", start: Timestamp.now().totalNanoseconds),
            policy: .all, format: format, storeFrames: storeFrames)
        consumer.vendors = vendors
        let sinks: [AlertSink] = [consumer] + (hub.map { [$0] } ?? [])
        let engine = AlertEngine(config: AlertConfig(), sink: AlertSinkList(sinks), format: format)
        let table = FlowTable(config: FlowTableConfig())
        table.observer = FlowObserverList([engine, consumer])
        table.transactions = TransactionTracker(observer: consumer)
        let pipeline = PacketPipeline()
        pipeline.consumers = [engine, table, consumer] + (hub.map { [$0 as PacketConsumer] } ?? [])
        pipeline.dnsAnswers = hosts
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
            lines.append(jsonFields(sink.bytes))
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
        // The journal folder is kept only when it holds what the store did not take,
        // for whoever reads the failure; otherwise each load would leave one behind.
        if await writer.finishing(timeoutSeconds: 300).complete { try? FileManager.default.removeItem(atPath: journal) }
    }
    return LoadedDatabase(url: url, store: store, packets: lines, captureIDs: captureIDs)
}

func jsonFields(_ bytes: [UInt8]) -> [String: String] {
    var b = bytes
    while b.last == 0x0A { b.removeLast() }
    guard let o = try? JSONSerialization.jsonObject(with: Data(b)) as? [String: Any] else { return [:] }
    var out: [String: String] = [:]
    for (k, v) in o {
        switch v {
        case let s as String: out[k] = s
        case let n as NSNumber: out[k] = n.stringValue
        default: out[k] = String(describing: v)
        }
    }
    return out
}

func jsonObject(_ buffer: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any]) ?? [:]
}

/// One database shared by the API tests (loading takes a few seconds): a SQLite file,
/// or the empty PostgreSQL database SNIFF_TEST_API_PG_URL names, or the empty ClickHouse
/// database SNIFF_TEST_API_CH_URL names, so that the same API suites run unchanged
/// against each backend (scripts/test.sh runs them on SQLite and PostgreSQL; on
/// ClickHouse by hand for now: docs/SCALING.md §8 says why).
actor SharedDatabase {
    static let shared = SharedDatabase()
    /// One load for every suite: callers that arrive while it runs wait for it (an
    /// actor's check-then-await would start a load per caller, into the same PostgreSQL
    /// database).
    private var loading: Task<LoadedDatabase, Error>? = nil

    func get() async throws -> LoadedDatabase {
        if let loading { return try await loading.value }
        let task = Task {
            let dir = ServerTestEnv.tempDirectory("db")
            return try await loadDatabase(
                ServerTestEnv.captures, path: dir + "/api.db", url: ServerTestEnv.apiDatabaseURL)
        }
        loading = task
        return try await task.value
    }
}

func makeApp(
    _ store: any PacketStore, configure: (inout ServerConfiguration) -> Void = { _ in }, live: LiveOutbox? = nil,
    control: CaptureControl? = nil
) -> (SniffServerApp, some ApplicationProtocol) {
    var c = ServerConfiguration()
    c.port = 0
    c.dashboardDirectory = TestPaths.packageRoot.appendingPathComponent("Sources/SniffServer/Dashboard").path
    configure(&c)
    let server = SniffServerApp(store: store, configuration: c, live: live, control: control)
    return (server, server.makeApplication())
}

extension TestingSetup: @retroactive CustomTestStringConvertible {
    public var testDescription: String { String(describing: self).contains("live") ? "live" : "router" }
}

let bothSetups: [TestingSetup] = [.router, .live]
