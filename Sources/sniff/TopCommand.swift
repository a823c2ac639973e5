import ArgumentParser
import SniffCore
import SniffCapture
#if canImport(Glibc)
import Glibc
#endif

/// `sniff top [-i IFACE | -r FILE] [filters] [expression]`: the full-screen terminal UI.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "A full-screen terminal UI: live traffic or a capture file, over SSH or in tmux.",
        discussion: """
            Views (keys on the bottom line): 1 overview (totals, rates, drops, packets/s and \
            bytes/s per transport), 2 talkers (address:port), 3 flows (Zeek fields), 4 apps, \
            5 alerts, 6 packets (with the selected packet's fields). Tab cycles the views; \
            < and > pick the sort column, i reverses it; / filters with the feed's words \
            (tcp port 80, host 10.0.0.1, net 10.0.0.0/8, src 1.2.3.4, dst port 53, app dns); \
            p pause, r resume, s stop the capture; ? help; q or Ctrl-C quits. A file is read \
            to the end and its views stay open. NO_COLOR=1 draws without colours. Warnings \
            printed while the UI is up are shown on standard error when it closes.

            Examples:
              sniff top -i eth0
              sniff top -r capture.pcapng tcp port 443
              sniff top -i any --transport udp
            """
    )

    @Option(name: .short, help: ArgumentHelp("Read packets from FILE (pcap or pcapng).", valueName: "FILE"))
    var r: String?

    @Option(name: .short, help: ArgumentHelp("Capture live on IFACE (see sniff -D); default: the first that is up and not a loopback.", valueName: "IFACE"))
    var i: String?

    @Option(name: .customShort("B"), help: ArgumentHelp("Kernel capture buffer in MiB.", valueName: "MiB"))
    var bufferMiB: Int = 64

    @Option(name: .short, help: ArgumentHelp("Snapshot length: bytes kept of each packet (0 means the default).", valueName: "SNAPLEN"))
    var s: Int = 262_144

    @Flag(name: .short, help: "Do not put the interface in promiscuous mode.")
    var noPromiscuous = false

    @Option(name: .customLong("direction"), help: ArgumentHelp("Capture only packets received (in), sent (out), or both (inout).", valueName: "in|out|inout"))
    var direction: String?

    @Option(name: .customLong("user"), help: ArgumentHelp("After opening the capture, switch to this user and keep no privileges.", valueName: "NAME"))
    var user: String?

    @OptionGroup(title: "Filters") var filters: FilterOptions
    @OptionGroup(title: "Flows and alerts") var flowOptions: FlowOptions

    @Argument(help: ArgumentHelp("A BPF filter expression, as in tcpdump (e.g. 'tcp port 80').", valueName: "expression"))
    var expression: [String] = []

    var bpfExpression: String? {
        let e = expression.joined(separator: " ").trimmingCharactersInSpaces()
        return e.isEmpty ? nil : e
    }

    var snaplenValue: Int { s == 0 ? 262_144 : s }

    func validate() throws {
        if r != nil && i != nil { throw ValidationError("give either -r FILE or -i IFACE, not both") }
        if r == "-" { throw ValidationError("sniff top reads keys from standard input: give -r a file, not '-'") }
        if flowOptions.flows { throw ValidationError("--flows prints on stdout, which sniff top draws on; use --flows-file FILE") }
        if !(1...4096).contains(bufferMiB) {
            throw ValidationError("invalid -B \(bufferMiB): the buffer is between 1 and 4096 MiB")
        }
        if !(0...262_144).contains(s) {
            throw ValidationError("invalid -s \(s): the snapshot length is between 1 and 262144 bytes (0 means 262144)")
        }
        if let d = direction, LiveCapture.Direction(rawValue: d.lowercased()) == nil {
            throw ValidationError("invalid --direction '\(d)': valid values are in, out, inout")
        }
        if r != nil && direction != nil { throw ValidationError("--direction applies to live capture (-i), not to -r") }
    }

    func run() throws {
        Signals.install()
        guard isatty(0) == 1 && isatty(1) == 1 else {
            Stderr.print("sniff: sniff top draws on a terminal: standard input and output must be one (for a report, run sniff -r FILE or sniff -i IFACE)")
            throw ExitCode(64)
        }
        do {
            try TopRun(command: self).run()
        } catch let e as SniffError {
            Stderr.print("sniff: \(e.userMessage)")
            throw ExitCode(e.exitCode)
        }
    }
}
