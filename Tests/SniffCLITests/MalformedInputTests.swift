import Foundation
import Testing
import SniffCapture
#if canImport(Glibc)
import Glibc
#endif
import SniffTestSupport

/// Hostile and broken captures, end to end: the built `sniff -r FILE --json` (and
/// `--flows`) must exit 0, or 1 with one clear line on stderr, and never crash; a
/// length field claiming gigabytes must not be allocated. The library reader is run
/// in-process where the binary would be too slow (every cut of a file).
@Suite(.serialized)
struct MalformedInputTests {
    /// The shared real-world captures (tcpdump's and libpcap's test files, fuzzed ones
    /// among them), when present beside the checkout.
    static var sharedCaptures: [URL] {
        let dir = ProcessInfo.processInfo.environment["SNIFF_SHARED_PCAPS"].map { URL(fileURLWithPath: $0) }
            ?? TestPaths.packageRoot.deletingLastPathComponent().appendingPathComponent("shared/pcaps")
        return captures(in: dir)
    }

    static func captures(in dir: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted().map {
            dir.appendingPathComponent($0)
        }
    }

    /// Our own captures and the regression captures kept from fuzzing.
    static var projectCaptures: [URL] {
        captures(in: TestPaths.fixtures) + [TestPaths.sample]
            + captures(in: TestPaths.packageRoot.appendingPathComponent("Tests/Regressions"))
    }

    /// `--flows` exists since the flow table was wired into the command line.
    static let hasFlows: Bool = (try? CLI.run(["capture", "--help"]).stdout.contains("--flows")) ?? false

