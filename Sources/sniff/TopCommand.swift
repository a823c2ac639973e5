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

    @OptionGroup var source: SourceOptions

    @OptionGroup(title: "Filters") var filters: FilterOptions
    @OptionGroup(title: "Flows and alerts") var flowOptions: FlowOptions

    func validate() throws {
        if source.r == "-" {
            throw ValidationError("sniff top reads keys from standard input: give -r a file, not '-'")
        }
        if flowOptions.flows {
            throw ValidationError("--flows prints on stdout, which sniff top draws on; use --flows-file FILE")
        }
    }

    func run() throws {
        Signals.install()
        guard isatty(0) == 1 && isatty(1) == 1 else {
            Stderr.print("""
                sniff: sniff top draws on a terminal: standard input and output must be one (for a report, run sniff \
                -r FILE or sniff -i IFACE)
                """)
            throw ExitCode(64)
        }
        try exitOnSniffError { try TopRun(command: self).run() }
    }
}
