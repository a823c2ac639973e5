import ArgumentParser
import Foundation
import Logging
import SniffCore
import SniffAnalysis
import SniffCapture
import SniffStore
import SniffServer
import Synchronization

/// The server running beside a capture (`--serve`): a live hub in the pipeline, the
/// application on its own tasks, capture control for the dashboard's buttons.
final class ServeRun {
    let server: RunningServer
    let hub: LiveHub
    /// The dashboard's pause/resume/stop buttons: flags the capture loop reads, and the
    /// state it reports back.
    let control = CaptureControl()
    let readStore: any PacketStore

    static func start(
        _ command: CaptureCommand, source: String, live: Bool, pipeline: PacketPipeline, flows: FlowRun,
        storage: StoreRun?
    ) throws -> ServeRun? {
        guard command.serveOptions.serve, let storage else { return nil }
        try command.serveOptions.server.bootstrapLogging()
        FileLimit.prepareServer()
        return ServeRun(
            command.serveOptions.server, source: source, live: live, pipeline: pipeline, flows: flows, storage: storage)
    }

    private init(
        _ options: ServerOptions, source: String, live: Bool, pipeline: PacketPipeline, flows: FlowRun,
        storage: StoreRun
    ) {
        hub = LiveHub(sensor: storage.consumer.capture.sensor, captureID: storage.consumer.capture.id, source: source)
        hub.outbox.liveCapture = live
        // An interface capture: per-second figures in the packets' own seconds (what
        // /api/timeseries counts), and partial store batches out every 0.5 s so that
        // the dashboard's panels stay within about a second of the capture.
        hub.secondsFromPackets = live
        if live { storage.consumer.flushIntervalNanos = 500_000_000 }
        let builder = RowBuilder(format: flows.engine.format)
        // Flows in progress with what is known of their ends and their process so far (the
        // analysis thread, which owns both, at most once per snapshot interval).
        hub.openFlowRows = { [unowned flows] in
            flows.table.openFlows(largest: 1000).map {
                builder.row(
                    from: $0, reason: nil, hosts: builder.format.hostPair($0),
                    process: flows.processes?.placedOwner(of: $0))
            }
        }
        hub.totals = { [unowned pipeline] in pipeline.totals }
        hub.activeFlows = { [unowned flows] in flows.table.count }
        pipeline.consumers.append(hub)
        if let sinks = flows.alertSinks as? AlertSinkList { sinks.sinks.append(hub) }
        let configuration = options.configuration
        // The server reads through its own store: the run's store is closed when the
        // capture's writer finishes, and the server goes on after that.
        readStore = StoreFactory.open(storage.options.url)
        let app = SniffServerApp(
            store: readStore, configuration: configuration, live: hub.outbox, control: live ? control : nil,
            logger: SniffLogging.logger("api"))
        server = RunningServer(app, serving: nil)
        if !server.listening {
            Stderr.print("sniff: server: \(server.failure.map { "\($0)" } ?? "it stopped"); the capture goes on")
        }
    }

    /// Analysis thread, when idle: publish the live interval (file runs).
    func tick() { hub.tick() }

    /// Live capture loop, once per batch or idle wait: publish the interval and the
    /// capture's real state, which the header, /api/stats and the buttons show, then
    /// tell the control which pause the next batches follow (a POST waits for that).
    /// `keysPaused`: paused with the p key.
    func tick(stopping: Bool, keysPaused: Bool) {
        if stopping { control.captureEnding() }
        let asked = control.paused
        hub.outbox.state = stopping ? CaptureControl.State.stopping.rawValue
            : (keysPaused || asked ? CaptureControl.State.paused : CaptureControl.State.running).rawValue
        control.applied(paused: asked)
        hub.tick()
    }

    func captureEnded(_ state: String) {
        hub.tick(force: true)
        hub.outbox.state = state
        control.captureEnded()
    }