    /// What must hold for any input: exit 0, or exit 1 with exactly one line on stderr
    /// after any warnings, naming the file; never a signal, never another status.
    static func expectGraceful(_ r: Spawned, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(
            r.signal == nil, "\(what): killed by signal \(r.signal ?? 0)\n\(r.stderr.suffix(2000))",
            sourceLocation: sourceLocation)
        #expect(
            r.status == 0 || r.status == 1, "\(what): exit \(r.status)\n\(r.stderr.suffix(2000))",
            sourceLocation: sourceLocation)
        if r.status == 1 {
            let errors = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("sniff: warning:") }
            #expect(
                errors.count == 1 && errors[0].hasPrefix("sniff: ") && errors[0].count < 400,
                "\(what): exit 1 without one clear error line: \(r.stderr.suffix(2000))", sourceLocation: sourceLocation
            )
        }
    }

    static func modes(_ path: String) -> [[String]] {
        var m = [["-r", path, "--json"]]
        if hasFlows { m.append(["-r", path, "--flows"]) }
        return m
    }

    // MARK: whole captures

    @Test(.enabled(if: !MalformedInputTests.sharedCaptures.isEmpty, "../shared/pcaps is not beside the package"))
    func sharedCapturesIncludingOobrFilesAreHandled() throws {
        let files = Self.sharedCaptures
        #expect(files.contains { $0.lastPathComponent.contains("oobr") })
        for f in files {
            for args in Self.modes(f.path) {
                Self.expectGraceful(try Spawned.run(args), "\(args.joined(separator: " "))")
            }
        }
    }

    @Test func projectAndRegressionCapturesAreHandled() throws {
        for f in Self.projectCaptures {
            for args in Self.modes(f.path) {
                Self.expectGraceful(try Spawned.run(args), "\(args.joined(separator: " "))")
            }
        }
    }

    // MARK: truncation

    /// A small capture cut at every byte offset of its first 2 KB: in-process through
    /// the reader for every offset (frames up to the cut, then a warning or a clear
    /// error), through the binary for 25 of them per file.
    @Test func everyCutOfTheFirstTwoKilobytes() throws {
        for name in ["lo-udp-tcp.pcap", "lo-nano.pcapng"] {
            let data = try Data(contentsOf: TestPaths.fixtures.appendingPathComponent(name))
            let dir = try TestPaths.tempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let cut = dir.appendingPathComponent(name)
            let whole = Self.readAll(data, at: cut)
            #expect(whole.error == nil && whole.frames > 0)
            var previous = 0
            for n in 0...min(2048, data.count) {
                let got = Self.readAll(Data(data.prefix(n)), at: cut)
                // Frames only appear as the cut moves on, and they are the file's own.
                #expect(
                    got.frames >= previous && got.frames <= whole.frames, "\(name) cut at \(n): \(got.frames) frames")
                #expect(
                    got.bytes == Array(whole.bytes.prefix(got.bytes.count)), "\(name) cut at \(n): different frames")
                previous = got.frames
            }
            var rng = SplitMix64(seed: 2048)
            let offsets = Set((0..<25).map { _ in Int.random(in: 0...min(2048, data.count), using: &rng) }).union([0])
            for n in offsets.sorted() {
                try data.prefix(n).write(to: cut)
                for args in Self.modes(cut.path) {
                    let r = try Spawned.run(args)
                    Self.expectGraceful(r, "\(name) cut at \(n)")
                    if n == 0 { #expect(r.status == 1 && r.stderr.contains("empty"), "\(r.stderr)") }
                }
            }
        }
    }

    struct ReadResult {
        var frames = 0
        var bytes: [UInt8] = []
        var error: Error?
    }

    /// Every frame the reader returns for `data` (written to `file`), and how it stopped.
    static func readAll(_ data: Data, at file: URL) -> ReadResult {
        var out = ReadResult()
        do {
            try data.write(to: file)
            let reader = try CaptureFileReader(path: file.path)
            while let p = try reader.next() {
                out.frames += 1
                out.bytes.append(contentsOf: p.bytes)
            }
        } catch {
            out.error = error
        }
        return out
    }

    // MARK: bit flips

    /// Captures with random bits flipped (seeded, so a failure reproduces): 400 through
    /// the reader in-process, 20 of them through the binary.
    @Test func randomBitFlips() throws {
        var rng = SplitMix64(seed: 0xB17F)
        let sources = ["lo-udp-tcp.pcap", "lo-nano.pcapng", "multi-iface.pcapng", "dns.pcap", "app.pcap", "vlan.pcap"]
        let originals = try sources.map { try [UInt8](Data(contentsOf: TestPaths.fixtures.appendingPathComponent($0))) }
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for i in 0..<400 {
            let k = i % originals.count
            var bytes = originals[k]
            let flips = Int.random(in: 1...16, using: &rng)
            for _ in 0..<flips {
                // Mostly near the start, where the headers and lengths are.
                let limit = Bool.random(using: &rng) ? min(bytes.count, 256) : bytes.count
                let at = Int.random(in: 0..<limit, using: &rng)
                bytes[at] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            }
            let f = dir.appendingPathComponent("flip-\(i)-\(sources[k])")
            _ = Self.readAll(Data(bytes), at: f)
            if i % 20 == 0 {
                for args in Self.modes(f.path) {
                    Self.expectGraceful(try Spawned.run(args), "\(f.lastPathComponent) (\(flips) flips)")
                }
            }
        }
    }

    // MARK: lengths that lie

    /// A pcap record claiming 4 GB, and pcapng blocks claiming nearly 4 GB, as files and
    /// on standard input: a clear "corrupt" error, and the process never holds more
    /// than a small multiple of the input.
    @Test func hugeClaimedLengthsAreNotAllocated() throws {
        let frame = [UInt8](repeating: 0x45, count: 60)
        var pcap = CLI.pcap(linkType: 1, frames: [frame])
        // A second record whose caplen and wire length are 0xFFFFFFFF, then some bytes.
        pcap.append(contentsOf: [2, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        pcap.append(contentsOf: frame)
        let cases: [(String, Data)] = [
            ("caplen-4g.pcap", pcap),
            ("block-huge.pcapng", try Data(contentsOf: Self.regression(prefix: "pcapng-block-length-huge"))),
            ("epb-caplen-huge.pcapng", try Data(contentsOf: Self.regression(prefix: "pcapng-epb-caplen-huge"))),
            ("shb-huge.pcapng", try Data(contentsOf: Self.regression(prefix: "pcapng-shb-length-huge"))),
        ]
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, data) in cases {
            let f = dir.appendingPathComponent(name)
            try data.write(to: f)
            for stdin in [false, true] {
                let r = try Spawned.run(["-r", stdin ? "-" : f.path, "--json"], stdinFile: stdin ? f.path : nil)
                Self.expectGraceful(r, name)
                #expect(r.status == 1 && r.stderr.contains("corrupt"), "\(name): \(r.stderr)")
                // A debug build of sniff alone is some tens of MB; 4 GB would not fit.
                // wait4's ru_maxrss is not usable here: posix_spawn starts the child on the
                // test process's memory (vfork), and exec records that as the child's peak.
                // GNU time's own child starts from time's small image, so its figure is sniff's.
                let rss = try Spawned.peakRSSKiB(
                    ["-r", stdin ? "-" : f.path, "--json"], stdinFile: stdin ? f.path : nil)
                #expect(rss < 256 * 1024, "\(name)\(stdin ? " on stdin" : ""): peak RSS \(rss) KiB")
            }
            // In-process: the reader refuses the length before reading it.
            let got = Self.readAll(data, at: f)
            #expect(
                got.error.map {
                    "\($0)".contains("corrupt") || "\($0)".contains("claims") || "\($0)".contains("length")
                } == true,
                "\(name): \(String(describing: got.error))")
        }
    }

    static func regression(prefix: String) throws -> URL {
        let dir = TestPaths.packageRoot.appendingPathComponent("Tests/Regressions")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        guard let n = names.first(where: { $0.hasPrefix(prefix + "-") }) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "Tests/Regressions/\(prefix)-*"])
        }
        return dir.appendingPathComponent(n)
    }
}

