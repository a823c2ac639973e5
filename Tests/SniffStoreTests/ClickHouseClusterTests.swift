import Foundation
import Testing
import SniffCore
@testable import SniffStore
import SniffTestSupport

/// The two-shard cluster `scripts/test.sh` starts (scripts/ch-temp.sh,
/// `ch_temp_cluster_start`): two servers whose remote_servers name both as the shards
/// of SNIFF_TEST_CH_CLUSTER. Each test migrates a new database on both as a cluster
/// (`<table>_local` tables, Distributed tables in front) and drops it afterwards.
enum ClickHouseClusterEnv {
    static var cluster: String? { StoreTestEnv.env["SNIFF_TEST_CH_CLUSTER"] }
    static var has: Bool { cluster != nil && StoreTestEnv.env["SNIFF_TEST_CH_SHARD2_URL"] != nil }

    /// `through`: the schema version the database is migrated to first.
    static func withCluster<T>(
        _ name: String, through: Int = Schema.latestVersion, _ body: ([ClickHouseStore]) async throws -> T
    ) async throws -> T {
        let cluster = try #require(cluster)
        let db = "sniff_\(name)_\(UInt32.random(in: 0...UInt32.max))"
        var stores: [ClickHouseStore] = []
        for key in ["SNIFF_TEST_CH_SHARD1_URL", "SNIFF_TEST_CH_SHARD2_URL"] {
            let base = try #require(StoreTestEnv.env[key])
            let slash = try #require(base.lastIndex(of: "/"))
            guard case .clickhouse(let target) = try StoreURL(String(base[..<slash]) + "/" + db) else {
                throw StoreError.badURL(base)
            }
            stores.append(ClickHouseStore(target: target))
        }
        func cleanup() async {
            for s in stores {
                _ = try? await s.http.run("DROP DATABASE IF EXISTS \(db)", database: "default", what: "test cleanup")
                await s.close()
            }
        }
        do {
            for s in stores { try await s.migrate(inCluster: cluster, through: through) }
            let r = try await body(stores)
            await cleanup()
            return r
        } catch {
            await cleanup()
            throw error
        }
    }

    static func rows(_ count: Int, from b: Int, flows: Bool) -> [PacketRow] {
        var rows = syntheticRows(count: count, start: Timestamp.now().totalNanoseconds + Int64(b * count) * 1000,
                                 firstNumber: UInt64(b * count + 1))
        if flows { for i in rows.indices where i % 3 != 0 { rows[i].flowUID = "C\(b % 7)f\(i % 40)" } }
        return rows
    }

    static func waitUntil(_ seconds: Double, _ done: () -> Bool) async throws {
        var waited = 0.0
        while !done() && waited < seconds {
            try await Task.sleep(nanoseconds: 50_000_000)
            waited += 0.05
        }
    }
}

@Suite(
    "ClickHouse cluster", .serialized,
    .enabled(
        if: ClickHouseClusterEnv.has,
        "set SNIFF_TEST_CH_CLUSTER and its shards' URLs (scripts/test.sh starts a two-shard cluster)"))
struct ClickHouseClusterTests {
    @Test("migrate --cluster: local tables on each server, Distributed tables in front, again changes nothing")
    func migrate() async throws {
        try await ClickHouseClusterEnv.withCluster("cmigrate") { stores in
            for s in stores {
                let engines = try await s.http.rows("SELECT name, engine FROM system.tables WHERE database = \(ClickHouseSchema.literal(s.target.database))",
                                                    what: "test")
                let byName = Dictionary(
                    engines.compactMap { r in r.count == 2 ? (r[0] ?? "", r[1] ?? "") : nil }) { a, _ in a }
                #expect(byName["packets"] == "Distributed")
                #expect(byName["packets_local"] == "ReplacingMergeTree")
                #expect(byName["sniff_batches"] == "Distributed")
                #expect(byName["flows_local"] == "ReplacingMergeTree")
                #expect(try await s.migrate(cluster: ClickHouseClusterEnv.cluster!).isEmpty)
                // A plain migrate on a cluster's server has nothing to do, and says nothing.
                #expect(try await s.migrate().isEmpty)
            }
        }
    }

