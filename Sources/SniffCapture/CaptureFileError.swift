import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// Failures opening or reading a capture file, each with the fix where there is one.
public enum CaptureFileError: SniffError, Equatable {
    case cannotOpen(path: String, errno: Int32)
    case isDirectory(path: String)
    case notACaptureFile(path: String, magic: UInt32)
    case empty(path: String)
    case unsupportedVersion(path: String, format: String, major: UInt16, minor: UInt16)
    case corrupt(path: String, detail: String)
    case readFailed(path: String, errno: Int32)

    public var userMessage: String {
        switch self {
        case .cannotOpen(let path, let e):
            let reason = String(cString: strerror(e))
            switch e {
            case ENOENT: return "cannot open \(path): no such file; check the path (-r - reads standard input)"
            case EACCES, EPERM: return """
                cannot open \(path): permission denied; check the file's permissions or run with a user that can read it
                """
            default: return "cannot open \(path): \(reason)"
            }
        case .isDirectory(let path):
            return "cannot read \(path): it is a directory, not a capture file"
        case .notACaptureFile(let path, let magic):
            let hex = String(magic, radix: 16)
            return """
                \(path) is not a pcap or pcapng capture file (first bytes \
                0x\(String(repeating: "0", count: max(0, 8 - hex.count)))\(hex)); convert it with editcap or capture \
                with tcpdump -w
                """
        case .empty(let path):
            return "\(path) is empty: it holds no capture file header"
        case .unsupportedVersion(let path, let format, let major, let minor):
            return "\(path): unsupported \(format) version \(major).\(minor)"
        case .corrupt(let path, let detail):
            return "\(path) is corrupt: \(detail)"
        case .readFailed(let path, let e):
            return "error reading \(path): \(String(cString: strerror(e)))"
        }
    }

    public var exitCode: Int32 { 1 }
}
