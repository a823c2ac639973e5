import ArgumentParser
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// Captures from an interface: the capture thread fills batches, this thread
/// decodes and aggregates them, redraws the report and writes the outputs.
struct LiveRun {
    let command: CaptureCommand

    func run() throws {
        let (capture, name) = try command.source.openLive()

        let pipeline = PacketPipeline(filter: command.filters.packetFilter, bpf: nil)
        let flowRun = try FlowRun(options: command.flowOptions, live: true, showsHosts: command.output.showsReport)
        flowRun.attach(to: pipeline)
        pipeline.geoFilter = try command.filters.geoFilter(hosts: flowRun.hosts)
        let outputs = try Outputs(command: command, source: "interface \(name)", includeInterface: true, live: true,
                                  link: capture.link, interfaceName: name, hosts: flowRun.hosts,
                                  sections: { flowRun.sections() })
        pipeline.tracksEndpoints = outputs.needsEndpoints
        pipeline.keepsPacket = outputs.wantsJSON
        let storage = StoreRun.start(command, source: "interface " + name, pipeline: pipeline, flows: flowRun)
        let serving = try ServeRun.start(
            command, source: "interface " + name, live: true, pipeline: pipeline, flows: flowRun, storage: storage)
        let keys = KeyControl(enabled: true)
        defer { keys.finish() }
        let loop = LiveLoop(capture, pipeline: pipeline)

        // Discarding (the -c count reached, or an error) ignores the frames still to come.
        var discarding = false
        var runError: Error? = nil
        func fail(_ error: Error) {
            runError = error
            discarding = true
            loop.stop()
        }
        while true {
            let paused = keys.paused || serving?.control.paused == true
            let more = loop.next(stopRequested: keys.stopRequested || serving?.control.stopRequested == true) { batch in
                do {
                    try batch.forEach(link: capture.link) { raw in
                        if discarding { return }
                        if paused { pipeline.skip(raw); return }
                        if pipeline.process(raw), try !outputs.matched(pipeline, raw) {
                            discarding = true
                            loop.stop()
                        }
                    }
                } catch {
                    fail(error)
                }
            }
            guard more else { break }
            let pausedNow = keys.paused || serving?.control.paused == true
            outputs.status = pausedNow ? "Paused" : "Running"
            flowRun.tick()
            storage?.tick(pipeline)
            serving?.tick(stopping: loop.stopping, keysPaused: keys.paused)
            if !loop.stopping {
                do { try outputs.tick(now: Timestamp.now(), pipeline) } catch { fail(error) }
            }
        }
        let signalsAtCaptureEnd = Signals.count
        loop.finish()
        keys.finish()
        pipeline.finishReassembly()
        flowRun.finish()
        serving?.captureEnded("stopped")
        let stored = storage?.finish(pipeline)
        try outputs.finish(pipeline)
        // Stopped from the dashboard: keep serving until Ctrl-C; stopped by Ctrl-C: end.
        if serving?.control.stopRequested == true {
            serving?.serveUntilStopped(signalsAtCaptureEnd: signalsAtCaptureEnd)
        } else {
            serving?.stop()
        }
        for line in loop.closingLines() { Stderr.print(line) }
        let t = pipeline.totals, k = loop.queue.kernelStats, sniffDropped = loop.queue.sniffDropped
        ComponentLog.captureEnded("""
            capture on \(name) ended: \(t.packetsSeen) captured, \(k.received) received by filter, \(k.dropped) \
            dropped by kernel, \(k.ifDropped) by interface, \(sniffDropped) by sniff
            """,
                                  dropped: k.dropped > 0 || k.ifDropped > 0 || sniffDropped > 0)
        ComponentLog.decodeTotals(t)
        if let runError { throw runError }
        if let error = loop.captureError(interface: name, flushed: true) { throw error }
        try stored?.check()
    }
}

/// The analysis side of a live capture, shared by `sniff -i` and `sniff top -i`: the
/// capture thread fills batches, this loop takes them, checks the interface twice a
/// second and keeps the drop counts current. Stopping (a signal, a key, the dashboard)
/// still analyses every frame the capture hands over before it ends, so that Ctrl-C
/// loses nothing already captured.
final class LiveLoop {
    let capture: LiveCapture
    let pipeline: PacketPipeline
    let queue = BatchQueue()
    private(set) var stopping = false
    private var lastInterfaceCheck = Timestamp.now()

    /// Starts the capture thread.
    init(_ capture: LiveCapture, pipeline: PacketPipeline) {
        self.capture = capture
        self.pipeline = pipeline
        capture.start(into: queue)
    }

