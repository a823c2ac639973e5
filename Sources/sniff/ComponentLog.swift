import Logging
import SniffAnalysis
import SniffServer

/// Messages of the capture, decode and store components. Each goes to its component's
/// swift-log logger (`sniff.capture`, `sniff.decode`, `sniff.store`), so that
/// `--log-file` holds them with time, level and label beside the server's api, ws and
/// feed records. A message the user must see also keeps its plain stderr line
/// (`sniff: store: ...`, `sniff: warning: ...`), which scripts and tests read; its
/// record is marked as shown, so that logs on stderr do not print it twice.
///
/// Only run-level events come here (start, warnings, database trouble, totals at the
/// end), never one record per packet.
enum ComponentLog {
    static let captureLogger = SniffLogging.logger("capture")
    static let decodeLogger = SniffLogging.logger("decode")
    static let storeLogger = SniffLogging.logger("store")

    /// Prints `line` on stderr and records `message` (the line without its prefix).
    static func say(_ logger: Logger, _ level: Logger.Level, _ line: String, message: String) {
        Stderr.print(line)
        logger.log(level: level, "\(message)", metadata: SniffLogging.shownOnStderr)
    }

    /// A capture warning: `sniff: warning: TEXT` on stderr.
    static func captureWarning(_ text: String) {
        say(captureLogger, .warning, "sniff: warning: \(text)", message: text)
    }

    /// A capture event the user reads as `sniff: TEXT` (interface chosen, listening).
    static func captureInfo(_ text: String) {
        say(captureLogger, .info, "sniff: \(text)", message: text)
    }

    /// The end of a live capture; its counters were printed in tcpdump's form.
    static func captureEnded(_ text: String, dropped: Bool) {
        captureLogger.log(level: dropped ? .warning : .info, "\(text)", metadata: SniffLogging.shownOnStderr)
    }

    /// A storage message: `sniff: store: TEXT` on stderr.
    static func store(_ level: Logger.Level, _ text: String) {
        say(storeLogger, level, "sniff: store: \(text)", message: text)
    }

    /// What decoding made of a run's packets, for the log only.
    static func decodeTotals(_ t: CaptureTotals) {
        decodeLogger.info("""
            \(t.packetsSeen) packets decoded: \(t.malformed) malformed, \(t.truncated) truncated, \(t.undecoded) \
            of a link type Sniff does not decode
            """)
    }
}
