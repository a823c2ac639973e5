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
            HTTPS; migrate creates the database). Captures apply migrations themselves; these commands do it ahead of time.
            """,
        subcommands: [DBMigrate.self, DBInfo.self, DBReplay.self]
    )
}

struct DBTarget: ParsableArguments {
    @Option(name: .customLong("db"), help: ArgumentHelp("The database: sqlite:PATH, postgres://... or clickhouse://... .", valueName: "URL"))
    var db: String = "sqlite:" + StoreURL.defaultSQLitePath

    func validate() throws {
        do { _ = try StoreURL(db) } catch let e as StoreError { throw ValidationError(e.userMessage) }
    }

    /// Runs `body` with the store open, turning store errors into messages and exit codes.
    func withStore<T>(_ body: @escaping @Sendable (any PacketStore) async throws -> T) throws -> T {
        let store = StoreFactory.open(try StoreURL(db))
        return try exitOnSniffError(cleanup: { try? Blocking.run { await store.close() } }) {
            let r = try Blocking.run { try await body(store) }
            try? Blocking.run { await store.close() }
            return r
        }
    }
}

struct DBMigrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply the schema migrations the database lacks (safe to run again)."
    )

    @OptionGroup var target: DBTarget

    func run() throws {
        let (applied, info) = try target.withStore { store in
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

struct DBInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show the schema version, the migrations, the tables and their sizes."
    )

    @OptionGroup var target: DBTarget

    func run() throws {
        let info = try target.withStore { try await $0.info() }
        print(info.text, terminator: "")
    }
}

struct DBReplay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Store the batches a run left in journal files (batches already stored are skipped)."
    )

    @OptionGroup var target: DBTarget

    @Argument(help: ArgumentHelp("Journal files (*.sniffj) to replay.", valueName: "JOURNAL"))
    var journals: [String]

    func run() throws {
        var failed = false
        for path in journals {
            let r = try target.withStore { store in
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
