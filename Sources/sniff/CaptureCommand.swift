import ArgumentParser
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// `sniff -r FILE [options] [expression]`: the default command.
struct CaptureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Read packets from a capture file (or standard input) and analyse them."
    )

    @Option(name: .short, help: ArgumentHelp("Read packets from FILE (pcap or pcapng); '-' reads standard input.", valueName: "FILE"))
    var r: String?

    @OptionGroup(title: "Output") var output: OutputOptions
    @OptionGroup(title: "Filters") var filters: FilterOptions

    @Argument(help: ArgumentHelp("A BPF filter expression, as in tcpdump (e.g. 'tcp port 80').", valueName: "expression"))
    var expression: [String] = []

    var bpfExpression: String? {
        let e = expression.joined(separator: " ").trimmingCharactersInSpaces()
        return e.isEmpty ? nil : e
    }

    func validate() throws {
        if r == nil {
            throw ValidationError("no capture source: give -r FILE (or -r - for standard input)")
        }
    }

    func run() throws {
        Signals.install()
        do {
            try FileRun(command: self).run()
        } catch let e as SniffError {
            Stderr.print("sniff: \(e.userMessage)")
            throw ExitCode(e.exitCode)
        }
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
