import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// Pause and stop requests between the thread that takes them (keys, the UI) and the
/// analysis thread, which reads them once per batch.
final class RunFlags: @unchecked Sendable {  // every flag is read and written under `lock`
    private let lock = ConditionLock()
    private var _paused = false
    private var _stop = false
    private var _done = false
    var paused: Bool {
        get { lock.withLock { _paused } }
        set { lock.withLock { _paused = newValue } }
    }
    var stopRequested: Bool {
        get { lock.withLock { _stop } }
        set { lock.withLock { _stop = newValue } }
    }
    var done: Bool {
        get { lock.withLock { _done } }
        set { lock.withLock { _done = newValue } }
    }
}

/// The p/r/s keys of a live capture, read from a terminal in raw mode by a small
/// thread. Without a terminal on stdin there is no raw mode and no key thread.
final class KeyControl {
    private let flags = RunFlags()
    private var thread: WorkerThread?
    let enabled: Bool

    init(enabled: Bool) {
        self.enabled = enabled && isatty(0) == 1
        guard self.enabled else { return }
        TerminalMode.enterRaw()
        let flags = self.flags
        thread = WorkerThread(name: "sniff-keys") {
            var pfd = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            while !flags.done {
                guard poll(&pfd, 1, 200) > 0 else { continue }
                var c: UInt8 = 0
                let n = read(0, &c, 1)
                if n <= 0 { break }
                switch c {
                case UInt8(ascii: "p"), UInt8(ascii: "P"): flags.paused = true
                case UInt8(ascii: "r"), UInt8(ascii: "R"): flags.paused = false
                case UInt8(ascii: "s"), UInt8(ascii: "S"), UInt8(ascii: "q"): flags.stopRequested = true
                default: break
                }
            }
        }
    }

    var paused: Bool { flags.paused }
    var stopRequested: Bool { flags.stopRequested }

    /// Stops the key thread and gives the terminal back as it was.
    func finish() {
        flags.done = true
        thread?.join()
        thread = nil
        if enabled { TerminalMode.restore() }
    }
}

/// Raw mode without echo or line buffering, but with signals kept (Ctrl-C still
/// stops cleanly). The original settings are restored by `restore()` and, as a last
/// resort, at process exit.
enum TerminalMode {
    nonisolated(unsafe) static var saved: termios? = nil

    static func enterRaw() {
        var t = termios()
        guard tcgetattr(0, &t) == 0 else { return }
        saved = t
        t.c_lflag &= ~tcflag_t(ICANON | ECHO)
        withUnsafeMutableBytes(of: &t.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        tcsetattr(0, TCSANOW, &t)
        atexit { TerminalMode.restore() }
    }

    static func restore() {
        guard var t = saved else { return }
        tcsetattr(0, TCSANOW, &t)
        saved = nil
    }
}
