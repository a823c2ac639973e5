import ArgumentParser
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// Everything a run writes, shared by file reading and live capture: NDJSON on stdout,
/// the report (stdout, --report FILE, and the live terminal view), -w files and -c.
final class Outputs {
    let command: CaptureCommand
    let source: String
    let includeInterface: Bool
    let live: Bool
    let startedAt = Timestamp.now()
    private var json = PacketJSONWriter()
    private var sink = ByteSink(capacity: 1 << 17)
    private(set) var stdoutBroken = false
    private var writer: RotatingCaptureWriter?
    private var updates = 0
    private var nextReportAt: Timestamp? = nil
    /// The report goes to stdout: no -q, --json or --flows took stdout over.
    let reportOnStdout: Bool
    /// Redraw the report in place on stdout (live capture on a terminal, no --json).
    let drawOnTerminal: Bool
    var status = "Running"
    let sections: () -> [ReportSection]
    /// Names, countries and ASNs for the report's Host lines.
    let hosts: HostEnrichment?
    // The options read per packet, copied once: reading them through ArgumentParser's
    // property wrappers costs a generic metadata lookup and a copy of the whole command
    // each time, which was most of a second per million packets.
    let wantsJSON: Bool
    private let maxPackets: UInt64?
    let reportFile: String?
    private let interval: Int
    /// Rewrite the report file every interval. A capture file's report is written
    /// once at the end unless --interval was given: the rewrites of a large report cost
    /// more than reading the file.
    private let rewriteReportFile: Bool
    /// How many address:port pairs the report on stdout shows (nil: all).
    let stdoutTop: Int?

    init(command: CaptureCommand, source: String, includeInterface: Bool, live: Bool, link: LinkType?,
         interfaceName: String?, hosts: HostEnrichment? = nil,
         sections: @escaping () -> [ReportSection] = { [] }) throws {
        self.command = command
        self.hosts = hosts
        self.source = source
        self.includeInterface = includeInterface
        self.live = live
        self.sections = sections
        let out = command.output
        reportOnStdout = !out.json && !out.q && !command.flowOptions.flows
        drawOnTerminal = live && reportOnStdout && isatty(1) == 1
        wantsJSON = out.json && !out.q
        // The registry takes a moment to read: only for the packet NDJSON, which shows it.
        if wantsJSON { json.vendors = MACVendors.load() }
        maxPackets = out.c.map { UInt64($0) }
        reportFile = out.reportFile
        interval = out.intervalSeconds
        rewriteReportFile = live || out.interval != nil
        stdoutTop = (out.top ?? (isatty(1) == 1 ? .terminalDefault : .all)).limit
        if let w = command.writeFile {
            writer = try RotatingCaptureWriter(
                path: w, rotateSeconds: command.rotateSeconds, rotateMegabytes: command.rotateMegabytes,
                maxFiles: command.rotateFiles, snaplen: UInt32(command.source.snaplenValue),
                interfaceName: interfaceName,
                link: live ? link : nil, startTime: live ? Timestamp.now().seconds : nil)
        }
    }

    /// Whether anything this run writes reads the address:port table: the report in a
    /// file, or on stdout (at the end, or redrawn on the terminal).
    var needsEndpoints: Bool { reportFile != nil || reportOnStdout }

    /// Called for each packet that passed every filter. Returns false when the run
    /// should end (-c reached, stdout closed).
    @inline(__always)
    func matched(_ pipeline: PacketPipeline, _ raw: RawPacket) throws -> Bool {
        if wantsJSON {
            json.write(pipeline.packet, frame: pipeline.frame, includeInterface: includeInterface, into: &sink)
            if sink.count >= 1 << 16 {
                if !sink.flush(to: 1) { stdoutBroken = true; return false }
            }
        }
        if let writer { try writer.write(raw) }
        if let maxPackets, pipeline.totals.packetsMatched >= maxPackets { return false }
        return true
    }

