import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
import SniffTestSupport

/// The report's address:port list: the top 20 on a terminal with a line saying how many
/// more, everything when piped or written with --report, and the report file of a
/// capture file written once unless --interval asks for rewrites.
@Suite(.serialized)
struct ReportTopTests {
    var sample: String { TestPaths.sample.path }
    /// The sample has 52 address:port pairs.
    let sampleEndpoints = 52

    /// Endpoint blocks in a report: each has one "Sent:" line.
    func blocks(_ report: String) -> Int { report.components(separatedBy: "\n    Sent:").count - 1 }

    /// Runs sniff with a pseudo-terminal of 40 rows as its controlling terminal, stdin
    /// and stdout (as `sniff top`'s tests do) and returns what it printed.
    func onTerminal(_ args: [String]) throws -> (status: Int32?, stdout: String) {
        let p = try PtySniff(args, rows: 40, cols: 120)
        let status = p.waitExit(60)
        return (status, String(decoding: p.output, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n"))
    }

    /// Runs sniff with `--report` naming a FIFO and returns every report written to it:
    /// sniff opens, truncates and writes a file that is not a regular one each time it
    /// writes the report, so the reports read here are the writes it made.
    func reportsWritten(_ args: [String]) throws -> (status: Int32, reports: [String]) {
        let fifo = try TestPaths.tempDir().appendingPathComponent("report.fifo").path
        try #require(mkfifo(fifo, 0o600) == 0)
        // Read-write, so that the FIFO never reports end of file between two writes.
        let fd = open(fifo, O_RDWR | O_NONBLOCK)
        try #require(fd >= 0)
        defer { close(fd) }
        final class Collected: @unchecked Sendable {
            let lock = NSLock()
            var bytes: [UInt8] = []
            var sniffEnded = false
            let drained = DispatchSemaphore(value: 0)
        }
        let collected = Collected()
        Thread {
            var buf = [UInt8](repeating: 0, count: 65536)
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            // Until sniff has ended and the FIFO is empty.
            while true {
                let ended = collected.lock.withLock { collected.sniffEnded }
                guard poll(&pfd, 1, 50) > 0 else {
                    if ended { break }
                    continue
                }
                let n = read(fd, &buf, buf.count)
                if n > 0 { collected.lock.withLock { collected.bytes += buf[0..<n] } }
            }
            collected.drained.signal()
        }.start()
        let r = try CLI.run(args + ["--report", fifo])
        collected.lock.withLock { collected.sniffEnded = true }
        collected.drained.wait()
        let text = String(decoding: collected.lock.withLock { collected.bytes }, as: UTF8.self)
        // Each report begins with its title line.
        let title = "  Sniff report\n"
        let reports = text.components(separatedBy: title).dropFirst().map { title + $0 }
        return (r.status, reports)
    }

    @Test func terminalShowsTheTopTwentyAndSaysHowManyMore() throws {
        let r = try onTerminal(["-r", sample])
        #expect(r.status == 0)
        #expect(blocks(r.stdout) == 20, "\(r.stdout)")
        #expect(r.stdout.contains("Address:port list: 20 of \(sampleEndpoints) endpoints"))
        #expect(r.stdout.contains("\(sampleEndpoints - 20) more address:port pairs (use --top all or --report FILE)"))
    }

    @Test func topAllOnATerminalShowsEverything() throws {
        let r = try onTerminal(["-r", sample, "--top", "all"])
        #expect(r.status == 0)
        #expect(blocks(r.stdout) == sampleEndpoints)
        #expect(!r.stdout.contains("more address:port pairs"))
    }

    @Test func pipedStdoutKeepsTheWholeList() throws {
        let r = try CLI.run(["-r", sample])
        #expect(r.status == 0)
        #expect(blocks(r.stdout) == sampleEndpoints)
        #expect(!r.stdout.contains("more address:port pairs"))
    }

    @Test func topNIsTheBusiestFirst() throws {
        let all = try CLI.run(["-r", sample]).stdout
        let five = try CLI.run(["-r", sample, "--top", "5"]).stdout
        #expect(blocks(five) == 5)
        #expect(five.contains("\(sampleEndpoints - 5) more address:port pairs"))
        // The five are the first five of the full list, in the same order.
        let list = { (t: String) in
            t.components(separatedBy: "\n    Sent:").dropLast().map { $0.split(separator: "\n").last ?? "" }
        }
        #expect(Array(list(five)) == Array(list(all).prefix(5)))
    }

    @Test func minPacketsCountsOnlyTheEligibleAsMore() throws {
        let r = try CLI.run(["-r", sample, "--top", "2", "--min-packets", "10"])
        #expect(r.status == 0)
        let full = try CLI.run(["-r", sample, "--min-packets", "10"])
        let eligible = blocks(full.stdout)
        try #require(eligible > 2)
        #expect(r.stdout.contains("\(eligible - 2) more address:port pairs"), "\(r.stdout)")
    }

    @Test func reportFileOfACaptureFileIsWrittenOnceUnlessAnIntervalIsGiven() throws {
        // The sample spans 6.3 s of capture time: the old default rewrote the file at 5 s.
        let dir = try TestPaths.tempDir()
        let once = dir.appendingPathComponent("once.txt").path
        #expect(try CLI.run(["-r", sample, "-q", "--report", once]).status == 0)
        let text = try String(contentsOfFile: once, encoding: .utf8)
        #expect(text.range(of: #"Updates:\s+1\n"#, options: .regularExpression) != nil, "\(text)")
        #expect(blocks(text) == sampleEndpoints, "the report file keeps the whole list")

        let every = dir.appendingPathComponent("every.txt").path
        #expect(try CLI.run(["-r", sample, "-q", "--report", every, "--interval", "1"]).status == 0)
        let rewritten = try String(contentsOfFile: every, encoding: .utf8)
        // Rewritten at each second of capture time after the first packet, then at the end.
        let updates = rewritten.split(separator: "\n").first { $0.contains("Updates:") }?.split(separator: " ").last
        #expect(updates.flatMap { Int($0) } == 6, "\(rewritten)")
    }

    @Test func aCaptureFileWritesItsReportOnceAndLiveRewritesAtEachInterval() throws {
        let once = try reportsWritten(["-r", sample, "-q"])
        #expect(once.status == 0)
        #expect(once.reports.count == 1, "\(once.reports.count) writes: \(once.reports.map { $0.prefix(200) })")
        #expect(once.reports.first.map(blocks) == sampleEndpoints)
        // --interval 1 over the sample's 6.3 s: five rewrites in capture time, then the end.
        let every = try reportsWritten(["-r", sample, "-q", "--interval", "1"])
        #expect(every.status == 0)
        #expect(every.reports.count == 6, "\(every.reports.count) writes")
    }

    @Test(arguments: ["0", "-3", "twenty"])
    func badTopExits64(value: String) throws {
        let r = try CLI.run(["-r", sample, "--top", value])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("--top"), "\(r.stderr)")
    }
}
