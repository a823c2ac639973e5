import ArgumentParser
import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM set a flag that the packet loops poll, so that every output is
/// flushed and the final report printed before exit (tcpdump's behaviour).
enum Signals {
    nonisolated(unsafe) static var stopRequested: sig_atomic_t = 0
    nonisolated(unsafe) static var received: Int32 = 0

    static func install() {
        signal(SIGPIPE, SIG_IGN)
        let handler: @convention(c) (Int32) -> Void = { sig in
            Signals.received = sig
            Signals.stopRequested = 1
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
        Stderr.print("sniff: \(e.userMessage)")
        throw ExitCode(e.exitCode)
    }
}
