#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SniffCore

/// Where alerts go: stderr, an NDJSON file, a webhook; storage and WebSocket feeds
/// implement the same protocol. `deliver` is called on the analysis thread and must not
/// block for long; slow sinks queue and deliver on their own thread.
public protocol AlertSink: AnyObject {
    func deliver(_ alert: Alert)
    /// Flushes and releases resources; waits (bounded) for queued deliveries.
    func close()
}

extension AlertSink {
    public func close() {}
}

/// Writes one readable line per alert to stderr (or another descriptor).
public final class StderrAlertSink: AlertSink {
    let fd: Int32
    public init(fd: Int32 = 2) { self.fd = fd }

    public func deliver(_ alert: Alert) {
        var s = ByteSink(capacity: 256)
        s.append("sniff: " as StaticString)
        s.append(alert.logLine)
        s.append(0x0A)
        s.flush(to: fd)
    }
}

/// Appends alerts as NDJSON to a file (created or truncated when opened).
public final class NDJSONAlertSink: AlertSink {
    private var fd: Int32
    public let path: String

    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw RuntimeFailure(
                "cannot open alerts file \(path): \(String(cString: strerror(errno))); check the path given to --alerts"
            )
        }
    }

    public func deliver(_ alert: Alert) {
        guard fd >= 0 else { return }
        var s = ByteSink(capacity: 512)
        alert.writeJSON(into: &s)
        s.append(0x0A)
        s.flush(to: fd)
    }

    public func close() {
        if fd >= 0 { _ = systemClose(fd); fd = -1 }
    }

    deinit { close() }
}

/// Keeps alerts in memory (tests, the report).
public final class AlertCollector: AlertSink {
    public private(set) var alerts: [Alert] = []
    public init() {}
    public func deliver(_ alert: Alert) { alerts.append(alert) }
}

/// Hands each alert to several sinks.
public final class AlertSinkList: AlertSink {
    public var sinks: [AlertSink]
    public init(_ sinks: [AlertSink]) { self.sinks = sinks }
    public func deliver(_ alert: Alert) { for s in sinks { s.deliver(alert) } }
    public func close() { for s in sinks { s.close() } }
}

@inline(__always)
func systemClose(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    return Glibc.close(fd)
    #else
    return Darwin.close(fd)
    #endif
}
