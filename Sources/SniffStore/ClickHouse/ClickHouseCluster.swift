import SniffCore

/// A cluster of ClickHouse shards (`sniff db migrate --cluster NAME`), built as
/// ClickHouse clusters are: on every server, each table as `<table>_local` holding
/// that shard's rows, and in front of them a Distributed table with the plain name
/// that fans inserts out by a sharding key and reads out to every shard. Sensors and
/// `sniff serve` point at any server and name the plain tables, as on one server
/// (`ClickHouseSchema.readTable`).
///
/// 18.16's `ON CLUSTER` DDL needs ZooKeeper (without it the server answers "DDL
/// background thread is not initialized"), so the migration connects to each server
/// of the cluster in turn and runs the DDL there; each server records its own
/// `sniff_migrations`.
public enum ClickHouseCluster {
    /// Where each table's rows go. Deterministic, never rand(): a batch written again
    /// (a replay) must reach the shard that holds its first copy, where the
    /// ReplacingMergeTree folds the two. Packets follow their flow's uid, as do the
    /// flows and the protocol logs, so a flow, its packets and its log records are on
    /// one shard (a flow's drill-down is answered there); rows without a flow spread by
    /// their own identity.
    /// (Packets' key as version 14 made it; `ClickHousePacketColumns.shardingKey` since
    /// `Schema.packetUIDBytesVersion` hashes the same uid text.)
    static let shardingKeys: [String: String] = [
        "packets": "cityHash64(sensor, capture_id, if(flow_uid = '', toString(n), flow_uid))",
        "flows": "cityHash64(sensor, capture_id, uid)",
        "alerts": "cityHash64(sensor, capture_id, alert_id)",
        "traffic": "cityHash64(writer_id, seq, i)",
        "flow_counts": "cityHash64(writer_id, seq, i)",
        "captures": "cityHash64(sensor, id)",
        "hosts": "cityHash64(address)",
        "host_names": "cityHash64(address)",
        "sniff_batches": "cityHash64(writer_id, seq)",
    ].merging(LogKind.allCases.map { ($0.table, "cityHash64(sensor, capture_id, if(uid = '', toString(i), uid))") }) { a, _ in a }

    /// A cluster name as written in remote_servers, spliced into the Distributed
    /// engine's arguments: letters, digits, _ and -.
    static func validName(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy {
                $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0)
                    || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
            }
    }

    /// One statement of a ClickHouse migration as it runs on each server of the
    /// cluster: a table is created as `<table>_local` with the Distributed table in
    /// front of it; a column added to both, and a sorting key changed on the local
    /// table only (a Distributed table has none).
    static func statements(_ sql: String, cluster: String, database: String) -> [String] {
        let create = "CREATE TABLE IF NOT EXISTS "
        if sql.hasPrefix(create), let space = sql.dropFirst(create.count).firstIndex(of: " ") {
            let table = String(sql[sql.index(sql.startIndex, offsetBy: create.count)..<space])
            let local = ClickHouseSchema.localTable(table)
            return [create + local + sql[space...],
                    distributed(table, cluster: cluster, database: database, key: shardingKeys[table] ?? "cityHash64(*)")]
        }
        if let table = alteredTable(sql) {
            let rest = sql.dropFirst(alter.count + table.count)
            let front = rest.range(of: orderBy).map { rest[..<$0.lowerBound] } ?? rest
            return [alter + ClickHouseSchema.localTable(table) + rest, alter + table + front]
        }
        return [sql]
    }

    /// The Distributed table `table` in front of each shard's `<table>_local`, with its columns.
    static func distributed(_ table: String, cluster: String, database: String, key: String) -> String {
        let local = ClickHouseSchema.localTable(table)
        return "CREATE TABLE IF NOT EXISTS \(table) AS \(local) ENGINE = Distributed(`\(cluster)`, \(database), \(local), \(key))"
    }

    private static let alter = "ALTER TABLE ", orderBy = ", MODIFY ORDER BY "

    /// The table an `ALTER TABLE` statement names.
    static func alteredTable(_ sql: String) -> String? {
        guard sql.hasPrefix(alter), let space = sql.dropFirst(alter.count).firstIndex(of: " ") else { return nil }
        return String(sql[sql.index(sql.startIndex, offsetBy: alter.count)..<space])
    }
}

