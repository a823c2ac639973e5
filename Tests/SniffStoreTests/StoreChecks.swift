import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffAnalysis
@testable import SniffStore
import SniffServer
import SniffTestSupport

/// Checks shared by the SQLite and PostgreSQL suites.
enum StoreChecks {
    static func migrations(_ url: String) async throws {
        let store = StoreFactory.open(try StoreURL(url))
        defer { Task { await store.close() } }
        let before = try await store.info()
        #expect(before.schemaVersion == 0)
        let first = try await store.migrate()
        #expect(first.map(\.version) == Schema.migrations.map(\.version))
        let again = try await store.migrate()
        #expect(again.isEmpty, "a second migrate applies nothing")
        let info = try await store.info()
        #expect(info.schemaVersion == Schema.latestVersion)
        #expect(info.migrations.allSatisfy { $0.appliedAt != nil })
        #expect(Set(info.tables.map(\.name)).isSuperset(of: ["captures", "packets", "flows", "alerts", "traffic"]))
        // A second store (another process) migrating the same database changes nothing.
        let other = StoreFactory.open(try StoreURL(url))
        #expect(try await other.migrate().isEmpty)
        await other.close()
        // Writing still works after the repeated migrations.
        let batch = StoreBatch(id: BatchID(writer: 1, seq: 1), sensor: "m", captureID: 1,
                               content: .packets(syntheticRows(count: 10, start: Timestamp.now().totalNanoseconds)))
        #expect(try await store.write(batch))
        #expect(try await TestDatabase.count(url, "packets") == 10)
    }

    /// Several writers with different sensor names at once, each through its own store
    /// (its own connections), as separate sensor processes would.
    static func concurrentSensors(_ url: String, sensors: Int = 4, batches: Int = 12, rows: Int = 2000) async throws {
        let setup = StoreFactory.open(try StoreURL(url))
        try await setup.migrate()
        await setup.close()
        let now = Timestamp.now().totalNanoseconds
        try await withThrowingTaskGroup(of: StoreWriter.FinishReport.self) { group in
            for s in 0..<sensors {
                group.addTask {
                    let store = StoreFactory.open(try StoreURL(url))
                    var config = StoreWriter.Configuration()
                    config.journalDirectory = StoreTestEnv.tempDirectory("concurrent")
                    config.replayOldJournals = false
                    let writer = StoreWriter(store: store, configuration: config)
                    writer.start()
                    let capture = Int64(1000 + s)
                    var info = CaptureInfo(id: capture, sensor: "sensor-\(s)", source: "test", start: now)
                    writer.submit(
                        StoreBatch(
                            id: writer.makeBatchID(), sensor: info.sensor, captureID: capture, content: .capture(info)))
                    for b in 0..<batches {
                        let r = syntheticRows(
                            count: rows, start: now + Int64(b * rows) * 1000, firstNumber: UInt64(b * rows + 1))
                        writer.submit(
                            StoreBatch(
                                id: writer.makeBatchID(), sensor: info.sensor, captureID: capture,
                                content: .packets(r)))
                    }
                    info.end = Timestamp.now().totalNanoseconds
                    info.packetsStored = UInt64(batches * rows)
                    writer.submit(
                        StoreBatch(
                            id: writer.makeBatchID(), sensor: info.sensor, captureID: capture, content: .capture(info)))
                    let report = await writer.finishing(timeoutSeconds: 120)
                    await store.close()
                    return report
                }
            }
            for try await report in group {
                #expect(report.complete)
                #expect(report.stats.packetsStored == UInt64(batches * rows))
            }
        }
        for s in 0..<sensors {
            #expect(try await TestDatabase.count(url, "packets", where: "sensor = 'sensor-\(s)'") == batches * rows)
        }
        let store = StoreFactory.open(try StoreURL(url))
        let captures = try await store.captures(CaptureQuery())
        #expect(captures.count == sensors)
        #expect(captures.allSatisfy { $0.end != nil && $0.packetsStored == UInt64(batches * rows) })
        var f = TrafficFilter()
        f.sensor = "sensor-1"
        let page = try await store.packets(PacketQuery(filter: f, limit: 1000))
        #expect(page.rows.count == 1000 && page.rows.allSatisfy { $0.sensor == "sensor-1" })
        let stats = try await store.stats()
        #expect(stats.packets == Int64(sensors * batches * rows))
        await store.close()
    }

