import SniffCore
import SniffCapture
import SniffAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// `--logs DIR`: conn.log, ssl.log, dns.log and http.log as Zeek writes them, in TSV with
/// its `#` header or as JSON lines. conn.log has conn.log's fields (the handshake goes to
/// ssl.log); dns.log and http.log get one row per transaction (`TransactionTracker`).
final class ZeekLogFiles: TransactionObserver {
    private let format: ZeekLogFormat
    private let conn: ZeekConnLogWriter
    private let connJSON: FlowNDJSONWriter
    private let ssl: ZeekSSLLogWriter
    private var connSink = ByteSink(capacity: 1 << 16)
    private var sslSink = ByteSink(capacity: 1 << 14)
    private var connFD: Int32 = -1
    private var sslFD: Int32 = -1
    private let dns: ZeekDNSLogWriter
    private let http: ZeekHTTPLogWriter
    private var dnsSink = ByteSink(capacity: 1 << 14)
    private var httpSink = ByteSink(capacity: 1 << 14)
    private var dnsFD: Int32 = -1
    private var httpFD: Int32 = -1

    init(directory: String, format: ZeekLogFormat, flowFormat: FlowFormat) throws {
        self.format = format
        conn = ZeekConnLogWriter(format: flowFormat)
        connJSON = FlowNDJSONWriter(format: flowFormat, handshake: false)
        ssl = ZeekSSLLogWriter(format: flowFormat, logFormat: format)
        dns = ZeekDNSLogWriter(format: flowFormat, logFormat: format)
        http = ZeekHTTPLogWriter(format: flowFormat, logFormat: format)
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw RuntimeFailure("""
                cannot create \(directory) for --logs: \(String(cString: strerror(errno))); check the path and \
                permissions
                """)
        }
        connFD = try FlowRun.create(directory + "/conn.log", what: "--logs")
        sslFD = try FlowRun.create(directory + "/ssl.log", what: "--logs")
        dnsFD = try FlowRun.create(directory + "/dns.log", what: "--logs")
        httpFD = try FlowRun.create(directory + "/http.log", what: "--logs")
        let now = Timestamp.now()
        if format == .tsv { conn.writeHeader(open: now, into: &connSink) }
        ssl.writeHeader(open: now, into: &sslSink)
        dns.writeHeader(open: now, into: &dnsSink)
        http.writeHeader(open: now, into: &httpSink)
    }

    func dnsTransaction(_ t: DNSTransaction) {
        dns.write(t, into: &dnsSink)
        if dnsSink.count >= 1 << 14 { dnsSink.flush(to: dnsFD) }
    }

    func httpTransaction(_ t: HTTPTransaction) {
        http.write(t, into: &httpSink)
        if httpSink.count >= 1 << 14 { httpSink.flush(to: httpFD) }
    }

    func write(_ flow: Flow, process: LocalProcess? = nil) {
        if format == .tsv {
            conn.write(flow, process: process, into: &connSink)
        } else {
            connJSON.write(flow, process: process, into: &connSink)
        }
        ssl.write(flow, into: &sslSink)
        if connSink.count >= 1 << 16 { connSink.flush(to: connFD) }
        if sslSink.count >= 1 << 14 { sslSink.flush(to: sslFD) }
    }

    func flush() {
        connSink.flush(to: connFD)
        sslSink.flush(to: sslFD)
        dnsSink.flush(to: dnsFD)
        httpSink.flush(to: httpFD)
    }

    /// Writes the `#close` lines and closes both files. Safe to call more than once.
    func finish() {
        guard connFD >= 0 else { return }
        let now = Timestamp.now()
        if format == .tsv { conn.writeFooter(close: now, into: &connSink) }
        ssl.writeFooter(close: now, into: &sslSink)
        dns.writeFooter(close: now, into: &dnsSink)
        http.writeFooter(close: now, into: &httpSink)
        flush()
        for fd in [connFD, sslFD, dnsFD, httpFD] { _ = close(fd) }
        connFD = -1
        sslFD = -1
        dnsFD = -1
        httpFD = -1
    }
}
