import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
import SniffTop
#if canImport(Glibc)
import Glibc
#endif

/// `sniff top`: the analysis runs on its own thread through the same pipeline as
/// `sniff -r` and `sniff -i` and publishes snapshots; this thread owns the terminal,
/// takes the newest snapshot and redraws at most ten times a second.
struct TopRun {
    let command: TopCommand

    /// Rows the hub keeps per 250 ms: live, the list is a sample at high rates; a file
    /// is read fast, so its hub keeps far more, for a list of the whole file.
    static let liveSample = 2000
    static let fileSample = 100_000

    func run() throws {
        let control = RunFlags()
        var collector: TopCollector? = nil
        var failure: Error? = nil
        var closing: [String] = []
        // Open the source before the screen, so that a bad file or interface is a plain
        // error message.
        let worker: WorkerThread
        if let path = command.source.r {
            let (reader, bpf) = try command.source.openFile(path)
            let (pipeline, flows, c) = try setUp(source: "file " + path, live: false)
            collector = c
            worker = WorkerThread(name: "sniff-top-read") {
                failure = TopRun.read(reader, pipeline: pipeline, flows: flows, collector: c, control: control)
                FileRun.reportFilterFailures(bpf)
            }
        } else {
            let (capture, name) = try command.source.openLive()
            let (pipeline, flows, c) = try setUp(source: "interface " + name, live: true)
            collector = c
            worker = WorkerThread(name: "sniff-top-capture") {
                let r = TopRun.capture(
                    capture, name: name, pipeline: pipeline, flows: flows, collector: c, control: control)
                failure = r.error
                closing = r.closing
            }
        }
        guard let collector else { return }
        var uiError: Error? = nil
        do {
            let screen = try TopTerminal()
            TopRun.interact(screen, collector: collector, control: control, live: command.source.r == nil)
            screen.close()
        } catch {
            uiError = error
        }
        control.stopRequested = true
        worker.join()
        for line in closing { Stderr.print(line) }
        if let uiError { throw uiError }
        if let failure { throw failure }
    }

    func setUp(source: String, live: Bool) throws -> (PacketPipeline, FlowRun, TopCollector) {
        let pipeline = PacketPipeline(filter: command.filters.packetFilter, bpf: nil)
        let flows = try FlowRun(options: command.flowOptions, live: live, alertsToStderr: false)
        // The terminal belongs to the UI: what process attribution cannot see is said after.
        flows.holdNotices = true
        flows.attach(to: pipeline)
        pipeline.geoFilter = try command.filters.geoFilter(hosts: flows.hosts)
        pipeline.tracksEndpoints = true
        let collector = TopCollector(
            pipeline: pipeline, table: flows.table, summary: flows.summary, engine: flows.engine,
            format: flows.format, source: source, live: live,
            sampleCapacity: live ? TopRun.liveSample : TopRun.fileSample,
            finishedFlowLimit: live ? 1000 : 100_000)
        if let sinks = flows.alertSinks as? AlertSinkList { collector.attach(alertSinks: sinks) }
        collector.processes = flows.processes
        return (pipeline, flows, collector)
    }

    /// The UI loop: keys, snapshots, redraws (at most ten a second, and only when
    /// something changed), until q, Ctrl-C or SIGTERM.
    static func interact(_ screen: TopTerminal, collector: TopCollector, control: RunFlags, live: Bool) {
        var model = TopModel(packetLimit: live ? 20_000 : TopRun.fileSample, keepNewest: live)
        model.unicode = screen.unicode
        var dirty = true
        var lastDraw: Int64 = 0
        while !Signals.shouldStop {
            let now = Timestamp.now().totalNanoseconds
            let wait = dirty ? max(0, 100 - Int((now - lastDraw) / 1_000_000)) : 100
            if let key = screen.readKey(timeoutMilliseconds: max(1, wait)) {
                switch key {
                case .resize: dirty = true
                case .key(let k):
                    dirty = true
                    switch model.handle(k) {
                    case .quit: return
                    case .pause: control.paused = true
                    case .resume: control.paused = false
                    case .stop: control.stopRequested = true
                    case .none: break
                    }
                }
            }
            if let s = collector.take() { model.ingest(s); dirty = true }
            let batches = collector.hub.outbox.drain()
            if !batches.isEmpty { model.ingest(batches); dirty = true }
            let t = Timestamp.now().totalNanoseconds
            if dirty && t - lastDraw >= 100_000_000 {
                let size = screen.size
                let grid = TopLayout.render(&model, width: size.cols, height: size.rows)
                screen.draw(grid)
                lastDraw = t
                dirty = false
            }
        }
    }

    /// Reads the file on the analysis thread; p/r/s pause, resume and stop the read.
    static func read(_ reader: CaptureFileReader, pipeline: PacketPipeline, flows: FlowRun, collector: TopCollector,
                     control: RunFlags) -> Error? {
        var failure: Error? = nil
        var stopped = false
        while true {
            if control.stopRequested || Signals.shouldStop { stopped = true; break }
            if control.paused {
                collector.publish(state: "paused", fileProgress: progress(reader))
                usleep(50_000)
                continue
            }
            let raw: RawPacket?
            do { raw = try reader.next() } catch { failure = error; break }
            guard let raw else { break }
            pipeline.process(raw)
            if pipeline.totals.packetsSeen & 0x3FF == 0 {
                collector.publish(state: "reading", fileProgress: progress(reader))
            }
        }
        for w in reader.warnings { ComponentLog.captureWarning(w) }
        pipeline.finishReassembly()
        flows.finish()
        collector.publish(state: stopped ? "stopped" : "finished", fileProgress: progress(reader), force: true)
        control.done = true
        return failure
    }

    static func progress(_ reader: CaptureFileReader) -> (done: Int, total: Int)? {
        reader.fileSize.map { (reader.bytesRead, $0) }
    }

    /// Live capture on the analysis thread, as `LiveRun`: batches from the capture
    /// thread, paused packets counted and skipped. Returns the closing lines that
    /// `sniff -i` prints (printed once the terminal is restored).
    static func capture(
        _ capture: LiveCapture, name: String, pipeline: PacketPipeline, flows: FlowRun, collector: TopCollector,
        control: RunFlags
    ) -> (error: Error?, closing: [String]) {
        let loop = LiveLoop(capture, pipeline: pipeline)
        while true {
            let paused = control.paused
            let more = loop.next(stopRequested: control.stopRequested) { batch in
                batch.forEach(link: capture.link) { raw in
                    if paused { pipeline.skip(raw); return }
                    pipeline.process(raw)
                }
            }
            guard more else { break }
            flows.tick()
            collector.publish(state: loop.stopping ? "stopping" : (paused ? "paused" : "running"))
        }
        loop.finish()
        pipeline.finishReassembly()
        flows.finish()
        collector.publish(state: "stopped", force: true)
        control.done = true
        return (loop.captureError(interface: name, flushed: false), loop.closingLines() + flows.heldNotices)
    }
}
