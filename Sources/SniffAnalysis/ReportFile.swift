import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// Rewrites a report file in place of the old one. Regular files are replaced
/// atomically (write a temporary, then rename), so a reader never sees half a report;
/// devices and pipes such as /dev/null are simply written.
public enum ReportFile {
    public static func write(_ sink: ByteSink, to path: String) throws {
        var st = stat()
        let exists = stat(path, &st) == 0
        let regular = !exists || (st.st_mode & S_IFMT) == S_IFREG
        if regular {
            let tmp = path + ".tmp-\(getpid())"
            let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw RuntimeFailure("cannot write report \(path): \(String(cString: strerror(errno)))")
            }
            var copy = sink
            let ok = copy.flush(to: fd)
            close(fd)
            guard ok, rename(tmp, path) == 0 else {
                let e = errno
                unlink(tmp)
                throw RuntimeFailure("cannot write report \(path): \(String(cString: strerror(e)))")
            }
        } else {
            let fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC)
            guard fd >= 0 else {
                throw RuntimeFailure("cannot write report \(path): \(String(cString: strerror(errno)))")
            }
            var copy = sink
            _ = copy.flush(to: fd)
            close(fd)
        }
    }
}
