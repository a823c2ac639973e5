import ArgumentParser
import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM set a flag that the packet loops poll, so that every output is
/// flushed and the final report printed before exit (tcpdump's behaviour), and wake a
/// thread that sleeps in `waitForWake()`.
enum Signals {
    nonisolated(unsafe) static var stopRequested: sig_atomic_t = 0
    nonisolated(unsafe) static var received: Int32 = 0
    /// Signals received so far: tells one that came after a given moment from one before.
    nonisolated(unsafe) static var count: sig_atomic_t = 0
    /// Posted by the handler (sem_post is async-signal-safe) and by `wake()`.
    nonisolated(unsafe) private static let wakeUp: UnsafeMutablePointer<sem_t> = {
        let s = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
        sem_init(s, 0, 0)
        return s
    }()

    static func install() {
        signal(SIGPIPE, SIG_IGN)
        // Created before the handler can run: a lazy global's first use is not
        // async-signal-safe.
        _ = wakeUp
        let handler: @convention(c) (Int32) -> Void = { sig in
            Signals.received = sig
            Signals.count &+= 1
            Signals.stopRequested = 1
            sem_post(Signals.wakeUp)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // A parent may have started us with these blocked (some process launchers pass
        // their thread's mask on); unblock them, or Ctrl-C and kill would be ignored.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    static var shouldStop: Bool { stopRequested != 0 }

    /// Sleeps until a signal or a `wake()` that this thread has not yet seen; callers
    /// check what they wait for and sleep again.
    static func waitForWake() {
        while sem_wait(wakeUp) != 0 && errno == EINTR {}
    }

    /// Ends one `waitForWake()`, now or the next one.
    static func wake() { sem_post(wakeUp) }
}

/// Standard error, unbuffered, for warnings and the progress bar.
enum Stderr {
    static func print(_ text: String) {
        var line = text
        line.append("\n")
        line.withCString { p in _ = Glibc.write(2, p, strlen(p)) }
    }

    static func write(_ text: String) {
        text.withCString { p in _ = Glibc.write(2, p, strlen(p)) }
    }

    static var isTerminal: Bool { isatty(2) == 1 }
}

/// How every command ends on a failure the user can act on: `sniff: MESSAGE` on standard
/// error and the error's exit status (64 for usage, 1 at run time). `cleanup` runs
/// first (give the terminal back, close a store).
func exitOnSniffError<T>(cleanup: () -> Void = {}, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as SniffError {
        cleanup()
        throw exitCode(e)
    }
}

/// `exitOnSniffError` for async commands.
func exitOnSniffError<T>(cleanup: () async -> Void = {}, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let e as SniffError {
        await cleanup()
        throw exitCode(e)
    }
}

private func exitCode(_ e: SniffError) -> ExitCode {
    Stderr.print("sniff: \(e.userMessage)")
    return ExitCode(e.exitCode)
}
