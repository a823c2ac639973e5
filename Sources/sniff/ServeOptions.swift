import ArgumentParser
import Foundation
import Logging
import SniffCore
import SniffAnalysis
import SniffStore
import SniffServer

/// The server's options, shared by `sniff serve` and `sniff -r/-i ... --serve`.
struct ServerOptions: ParsableArguments {
    @Option(
        name: .customLong("listen"),
        help: ArgumentHelp(
            "Address and port of the HTTP server; other than loopback needs --token.", valueName: "HOST:PORT"))
    var listen: String = "127.0.0.1:8086"

    @Option(name: .customLong("token"), help: ArgumentHelp("""
        Token every API and WebSocket request must present (Authorization: Bearer, or ?token=); default $SNIFF_TOKEN.
        """, valueName: "TOKEN"))
    var token: String?

    @Option(name: .customLong("allow-host"), help: ArgumentHelp("""
        Also answer requests that name the server NAME (Host header) and pages served as NAME (Origin): a reverse \
        proxy's name or the machine's DNS name. Repeatable. Without it only the --listen address (and localhost, \
        127.0.0.1, [::1] on loopback; any address on 0.0.0.0 or ::) is answered; other names get 421.
        """, valueName: "NAME"))
    var allowHost: [String] = []

    @Option(
        name: .customLong("feed"),
        help: ArgumentHelp(
            "Also open the plain TCP feed (one text line per packet) on HOST:PORT, e.g. 127.0.0.1:8000.",
            valueName: "HOST:PORT"))
    var feed: String?

    @Option(
        name: .customLong("live-rate"), help: ArgumentHelp("Live packet rows per second per client.", valueName: "N"))
    var liveRate: Int = 200

    @Option(
        name: .customLong("max-clients"),
        help: ArgumentHelp(
            "WebSocket and feed clients served at once; more are refused with a message.", valueName: "N"))
    var maxClients: Int = 4096

    @Option(name: .customLong("log-level"), help: ArgumentHelp("""
        Logs of the capture, decode, store, api, ws and feed components: trace, debug, info, notice, warning, error \
        or critical.
        """, valueName: "LEVEL"))
    var logLevel: String = "warning"

    @Option(
        name: .customLong("log-file"),
        help: ArgumentHelp(
            "Append logs to FILE instead of standard error (messages also printed as sniff: lines are kept there too).",
            valueName: "FILE"))
    var logFile: String?

    @Option(name: .customLong("dashboard-dir"), help: .hidden)
    var dashboardDir: String?

    var configuration: ServerConfiguration {
        var c = ServerConfiguration()
        if let l = ServerConfiguration.parseListen(listen) { c.host = l.host; c.port = l.port }
        c.allowedHosts = allowHost
        c.token = token ?? ProcessInfo.processInfo.environment["SNIFF_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if let f = feed, let l = ServerConfiguration.parseListen(f) { c.feedHost = l.host; c.feedPort = l.port }
        c.liveRowsPerSecond = liveRate
        c.maxLiveClients = maxClients
        c.dashboardDirectory = dashboardDir
        return c
    }

    func validate() throws {
        guard ServerConfiguration.parseListen(listen) != nil else {
            throw ValidationError("invalid --listen '\(listen)': give HOST:PORT such as 127.0.0.1:8086 or [::1]:8086")
        }
        if let f = feed, ServerConfiguration.parseListen(f) == nil {
            throw ValidationError("invalid --feed '\(f)': give HOST:PORT such as 127.0.0.1:8000")
        }
        if !(1...100_000).contains(liveRate) {
            throw ValidationError("invalid --live-rate \(liveRate): between 1 and 100000")
        }
        if !(1...1_000_000).contains(maxClients) {
            throw ValidationError("invalid --max-clients \(maxClients): between 1 and 1000000")
        }
        if Logger.Level(rawValue: logLevel.lowercased()) == nil {
            throw ValidationError("""
                invalid --log-level '\(logLevel)': valid values are trace, debug, info, notice, warning, error, critical
                """)
        }
        if let p = configuration.problem { throw ValidationError(p) }
    }

    func bootstrapLogging() throws {
        do { try SniffLogging.bootstrap(level: logLevel, file: logFile) } catch let e as LoggingSetupError {
            throw ValidationError(e.message)
        }
    }
}

/// `--serve` on the capture command.
struct ServeOptions: ParsableArguments {
    @Flag(name: .customLong("serve"), help: """
        Also run the server (API, dashboard, live stream) while capturing; stores into sniff.db unless --db is given, \
        and keeps serving after a file is read until Ctrl-C.
        """)
    var serve = false

    @OptionGroup var server: ServerOptions
}
