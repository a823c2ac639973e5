import ArgumentParser
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// `sniff [-r FILE | -i IFACE] [options] [expression]`: the default command.
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Capture from an interface, or read a capture file, and analyse the packets.",
        discussion: """
            With neither -r nor -i, Sniff captures on the first interface that is up and \
            not a loopback (tcpdump's rule) and says which. On a terminal, live capture \
            redraws the report every --interval seconds; keys: p pause, r resume, s stop. \
            On loopback every packet is seen twice (out and in); --direction in counts it once.
            """
    )

    @OptionGroup var source: SourceOptions

    @Flag(name: .customShort("D"), help: "List the interfaces Sniff can capture on, and exit.")
    var listInterfaces = false

    @Option(
        name: .short,
        help: ArgumentHelp(
            "Write the packets that pass the filters to FILE: pcapng, or pcap when the name ends in .pcap.",
            valueName: "FILE"))
    var w: String?

    @Option(
        name: .customShort("G"),
        help: ArgumentHelp(
            "With -w, start a new file every SECONDS (a strftime pattern in the name is expanded).",
            valueName: "SECONDS"))
    var rotateSeconds: Int?

    @Option(
        name: .customShort("C"),
        help: ArgumentHelp("With -w, start a new file when the current one passes MB million bytes.", valueName: "MB"))
    var rotateMegabytes: Int?

    @Option(
        name: .customShort("W"),
        help: ArgumentHelp("With -G or -C, keep at most N files, reusing their names in a ring.", valueName: "N"))
    var rotateFiles: Int?

    @OptionGroup(title: "Output") var output: OutputOptions
    @OptionGroup(title: "Filters") var filters: FilterOptions
    @OptionGroup(title: "Flows and alerts") var flowOptions: FlowOptions
    @OptionGroup(title: "Storage") var storeOptions: StoreOptions
    @OptionGroup(title: "Server") var serveOptions: ServeOptions

    var writeFile: String? { w }

    static var isCI: Bool { getenv("CI") != nil }

    func validate() throws {
        if flowOptions.flows && output.json {
            throw ValidationError("""
                give --flows (one JSON object per flow) or --json (one per packet), not both; --flows-file FILE \
                writes flows beside --json
                """)
        }
        if let g = rotateSeconds, g < 1 { throw ValidationError("invalid -G \(g): it must be at least 1 second") }
        if let c = rotateMegabytes, c < 1 {
            throw ValidationError("invalid -C \(c): it must be at least 1 (million bytes)")
        }
        if let n = rotateFiles, n < 1 { throw ValidationError("invalid -W \(n): it must be at least 1 file") }
        if (rotateSeconds != nil || rotateMegabytes != nil || rotateFiles != nil) && w == nil {
            throw ValidationError("-G, -C and -W need -w FILE")
        }
        if rotateFiles != nil && rotateSeconds == nil && rotateMegabytes == nil {
            throw ValidationError("-W needs -G or -C")
        }
    }

    func run() throws {
        Signals.install()
        try exitOnSniffError(cleanup: TerminalMode.restore) {
            if listInterfaces {
                print(Interfaces.render(try Interfaces.list()), terminator: "")
                return
            }
            // Before anything logs: swift-log's default would write to stdout, where
            // --json goes. --log-level and --log-file are the server's options.
            try serveOptions.server.bootstrapLogging()
            // --serve stores (sniff.db unless --db) so that the API has data.
            var command = self
            if serveOptions.serve { command.storeOptions.store = true }
            if source.r != nil {
                try FileRun(command: command).run()
            } else {
                try LiveRun(command: command).run()
            }
        }
    }
}

/// `sniff devices`: the same list as `sniff -D`.
struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the interfaces Sniff can capture on, with addresses and flags."
    )

    func run() throws {
        try exitOnSniffError { print(Interfaces.render(try Interfaces.list()), terminator: "") }
    }
}

extension String {
    func trimmingCharactersInSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" { s.removeLast() }
        return String(s)
    }
}
