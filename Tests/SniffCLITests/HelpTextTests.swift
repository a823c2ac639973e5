import Foundation
import Testing
import SniffTestSupport

/// Every command's --help as a user reads it on an 80- and a 120-column terminal: each
/// default said once, and paragraphs wrapped by the width, not by the source's lines.
@Suite("help text")
struct HelpTextTests {
    static let commands: [[String]] = [[], ["capture"], ["top"], ["devices"], ["serve"], ["export"],
                                       ["db"], ["db", "migrate"], ["db", "info"], ["db", "replay"]]

    /// Help entries: an option or subcommand line with its continuation lines, joined.
    static func entries(_ help: String) -> [String] {
        var out: [String] = []
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == " " }.count
            if indent == 2 && line.dropFirst(2).first != " " {
                out.append(line.trimmingCharacters(in: .whitespaces))
            } else if indent > 2, !out.isEmpty {
                out[out.count - 1] += " " + line.trimmingCharacters(in: .whitespaces)
            }
        }
        return out
    }

    /// Pairs of lines of one paragraph where the next line's first word would have fit
    /// on the line before: a sentence broken by a hard line end, not by the width.
    static func brokenLines(_ help: String, width: Int) -> [String] {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var found: [String] = []
        for (a, b) in zip(lines, lines.dropFirst()) {
            let ia = a.prefix { $0 == " " }.count, ib = b.prefix { $0 == " " }.count
            guard !a.isEmpty, !b.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            // An option or subcommand line with its help beside the name; a name too long
            // for the column stands alone and its help starts on the next line.
            let head = ia == 2 && a.dropFirst(2).first != " " && a.dropFirst(2).contains("  ")
            // Paragraphs at column 0 and help columns continue; example lines (indent 2)
            // and section headers stand alone.
            let continues = (ia == 0 && ib == 0) || (ib > 2 && (ia == ib || head))
            guard continues else { continue }
            let word = b.trimmingCharacters(in: .whitespaces).prefix { $0 != " " }
            // argument-parser keeps a column or two spare at the right; a sentence broken
            // in the source leaves far more.
            if a.count + 1 + word.count <= width - 2 { found.append(a + " / " + word) }
        }
        return found
    }

    @Test("each default once, sentences unbroken", arguments: [80, 120])
    func everyCommand(_ width: Int) throws {
        var env = ProcessInfo.processInfo.environment
        env["COLUMNS"] = String(width)
        for command in Self.commands {
            let r = try CLI.run(command + ["--help"], environment: env)
            let name = (["sniff"] + command).joined(separator: " ")
            #expect(r.status == 0, "\(name) --help: \(r.stderr)")
            #expect(r.stdout.contains("USAGE:"), "\(name)")
            // The usage line is argument-parser's and not wrapped.
            let wide = r.stdout.split(separator: "\n").filter { $0.count > width && !$0.hasPrefix("USAGE:") }
            #expect(wide.isEmpty, "\(name): lines wider than \(width): \(wide)")
            for e in Self.entries(r.stdout) {
                let defaults = e.components(separatedBy: "(default").count - 1
                #expect(defaults <= 1, "\(name): default given \(defaults) times: \(e)")
            }
            let broken = Self.brokenLines(r.stdout, width: width)
            #expect(broken.isEmpty, "\(name) at \(width) columns, broken lines: \(broken)")
        }
    }

    @Test("the checks catch what they look for")
    func checksFail() {
        // The two faults seen before: a default said twice and a sentence broken early.
        #expect(
            Self.entries(
                "OPTIONS:\n  --listen <HOST:PORT>    Address (default 1:2)\n                          (default: 1:2)\n")
                == ["--listen <HOST:PORT>    Address (default 1:2) (default: 1:2)"])
        let broken =
            "Reads a capture file with -r (tcpdump's letters where they exist), decodes\nevery\npacket and prints\n"
        #expect(Self.brokenLines(broken, width: 80) == ["every / packet"])
        #expect(Self.brokenLines("Examples:\n  sniff -r a\n  sniff -r b\n", width: 80).isEmpty)
    }

    @Test("defaults shown are the ones in force")
    func defaultsShown() throws {
        let serve = try CLI.run(["serve", "--help"]).stdout
        #expect(serve.contains("(default: 127.0.0.1:8086)"))
        #expect(serve.contains("(default: sqlite:sniff.db)"))
        let capture = try CLI.run(["capture", "--help"]).stdout
        #expect(capture.contains("(default: 262144)"))
        #expect(capture.contains("(default: 64)"))
    }
}
