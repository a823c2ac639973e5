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
    let control = ControlFlags()
    private let state = ServerRunState()
    let readStore: any PacketStore

    /// The capture's pause/resume/stop buttons: flags the capture loop reads.
    final class ControlFlags: CaptureControl, @unchecked Sendable {
        private let lock = ConditionLock()
        private var _paused = false
        private var _stop = false
        func pause() { lock.withLock { _paused = true } }
        func resume() { lock.withLock { _paused = false } }
        func stop() { lock.withLock { _stop = true } }
        var paused: Bool { lock.withLock { _paused } }
        var stopRequested: Bool { lock.withLock { _stop } }
    }

    static func start(_ command: CaptureCommand, source: String, live: Bool, pipeline: PacketPipeline, flows: FlowRun, storage: StoreRun?) throws -> ServeRun? {
        guard command.serveOptions.serve, let storage else { return nil }
        try command.serveOptions.server.bootstrapLogging()
        FileLimit.prepareServer()
        return ServeRun(command.serveOptions.server, source: source, live: live, pipeline: pipeline, flows: flows, storage: storage)
    }

    private init(_ options: ServerOptions, source: String, live: Bool, pipeline: PacketPipeline, flows: FlowRun, storage: StoreRun) {
        hub = LiveHub(sensor: storage.consumer.capture.sensor, captureID: storage.consumer.capture.id, source: source)
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

    /// Analysis thread, when idle: publish the live interval.
    func tick() { hub.tick() }

    func captureEnded(_ state: String) {
        hub.tick(force: true)
        hub.state = state
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
