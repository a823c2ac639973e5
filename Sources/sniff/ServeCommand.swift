import ArgumentParser
import Foundation
import SniffCore
import SniffStore
import SniffServer

/// `sniff serve [--db URL] [--listen 127.0.0.1:8086]`: the API and dashboard over a
/// database, without capturing. The server's service group owns SIGINT and SIGTERM, as
/// a Hummingbird application's does.
struct ServeCommand: SniffAsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the JSON API, the dashboard and the live stream over a database.",
        discussion: """
            Listens on 127.0.0.1:8086 unless --listen says otherwise; any address other \
            than loopback needs --token (or SNIFF_TOKEN). Open http://127.0.0.1:8086/ for \
            the dashboard; the API is described at /api/openapi.json. Ctrl-C stops it \
            gracefully.
            """
    )

    @Option(
        name: .customLong("db"),
        help: ArgumentHelp("The database: sqlite:PATH, postgres://... or clickhouse://... .", valueName: "URL"))
    var db: String = "sqlite:" + StoreURL.defaultSQLitePath

    @OptionGroup var server: ServerOptions

    func validate() throws {
        do { _ = try StoreURL(db) } catch let e as StoreError { throw ValidationError(e.userMessage) }
    }

    func run() async throws {
        // Until the service group takes SIGINT and SIGTERM over, the flag handler notes them.
        Signals.install()
        try server.bootstrapLogging()
        FileLimit.prepareServer()
        let store = StoreFactory.open(try StoreURL(db))
        try await exitOnSniffError { _ = try await store.migrate() }
        let app = SniffServerApp(store: store, configuration: server.configuration, logger: SniffLogging.logger("api"))
        let failure = await app.serveUntilSignalled(announcing: store.location)
        await store.close()
        if let failure {
            Stderr.print("sniff: server stopped: \(failure)")
            throw ExitCode(1)
        }
    }
}

/// `sniff export --db URL --format csv|xlsx|ndjson|pcap [filters] -o FILE`.
struct ExportCommand: SniffAsyncCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write stored packets that match filters as CSV, xlsx, NDJSON (or pcap when bytes were kept).",
        discussion: """
            Filters are the API's: --ip 10.0.0.0/8 --port 53 --transport udp --app DNS \
            --from 2023-11-14T22:00:00Z --to 1700000000 ... Rows are newest first.
            """
    )

    @Option(
        name: .customLong("db"),
        help: ArgumentHelp("The database: sqlite:PATH, postgres://... or clickhouse://... .", valueName: "URL"))
    var db: String = "sqlite:" + StoreURL.defaultSQLitePath
    @Option(name: .customLong("format"), help: ArgumentHelp("csv, xlsx, ndjson or pcap.", valueName: "FORMAT"))
    var format: String
    @Option(name: .short, help: ArgumentHelp("Output file ('-' for standard output).", valueName: "FILE"))
    var o: String
    @Option(name: .customLong("limit"), help: ArgumentHelp("At most N rows (xlsx at most 1048575).", valueName: "N"))
    var limit: Int = 5_000_000
    @Option(name: .customLong("ip")) var ip: String?
    @Option(name: .customLong("src")) var src: String?
    @Option(name: .customLong("dst")) var dst: String?
    @Option(name: .customLong("port")) var port: String?
    @Option(name: .customLong("sport")) var sport: String?
    @Option(name: .customLong("dport")) var dport: String?
    @Option(name: .customLong("transport")) var transport: String?
    @Option(name: .customLong("app")) var app: String?
    @Option(name: .customLong("from")) var from: String?
    @Option(name: .customLong("to")) var to: String?
    @Option(name: .customLong("capture")) var capture: String?
    @Option(name: .customLong("sensor")) var sensor: String?
    @Option(name: .customLong("q"), help: "Substring of the DNS query name or host.") var q: String?

    var parameters: [String: String] {
        var p: [String: String] = [:]
        let pairs: [(String, String?)] = [
            ("ip", ip), ("src", src), ("dst", dst), ("port", port), ("sport", sport), ("dport", dport),
            ("transport", transport), ("app", app), ("from", from), ("to", to), ("capture", capture),
            ("sensor", sensor), ("q", q)
        ]
        for (k, v) in pairs { if let v { p[k] = v } }
        return p
    }

    func validate() throws {
        guard let f = ExportFormat(rawValue: format.lowercased()) else {
            throw ValidationError("invalid --format '\(format)': valid values are csv, xlsx, ndjson, pcap")
        }
        _ = f
        do { _ = try TrafficFilter(parameters: parameters) } catch let e as APIError {
            throw ValidationError(e.message)
        }
        do { _ = try StoreURL(db) } catch let e as StoreError { throw ValidationError(e.userMessage) }
        if limit < 1 { throw ValidationError("invalid --limit \(limit): at least 1") }
    }

    func run() async throws {
        let store = StoreFactory.open(try StoreURL(db))
        let filter = try TrafficFilter(parameters: parameters)
        let exportFormat = ExportFormat(rawValue: format.lowercased())!
        var layout: PcapLayout? = nil
        if exportFormat == .pcap {
            // Before the output file is created: a refusal leaves nothing behind.
            do {
                layout = try await exitOnSniffError(cleanup: { await store.close() }) {
                    try await PacketExport.pcapLayout(store: store, filter: filter)
                }
            } catch let e as PcapUnavailable {
                await store.close()
                Stderr.print("sniff: cannot export pcap: \(e.message)")
                throw ExitCode(1)
            }
            if case .pcapng(let links, _)? = layout {
                Stderr.print("""
                    sniff: the packets have \(links.count) link types (\(links.map(\.name).joined(separator: ", "))), \
                    which a pcap cannot mix: writing pcapng
                    """)
            }
        }
        let export = PacketExport(store: store, filter: filter, format: exportFormat, limit: limit, pcapLayout: layout)
        let fd: Int32 = o == "-" ? 1 : open(o, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            Stderr.print("sniff: cannot create \(o): \(String(cString: strerror(errno)))")
            throw ExitCode(1)
        }
        let output = o
        try await exitOnSniffError {
            let n = try await export.run { chunk in
                var c = chunk
                guard c.flush(to: fd) else {
                    throw RuntimeFailure("cannot write \(output): \(String(cString: strerror(errno)))")
                }
            }
            if fd != 1 { close(fd) }
            Stderr.print("sniff: exported \(n) packets to \(output)")
        }
        await store.close()
    }
}
