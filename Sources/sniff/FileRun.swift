import ArgumentParser
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// Reads one capture file through the pipeline and produces the requested outputs.
struct FileRun {
    let command: CaptureCommand

    func run() throws {
        let path = command.source.r!
        let (reader, bpf) = try command.source.openFile(path)
        for w in reader.warnings { ComponentLog.captureWarning(w) }
        var reported = reader.warnings.count

        let pipeline = PacketPipeline(filter: command.filters.packetFilter, bpf: bpf)
        let flowRun = try FlowRun(options: command.flowOptions, live: false, showsHosts: command.output.showsReport)
        flowRun.attach(to: pipeline)
        pipeline.geoFilter = try command.filters.geoFilter(hosts: flowRun.hosts)
        let outputs = try Outputs(command: command, source: path == "-" ? "standard input" : path,
                                  includeInterface: reader.format == .pcapng, live: false, link: reader.linkType,
                                  interfaceName: nil, hosts: flowRun.hosts, sections: { flowRun.sections() })
        pipeline.tracksEndpoints = outputs.needsEndpoints
        pipeline.keepsPacket = outputs.wantsJSON
        let storage = StoreRun.start(command, source: "file " + path, pipeline: pipeline, flows: flowRun)
        let serving = try ServeRun.start(
            command, source: "file " + path, live: false, pipeline: pipeline, flows: flowRun, storage: storage)
        var progress = ProgressBar(total: reader.fileSize, enabled: Stderr.isTerminal && !command.output.json)
        var readError: Error? = nil
        var runError: Error? = nil
        loop: while true {
            let raw: RawPacket?
            do { raw = try reader.next() } catch { readError = error; break }
            guard let raw else { break }
            let (next, after) = reader.upcoming()
            pipeline.prefetch(next: next, after: after, link: raw.link)
            do {
                if pipeline.process(raw), try !outputs.matched(pipeline, raw) { break loop }
                // Report rewrites follow capture time, so a file replays as it was captured.
                if outputs.reportFile != nil { try outputs.tick(now: raw.timestamp, pipeline) }
            } catch {
                runError = error
                break
            }
            if pipeline.packetsSeen & 0xFFF == 0 {
                if Signals.shouldStop { break }
                progress.update(done: reader.bytesRead)
            }
        }
        let signalsAtReadEnd = Signals.count
        progress.finish()
        let t = pipeline.totals
        ComponentLog.captureLogger.info("""
            read \(t.packetsSeen) packets (\(t.bytesSeen) bytes) from \(path == "-" ? "standard input" : path), \
            \(t.packetsMatched) matched
            """)
        ComponentLog.decodeTotals(t)
        for w in reader.warnings.dropFirst(reported) { ComponentLog.captureWarning(w) }
        reported = reader.warnings.count
        pipeline.finishReassembly()
        flowRun.finish()
        serving?.captureEnded("finished")
        let stored = storage?.finish(pipeline)
        try outputs.finish(pipeline)
        serving?.serveUntilStopped(signalsAtCaptureEnd: signalsAtReadEnd)
        FileRun.reportFilterFailures(bpf)
        if let runError { throw runError }
        if let readError { throw readError }
        try stored?.check()
    }
}

extension FileRun {
    /// Opens a capture file and compiles the BPF filter for its link types now, so that
    /// a bad expression is reported before any output; link types met later in a
    /// pcapng file compile on first use.
    static func open(path: String, filter: String?, snaplen: Int) throws -> (CaptureFileReader, BPFFilter?) {
        let reader = try CaptureFileReader(path: path)
        let bpf = filter.map { BPFFilter(expression: $0, snaplen: Int32(snaplen)) }
        if let bpf {
            for iface in reader.interfaces { try bpf.compile(for: iface.link) }
            if reader.interfaces.isEmpty { try bpf.compile(for: .ethernet) }
        }
        return (reader, bpf)
    }

    /// Logs the link types the filter could not be compiled for (their packets were skipped).
    static func reportFilterFailures(_ bpf: BPFFilter?) {
        guard let bpf, !bpf.failedLinkTypes.isEmpty else { return }
        for (link, msg) in bpf.failedLinkTypes.sorted(by: { $0.key < $1.key }) {
            ComponentLog.captureWarning(
                "the filter does not apply to link type \(LinkType(link).name): \(msg); those packets were skipped")
        }
    }
}

/// A one-line progress bar on stderr (bytes read of the file size), redrawn at most
/// ten times a second, only on a terminal.
struct ProgressBar {
    let total: Int?
    let enabled: Bool
    var lastDraw = Timestamp.zero
    var drawn = false

    init(total: Int?, enabled: Bool) {
        self.total = total
        self.enabled = enabled && (total ?? 0) > 0
    }

    mutating func update(done: Int) {
        guard enabled, let total else { return }
        let now = Timestamp.now()
        guard now.nanoseconds(since: lastDraw) >= 100_000_000 else { return }
        lastDraw = now
        drawn = true
        let fraction = min(1.0, Double(done) / Double(total))
        let width = 40
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let mb = { (b: Int) in String(Double(b / 10_000) / 100) }
        Stderr.write("\r[\(bar)] \(Int(fraction * 100))%  \(mb(done)) of \(mb(total)) MB")
    }

    mutating func finish() {
        if drawn { Stderr.write("\r\u{1B}[K") }
    }
}
