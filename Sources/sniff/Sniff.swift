import ArgumentParser
import SniffCore

/// Synchronous, as every command is: under an async main (tried for `serve`), one
/// thread of the process kept uid 0 after `--user`'s setuid (LiveFaultTests'
/// privilege-drop test), so `serve` waits for its service group from this thread.
@main
struct Sniff: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sniff",
        abstract: "Capture and analyse network traffic: live interfaces or pcap/pcapng files.",
        discussion: """
            Reads a capture file with -r (tcpdump's letters where they exist), decodes every \
            packet and prints a report of address:port pairs, or one JSON object per packet \
            with --json. A trailing expression is a BPF filter, as in tcpdump.

            Examples:
              sniff -r capture.pcapng
              sniff -r capture.pcap --json tcp port 443
              sniff -r capture.pcap --transport udp --lowest-port 53 --highest-port 53
              tcpdump -w - | sniff -r - -q --report report.txt
              sniff top -i eth0        (a full-screen terminal UI; see sniff top --help)
            """,
        version: SniffVersion.string,
        subcommands: [CaptureCommand.self, TopCommand.self, DevicesCommand.self, DBCommand.self, ServeCommand.self, ExportCommand.self],
        defaultSubcommand: CaptureCommand.self
    )
}

enum SniffVersion {
    static let string = "0.1.0"
}