    /// Rows older than the cutoff go, newer ones stay.
    static func retention(_ url: String) async throws {
        let store = StoreFactory.open(try StoreURL(url))
        defer { Task { await store.close() } }
        try await store.migrate()
        let day: Int64 = 86_400_000_000_000
        let now = Timestamp.now().totalNanoseconds
        let old = syntheticRows(count: 300, start: now - 10 * day)
        let recent = syntheticRows(count: 200, start: now - day / 2, firstNumber: 1000)
        try await store.write(
            StoreBatch(id: BatchID(writer: 9, seq: 1), sensor: "r", captureID: 5, content: .packets(old)))
        try await store.write(
            StoreBatch(id: BatchID(writer: 9, seq: 2), sensor: "r", captureID: 5, content: .packets(recent)))
        var t1 = TrafficRow(ts: now - 10 * day, transport: .tcp, app: .tls, packets: 300, bytes: 1)
        let t2 = TrafficRow(ts: now - day / 2, transport: .tcp, app: .tls, packets: 200, bytes: 1)
        try await store.write(
            StoreBatch(id: BatchID(writer: 9, seq: 3), sensor: "r", captureID: 5, content: .traffic([t1, t2])))
        t1.packets = 0
        var oldFlow = FlowRow()
        oldFlow.ts = now - 9 * day; oldFlow.lastTs = oldFlow.ts; oldFlow.uid = "Cold"; oldFlow.proto = "tcp";
        oldFlow.connState = "SF"
        var newFlow = oldFlow
        newFlow.ts = now; newFlow.lastTs = now; newFlow.uid = "Cnew"
        try await store.write(
            StoreBatch(id: BatchID(writer: 9, seq: 4), sensor: "r", captureID: 5, content: .flows([oldFlow, newFlow])))
        #expect(try await TestDatabase.count(url, "packets") == 500)

        let report = try await store.maintain(now: now, retentionCutoff: now - 7 * day)
        #expect(try await TestDatabase.count(url, "packets") == 200)
        #expect(try await TestDatabase.count(url, "packets", where: "ts < \(now - 7 * day)") == 0)
        #expect(try await TestDatabase.count(url, "flows") == 1)
        #expect(try await TestDatabase.count(url, "traffic") == 1)
        if url.hasPrefix("postgres") {
            // The old day's partitions were dropped, not emptied row by row.
            #expect(report.partitionsDropped.contains { $0.hasPrefix("packets_p") })
            #expect(report.partitionsDropped.contains { $0.hasPrefix("flows_p") })
            let names = try await TestDatabase.query(
                url, "SELECT relname::text FROM pg_class WHERE relname LIKE 'packets_p%'"
            ).compactMap { $0.first ?? nil }
            let oldName = PostgresStore.partitionName("packets", day: (now - 10 * day) / day)
            #expect(!names.contains(oldName))
            #expect(names.contains(PostgresStore.partitionName("packets", day: now / day)))
        } else {
            #expect(report.rowsDeleted >= 300)
        }
        // Retention again finds nothing more to do.
        _ = try await store.maintain(now: now, retentionCutoff: now - 7 * day)
        #expect(try await TestDatabase.count(url, "packets") == 200)
    }

    static let hostileStrings = [
        "x'); DROP TABLE packets; --",
        "\"; DELETE FROM captures; --",
        "' OR '1'='1",
        "tab\there\nnewline\\backslash\\N",
        "\\.",
        "percent%_underscore",
        "%",
        "é漢字🙂",
        "$1",
        "?1",
        "Robert'); DROP TABLE sniff_batches;--",
    ]

