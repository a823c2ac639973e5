import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
import SniffTestSupport

/// `sniff top` in a pseudo-terminal, as a user over SSH sees it: the child is a session
/// leader with the pty as its controlling terminal (so Ctrl-C raises SIGINT), its
/// output is interpreted by a VT100 screen model, keys are written to the master.
final class PtySniff: @unchecked Sendable {
    let master: Int32
    let slave: Int32
    let pid: pid_t
    let rows: Int, cols: Int
    let errPath: String
    private let lock = NSLock()
    private var screen: VTScreen
    private var raw: [UInt8] = []
    private var done = false
    private var reader: Thread?
    private(set) var before = termios()

    init(_ args: [String], rows: Int, cols: Int, environment: [String: String] = [:]) throws {
        self.rows = rows; self.cols = cols
        var m: Int32 = -1, s: Int32 = -1
        var ws = winsize(ws_row: UInt16(rows), ws_col: UInt16(cols), ws_xpixel: 0, ws_ypixel: 0)
        var name = [CChar](repeating: 0, count: 128)
        guard openpty(&m, &s, &name, nil, &ws) == 0 else { throw CocoaError(.fileNoSuchFile) }
        master = m; slave = s
        _ = fcntl(m, F_SETFD, FD_CLOEXEC); _ = fcntl(s, F_SETFD, FD_CLOEXEC)
        tcgetattr(s, &before)
        screen = VTScreen(rows: rows, cols: cols)
        let dir = try TestPaths.tempDir()
        errPath = dir.appendingPathComponent("stderr").path
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        let ttyPath = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // Opened after setsid: the pty becomes the child's controlling terminal.
        posix_spawn_file_actions_addopen(&fa, 0, ttyPath, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&fa, 0, 1)
        posix_spawn_file_actions_addopen(&fa, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(
            &attr, Int16(0x80 /* POSIX_SPAWN_SETSID */ | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var empty = sigset_t(); sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t(); sigemptyset(&defaults)
        for sig in [SIGINT, SIGTERM, SIGPIPE, SIGQUIT] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var env = ProcessInfo.processInfo.environment.filter { $0.key != "NO_COLOR" && !$0.key.hasPrefix("LC_") }
        env["TERM"] = "xterm-256color"
        env["LANG"] = "C.UTF-8"
        for (k, v) in environment { env[k] = v }
        let argv = ([CLI.binary.path] + args).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv { free(p) }; for p in envp { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, CLI.binary.path, &fa, &attr, argv, envp)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        pid = child
        let t = Thread { [self] in
            var buf = [UInt8](repeating: 0, count: 65536)
            var pfd = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            while !lock.withLock({ done }) {
                guard poll(&pfd, 1, 50) > 0 else { continue }
                let n = read(master, &buf, buf.count)
                if n <= 0 { break }
                lock.withLock {
                    raw.append(contentsOf: buf[0..<n])
                    screen.feed(Array(buf[0..<n]))
                }
            }
        }
        reader = t
        t.start()
    }

    deinit {
        lock.withLock { done = true }
        if waitpid(pid, nil, WNOHANG) == 0 { kill(pid, SIGKILL); waitpid(pid, nil, 0) }
        usleep(100_000)
        close(master); close(slave)
    }

    var current: VTScreen { lock.withLock { screen } }
    var output: [UInt8] { lock.withLock { raw } }

    /// Waits until the screen satisfies `ok` (up to `seconds`).
    @discardableResult
    func waitFor(_ seconds: Double = 20, _ ok: (VTScreen) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if ok(current) { return true }
            usleep(50_000)
        }
        return ok(current)
    }

    func send(_ s: String) {
        let b = Array(s.utf8)
        _ = b.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    }

    /// The exit status (or 128 + signal), nil if still running after `seconds`.
    func waitExit(_ seconds: Double = 20) -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while Date() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid {
                usleep(200_000)  // let the reader take the last bytes
                let sig = status & 0x7F
                return sig == 0 ? (status >> 8) & 0xFF : 128 + sig
            }
            usleep(50_000)
        }
        return nil
    }

    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// The terminal's modes now equal those before sniff started.
    var terminalRestored: Bool {
        var now = termios()
        tcgetattr(slave, &now)
        return now.c_lflag == before.c_lflag && now.c_iflag == before.c_iflag && now.c_oflag == before.c_oflag
            && now.c_cflag == before.c_cflag
    }
}

