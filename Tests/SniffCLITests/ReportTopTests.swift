import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The report's address:port list: the top 20 on a terminal with a line saying how many
/// more, everything when piped or written with --report, and the report file of a
/// capture file written once unless --interval asks for rewrites.
@Suite(.serialized)
struct ReportTopTests {
    var sample: String { CLI.sample.path }
    /// The sample has 52 address:port pairs.
    let sampleEndpoints = 52

    /// Endpoint blocks in a report: each has one "Sent:" line.
    func blocks(_ report: String) -> Int { report.components(separatedBy: "\n    Sent:").count - 1 }

    /// Runs sniff with stdout on a pseudo-terminal of 40 rows and returns what it printed.
    func onTerminal(_ args: [String]) throws -> (status: Int32, stdout: String) {
        var master: Int32 = -1, slave: Int32 = -1
        var ws = winsize(ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0)
        try #require(openpty(&master, &slave, nil, nil, &ws) == 0)
        // Drained while sniff writes: a pty holds only a few KB, and a report larger than
        // that would block the writer until the reader comes.
        final class Collected: @unchecked Sendable {
            var bytes: [UInt8] = []
            let done = DispatchSemaphore(value: 0)
        }
        let collected = Collected()
        let masterFD = master
        Thread {
            var buf = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = read(masterFD, &buf, buf.count)
                if n <= 0 { break }  // EIO once the writer side is closed and drained
                collected.bytes += buf[0..<n]
            }
            collected.done.signal()
        }.start()
        let sniff = try BackgroundSniff(args, stdout: FileHandle(fileDescriptor: slave, closeOnDealloc: false))
        let r = sniff.wait(seconds: 60)
        close(slave)
        _ = collected.done.wait(timeout: .now() + 10)
        close(master)
        return (r.status, String(decoding: collected.bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n"))
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
        let list = { (t: String) in t.components(separatedBy: "\n    Sent:").dropLast().map { $0.split(separator: "\n").last ?? "" } }
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
        let dir = try CLI.tempDir()
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

    @Test(arguments: ["0", "-3", "twenty"])
    func badTopExits64(value: String) throws {
        let r = try CLI.run(["-r", sample, "--top", value])
        #expect(r.status == 64, "\(r.stderr)")
        #expect(r.stderr.contains("--top"), "\(r.stderr)")
    }
}
