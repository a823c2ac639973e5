import ArgumentParser
import Foundation
import Logging
import SniffCore
import SniffAnalysis
import SniffCapture
import SniffStore
import SniffServer

/// The server running beside a capture (`--serve`): a live hub in the pipeline, the
/// application on its own tasks, capture control for the dashboard's buttons.
final class ServeRun {
    let server: RunningServer
    let hub: LiveHub
    /// The dashboard's pause/resume/stop buttons: flags the capture loop reads, and the
    /// state it reports back.
    let control = CaptureControl()
    let readStore: any PacketStore

    static func start(_ command: CaptureCommand, source: String, live: Bool, pipeline: PacketPipeline, flows: FlowRun, storage: StoreRun?) throws -> ServeRun? {
        guard command.serveOptions.serve, let storage else { return nil }
        try command.serveOptions.server.bootstrapLogging()
        FileLimit.prepareServer()
        return ServeRun(command.serveOptions.server, source: source, live: live, pipeline: pipeline, flows: flows, storage: storage)
    }

    private init(_ options: ServerOptions, source: String, live: Bool, pipeline: PacketPipeline, flows: FlowRun, storage: StoreRun) {
        hub = LiveHub(sensor: storage.consumer.capture.sensor, captureID: storage.consumer.capture.id, source: source)
        hub.liveCapture = live
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
                builder.row(from: $0, reason: nil, hosts: builder.format.hostPair($0), process: flows.processes?.placedOwner(of: $0))
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
        let app = SniffServerApp(store: readStore, configuration: configuration, hub: hub, control: live ? control : nil,
                                 logger: SniffLogging.logger("api"))
        server = RunningServer(app, serving: nil)
        if !server.listening {
            Stderr.print("sniff: server: \(server.failure.map { "\($0)" } ?? "it stopped"); the capture goes on")
        }
    }

    /// Analysis thread, when idle: publish the live interval (file runs).
    func tick() { hub.tick() }

    /// Live capture loop, once per batch or idle wait: publish the interval and the
    /// capture's real state, which the header, /api/stats and the buttons show.
    func tick(stopping: Bool, paused: Bool) {
        if stopping { control.captureEnding() }
        hub.state = stopping ? CaptureControl.State.stopping.rawValue
            : (paused ? CaptureControl.State.paused : CaptureControl.State.running).rawValue
        hub.tick()
    }

    func captureEnded(_ state: String) {
        hub.tick(force: true)
        hub.state = state
        control.captureEnded()
    }

    /// After a file was read: keep serving until SIGINT/SIGTERM, then shut down gracefully.
    func serveUntilStopped() {
        guard server.listening else { return stop() }
        Signals.stopRequested = 0
        Stderr.print("sniff: capture done; still serving — Ctrl-C to stop")
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

/// A server application running on its own tasks, for the commands' synchronous threads:
/// started, announced once it listens, stopped gracefully.
final class RunningServer {
    let app: SniffServerApp
    private let state = ServerRunState()
    /// Whether every listener bound (the "serving" line was printed).
    private(set) var listening = false

    /// Starts `app` and waits until it accepts connections, then prints where
    /// ("sniff: serving [WHAT ]on URL"): whoever waits for that line can connect at once.
    /// When a listener cannot bind, waits for the application to end instead.
    init(_ app: SniffServerApp, serving what: String?) {
        self.app = app
        let state = self.state
        Task.detached {
            var err: Error? = nil
            do { try await app.run() } catch { err = error }
            state.finish(err)
        }
        guard let ports = try? Blocking.run({ await app.listening() }) else {
            state.wait()
            return
        }
        listening = true
        let c = app.configuration
        let host = c.host.contains(":") ? "[\(c.host)]" : c.host
        let feed = c.feedHost.map { "; feed on \($0):\(ports.feed ?? c.feedPort)" } ?? ""
        Stderr.print("sniff: serving \(what.map { $0 + " " } ?? "")on http://\(host):\(ports.http)/" + feed)
    }

    var failure: Error? { state.failure }

    /// Returns on SIGINT or SIGTERM, or when the application ends by itself.
    func waitForSignal() {
        while !Signals.shouldStop && !state.done { usleep(100_000) }
    }

    /// Graceful shutdown: stop accepting, finish requests in flight; returns when done.
    func stop() {
        let app = self.app
        Task.detached { await app.shutdown() }
        state.wait()
    }
}