/// A child process run with posix_spawn and reaped with wait4, so that the test sees a
/// death by signal as such and gets the child's peak RSS.
struct Spawned {
    var status: Int32
    var signal: Int32?
    var maxRSSKiB: Int
    var stdout: String
    var stderr: String

    static func run(
        _ args: [String], binary: String = CLI.binary.path, stdinFile: String? = nil, timeout: Double = 120
    ) throws -> Spawned {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out").path, err = dir.appendingPathComponent("err").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdinFile ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let argv = ([binary] + args).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, binary, &actions, nil, argv, environ)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EINVAL) }
        var status: Int32 = 0
        var usage = rusage()
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let w = wait4(pid, &status, WNOHANG, &usage)
            if w == pid { break }
            if w < 0 && errno != EINTR { throw POSIXError(.ECHILD) }
            if Date() > deadline { kill(pid, SIGKILL) }
            usleep(2000)
        }
        // WIFSIGNALED / WTERMSIG / WEXITSTATUS, spelled out (they are macros in C).
        let sig = status & 0x7F
        let signaled = sig != 0 && sig != 0x7F
        return Spawned(status: signaled ? -1 : (status >> 8) & 0xFF, signal: signaled ? sig : nil,
                       maxRSSKiB: usage.ru_maxrss,
                       stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }
}

extension Spawned {
    /// sniff's own peak RSS, measured by /usr/bin/time (installed by .ci/run).
    static func peakRSSKiB(_ args: [String], stdinFile: String?) throws -> Int {
        try measured(args, stdinFile: stdinFile).peakRSSKiB
    }

    /// sniff run under /usr/bin/time: what it printed and returned, and its own peak RSS.
    static func measured(_ args: [String], stdinFile: String? = nil) throws -> (result: Spawned, peakRSSKiB: Int) {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = dir.appendingPathComponent("rss").path
        let r = try Spawned.run(["-f", "%M", "-o", report, CLI.binary.path] + args, binary: "/usr/bin/time",
                                stdinFile: stdinFile)
        let text = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
        let kib = text.split(separator: "\n").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.last
        return (r, try #require(kib, "GNU time printed no peak RSS: \(text)"))
    }
}