@Suite(.serialized)
struct TopTerminalTests {
    static let sizes: [(Int, Int)] = [(24, 80), (60, 200)]

    func startOnSample(rows: Int, cols: Int, environment: [String: String] = [:]) throws -> PtySniff {
        let p = try PtySniff(["top", "-r", TestPaths.sample.path], rows: rows, cols: cols, environment: environment)
        let ok = p.waitFor { $0.line(0).contains("| finished |") && $0.text.contains("391 matched of 391 seen") }
        #expect(ok, "overview never showed the finished file:\n\(p.current.text)\n\(p.stderr)")
        return p
    }

    @Test(arguments: [0, 1])
    func eachViewDrawsTheSampleAndKeysSwitchAndSort(size: Int) throws {
        let (rows, cols) = Self.sizes[size]
        let p = try startOnSample(rows: rows, cols: cols)
        // The totals can be drawn a redraw before the flow and transport tables of the
        // same moment (seen once on a loaded machine): wait for the tables too.
        _ = p.waitFor { $0.text.range(of: #"\n tcp +299 +"#, options: .regularExpression) != nil }
        var s = p.current
        #expect(s.line(rows - 1).hasPrefix("1 Overview 2 Talkers 3 Flows 4 Apps 5 Alerts 6 Packets"))
        #expect(s.text.range(of: #"\n tcp +299 +"#, options: .regularExpression) != nil, "\(s.text)")
        #expect(s.text.contains("▁") || s.text.contains("█"), "a sparkline:\n\(s.text)")

        p.send("2")
        #expect(
            p.waitFor { $0.line(1).hasPrefix("address:port") && $0.line(2).hasPrefix("10.77.0.2:80 ") },
            "\(p.current.text)")
        p.send(">")
        #expect(
            p.waitFor {
                $0.text.contains("sort: pkts desc")
                    && $0.line(2).range(of: #" 138( |$)"#, options: .regularExpression) != nil
            }, "\(p.current.text)")

        p.send("3")
        #expect(
            p.waitFor {
                $0.line(1).hasPrefix("ts") && $0.text.contains("[fd77::1]:40008") && $0.text.contains("row 1/39")
            },
            "\(p.current.text)")
        if cols >= 200 {
            s = p.current
            for field in ["uid", "conn_state", "history", "orig_bytes"] { #expect(s.line(1).contains(field)) }
            #expect(s.text.contains("ShADadFf"))
        }

        p.send("4")
        #expect(p.waitFor { $0.line(1).hasPrefix("app") && $0.line(2).hasPrefix("HTTP ") }, "\(p.current.text)")
        p.send("5")
        #expect(p.waitFor { $0.line(1).hasPrefix("time") && $0.text.contains("nothing yet") }, "\(p.current.text)")
        p.send("6")
        #expect(
            p.waitFor { $0.text.contains("-- Frame 391 ") && $0.text.contains("Info: 7 → 40008 len=1452") },
            "\(p.current.text)")
        p.send("\u{1B}OH")  // Home, as xterm sends it in keypad mode: the first packet
        #expect(p.waitFor { $0.text.contains("-- Frame 1 ") }, "\(p.current.text)")
        p.send("?")
        #expect(p.waitFor { $0.text.contains("reverse the sort") }, "\(p.current.text)")
        p.send(" ")
        p.send("q")
        #expect(p.waitExit() == 0, "\(p.stderr)")
        #expect(p.current.alternateExits >= 1, "left the alternate screen")
        #expect(p.terminalRestored)
    }

    @Test func ctrlCRestoresTheTerminal() throws {
        let p = try startOnSample(rows: 24, cols: 80)
        p.send("3")
        #expect(p.waitFor { $0.line(1).hasPrefix("ts") })
        p.send("\u{03}")
        #expect(p.waitExit() == 0, "Ctrl-C ends cleanly: \(p.stderr)")
        #expect(p.current.alternateExits >= 1)
        #expect(p.terminalRestored)
    }

    @Test func sigtermRestoresTheTerminal() throws {
        let p = try startOnSample(rows: 24, cols: 80)
        kill(p.pid, SIGTERM)
        #expect(p.waitExit() == 0, "\(p.stderr)")
        #expect(p.current.alternateExits >= 1)
        #expect(p.terminalRestored)
    }

