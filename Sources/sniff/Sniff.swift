import ArgumentParser
import SniffCore
import SniffStore

/// The root stays synchronous and runs the commands itself: capture commands on this
/// thread, async ones (`serve`, `export`, `db`) through `Blocking.run` while this thread
/// waits. Under ArgumentParser's async main this thread would end (dispatch_main) and,
/// after `--user`'s setuid, stay listed with uid 0 (LiveFaultTests' privilege-drop test).
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
        subcommands: [
            CaptureCommand.self, TopCommand.self, DevicesCommand.self, DBCommand.self, ServeCommand.self,
            ExportCommand.self
        ],
        defaultSubcommand: CaptureCommand.self
    )

    static func main() {
        do {
            var command = try parseAsRoot()
            if let async = command as? any SniffAsyncCommand {
                try Blocking.run {
                    var c = async
                    try await c.run()
                }
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// A command whose work is async (the server, the database commands): `main` runs it
/// on the cooperative pool.
protocol SniffAsyncCommand: AsyncParsableCommand, Sendable {}

enum SniffVersion {
    static let string = "0.1.0"
}