    func context(_ pipeline: PacketPipeline) -> ReportContext {
        var c = ReportContext(source: source, startedAt: startedAt, lastUpdate: Timestamp.now(),
                              intervalSeconds: interval, updates: updates, status: status,
                              minPackets: UInt64(command.filters.minPackets), filter: pipeline.filter,
                              bpf: command.source.bpfExpression)
        c.hosts = hosts
        return c
    }

    /// Rewrites the report when `now` (capture time for files, wall time live) has
    /// passed the next interval. Live JSON output is flushed on the same beat.
    func tick(now: Timestamp, _ pipeline: PacketPipeline) throws {
        guard let due = nextReportAt else {
            nextReportAt = Timestamp(seconds: now.seconds + Int64(interval), nanoseconds: now.nanoseconds)
            if live { try refresh(pipeline) }
            return
        }
        if live && wantsJSON && !sink.isEmpty { if !sink.flush(to: 1) { stdoutBroken = true } }
        guard now >= due else { return }
        nextReportAt = Timestamp(seconds: now.seconds + Int64(interval), nanoseconds: now.nanoseconds)
        try refresh(pipeline)
    }

    func refresh(_ pipeline: PacketPipeline) throws {
        // "Updates" counts the reports a reader saw: not the skipped file rewrites.
        if (reportFile != nil && rewriteReportFile) || drawOnTerminal { updates += 1 }
        if let file = reportFile, rewriteReportFile {
            var s = ByteSink(capacity: 16 << 10)
            ReportWriter.write(context: context(pipeline), totals: pipeline.totals, endpoints: pipeline.endpoints,
                               sections: sections(), into: &s)
            try ReportFile.write(s, to: file)
        }
        if drawOnTerminal { draw(pipeline) }
        try writer?.flush()
    }

    /// The report redrawn in place: cursor home, clear, then as many endpoints as fit.
    func draw(_ pipeline: PacketPipeline) {
        var ws = winsize()
        let rows = ioctl(1, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_row > 0 ? Int(ws.ws_row) : 40
        var s = ByteSink(capacity: 16 << 10)
        s.append("\u{1B}[H\u{1B}[2J" as StaticString)
        // About 40 header lines; each endpoint block takes 8, or 9 with its Host line.
        let fit = max(1, (rows - 44) / 9)
        ReportWriter.write(context: context(pipeline), totals: pipeline.totals, endpoints: pipeline.endpoints,
                           sections: sections(), limit: min(fit, stdoutTop ?? fit), into: &s)
        s.append("  keys: p pause, r resume, s stop\n" as StaticString)
        // The terminal is in raw mode: lines need an explicit carriage return.
        var raw = ByteSink(capacity: s.count + s.count / 16)
        for b in s.bytes {
            if b == 0x0A { raw.append(0x0D) }
            raw.append(b)
        }
        _ = raw.flush(to: 1)
    }

    /// Flushes everything and prints the final report. Safe to call once, on every exit path.
    func finish(_ pipeline: PacketPipeline) throws {
        status = "Finished"
        if !stdoutBroken { _ = sink.flush(to: 1) }
        var firstError: Error? = nil
        do { try writer?.close() } catch { firstError = error }
        updates += 1
        if let file = reportFile {
            var s = ByteSink(capacity: 16 << 10)
            ReportWriter.write(context: context(pipeline), totals: pipeline.totals, endpoints: pipeline.endpoints,
                               sections: sections(), into: &s)
            do { try ReportFile.write(s, to: file) } catch { firstError = firstError ?? error }
        }
        if reportOnStdout && !stdoutBroken {
            var s = ByteSink(capacity: 16 << 10)
            if drawOnTerminal { s.append("\u{1B}[H\u{1B}[2J" as StaticString) }
            ReportWriter.write(context: context(pipeline), totals: pipeline.totals, endpoints: pipeline.endpoints,
                               sections: sections(), limit: stdoutTop, into: &s)
            _ = s.flush(to: 1)
        }
        if let firstError { throw firstError }
    }
}