    @Test func noColorDrawsWithoutColours() throws {
        let colored = try startOnSample(rows: 24, cols: 80)
        colored.send("q")
        #expect(colored.waitExit() == 0)
        let plain = try startOnSample(rows: 24, cols: 80, environment: ["NO_COLOR": "1"])
        plain.send("q")
        #expect(plain.waitExit() == 0)
        // The title bar: black on cyan (setab 6), or reverse video without colour.
        let cyanBackground = Array("\u{1B}[46m".utf8)
        func contains(_ hay: [UInt8], _ needle: [UInt8]) -> Bool {
            guard hay.count >= needle.count else { return false }
            return (0...(hay.count - needle.count)).contains { hay[$0..<($0 + needle.count)].elementsEqual(needle) }
        }
        #expect(contains(colored.output, cyanBackground))
        #expect(!contains(plain.output, cyanBackground))
        #expect(
            contains(plain.output, Array("\u{1B}[7m".utf8)) || contains(plain.output, Array(";7m".utf8)),
            "reverse video")
    }

    @Test func refusesWithoutATerminal() throws {
        let r = try CLI.run(["top", "-r", TestPaths.sample.path])
        #expect(r.status == 64)
        #expect(r.stderr.contains("sniff top draws on a terminal"))
        let bad = try CLI.run(["top", "-r", TestPaths.sample.path, "--flows"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--flows-file"))
    }

    @Test(.enabled(if: getuid() == 0, "live capture needs root (CAP_NET_RAW)"))
    func liveCaptureOnLoopbackShowsThePackets() throws {
        let port = LoopbackTraffic.randomPort()
        let p = try PtySniff(["top", "-i", "lo", "--direction", "in", "udp port \(port)"], rows: 24, cols: 80)
        #expect(
            p.waitFor { $0.line(0).contains("interface lo") && $0.line(0).contains("running") },
            "\(p.current.text)\n\(p.stderr)")
        LoopbackTraffic.sendUDP(to: port, payloadLengths: [10, 20, 30])
        #expect(p.waitFor { $0.text.contains("3 matched of 3 seen") }, "\(p.current.text)")
        p.send("6")
        #expect(p.waitFor { $0.text.contains(":\(port)") && $0.text.contains("-- Frame 3 ") }, "\(p.current.text)")
        p.send("s")
        #expect(p.waitFor { $0.line(0).contains("stopped") }, "\(p.current.text)")
        p.send("q")
        #expect(p.waitExit() == 0, "\(p.stderr)")
        #expect(p.terminalRestored)
        #expect(p.stderr.contains("3 packets captured"), "\(p.stderr)")
    }
}

extension TopTerminalTests {
    @Test(.enabled(if: getuid() == 0, "live capture needs root (CAP_NET_RAW)"),
          .enabled(if: Peers.hasPython && Peers.hasCurl, "needs python3 and curl"))
    func processesViewShowsTheLocalProcesses() throws {
        let port = LoopbackTraffic.randomPort()
        let p = try PtySniff(["top", "-i", "lo", "tcp port \(port)"], rows: 24, cols: 80)
        #expect(
            p.waitFor { $0.line(0).contains("interface lo") && $0.line(0).contains("running") },
            "\(p.current.text)\n\(p.stderr)")
        let server = try Peers.tcpServer(host: "127.0.0.1", port: port)
        defer { server.stop() }
        #expect(server.firstLine() == "ready")
        p.send("7")
        let curl = try Peers.Peer(["curl", "-s", "-o", "/dev/null", "--max-time", "10", "http://127.0.0.1:\(port)/"])
        curl.finish()
        #expect(
            p.waitFor { s in
                (0..<24).contains {
                    s.line($0).hasPrefix(String(repeating: " ", count: 7 - String(curl.pid).count) + "\(curl.pid) curl")
                }
            },
            "\(p.current.text)")
        // The server's python3 is the responder of the same flow: the flow is curl's.
        #expect(p.current.text.contains("recv/s") && p.current.text.contains("sent/s"))
        print(p.current.text)
        p.send("q")
        #expect(p.waitExit() == 0, "\(p.stderr)")
        #expect(p.terminalRestored)
    }

    /// A fatal signal (a trap on any thread ends this way) still gives the terminal back.
    @Test func fatalSignalRestoresTheTerminal() throws {
        let p = try startOnSample(rows: 24, cols: 80)
        kill(p.pid, SIGSEGV)
        #expect(p.waitExit() == 128 + SIGSEGV, "the signal's default action follows")
        #expect(p.current.alternateExits >= 1)
        #expect(p.terminalRestored)
    }
}