    /// Asks the capture to end; the frames it already holds still arrive.
    func stop() {
        guard !stopping else { return }
        stopping = true
        capture.stop()
    }

    /// Waits up to 100 ms for a batch and hands it to `body`; stops on SIGINT, SIGTERM,
    /// `stopRequested` or an interface that went away. Returns false once the capture
    /// has ended and its last batch was handled.
    func next(stopRequested: Bool, _ body: (PacketBatch) -> Void) -> Bool {
        let now = Timestamp.now()
        if !stopping && now.nanoseconds(since: lastInterfaceCheck) > 500_000_000 {
            lastInterfaceCheck = now
            // The capture ends by itself when its interface is gone.
            if capture.checkInterface() != nil { stopping = true }
        }
        if Signals.shouldStop || stopRequested { stop() }
        if let batch = queue.take(milliseconds: 100) {
            body(batch)
            queue.release(batch)
        } else if queue.isDrained {
            return false
        }
        updateDrops()
        return true
    }

    /// After the last batch: waits for the capture thread, then takes the final drop counts.
    func finish() {
        capture.join()
        updateDrops()
    }

    private func updateDrops() {
        let k = queue.kernelStats
        pipeline.setDrops(kernel: k.dropped, interface: k.ifDropped, sniff: queue.sniffDropped)
    }

    /// tcpdump's closing lines, so that scripts that parse them keep working.
    func closingLines() -> [String] {
        let t = pipeline.totals, k = queue.kernelStats
        var lines = ["\(t.packetsSeen) packets captured", "\(k.received) packets received by filter",
                     "\(k.dropped) packets dropped by kernel"]
        if k.ifDropped > 0 { lines.append("\(k.ifDropped) packets dropped by interface") }
        lines.append("\(queue.sniffDropped) packets dropped by sniff")
        if t.skippedWhilePaused > 0 { lines.append("\(t.skippedWhilePaused) packets skipped while paused") }
        return lines
    }

    /// The capture thread's failure, said with the fix, if it stopped on one.
    func captureError(interface name: String, flushed: Bool) -> Error? {
        guard let e = queue.error else { return nil }
        return RuntimeFailure("capture on \(name) stopped: \(e). " + (flushed ? "Outputs were flushed; if" : "If")
                              + " the interface went down, bring it up with: ip link set dev \(name) up")
    }
}

extension LiveRun {
    /// Opens the capture as `sniff -i` and `sniff top -i` do: the named interface, or
    /// the first that is up and not a loopback; then drops privileges for `--user`.
    static func open(
        interface: String?, snaplen: Int, bufferMiB: Int, promiscuous: Bool, direction: LiveCapture.Direction?,
        filter: String?, user: String?
    ) throws -> (LiveCapture, String) {
        let name: String
        if let i = interface {
            name = i
        } else {
            guard let d = try Interfaces.defaultCaptureInterface() else { throw LiveCaptureError.noInterface }
            name = d.name
            ComponentLog.captureInfo(
                "no -i given; capturing on \(name), the first interface that is up and not a loopback")
        }
        var options = LiveCapture.Options(interface: name)
        options.snaplen = Int32(snaplen)
        options.bufferMiB = bufferMiB
        options.promiscuous = promiscuous
        options.direction = direction
        options.filter = filter
        let capture = try LiveCapture(options)
        if let user { try Privileges.drop(to: user) }
        ComponentLog.captureInfo("""
            listening on \(name), link-type \(capture.link.name) (\(capture.link.rawValue)), snapshot length \
            \(options.snaplen) bytes, buffer \(options.bufferMiB) MiB
            """)
        return (capture, name)
    }
}

/// `--user NAME`: after the capture is open, become NAME (and its primary group, with
/// no supplementary groups), keeping no capabilities, so that packet parsing runs
/// unprivileged.
enum Privileges {
    static func drop(to user: String) throws {
        guard let pw = getpwnam(user) else {
            throw RuntimeFailure("--user \(user): no such user", exitCode: 64)
        }
        let uid = pw.pointee.pw_uid, gid = pw.pointee.pw_gid
        guard setgroups(0, nil) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw RuntimeFailure(
                "cannot switch to user \(user): \(String(cString: strerror(errno))); run as root to use --user")
        }
        // setuid from root to another user clears the permitted capability set; check
        // that root cannot be regained.
        if uid != 0 && setuid(0) == 0 {
            throw RuntimeFailure("privilege drop to \(user) failed: root could be regained")
        }
    }
}