extension ClickHouseCluster {
    /// The HTTP targets of a cluster's servers when no `--shard-db` names them: each
    /// server's host with the `--db` URL's port, user and password. remote_servers names
    /// native (TCP) ports only, so two servers on one host would both become the same
    /// HTTP target, and one server would be migrated twice while the other never was:
    /// refused, with the fix.
    public static func httpTargets(
        of replicas: [(shard: Int, host: String, port: Int)], like entry: ClickHouseTarget, cluster: String
    ) throws -> [ClickHouseTarget] {
        var ports: [String: [Int]] = [:]
        for r in replicas { ports[r.host, default: []].append(r.port) }
        if let shared = replicas.first(where: { ports[$0.host]!.count > 1 }) {
            let native = ports[shared.host]!.map(String.init).joined(separator: ", ")
            throw StoreError.badURL("""
                the servers of cluster '\(cluster)' share the host \(shared.host) (native ports \(native)), \
                so their HTTP ports cannot be told from remote_servers: give each server's URL with \
                --shard-db clickhouse://user:password@host:port/database, once per server
                """)
        }
        return replicas.map { r in
            var t = entry
            t.host = r.host
            return t
        }
    }
}

extension ClickHouseStore {
    /// The servers of `cluster` as this server's remote_servers lists them: shard
    /// number, host and native (TCP) port.
    public func clusterReplicas(_ cluster: String) async throws -> [(shard: Int, host: String, port: Int)] {
        // In `default`: the cluster's database may not exist yet.
        let sql = "SELECT shard_num, host_name, port FROM system.clusters WHERE cluster = \(ClickHouseSchema.literal(cluster)) "
            + "ORDER BY shard_num, replica_num FORMAT TabSeparated"
        let rows = ClickHouseHTTP.parseTSV(try await http.run(sql, database: "default", what: "read the cluster"))
        return rows.compactMap { r in
            guard r.count == 3, let s = r[0].flatMap({ Int($0) }), let h = r[1], let p = r[2].flatMap({ Int($0) })
            else { return nil }
            return (s, h, p)
        }
    }

    /// Applies the pending migrations to this server as one server of `cluster`: the
    /// shard's `<table>_local` tables and the Distributed tables in front of them.
    @discardableResult
    public func migrate(cluster: String) async throws -> [Migration] {
        guard ClickHouseCluster.validName(cluster) else {
            throw StoreError.badURL("invalid cluster name '\(cluster)': letters, digits, _ and - as in remote_servers")
        }
        guard !(try await clusterReplicas(cluster)).isEmpty else {
            throw StoreError.database(
                "ClickHouse at \(target.redacted) has no cluster '\(cluster)' in its remote_servers",
                detail: "migrate --cluster \(cluster)")
        }
        return try await migrate(inCluster: cluster)
    }
}

extension ClickHouseStore {
    /// A writer into this server's shard (`localShard`) stores rows that reads see only
    /// through the Distributed tables: each must name a cluster this server is a shard
    /// of, and this database's `<table>_local`. Otherwise the rows would be stored where
    /// no read looks (partial totals): refused, with the fix.
    func requireOwnCluster() async throws {
        let db = ClickHouseSchema.literal(target.database)
        let tables = try await http.rows(
            "SELECT name, engine_full FROM system.tables WHERE database = \(db) AND engine = 'Distributed'",
            what: "migrate")
        var clusters = Set<String>()
        for r in tables where r.count == 2 {
            let name = r[0] ?? "", args = ClickHouseCluster.distributedArguments(r[1] ?? "")
            guard args.count >= 3, args[1] == target.database, args[2] == ClickHouseSchema.localTable(name) else {
                throw StoreError.database(
                    "ClickHouse at \(target.redacted): the Distributed table \(name) does not read this database's "
                        + "\(ClickHouseSchema.localTable(name)) (\(r[1] ?? "")), so --store-local-shard would "
                        + "store rows that reads do not see; migrate it again with: sniff db migrate --cluster NAME "
                        + "--db URL",
                    detail: "migrate: \(name) is \(r[1] ?? "")")
            }
            clusters.insert(args[0])
        }
        for c in clusters.sorted() {
            let sql = "SELECT count() FROM system.clusters WHERE cluster = \(ClickHouseSchema.literal(c)) AND is_local"
            guard try await http.int(sql, what: "migrate") ?? 0 == 0 else { continue }
            throw StoreError.database(
                "ClickHouse at \(target.redacted) is not a shard of cluster '\(c)', which its Distributed tables "
                    + "read: --store-local-shard would store rows that reads through them do not see; point --db at "
                    + "one of the cluster's servers (system.clusters), or drop --store-local-shard",
                detail: "migrate: no local replica of \(c)")
        }
    }
}

extension ClickHouseCluster {
    /// The arguments of a Distributed engine as system.tables shows it
    /// (`Distributed(cluster, database, table, key)`), unquoted; the key, which may
    /// hold commas, is not split.
    static func distributedArguments(_ engine: String) -> [String] {
        guard engine.hasPrefix("Distributed(") else { return [] }
        return engine.dropFirst("Distributed(".count).split(separator: ",", maxSplits: 3).prefix(3).map {
            let quote: (Character) -> Bool = { " `'\")".contains($0) }
            return String($0.drop(while: quote).reversed().drop(while: quote).reversed())
        }
    }
}