extension TopTerminalTests {
    /// The time cursor over the sample (7 windows of 1 s; 12, 28, 60, 200, 32, 5 and 54
    /// frames per second, tshark): keys move it, the overview and the tables follow.
    @Test func timeCursorKeysMoveThroughTheFile() throws {
        let p = try startOnSample(rows: 24, cols: 80)
        p.send("]")
        // The title holds the file's whole path first: the status line says where the cursor is.
        #expect(
            p.waitFor {
                $0.line(22).hasPrefix("cursor 00:14:22 +1 s, window 1/7")
                    && $0.text.contains("12 by the cursor, of 391 matched")
            },
            "\(p.current.text)")
        p.send("]]]")
        #expect(
            p.waitFor { $0.text.contains("300 by the cursor, of 391 matched") && $0.text.contains("200 pkt/s") },
            "\(p.current.text)")
        p.send("2")
        #expect(
            p.waitFor {
                $0.line(1).hasPrefix("address:port") && $0.line(2).hasPrefix("[fd77::2]:80 ")
                    && $0.text.contains("row 1/")
            },
            "\(p.current.text)")
        p.send("^")
        // The first second has no ports: ARP and pings.
        #expect(p.waitFor { s in s.text.contains("window 1/7") && !s.text.contains(":80")
                    && (s.line(2).hasPrefix("10.77.0.") || s.line(2).hasPrefix("fd77::")) },
                "\(p.current.text)")
        p.send("6")
        #expect(p.waitFor { $0.text.contains("row 12/12") && $0.text.contains("-- Frame 12 ") }, "\(p.current.text)")
        p.send("c")
        #expect(p.waitFor { !$0.line(0).contains("cursor") && $0.text.contains("-- Frame 391 ") }, "\(p.current.text)")
        p.send("q")
        #expect(p.waitExit() == 0, "\(p.stderr)")
        #expect(p.terminalRestored)
    }
}

/// `sniff top` inside tmux, as over SSH: it draws in the pane, and q gives the pane back
/// as it was (the alternate screen left, the shell's lines before it visible again).
@Suite(.serialized)
struct TopTmuxTests {
    /// Runs a command and waits for it (waitpid: tmux's first client forks the server,
    /// which must not hold the output open); its output through a file.
    static func run(_ args: [String]) -> (status: Int32, out: String) {
        guard let dir = try? TestPaths.tempDir() else { return (-1, "") }
        let path = dir.appendingPathComponent("out").path
        var fa = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fa)
        defer { posix_spawn_file_actions_destroy(&fa) }
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0)
        // The test runner's threads block most signals, and a spawned process inherits
        // the mask: tmux's server would then never see SIGCHLD or SIGTERM (nor end).
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var empty = sigset_t(); sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t(); sigemptyset(&defaults)
        for sig in [SIGINT, SIGTERM, SIGPIPE, SIGCHLD, SIGHUP] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        let argv = args.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        guard posix_spawnp(&pid, args[0], &fa, &attr, argv, environ) == 0 else { return (-1, "") }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return ((status >> 8) & 0xFF, (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }

    static var hasTmux: Bool { run(["tmux", "-V"]).status == 0 }

    /// Polls `read` until `ok` holds (up to 20 s); the last text read.
    static func poll(_ read: () -> String, _ ok: (String) -> Bool) -> (Bool, String) {
        let deadline = Date().addingTimeInterval(20)
        var text = read()
        while !ok(text) && Date() < deadline {
            usleep(100_000)
            text = read()
        }
        return (ok(text), text)
    }

    @Test(.enabled(if: hasTmux, "tmux is not installed"), .timeLimit(.minutes(2)))
    func drawsInTmuxAndQRestoresThePane() throws {
        // A server of its own (-L), so that no user's tmux session is touched.
        let tmux = ["tmux", "-L", "sniff-test-\(getpid())", "-f", "/dev/null"]
        defer { _ = Self.run(tmux + ["kill-server"]) }
        let script = "echo BEFORE-TOP; '\(CLI.binary.path)' top -r '\(TestPaths.sample.path)'; echo EXIT=$?; sleep 60"
        let started = Self.run(tmux + ["new-session", "-d", "-s", "top", "-x", "80", "-y", "24",
                                       "env", "TERM=screen-256color", "LANG=C.UTF-8", "sh", "-c", script])
        #expect(started.status == 0)
        let pane = { Self.run(tmux + ["capture-pane", "-p", "-t", "top"]).out }
        var (ok, text) = Self.poll(pane) { $0.contains("| finished |") && $0.contains("391 matched of 391 seen") }
        #expect(ok, "the overview in the pane:\n\(text)")
        #expect(text.contains("1 Overview 2 Talkers 3 Flows 4 Apps"), "\(text)")
        #expect(Self.run(tmux + ["display-message", "-p", "-t", "top", "#{alternate_on}"]).out.hasPrefix("1"))
        _ = Self.run(tmux + ["send-keys", "-t", "top", "3"])
        (ok, text) = Self.poll(pane) { $0.contains("id.orig_h:p") && $0.contains("row 1/39") }
        #expect(ok, "the flows view in the pane:\n\(text)")
        _ = Self.run(tmux + ["send-keys", "-t", "top", "q"])
        (ok, text) = Self.poll(pane) { $0.contains("EXIT=0") }
        #expect(ok, "sniff top ended with 0:\n\(text)")
        #expect(text.contains("BEFORE-TOP") && !text.contains("1 Overview"), "the pane as before:\n\(text)")
        #expect(Self.run(tmux + ["display-message", "-p", "-t", "top", "#{alternate_on}"]).out.hasPrefix("0"))
    }
}