    /// Hostile text in sensor names, captured strings and filter values is stored and
    /// matched as text, and never runs.
    static func injection(_ url: String) async throws {
        let store = StoreFactory.open(try StoreURL(url))
        defer { Task { await store.close() } }
        try await store.migrate()
        let now = Timestamp.now().totalNanoseconds
        for (k, sensor) in hostileStrings.enumerated() {
            var rows = syntheticRows(count: 3, start: now + Int64(k) * 10_000)
            for i in rows.indices {
                rows[i].dnsQuery = sensor
                rows[i].present.insert(.dnsQuery)
                rows[i].flowUID = sensor
                rows[i].present.insert(.flowUID)
            }
            let capture = Int64(100 + k)
            var info = CaptureInfo(id: capture, sensor: sensor, source: sensor, start: now)
            info.filters = sensor
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 7, seq: Int64(2 * k + 1)), sensor: sensor, captureID: capture,
                    content: .capture(info)))
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 7, seq: Int64(2 * k + 2)), sensor: sensor, captureID: capture,
                    content: .packets(rows)))
            var alert = AlertRow()
            alert.id = sensor; alert.ts = now; alert.severity = "high"; alert.rule = sensor; alert.kind = sensor;
            alert.message = sensor
            try await store.write(
                StoreBatch(
                    id: BatchID(writer: 8, seq: Int64(k + 1)), sensor: sensor, captureID: capture,
                    content: .alerts([alert])))
        }
        #expect(try await TestDatabase.count(url, "packets") == 3 * hostileStrings.count)
        for (k, sensor) in hostileStrings.enumerated() {
            // The sensor filter matches exactly that sensor's rows.
            var f = TrafficFilter()
            f.sensor = sensor
            let page = try await store.packets(PacketQuery(filter: f))
            #expect(page.rows.count == 3, "sensor \(sensor)")
            #expect(
                page.rows.allSatisfy {
                    $0.sensor == sensor && $0.row.dnsQuery == sensor && $0.captureID == Int64(100 + k)
                })
            // Text search treats LIKE wildcards as text.
            var q = TrafficFilter()
            q.text = sensor
            let found = try await store.packets(PacketQuery(filter: q, limit: 1000))
            #expect(
                found.rows.allSatisfy { $0.row.dnsQuery?.lowercased().contains(sensor.lowercased()) == true },
                "q=\(sensor)")
            #expect(found.rows.contains { $0.sensor == sensor })
            let alerts = try await store.alerts(AlertQuery(rule: sensor))
            #expect(alerts.rows.count == 1 && alerts.rows.first?.row.message == sensor)
            let flows = try await store.flows(FlowQuery(filter: f))
            #expect(flows.rows.isEmpty)
        }
        let caps = try await store.captures(CaptureQuery(limit: 1000))
        #expect(Set(caps.map(\.sensor)) == Set(hostileStrings))
        #expect(Set(caps.map(\.filters)) == Set(hostileStrings))
        // Parameters from the API: hostile values are rejected or bound, never run.
        for bad in hostileStrings {
            for name in ["ip", "src", "dst", "port", "sport", "dport", "transport", "app", "from", "to", "capture"] {
                #expect(throws: APIError.self, "\(name)=\(bad)") { try PacketQuery(parameters: [name: bad]) }
            }
            #expect(throws: APIError.self) { try FlowQuery(parameters: ["conn_state": bad]) }
            #expect(throws: APIError.self) { try FlowQuery(parameters: ["sort": bad]) }
            #expect(throws: APIError.self) { try TimeSeriesQuery(parameters: ["step": bad]) }
            await #expect(throws: StoreError.self) { try await store.packets(PacketQuery(cursor: bad)) }
            let q = try PacketQuery(parameters: ["sensor": bad, "q": bad])
            _ = try await store.packets(q)
            _ = try await store.flows(try FlowQuery(parameters: ["sensor": bad, "q": bad]))
            _ = try await store.alerts(try AlertQuery(parameters: ["sensor": bad, "rule": bad]))
        }
        // Every table is still there and whole.
        #expect(try await TestDatabase.count(url, "packets") == 3 * hostileStrings.count)
        #expect(try await TestDatabase.count(url, "captures") == hostileStrings.count)
        #expect(try await TestDatabase.count(url, "sniff_batches") == 3 * hostileStrings.count)
        #expect(try await store.info().schemaVersion == Schema.latestVersion)
    }

    /// The read API over a loaded capture, checked against counts from the NDJSON.
    static func queries(_ url: String) async throws {
        let store = StoreFactory.open(try StoreURL(url))
        defer { Task { await store.close() } }
        let file = TestPaths.packageRoot.appendingPathComponent("Tests/Fixtures/app.pcap")
        let loaded = try await load(file, into: store)
        let lines = loaded.packetLines.map(jsonFields)
        #expect(!lines.isEmpty)

        func count(_ params: [String: String]) async throws -> Int {
            var q = try PacketQuery(parameters: params)
            q.limit = 7
            var n = 0
            var seen = Set<String>()
            var cursor: String? = nil
            repeat {
                q.cursor = cursor
                let page = try await store.packets(q)
                for r in page.rows { seen.insert(r.row.n.description) }
                n += page.rows.count
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen.count == n, "pages never repeat a row (\(params))")
            return n
        }
        let someSrc = lines.first { $0["src"] != nil }!["src"]!
        #expect(try await count(["ip": someSrc]) == lines.filter { $0["src"] == someSrc || $0["dst"] == someSrc }.count)
        #expect(try await count(["src": someSrc]) == lines.filter { $0["src"] == someSrc }.count)
        let net = someSrc.contains(":") ? someSrc + "/64" : someSrc + "/24"
        let network = IPNetwork(net)!
        #expect(try await count(["ip": net]) == lines.filter {
            [$0["src"], $0["dst"]].contains { $0.flatMap(IPAddress.init).map(network.contains) == true }
        }.count)
        #expect(try await count(["transport": "tcp"]) == lines.filter { $0["transport"] == "TCP" }.count)
        #expect(try await count(["transport": "udp"]) == lines.filter { $0["transport"] == "UDP" }.count)
        let somePort = lines.first { $0["dport"] != nil }!["dport"]!
        #expect(
            try await count(["port": somePort])
                == lines.filter { $0["sport"] == somePort || $0["dport"] == somePort }.count)
        #expect(try await count(["dport": somePort]) == lines.filter { $0["dport"] == somePort }.count)
        let someApp = lines.first { $0["app"] != nil }!["app"]!
        #expect(try await count(["app": someApp]) == lines.filter { $0["app"] == someApp }.count)
        let times = lines.compactMap { $0["ts"] }.sorted { Decimal(string: $0)! < Decimal(string: $1)! }
        let mid = times[times.count / 2]
        #expect(try await count(["from": mid]) == times.filter { Decimal(string: $0)! >= Decimal(string: mid)! }.count)
        #expect(try await count(["to": mid]) == times.filter { Decimal(string: $0)! < Decimal(string: mid)! }.count)
        #expect(try await count(["capture": String(loaded.captureID)]) == lines.count)
        #expect(try await count(["capture": "1"]) == 0)
        if let dns = lines.first(where: { $0["dns_query"] != nil })?["dns_query"] {
            let part = String(dns.prefix(4)).uppercased()
            #expect(
                try await count(["q": part])
                    >= lines.filter { $0["dns_query"]?.lowercased().contains(part.lowercased()) == true }.count)
        }
        // Newest first.
        let first = try await store.packets(PacketQuery(limit: 1000))
        #expect(first.rows.map(\.row.ts) == first.rows.map(\.row.ts).sorted(by: >))

        // Protocol summary and time series add up to every packet.
        let summary = try await store.protocolSummary(RangeQuery())
        #expect(summary.transports.reduce(0) { $0 + $1.packets } == UInt64(lines.count))
        #expect(summary.apps.reduce(0) { $0 + $1.packets } == UInt64(lines.count))
        #expect(summary.transports.reduce(0) { $0 + $1.flows } == UInt64(loaded.flowLines.count))
        let tcpPackets = UInt64(lines.filter { $0["transport"] == "TCP" }.count)
        #expect(summary.transports.first { $0.name == "TCP" }?.packets == tcpPackets)
        for step in TimeStep.allCases {
            for by in SeriesKey.allCases {
                let series = try await store.timeSeries(TimeSeriesQuery(step: step, by: by))
                #expect(series.reduce(0) { $0 + $1.packets } == UInt64(lines.count), "\(step) \(by)")
                #expect(series.allSatisfy { $0.ts % step.nanoseconds == 0 })
            }
        }
        // Flows: sorted, filtered, paginated.
        let byBytes = try await store.flows(FlowQuery(sort: .bytes, limit: 1000))
        #expect(byBytes.rows.count == loaded.flowLines.count)
        #expect(byBytes.rows.map(\.row.totalBytes) == byBytes.rows.map(\.row.totalBytes).sorted(by: >))
        let byPackets = try await store.flows(FlowQuery(sort: .packets, limit: 3))
        #expect(byPackets.rows.map(\.row.totalPackets) == byPackets.rows.map(\.row.totalPackets).sorted(by: >))
        var pageCount = 0, cursor: String? = nil
        repeat {
            let p = try await store.flows(FlowQuery(sort: .bytes, cursor: cursor, limit: 2))
            pageCount += p.rows.count
            cursor = p.nextCursor
        } while cursor != nil
        #expect(pageCount == loaded.flowLines.count)
        let flowFields = loaded.flowLines.map(jsonFields)
        let sf = try await store.flows(try FlowQuery(parameters: ["conn_state": "sf", "limit": "1000"]))
        #expect(sf.rows.count == flowFields.filter { $0["conn_state"] == "SF" }.count)
        let big = try await store.flows(try FlowQuery(parameters: ["min_bytes": "1000", "limit": "1000"]))
        #expect(big.rows.count == flowFields.filter {
            (Int($0["orig_l2_bytes"] ?? "0")! + Int($0["resp_l2_bytes"] ?? "0")!) >= 1000
        }.count)
        // Talkers: the top host has the most bytes.
        let talkers = try await store.talkers(TalkersQuery(limit: 5))
        #expect(!talkers.pairs.isEmpty && !talkers.hosts.isEmpty)
        #expect(talkers.hosts.map(\.bytes) == talkers.hosts.map(\.bytes).sorted(by: >))
        let captures = try await store.captures(CaptureQuery())
        #expect(captures.first?.packetsSeen == loaded.totals.packetsSeen)
        #expect(captures.first?.end != nil)
        let stats = try await store.stats()
        #expect(stats.packets == Int64(lines.count))
        #expect(stats.flows == Int64(loaded.flowLines.count))
        #expect(stats.lagNanos != nil && stats.lastWrite != nil)
    }

    /// A database that cannot be reached: capture goes on, batches spill to the
    /// journal, and a later replay stores each batch exactly once.
    /// A started writer whose database refuses every connection (a closed port), so that
    /// batches past `memoryLimitRows` go to the journal in `journal`.
    static func unreachableWriter(journal: String, memoryLimitRows: Int) throws
        -> (StoreWriter, PostgresStore, StoreWriter.Configuration) {
        let dead = PostgresStore(
            target: try PostgresTarget(url: "postgres://nobody@127.0.0.1:1/none", environment: [:]))
        var config = StoreWriter.Configuration()
        config.journalDirectory = journal
        config.memoryLimitRows = memoryLimitRows
        config.retryMaxSeconds = 0.2
        config.replayOldJournals = false
        let writer = StoreWriter(store: dead, configuration: config)
        writer.start()
        return (writer, dead, config)
    }

    /// A started writer for the tests that take the server away mid-load: quick
    /// retries, `memoryLimitRows` in memory, the rest in a new journal directory.
    static func outageWriter(_ store: any PacketStore, journal name: String, memoryLimitRows: Int) -> StoreWriter {
        var config = StoreWriter.Configuration()
        config.journalDirectory = StoreTestEnv.tempDirectory(name)
        config.replayOldJournals = false
        config.memoryLimitRows = memoryLimitRows
        config.retryInitialSeconds = 0.05
        config.retryMaxSeconds = 0.5
        let writer = StoreWriter(store: store, configuration: config)
        writer.start()
        return writer
    }

    static func journalAndReplay(_ goodURL: String) async throws {
        let journalDir = StoreTestEnv.tempDirectory("spill")
        defer { try? FileManager.default.removeItem(atPath: journalDir) }
        let (writer, dead, config) = try unreachableWriter(journal: journalDir, memoryLimitRows: 1500)
        let now = Timestamp.now().totalNanoseconds
        for b in 0..<10 {
            writer.submit(
                StoreBatch(
                    id: writer.makeBatchID(), sensor: "spill", captureID: 77,
                    content: .packets(
                        syntheticRows(count: 500, start: now + Int64(b) * 500_000, firstNumber: UInt64(b * 500 + 1)))))
        }
        let stats = writer.currentStats
        #expect(stats.packetsPending == 5000)
        #expect(stats.memoryRows <= 1500, "memory stays within its bound")
        #expect(stats.journalBatches >= 7, "the rest went to the journal")
        let report = await writer.finishing(timeoutSeconds: 0.5)
        await dead.close()
        #expect(!report.complete)
        #expect(report.stats.packetsPending == 5000)
        #expect(report.stats.packetsStored == 0)
        #expect(report.journalPaths.count == 1)
        let path = try #require(report.journalPaths.first)
        #expect(FileManager.default.fileExists(atPath: path))

        let store = StoreFactory.open(try StoreURL(goodURL))
        defer { Task { await store.close() } }
        try await store.migrate()
        // Keep a copy: replaying it a second time must store nothing new.
        let copy = path + ".copy"
        try FileManager.default.copyItem(atPath: path, toPath: copy)
        let r = try await JournalReplay.replay(path: path, into: store)
        #expect(r.batches == 10 && r.duplicates == 0 && r.packets == 5000)
        #expect(!FileManager.default.fileExists(atPath: path), "a replayed journal is removed")
        #expect(try await TestDatabase.count(goodURL, "packets") == 5000)
        try FileManager.default.moveItem(atPath: copy, toPath: path)
        let again = try await JournalReplay.replay(path: path, into: store)
        #expect(again.batches == 10 && again.duplicates == 10)
        #expect(try await TestDatabase.count(goodURL, "packets") == 5000)

        // A writer started later picks up journals left in its directory by itself.
        let leftover = StoreWriter(store: dead, configuration: config)
        leftover.start()
        leftover.submit(StoreBatch(id: leftover.makeBatchID(), sensor: "spill", captureID: 78,
                                   content: .packets(syntheticRows(count: 2000, start: now))))
        _ = await leftover.finishing(timeoutSeconds: 0.3)
        var c2 = config
        c2.replayOldJournals = true
        let next = StoreWriter(store: store, configuration: c2)
        next.start()
        let done = await next.finishing(timeoutSeconds: 30)
        #expect(done.complete)
        #expect(try await TestDatabase.count(goodURL, "packets", where: "capture_id = 78") == 2000)
        #expect(Journal.files(in: journalDir).isEmpty)
    }
}