    /// After the capture ended (a file read, or a stop from the dashboard): keep serving
    /// until SIGINT/SIGTERM, then shut down gracefully. A signal that ended the capture
    /// was handled by ending it; one that came after `Signals.count` was
    /// `signalsAtCaptureEnd` (while the store flushed or the report was written, when
    /// the stored rows may already show) asks to stop now, so it is kept, even one that
    /// lands during the reset.
    func serveUntilStopped(signalsAtCaptureEnd: sig_atomic_t) {
        guard server.listening else { return stop() }
        Signals.stopRequested = 0
        if Signals.count != signalsAtCaptureEnd { Signals.stopRequested = 1 }
        if !Signals.shouldStop { Stderr.print("sniff: capture done; still serving — Ctrl-C to stop") }
        server.waitForSignal()
        stop()
    }

    func stop() {
        server.stop()
        let store = readStore
        try? Blocking.run { await store.close() }
        // A server that never listened said why when it started.
        if server.listening, let failure = server.failure { Stderr.print("sniff: server: \(failure)") }
    }
}

/// The server beside a capture's synchronous loop (`--serve`), on its own tasks: started,
/// announced once it listens, stopped gracefully. SIGINT and SIGTERM stay with the
/// capture's flag handler, since the packet loop must see them first and a second one
/// gives up the store's flush; this thread sleeps until one of them or the server's end.
final class RunningServer {
    let app: SniffServerApp
    private let outcome = ServerOutcome()
    /// Whether every listener bound (the "serving" line was printed).
    private(set) var listening = false

    /// Starts `app` and waits until it accepts connections, then prints where
    /// ("sniff: serving [WHAT ]on URL"): whoever waits for that line can connect at once.
    /// When a listener cannot bind, waits for the application to end instead.
    init(_ app: SniffServerApp, serving what: String?) {
        self.app = app
        let outcome = self.outcome
        Task.detached {
            do {
                try await app.run()
                outcome.finish(nil)
            } catch {
                outcome.finish(error)
            }
        }
        guard let ports = try? Blocking.run({ await app.listening() }) else {
            outcome.wait()
            return
        }
        listening = true
        Stderr.print(app.servingLine(ports, what: what))
    }

    var failure: Error? { outcome.failure }

    /// Returns on SIGINT or SIGTERM, or when the application ends by itself.
    func waitForSignal() {
        while !Signals.shouldStop && !outcome.done { Signals.waitForWake() }
    }

    /// Graceful shutdown: stop accepting, finish requests in flight; returns when done.
    func stop() {
        let app = self.app
        Task.detached { await app.shutdown() }
        outcome.wait()
    }
}

/// How the server's task ended, for the synchronous thread that waits for it.
final class ServerOutcome: Sendable {
    private let state = Mutex<(done: Bool, failure: (any Error)?)>((false, nil))

    func finish(_ error: (any Error)?) {
        state.withLock { $0 = (true, error) }
        Signals.wake()
    }

    var done: Bool { state.withLock { $0.done } }
    var failure: (any Error)? { state.withLock { $0.failure } }

    /// Sleeps until the task has ended.
    func wait() {
        while !done { Signals.waitForWake() }
    }
}

extension SniffServerApp {
    /// `sniff serve`: runs until SIGINT or SIGTERM, which the service group owns (a
    /// graceful shutdown), and prints the "serving" line once every listener is bound.
    /// Returns the error the server stopped on, if any.
    func serveUntilSignalled(announcing what: String?) async -> (any Error)? {
        await withTaskGroup(of: (any Error)?.self) { group in
            group.addTask {
                do {
                    try await self.run(ownsSignals: true)
                } catch {
                    return error
                }
                return nil
            }
            if let ports = await listening() {
                Stderr.print(servingLine(ports, what: what))
                // A signal that came before the group took them over was only noted.
                if Signals.shouldStop { await shutdown() }
            }
            return await group.next() ?? nil
        }
    }

    /// "sniff: serving [WHAT ]on URL[; feed on HOST:PORT]".
    func servingLine(_ ports: ListeningPorts, what: String?) -> String {
        let c = configuration
        let host = c.host.contains(":") ? "[\(c.host)]" : c.host
        let feed = c.feedHost.map { "; feed on \($0):\(ports.feed ?? c.feedPort)" } ?? ""
        return "sniff: serving \(what.map { $0 + " " } ?? "")on http://\(host):\(ports.http)/" + feed
    }
}