/// The same through GNU screen, whose terminal emulation (TERM=screen) is its own.
struct TopScreenTests {
    static var hasScreen: Bool { TopTmuxTests.run(["screen", "-v"]).out.hasPrefix("Screen version") }

    @Test(.enabled(if: hasScreen, "screen is not installed"), .timeLimit(.minutes(2)))
    func drawsInScreenAndQRestoresTheWindow() throws {
        // A socket folder of its own (SCREENDIR, which screen wants private), so that no
        // user's session is touched; `altscreen on`, as most screenrc files have it, so
        // that the window shows again what was there before sniff top.
        let dir = try TestPaths.tempDir()
        chmod(dir.path, 0o700)
        let rc = dir.appendingPathComponent("screenrc")
        try "altscreen on\n".write(to: rc, atomically: true, encoding: .utf8)
        let screen = ["env", "SCREENDIR=\(dir.path)", "TERM=xterm", "screen"]
        defer { _ = TopTmuxTests.run(screen + ["-S", "top", "-X", "quit"]) }
        let script = "echo BEFORE-TOP; '\(CLI.binary.path)' top -r '\(TestPaths.sample.path)'; echo EXIT=$?; sleep 60"
        let started = TopTmuxTests.run(screen + ["-c", rc.path, "-U", "-dmS", "top",
                                                 "env", "LANG=C.UTF-8", "sh", "-c", script])
        #expect(started.status == 0)
        // `-X hardcopy` only sends the command: the session writes the file a moment later,
        // each time under a new name so that an older copy is never read.
        var copies = 0
        let window = { () -> String in
            copies += 1
            let copy = dir.appendingPathComponent("window-\(copies)").path
            _ = TopTmuxTests.run(screen + ["-S", "top", "-X", "hardcopy", copy])
            for _ in 0..<20 where !FileManager.default.fileExists(atPath: copy) { usleep(50_000) }
            usleep(50_000)
            // Decoded leniently: the copy is in the window's encoding, not always UTF-8.
            return FileManager.default.contents(atPath: copy).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        var (ok, text) = TopTmuxTests.poll(window) {
            $0.contains("| finished |") && $0.contains("391 matched of 391 seen")
        }
        #expect(ok, "the overview in the window:\n\(text)")
        #expect(text.contains("1 Overview 2 Talkers 3 Flows 4 Apps"), "\(text)")
        _ = TopTmuxTests.run(screen + ["-S", "top", "-X", "stuff", "3"])
        (ok, text) = TopTmuxTests.poll(window) { $0.contains("id.orig_h:p") && $0.contains("row 1/39") }
        #expect(ok, "the flows view in the window:\n\(text)")
        _ = TopTmuxTests.run(screen + ["-S", "top", "-X", "stuff", "q"])
        (ok, text) = TopTmuxTests.poll(window) { $0.contains("EXIT=0") }
        #expect(ok, "sniff top ended with 0:\n\(text)")
        #expect(text.contains("BEFORE-TOP") && !text.contains("1 Overview"), "the window as before:\n\(text)")
    }
}
