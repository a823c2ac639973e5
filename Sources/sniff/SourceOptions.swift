import ArgumentParser
import SniffCore
import SniffCapture

/// Where packets come from and how the capture is opened: shared by `sniff` (capture)
/// and `sniff top`, which read files and interfaces the same way.
struct SourceOptions: ParsableArguments {
    @Option(name: .short, help: ArgumentHelp(
        "Read packets from FILE (pcap or pcapng); '-' reads standard input (not with sniff top).", valueName: "FILE"))
    var r: String?

    @Option(name: .short, help: ArgumentHelp(
        "Capture live on IFACE (see -D); default: the first that is up and not a loopback.", valueName: "IFACE"))
    var i: String?

    @Option(name: .customShort("B"), help: ArgumentHelp("Kernel capture buffer in MiB.", valueName: "MiB"))
    var bufferMiB: Int = 64

    @Option(name: .short, help: ArgumentHelp(
        "Snapshot length: bytes kept of each packet (0 means the default).", valueName: "SNAPLEN"))
    var s: Int = 262_144

    @Flag(name: .short, help: "Do not put the interface in promiscuous mode.")
    var noPromiscuous = false

    @Option(name: .customLong("direction"), help: ArgumentHelp(
        "Capture only packets received (in), sent (out), or both (inout).", valueName: "in|out|inout"))
    var direction: LiveCapture.Direction?

    @Option(name: .customLong("user"), help: ArgumentHelp(
        "After opening the capture, switch to this user and keep no privileges.", valueName: "NAME"))
    var user: String?

    @Argument(help: ArgumentHelp(
        "A BPF filter expression, as in tcpdump (e.g. 'tcp port 80').", valueName: "expression"))
    var expression: [String] = []

    var bpfExpression: String? {
        let e = expression.joined(separator: " ").trimmingCharactersInSpaces()
        return e.isEmpty ? nil : e
    }

    var snaplenValue: Int { s == 0 ? 262_144 : s }

    func validate() throws {
        if r != nil && i != nil { throw ValidationError("give either -r FILE or -i IFACE, not both") }
        if !(1...4096).contains(bufferMiB) {
            throw ValidationError("invalid -B \(bufferMiB): the buffer is between 1 and 4096 MiB")
        }
        if !(0...262_144).contains(s) {
            throw ValidationError(
                "invalid -s \(s): the snapshot length is between 1 and 262144 bytes (0 means 262144)")
        }
        if r != nil && direction != nil {
            throw ValidationError("--direction applies to live capture (-i), not to -r")
        }
    }

    /// Opens the capture file of `-r` with the expression compiled for its link types.
    func openFile(_ path: String) throws -> (CaptureFileReader, BPFFilter?) {
        try FileRun.open(path: path, filter: bpfExpression, snaplen: snaplenValue)
    }

    /// Opens the interface of `-i` (or the default one) and drops privileges for --user.
    func openLive() throws -> (LiveCapture, String) {
        try LiveRun.open(interface: i, snaplen: snaplenValue, bufferMiB: bufferMiB, promiscuous: !noPromiscuous,
                         direction: direction, filter: bpfExpression, user: user)
    }
}

/// `--direction`, parsed once, in any case (as -i's other words are).
extension LiveCapture.Direction: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}
