import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// The open-file limit of a server process. Every API, WebSocket and feed client holds a
/// descriptor, and the usual soft limit of 1024 would refuse clients (accept fails with
/// EMFILE) long before memory or CPU run short; the hard limit is what the administrator
/// allows, so a server raises its soft limit to it, as nginx and PostgreSQL do.
enum FileLimit {
    /// Raises the soft RLIMIT_NOFILE to the hard one; returns the limits in force.
    @discardableResult
    static func raiseToHard() -> (soft: UInt64, hard: UInt64)? {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var l = rlimit()
        guard getrlimit(resource, &l) == 0 else { return nil }
        if l.rlim_cur < l.rlim_max {
            var raised = l
            // An unlimited hard limit is not a valid soft one for files: the kernel caps
            // descriptors at fs.nr_open.
            raised.rlim_cur = l.rlim_max == rlim_t.max ? nrOpen : l.rlim_max
            if setrlimit(resource, &raised) == 0 { l = raised }
        }
        return (UInt64(l.rlim_cur), UInt64(l.rlim_max))
    }

    /// The kernel's ceiling on descriptors per process (/proc/sys/fs/nr_open).
    static var nrOpen: rlim_t {
        guard let f = fopen("/proc/sys/fs/nr_open", "r") else { return 1 << 20 }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 32)
        guard fgets(&buf, Int32(buf.count), f) != nil else { return 1 << 20 }
        let digits = buf.prefix { $0 >= 0x30 && $0 <= 0x39 }.map { UInt8(bitPattern: $0) }
        return rlim_t(String(decoding: digits, as: UTF8.self)) ?? 1 << 20
    }

    /// Raises the limit for a server and warns when it stays too low for many clients.
    static func prepareServer() {
        guard let l = raiseToHard() else { return }
        if l.soft < 4096 {
            Stderr.print("""
                sniff: warning: at most \(l.soft) open files (ulimit -n, hard limit \(l.hard)): the server can hold \
                about \(l.soft / 2) clients; raise the hard limit for more
                """)
        }
    }
}
