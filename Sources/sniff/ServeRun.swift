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
    let app: SniffServerApp
    let hub: LiveHub
    /// The dashboard's pause/resume/stop buttons: flags the capture loop reads, and the
    /// state it reports back.
    let control = CaptureControl()
    private let state = ServerRunState()
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
        hub.openFlowRows = { [unowned flows] in flows.table.openFlows(largest: 1000).map { builder.row(from: $0, reason: nil) } }
        hub.totals = { [unowned pipeline] in pipeline.totals }
        hub.activeFlows = { [unowned flows] in flows.table.count }
        pipeline.consumers.append(hub)
        if let sinks = flows.alertSinks as? AlertSinkList { sinks.sinks.append(hub) }
        let configuration = options.configuration
        // The server reads through its own store: the run's store is closed when the
        // capture's writer finishes, and the server goes on after that.
        readStore = StoreFactory.open(storage.options.url)
        app = SniffServerApp(store: readStore, configuration: configuration, hub: hub, control: live ? control : nil,
                             logger: SniffLogging.logger("api"))
        let app = self.app
        let state = self.state
        Task.detached {
            var err: Error? = nil
            do { try await app.run() } catch { err = error }
            state.finish(err)
        }
        Stderr.print("sniff: serving on http://\(configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host):\(configuration.port)/" +
                     (configuration.feedHost.map { "; feed on \($0):\(configuration.feedPort)" } ?? ""))
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
        Signals.stopRequested = 0
        Stderr.print("sniff: capture done; still serving — Ctrl-C to stop")
        while !Signals.shouldStop && !state.done { usleep(100_000) }
        stop()
    }

    func stop() {
        let app = self.app
        Task.detached { await app.shutdown() }
        state.wait()
        let store = readStore
        try? Blocking.run { await store.close() }
        if let failure = state.failure { Stderr.print("sniff: server: \(failure)") }
    }
}
