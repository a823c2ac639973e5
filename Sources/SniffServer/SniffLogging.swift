import Foundation
import Logging
import SniffCore
import Synchronization

/// swift-log set up for Sniff: one label per component ("sniff.capture", "sniff.decode",
/// "sniff.store", "sniff.api", "sniff.ws", "sniff.feed"), lines
/// `2023-11-14T22:13:20Z warning sniff.ws: message` on stderr or appended to a file.
public enum SniffLogging {
    public static let components = ["capture", "decode", "store", "api", "ws", "feed"]

    /// Metadata of a record whose message the user already read on stderr (the CLI's
    /// "sniff: store: ..." lines): kept in a --log-file, not repeated on stderr.
    public static let shownOnStderr: Logger.Metadata = [shownKey: "stderr"]
    static let shownKey = "shown"

    private static let bootstrapped = Mutex(false)

    /// Call before any logger is made; later calls do nothing (swift-log takes one
    /// bootstrap per process, and a capture with --serve reaches this twice). Throws a
    /// sentence when the file cannot be opened.
    public static func bootstrap(level: String, file: String?) throws {
        try bootstrapped.withLock { done in
            guard !done else { return }
            try bootstrapOnce(level: level, file: file)
            done = true
        }
    }

    private static func bootstrapOnce(level: String, file: String?) throws {
        guard let lvl = Logger.Level(rawValue: level.lowercased()) else {
            throw LoggingSetupError(message: """
                invalid --log-level '\(level)': valid values are trace, debug, info, notice, warning, error, critical
                """)
        }
        var fd: Int32 = 2
        if let file {
            fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            if fd < 0 {
                throw LoggingSetupError(message: "cannot open --log-file \(file): \(String(cString: strerror(errno)))")
            }
        }
        let output = LogOutput(fd: fd)
        LoggingSystem.bootstrap { label in
            var h = LineLogHandler(label: label, output: output)
            h.logLevel = lvl
            return h
        }
    }

    public static func logger(_ component: String) -> Logger { Logger(label: "sniff." + component) }
}

public struct LoggingSetupError: Error, SniffError {
    public let message: String
    public var userMessage: String { message }
    public var logMessage: String { message }
    public var exitCode: Int32 { 64 }
    public var description: String { message }
}

/// One log line at a time to a descriptor, from any thread.
final class LogOutput: Sendable {
    let fd: Int32
    private let lock = Mutex(())
    init(fd: Int32) { self.fd = fd }
    func write(_ line: String) {
        lock.withLock { _ in
            line.utf8CString.withUnsafeBufferPointer { p in _ = Foundation.write(fd, p.baseAddress, p.count - 1) }
        }
    }
}

struct LineLogHandler: LogHandler {
    let label: String
    let output: LogOutput
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { $1 } }
        // The user read it on stderr already; a log file keeps it.
        if all.removeValue(forKey: SniffLogging.shownKey) != nil && output.fd == 2 { return }
        let meta =
            all.isEmpty
            ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let time = Timestamp.now().utcString(fractionDigits: 3)
        // One line per record: newlines inside a message (from a packet, say) are escaped.
        let text = "\(event.message)".replacingOccurrences(of: "\n", with: "\\n")
        output.write("\(time) \(event.level) \(label): \(text)\(meta)\n")
    }
}