    @Test("flows of schema version 17 on a cluster: each shard's table gains the new key, the Distributed table the columns, every row kept; run again after a stop between the two")
    func flowKeyMigration() async throws {
        let cluster = try #require(ClickHouseClusterEnv.cluster)
        let version = Schema.flowRecordKeyVersion
        try await ClickHouseClusterEnv.withCluster("cflowkey", through: version - 1) { stores in
            let start = Timestamp.now().totalNanoseconds
            let flows = (1...40).filter { $0 != 9 }.map { WriterPathTests.flow($0, start: start) }
            try await ClickHouseTestEnv.insertFlowsOfVersion17(stores[0], flows)
            // The first server's migration stopped after its shard's table was altered:
            // run again, it alters only the Distributed table.
            let step = try #require(Schema.versions.first { $0.version == version }?.clickhouse.first)
            let statements = ClickHouseCluster.statements(
                step.sql, cluster: cluster, database: stores[0].target.database)
            #expect(
                statements.count == 2 && statements[0].contains("flows_local")
                    && statements[0].contains("MODIFY ORDER BY")
                    && !statements[1].contains("ORDER BY"))
            try await stores[0].http.run(statements[0], what: "test")
            for s in stores {
                #expect(try await s.migrate(cluster: cluster).map(\.version) == Array(version...Schema.latestVersion))
            }
            for s in stores {
                #expect(try await ClickHouseTestEnv.sortingKey(s, "flows_local") == ClickHouseSchema.flowKey)
                #expect(
                    try await ClickHouseTestEnv.count(s, "SELECT count() FROM flows_local") > 0, "rows on both shards")
                #expect(try await s.migrate(cluster: cluster).isEmpty)
            }
            #expect(try await ClickHouseTestEnv.count(stores[1], "SELECT count() FROM flows FINAL") == flows.count)
            // A record of an old flow with the same uid and start, through the other server: kept beside it.
            var again = flows[0]
            again.lastTs += 1
            #expect(
                try await stores[1].write(
                    StoreBatch(id: BatchID(writer: 4, seq: 1), sensor: "m", captureID: 1, content: .flows([again]))))
            #expect(try await ClickHouseTestEnv.count(stores[0], "SELECT count() FROM flows FINAL") == flows.count + 1)
        }
    }

    @Test("two sensors at once through the Distributed tables: rows on both shards, each stored once, totals the sums")
    func twoSensors() async throws {
        try await ClickHouseClusterEnv.withCluster("csensors") { stores in
            let batches = 30, rows = 2000
            let writers = stores.enumerated().map { i, s in
                StoreChecks.outageWriter(s, journal: "chcluster\(i)", memoryLimitRows: 1_000_000)
            }
            await withTaskGroup(of: Void.self) { group in
                for (i, w) in writers.enumerated() {
                    group.addTask {
                        for b in 0..<batches {
                            w.submit(
                                StoreBatch(
                                    id: w.makeBatchID(), sensor: "s\(i)", captureID: Int64(i + 1),
                                    content: .packets(ClickHouseClusterEnv.rows(rows, from: b, flows: true))))
                        }
                    }
                }
            }
            for w in writers {
                let report = await w.finishing(timeoutSeconds: 120)
                #expect(report.complete)
                #expect(report.stats.packetsStored == UInt64(batches * rows))
            }
            let total = 2 * batches * rows
            let s = stores[0]
            #expect(try await ClickHouseTestEnv.count(s, "SELECT count() FROM packets") == total)
            #expect(
                try await ClickHouseTestEnv.count(s, "SELECT uniqExact(sensor, capture_id, n) FROM packets") == total)
            #expect(
                try await ClickHouseTestEnv.count(stores[1], "SELECT count() FROM packets WHERE sensor = 's1'")
                    == batches * rows)
            #expect(
                try await ClickHouseTestEnv.count(stores[1], "SELECT count() FROM sniff_batches FINAL") == 2 * batches)
            var locals: [Int] = []
            var flowSets: [Set<String>] = []
            for shard in stores {
                locals.append(try await ClickHouseTestEnv.count(shard, "SELECT count() FROM packets_local"))
                flowSets.append(
                    Set(
                        try await shard.http.rows(
                            "SELECT DISTINCT concat(sensor, '/', flow_uid) FROM packets_local WHERE flow_uid != ''",
                            what: "test")
                        .compactMap { $0.first ?? nil }))
            }
            #expect(locals.allSatisfy { $0 > total / 4 }, "both shards hold a share: \(locals)")
            #expect(locals.reduce(0, +) == total)
            #expect(flowSets[0].isDisjoint(with: flowSets[1]), "a flow's packets are on one shard")
            #expect(!flowSets[0].isEmpty && !flowSets[1].isEmpty)
        }
    }

    @Test("""
        two sensors at once, each into its own server's shard: each shard holds its sensor's rows alone, \
        the Distributed totals are the sums, a batch written again folds
        """)
    func localShards() async throws {
        try await ClickHouseClusterEnv.withCluster("clocal") { stores in
            let locals = stores.map { ClickHouseStore(target: $0.target, localShard: true) }
            defer { Task { for s in locals { await s.close() } } }
            let batches = 20, rows = 1500, flows = 40
            let writers = locals.enumerated().map { i, s in
                StoreChecks.outageWriter(s, journal: "chlocal\(i)", memoryLimitRows: 1_000_000)
            }
            let start = Timestamp.now().totalNanoseconds
            await withTaskGroup(of: Void.self) { group in
                for (i, w) in writers.enumerated() {
                    group.addTask {
                        for b in 0..<batches {
                            let packets = ClickHouseClusterEnv.rows(rows, from: b, flows: true)
                            w.submit(StoreBatch(id: w.makeBatchID(), sensor: "s\(i)", captureID: Int64(i + 1),
                                                content: .packets(packets)))
                        }
                        let records = (1...flows).map { WriterPathTests.flow($0, start: start) }
                        w.submit(StoreBatch(id: w.makeBatchID(), sensor: "s\(i)", captureID: Int64(i + 1),
                                            content: .flows(records)))
                        w.submit(StoreBatch(id: w.makeBatchID(), sensor: "s\(i)", captureID: Int64(i + 1),
                                            content: .logs(LogStoreTests.sampleRows())))
                    }
                }
            }
            for w in writers {
                let report = await w.finishing(timeoutSeconds: 120)
                #expect(report.complete)
                #expect(report.stats.packetsStored == UInt64(batches * rows))
            }
            let logs = LogStoreTests.sampleRows().filter { $0.kind == .dns }.count
            #expect(logs > 0)
            for (i, shard) in stores.enumerated() {
                for (table, n) in [("packets", batches * rows), ("flows", flows), ("dns", logs),
                                   ("sniff_batches", batches + 2)] {
                    let local = ClickHouseSchema.localTable(table)
                    #expect(
                        try await ClickHouseTestEnv.count(shard, "SELECT count() FROM \(local)") == n, "\(local) \(i)")
                    #expect(
                        try await ClickHouseTestEnv.count(
                            shard, "SELECT count() FROM \(local) WHERE sensor != 's\(i)'") == 0, "\(local) \(i)")
                }
            }
            // Through either server's Distributed tables: every row once, the sums.
            for s in stores {
                #expect(try await ClickHouseTestEnv.count(s, "SELECT count() FROM packets") == 2 * batches * rows)
                #expect(
                    try await ClickHouseTestEnv.count(s, "SELECT uniqExact(sensor, capture_id, n) FROM packets")
                        == 2 * batches * rows)
                #expect(try await ClickHouseTestEnv.count(s, "SELECT count() FROM flows FINAL") == 2 * flows)
                #expect(try await ClickHouseTestEnv.count(s, "SELECT count() FROM dns FINAL") == 2 * logs)
                let ids = try await ClickHouseTestEnv.count(s, "SELECT count() FROM sniff_batches FINAL")
                #expect(ids == 2 * (batches + 2))
            }
            // A batch stored, then again: its id is known, nothing is written.
            let again = StoreBatch(id: BatchID(writer: 77, seq: 1), sensor: "s0", captureID: 1,
                                   content: .packets(ClickHouseClusterEnv.rows(rows, from: batches, flows: true)))
            #expect(try await locals[0].write(again))
            #expect(try await locals[0].write(again) == false)
            // Its id lost (a connection broken between rows and id): the rows written again
            // reach the same shard, where they fold.
            try await ClickHouseTestEnv.forgetBatches(stores[0], where: "writer_id = 77", table: "sniff_batches_local")
            #expect(try await locals[0].write(again))
            let one = (batches + 1) * rows
            #expect(try await ClickHouseTestEnv.count(stores[0], "SELECT count() FROM packets_local") == one + rows)
            let folded = try await ClickHouseTestEnv.count(stores[1], "SELECT count() FROM packets FINAL")
            #expect(folded == one + batches * rows)
            try await stores[0].http.run("OPTIMIZE TABLE packets_local FINAL", what: "test")
            #expect(try await ClickHouseTestEnv.count(stores[0], "SELECT count() FROM packets_local") == one)
            #expect(try await ClickHouseTestEnv.count(stores[1], "SELECT count() FROM packets_local") == batches * rows)
        }
    }

    @Test("into a server without shard tables: refused before anything is made there, with the fix")
    func localShardNeedsCluster() async throws {
        let base = try #require(StoreTestEnv.env["SNIFF_TEST_CH_SHARD1_URL"])
        let db = "sniff_clocalno_\(UInt32.random(in: 0...UInt32.max))"
        guard case .clickhouse(let target) = try StoreURL(String(base[..<base.lastIndex(of: "/")!]) + "/" + db) else {
            throw StoreError.badURL(base)
        }
        let store = ClickHouseStore(target: target, localShard: true)
        defer { Task { await store.close() } }
        do {
            _ = try await store.migrate()
            Issue.record("migrate into a server without packets_local succeeded")
        } catch let e as StoreError {
            #expect(e.userMessage.contains("no shard tables (packets_local)"), "\(e.userMessage)")
            #expect(e.userMessage.contains("sniff db migrate --cluster NAME"), "\(e.userMessage)")
        }
        let made = try await store.http.run(
            "SELECT count() FROM system.databases WHERE name = \(ClickHouseSchema.literal(db)) FORMAT TabSeparated",
            database: "default", what: "test")
        #expect(String(decoding: made, as: UTF8.self).hasPrefix("0"), "nothing created")
    }

    @Test("""
        --store-local-shard into a server whose Distributed tables read another database or a cluster it is \
        not a shard of: refused at start, with the fix; its own cluster's tables are accepted
        """)
    func localShardOwnCluster() async throws {
        let other = try #require(StoreTestEnv.env["SNIFF_TEST_CH_CLUSTER_SHARD2"], "ch_temp_cluster_start exports it")
        try await ClickHouseClusterEnv.withCluster("cown") { stores in
            let store = ClickHouseStore(target: stores[0].target, localShard: true)
            defer { Task { await store.close() } }
            try await store.migrate()
            func refused(_ distributed: String, _ expected: String) async throws {
                try await stores[0].http.run("DROP TABLE packets", what: "test")
                try await stores[0].http.run(
                    "CREATE TABLE packets AS packets_local ENGINE = Distributed(\(distributed), rand())", what: "test")
                do {
                    try await store.migrate()
                    Issue.record("a local shard under Distributed(\(distributed)) was accepted")
                } catch let e as StoreError {
                    #expect(e.userMessage.contains(expected), "\(e.userMessage)")
                }
            }
            let cluster = try #require(ClickHouseClusterEnv.cluster), db = store.target.database
            try await refused("`\(cluster)`, default, packets_local", "does not read this database's packets_local")
            try await refused("`\(cluster)`, \(db), flows_local", "does not read this database's packets_local")
            try await refused("`\(other)`, \(db), packets_local", "is not a shard of cluster '\(other)'")
            #expect(try await ClickHouseTestEnv.count(stores[0], "SELECT count() FROM packets_local") == 0)
        }
    }

    @Test("sniff db migrate --cluster with both servers on one host: refused unless --shard-db names each")
    func migrateSharedHost() async throws {
        let cluster = try #require(ClickHouseClusterEnv.cluster)
        let db = "sniff_cshared_\(UInt32.random(in: 0...UInt32.max))"
        var urls: [String] = [], stores: [ClickHouseStore] = []
        for key in ["SNIFF_TEST_CH_SHARD1_URL", "SNIFF_TEST_CH_SHARD2_URL"] {
            let base = try #require(StoreTestEnv.env[key])
            urls.append(String(base[..<base.lastIndex(of: "/")!]) + "/" + db)
            guard case .clickhouse(let target) = try StoreURL(urls.last!) else { throw StoreError.badURL(base) }
            stores.append(ClickHouseStore(target: target))
        }
        // In `default`: the database may not exist.
        func tables(_ s: ClickHouseStore) async throws -> Int {
            let sql = "SELECT count() FROM system.tables WHERE database = \(ClickHouseSchema.literal(db)) "
                + "AND name = 'packets_local' FORMAT TabSeparated"
            let out = try await s.http.run(sql, database: "default", what: "test")
            return Int(String(decoding: out, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }
        func cleanup() async {
            for s in stores {
                _ = try? await s.http.run("DROP DATABASE IF EXISTS \(db)", database: "default", what: "test cleanup")
                await s.close()
            }
        }
        func check() async throws {
            // The test cluster's remote_servers lists 127.0.0.1 twice, with two native ports.
            let refused = try CLI.run(["db", "migrate", "--cluster", cluster, "--db", urls[0]])
            #expect(refused.status == 64, "\(refused.stderr)")
            #expect(refused.stderr.contains("share the host 127.0.0.1"), "\(refused.stderr)")
            #expect(refused.stderr.contains("--shard-db"), "\(refused.stderr)")
            for s in stores { #expect(try await tables(s) == 0, "nothing created on \(s.target.redacted)") }

            let r = try CLI.run(["db", "migrate", "--cluster", cluster, "--db", urls[0],
                                 "--shard-db", urls[0], "--shard-db", urls[1]])
            #expect(r.status == 0, "\(r.stderr)")
            for s in stores { #expect(try await tables(s) == 1, "packets_local on \(s.target.redacted)") }
        }
        do {
            try await check()
            await cleanup()
        } catch {
            await cleanup()
            throw error
        }
    }

    @Test("a shard stopped mid-load: the sensor's journal keeps the rows, and they arrive once when it returns")
    func shardDown() async throws {
        let env = StoreTestEnv.env
        let pidFile = try #require(env["SNIFF_TEST_CH_SHARD2_PIDFILE"])
        let start = try #require(env["SNIFF_TEST_CH_SHARD2_START"])
        try await ClickHouseClusterEnv.withCluster("cdown") { stores in
            let writer = StoreChecks.outageWriter(stores[0], journal: "chshard", memoryLimitRows: 20_000)
            let batches = 60, rows = 2000
            func submit(_ range: Range<Int>) {
                for b in range {
                    writer.submit(StoreBatch(id: writer.makeBatchID(), sensor: "down", captureID: 3,
                                             content: .packets(ClickHouseClusterEnv.rows(rows, from: b, flows: false))))
                }
            }
            submit(0..<10)
            try await ClickHouseClusterEnv.waitUntil(60) { writer.currentStats.packetsStored >= UInt64(10 * rows) }
            #expect(writer.currentStats.packetsStored == UInt64(10 * rows))
            let pid = try String(contentsOfFile: pidFile, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            try shell("kill -KILL \(pid); while kill -0 \(pid) 2>/dev/null; do sleep 0.1; done", capture: false)
            submit(10..<batches)
            try await ClickHouseClusterEnv.waitUntil(60) {
                writer.currentStats.failing && writer.currentStats.journalBatches > 0
            }
            let during = writer.currentStats
            #expect(during.failing, "an insert with a shard down fails (insert_distributed_sync)")
            #expect(during.journalBatches > 0, "past the memory bound, the batches went to the journal")
            #expect(during.packetsStored < UInt64(batches * rows))
            try shell(start, capture: false)
            let report = await writer.finishing(timeoutSeconds: 120)
            #expect(report.complete)
            #expect(report.stats.packetsStored == UInt64(batches * rows))
            let s = stores[1]
            #expect(try await ClickHouseTestEnv.count(s, "SELECT count() FROM packets FINAL") == batches * rows)
            #expect(
                try await ClickHouseTestEnv.count(s, "SELECT uniqExact(capture_id, n) FROM packets") == batches * rows)
            #expect(try await ClickHouseTestEnv.count(s, "SELECT count() FROM sniff_batches FINAL") == batches)
        }
    }
}

/// The HTTP targets `sniff db migrate --cluster` derives from remote_servers when no
/// `--shard-db` names them (no server needed).
@Suite("ClickHouse cluster: servers' HTTP targets")
struct ClickHouseClusterTargetsTests {
    static let entry = try! ClickHouseTarget(url: "clickhouse://u:p@db1.example:8124/sniff")

    @Test("the Distributed engine's arguments as system.tables shows them, unquoted")
    func distributedArguments() {
        #expect(ClickHouseCluster.distributedArguments("Distributed(`sniff_test`, db, packets_local, cityHash64(a, b))")
            == ["sniff_test", "db", "packets_local"])
        #expect(ClickHouseCluster.distributedArguments("Distributed('c', 'd', 't')") == ["c", "d", "t"])
        #expect(ClickHouseCluster.distributedArguments("ReplacingMergeTree ORDER BY n").isEmpty)
    }

    @Test("one server per host: each host with the --db URL's port, user, password and database")
    func distinctHosts() throws {
        let replicas = [(shard: 1, host: "db1.example", port: 9000), (shard: 2, host: "db2.example", port: 9000)]
        let targets = try ClickHouseCluster.httpTargets(of: replicas, like: Self.entry, cluster: "fleet")
        #expect(targets.map(\.host) == ["db1.example", "db2.example"])
        for t in targets {
            #expect(t.port == 8124 && t.user == "u" && t.password == "p" && t.database == "sniff")
        }
    }

    @Test("two servers on one host: refused with exit 64, naming the host, its ports and --shard-db")
    func sharedHost() {
        let replicas = [(shard: 1, host: "10.0.0.5", port: 9000), (shard: 2, host: "10.0.0.5", port: 9001),
                        (shard: 3, host: "10.0.0.6", port: 9000)]
        #expect {
            _ = try ClickHouseCluster.httpTargets(of: replicas, like: Self.entry, cluster: "fleet")
        } throws: { e in
            guard let e = e as? StoreError else { return false }
            return e.exitCode == 64 && e.userMessage.contains("share the host 10.0.0.5 (native ports 9000, 9001)")
                && e.userMessage.contains("--shard-db")
        }
    }
}
