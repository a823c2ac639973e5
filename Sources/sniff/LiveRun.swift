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
        let (capture, name) = try LiveRun.open(interface: command.i, snaplen: command.snaplenValue, bufferMiB: command.bufferMiB,
                                               promiscuous: !command.noPromiscuous, direction: command.direction,
                                               filter: command.bpfExpression, user: command.user)

        let queue = BatchQueue()
        let pipeline = PacketPipeline(filter: command.filters.packetFilter, bpf: nil)
        let flowRun = try FlowRun(options: command.flowOptions, live: true, showsHosts: command.output.showsReport)
        flowRun.attach(to: pipeline)
        let outputs = try Outputs(command: command, source: "interface \(name)", includeInterface: true, live: true,
                                  link: capture.link, interfaceName: name, hosts: flowRun.hosts,
                                  sections: { flowRun.sections() })
        pipeline.tracksEndpoints = outputs.needsEndpoints
        let storage = StoreRun.start(command, source: "interface " + name, pipeline: pipeline, flows: flowRun)
        let serving = try ServeRun.start(command, source: "interface " + name, live: true, pipeline: pipeline, flows: flowRun, storage: storage)
        let keys = KeyControl(enabled: true)
        defer { keys.finish() }
        capture.start(into: queue)

        // Stopping (a signal, q, the dashboard) still analyses every frame the capture
        // hands over before it ends, so that Ctrl-C loses nothing already captured;
        // discarding (the -c count reached, or an error) ignores the rest.
        var stopping = false
        var discarding = false
        var runError: Error? = nil
        var lastInterfaceCheck = Timestamp.now()
        while true {
            let now = Timestamp.now()
            if !stopping && now.nanoseconds(since: lastInterfaceCheck) > 500_000_000 {
                lastInterfaceCheck = now
                if capture.checkInterface() != nil { stopping = true }
            }
            if !stopping && (Signals.shouldStop || keys.stopRequested || serving?.control.stopRequested == true) {
                stopping = true
                capture.stop()
            }
            if let batch = queue.take(milliseconds: 100) {
                let paused = keys.paused || serving?.control.paused == true
                do {
                    try batch.forEach(link: capture.link) { raw in
                        if discarding { return }
                        if paused { pipeline.skip(raw); return }
                        if pipeline.process(raw), try !outputs.matched(pipeline, raw) {
                            stopping = true
                            discarding = true
                            capture.stop()
                        }
                    }
                } catch {
                    runError = error
                    stopping = true
                    discarding = true
                    capture.stop()
                }
                queue.release(batch)
            } else if queue.isDrained {
                break
            }
            let k = queue.kernelStats
            pipeline.setDrops(kernel: k.dropped, interface: k.ifDropped, sniff: queue.sniffDropped)
            let paused = keys.paused || serving?.control.paused == true
            outputs.status = paused ? "Paused" : "Running"
            flowRun.tick()
            storage?.tick(pipeline)
            serving?.tick(stopping: stopping, paused: paused)
            if !stopping {
                do { try outputs.tick(now: Timestamp.now(), pipeline) } catch { runError = error; stopping = true; capture.stop() }
            }
        }
        capture.join()
        keys.finish()
        let k = queue.kernelStats
        pipeline.setDrops(kernel: k.dropped, interface: k.ifDropped, sniff: queue.sniffDropped)
        pipeline.finishReassembly()
        flowRun.finish()
        serving?.captureEnded("stopped")
        let stored = storage?.finish(pipeline)
        try outputs.finish(pipeline)
        // Stopped from the dashboard: keep serving until Ctrl-C; stopped by Ctrl-C: end.
        if serving?.control.stopRequested == true { serving?.serveUntilStopped() } else { serving?.stop() }
        let t = pipeline.totals
        // tcpdump's closing lines, so scripts that parse them keep working.
        Stderr.print("\(t.packetsSeen) packets captured")
        Stderr.print("\(k.received) packets received by filter")
        Stderr.print("\(k.dropped) packets dropped by kernel")
        if k.ifDropped > 0 { Stderr.print("\(k.ifDropped) packets dropped by interface") }
        Stderr.print("\(queue.sniffDropped) packets dropped by sniff")
        if t.skippedWhilePaused > 0 { Stderr.print("\(t.skippedWhilePaused) packets skipped while paused") }
        ComponentLog.captureEnded("capture on \(name) ended: \(t.packetsSeen) captured, \(k.received) received by filter, \(k.dropped) dropped by kernel, \(k.ifDropped) by interface, \(queue.sniffDropped) by sniff",
                                  dropped: k.dropped > 0 || k.ifDropped > 0 || queue.sniffDropped > 0)
        ComponentLog.decodeTotals(seen: t.packetsSeen, malformed: t.malformed, truncated: t.truncated, undecoded: t.undecoded)
        if let runError { throw runError }
        if let e = queue.error {
            throw RuntimeFailure("capture on \(name) stopped: \(e). Outputs were flushed; if the interface went down, bring it up with: ip link set dev \(name) up")
        }
        try stored?.check()
    }
}

extension LiveRun {
    /// Opens the capture as `sniff -i` and `sniff top -i` do: the named interface, or
    /// the first that is up and not a loopback; then drops privileges for `--user`.
    static func open(interface: String?, snaplen: Int, bufferMiB: Int, promiscuous: Bool, direction: String?,
                     filter: String?, user: String?) throws -> (LiveCapture, String) {
        let name: String
        if let i = interface {
            name = i
        } else {
            guard let d = try Interfaces.defaultCaptureInterface() else { throw LiveCaptureError.noInterface }
            name = d.name
            ComponentLog.captureInfo("no -i given; capturing on \(name), the first interface that is up and not a loopback")
        }
        var options = LiveCapture.Options(interface: name)
        options.snaplen = Int32(snaplen)
        options.bufferMiB = bufferMiB
        options.promiscuous = promiscuous
        options.direction = direction.flatMap(LiveCapture.Direction.init(rawValue:))
        options.filter = filter
        let capture = try LiveCapture(options)
        if let user { try Privileges.drop(to: user) }
        ComponentLog.captureInfo("listening on \(name), link-type \(capture.link.name) (\(capture.link.rawValue)), snapshot length \(options.snaplen) bytes, buffer \(options.bufferMiB) MiB")
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
            throw RuntimeFailure("cannot switch to user \(user): \(String(cString: strerror(errno))); run as root to use --user")
        }
        // setuid from root to another user clears the permitted capability set; check
        // that root cannot be regained.
        if uid != 0 && setuid(0) == 0 {
            throw RuntimeFailure("privilege drop to \(user) failed: root could be regained")
        }
    }
}
