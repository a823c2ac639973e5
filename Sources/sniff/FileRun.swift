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
        let path = command.r!
        let reader = try CaptureFileReader(path: path)
        let bpf: BPFFilter? = command.bpfExpression.map { BPFFilter(expression: $0) }
        if let bpf {
            // Compile now for the file's first link type so that a bad expression is
            // reported before any output; other link types compile on first use.
            for iface in reader.interfaces where iface.link.isKnown || iface.link.rawValue < 300 {
                try bpf.compile(for: iface.link)
            }
            if reader.interfaces.isEmpty { try bpf.compile(for: .ethernet) }
        }
        for w in reader.warnings { Stderr.print("sniff: warning: \(w)") }
        var reported = reader.warnings.count

        let pipeline = PacketPipeline(filter: command.filters.packetFilter, bpf: bpf)
        let out = command.output
        let writeJSON = out.json && !out.q
        let includeInterface = reader.format == .pcapng
        var json = PacketJSONWriter()
        var sink = ByteSink(capacity: 1 << 17)
        let limit = out.c.map(UInt64.init)
        let startedAt = Timestamp.now()
        var updates = 0
        var nextReportAt: Timestamp? = nil
        let interval = Int64(out.interval)
        var progress = ProgressBar(total: reader.fileSize, enabled: Stderr.isTerminal && !out.json)

        func context(status: String) -> ReportContext {
            ReportContext(source: path == "-" ? "standard input" : path, startedAt: startedAt,
                          lastUpdate: Timestamp.now(), intervalSeconds: out.interval, updates: updates,
                          status: status, minPackets: UInt64(command.filters.minPackets),
                          filter: pipeline.filter, bpf: bpf?.expression)
        }
        func writeReportFile(status: String) throws {
            guard let file = out.reportFile else { return }
            updates += 1
            var s = ByteSink(capacity: 16 << 10)
            ReportWriter.write(context: context(status: status), totals: pipeline.totals, endpoints: pipeline.endpoints, into: &s)
            try ReportFile.write(s, to: file)
        }

        var readError: Error? = nil
        var stdoutBroken = false
        loop: while true {
            let raw: RawPacket?
            do { raw = try reader.next() } catch { readError = error; break }
            guard let raw else { break }
            if pipeline.process(raw) {
                if writeJSON {
                    json.write(pipeline.packet, frame: raw.bytes, includeInterface: includeInterface, into: &sink)
                    if sink.count >= 1 << 16, !sink.flush(to: 1) { stdoutBroken = true; break loop }
                }
                if let limit, pipeline.totals.packetsMatched >= limit { break }
            }
            // Report rewrites follow capture time, so a file replays as it was captured.
            if out.reportFile != nil {
                let ts = raw.timestamp
                if let due = nextReportAt {
                    if ts >= due {
                        try writeReportFile(status: "Running")
                        nextReportAt = Timestamp(seconds: ts.seconds + interval, nanoseconds: ts.nanoseconds)
                    }
                } else {
                    nextReportAt = Timestamp(seconds: ts.seconds + interval, nanoseconds: ts.nanoseconds)
                }
            }
            if pipeline.totals.packetsSeen & 0xFFF == 0 {
                if Signals.shouldStop { break }
                progress.update(done: reader.bytesRead)
            }
        }
        progress.finish()
        if !stdoutBroken { _ = sink.flush(to: 1) }
        for w in reader.warnings.dropFirst(reported) { Stderr.print("sniff: warning: \(w)") }
        reported = reader.warnings.count

        try writeReportFile(status: "Finished")
        if !out.q && !out.json && !stdoutBroken {
            var s = ByteSink(capacity: 16 << 10)
            ReportWriter.write(context: context(status: "Finished"), totals: pipeline.totals, endpoints: pipeline.endpoints, into: &s)
            _ = s.flush(to: 1)
        }
        if let bpf, !bpf.failedLinkTypes.isEmpty {
            for (link, msg) in bpf.failedLinkTypes.sorted(by: { $0.key < $1.key }) {
                Stderr.print("sniff: warning: the filter does not apply to link type \(LinkType(link).name): \(msg); those packets were skipped")
            }
        }
        if let readError {
            throw readError
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
