import ArgumentParser
import SniffCore
import SniffStore

/// `sniff db migrate|info|replay`: the database without a capture.
struct DBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Set up and inspect the database Sniff stores into.",
        discussion: """
            The database is SQLite (sniff.db unless --db sqlite:PATH names another) or \
            PostgreSQL (--db postgres://user:password@host:5432/database; PGHOST, PGPORT, \
            PGUSER, PGPASSWORD, PGDATABASE and PGSSLMODE fill what the URL leaves out) or \
            ClickHouse (--db clickhouse://user:password@host:8123/database, clickhouses:// for \
            HTTPS; migrate creates the database). Captures apply migrations themselves; these commands do it ahead of \
            time.
            """,
        subcommands: [DBMigrate.self, DBInfo.self, DBReplay.self]
    )
}

struct DBTarget: ParsableArguments {
    @Option(
        name: .customLong("db"),
        help: ArgumentHelp("The database: sqlite:PATH, postgres://... or clickhouse://... .", valueName: "URL"))
    var db: String = "sqlite:" + StoreURL.defaultSQLitePath

    func validate() throws {
        do { _ = try StoreURL(db) } catch let e as StoreError { throw ValidationError(e.userMessage) }
    }

    /// Runs `body` with the store open, turning store errors into messages and exit codes.
    func withStore<T>(_ body: (any PacketStore) async throws -> T) async throws -> T {
        try await DBTarget.withStore(StoreFactory.open(try StoreURL(db)), body)
    }

    static func withStore<T>(_ store: any PacketStore, _ body: (any PacketStore) async throws -> T) async throws -> T {
        try await exitOnSniffError(cleanup: { await store.close() }) {
            let r = try await body(store)
            await store.close()
            return r
        }
    }
}

struct DBMigrate: SniffAsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the schema migrations the database lacks (safe to run again)."
    )

    @OptionGroup var target: DBTarget

    @Option(help: ArgumentHelp("""
        ClickHouse: set up the cluster NAME of the server's remote_servers: on every server, the shard's tables \
        (<table>_local) and Distributed tables in front of them.
        """, valueName: "NAME"))
    var cluster: String? = nil

    @Option(name: .customLong("shard-db"), help: ArgumentHelp("""
        With --cluster: a server of the cluster to migrate, by its HTTP URL (repeat for each). Without it, each \
        server listed in remote_servers at the --db URL's HTTP port, user and password (refused when two \
        servers share a host: their HTTP ports differ).
        """, valueName: "URL"))
    var shardDBs: [String] = []

    func validate() throws {
        guard let cluster else {
            if !shardDBs.isEmpty { throw ValidationError("--shard-db needs --cluster NAME") }
            return
        }
        guard case .clickhouse = try StoreURL(target.db) else {
            throw ValidationError(
                "--cluster is for ClickHouse: give --db clickhouse://user:password@host:8123/database")
        }
        if cluster.isEmpty
            || !cluster.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) {
            throw ValidationError("invalid --cluster '\(cluster)': letters, digits, _ and - as in remote_servers")
        }
        for url in shardDBs {
            do {
                guard case .clickhouse = try StoreURL(url) else {
                    throw ValidationError("--shard-db \(StoreURL.withoutCredentials(url)) is not a clickhouse:// URL")
                }
            } catch let e as StoreError { throw ValidationError(e.userMessage) }
        }
    }

    func run() async throws {
        if let cluster { return try await migrateCluster(cluster) }
        let (applied, info) = try await target.withStore { store in
            let applied = try await store.migrate()
            return (applied, try await store.info())
        }
        if applied.isEmpty {
            print("\(info.location): schema is current (version \(info.schemaVersion))")
        } else {
            for m in applied { print("applied \(m.version) \(m.name)") }
            print("\(info.location): schema at version \(info.schemaVersion)")
        }
    }
}

extension DBMigrate {
    /// Migrates every server of the cluster in turn (18.16's ON CLUSTER needs ZooKeeper).
    func migrateCluster(_ cluster: String) async throws {
        guard case .clickhouse(let entry) = try StoreURL(target.db) else { return }
        let given = try shardDBs.map { try ClickHouseTarget(url: $0) }
        let servers: [ClickHouseTarget] = try await DBTarget.withStore(ClickHouseStore(target: entry)) { store in
            let replicas = try await (store as! ClickHouseStore).clusterReplicas(cluster)
            if replicas.isEmpty {
                throw StoreError.database(
                    "ClickHouse at \(entry.redacted) has no cluster '\(cluster)' in its remote_servers",
                    detail: "migrate --cluster")
            }
            return given.isEmpty ? try ClickHouseCluster.httpTargets(of: replicas, like: entry, cluster: cluster) : given
        }
        for server in servers {
            let applied: [Migration] = try await DBTarget.withStore(ClickHouseStore(target: server)) { store in
                try await (store as! ClickHouseStore).migrate(cluster: cluster)
            }
            print(
                "\(server.redacted): "
                    + (applied.isEmpty
                        ? "schema is current" : "applied \(applied.map { String($0.version) }.joined(separator: ", "))")
                    + " (cluster \(cluster): the shard's <table>_local tables and the Distributed tables)")
        }
    }
}

struct DBInfo: SniffAsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the schema version, the migrations, the tables and their sizes."
    )

    @OptionGroup var target: DBTarget

    func run() async throws {
        let info = try await target.withStore { try await $0.info() }
        print(info.text, terminator: "")
    }
}

struct DBReplay: SniffAsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Store the batches a run left in journal files (batches already stored are skipped)."
    )

    @OptionGroup var target: DBTarget

    @Argument(help: ArgumentHelp("Journal files (*.sniffj) to replay.", valueName: "JOURNAL"))
    var journals: [String]

    @Flag(name: .customLong("store-local-shard"), help: """
        ClickHouse cluster: replay into the --db server's own shard, as the capture that left the journal \
        with --store-local-shard wrote (so that a batch written again folds with its first copy there).
        """)
    var storeLocalShard = false

    func validate() throws {
        if storeLocalShard { try StoreOptions.requireClickHouse(target.db) }
    }

    func run() async throws {
        var failed = false
        let url = try StoreURL(target.db)
        for path in journals {
            let r = try await DBTarget.withStore(StoreOptions.open(url, localShard: storeLocalShard)) { store in
                try await store.migrate()
                return try await JournalReplay.replay(path: path, into: store)
            }
            if !r.replayed {
                Stderr.print("sniff: \(path) is in use by another sniff; try again when it ends")
                failed = true
                continue
            }
            print("\(path): \(r.batches) batches (\(r.packets) packets), \(r.duplicates) already stored")
        }
        if failed { throw ExitCode(StoreRun.incompleteExitCode) }
    }
}
