import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle
import SniffCore
import SniffStore

/// The whole server: the Hummingbird application (API, dashboard, /ws/live, /metrics),
/// the live broadcaster and, when asked, the TCP feed, run together as one
/// ServiceLifecycle group with graceful shutdown.
public final class SniffServerApp: Sendable {
    public let store: any PacketStore
    public let configuration: ServerConfiguration
    public let broadcaster: LiveBroadcaster
    public let metrics: ServerMetrics
    public let control: CaptureControl?
    /// The per-process secret that state-changing requests from the dashboard carry
    /// (X-Sniff-CSRF); the page gets it from GET /api/session.
    public let csrfToken = SecurityMiddleware<SniffRequestContext>.makeCSRFToken()
    public let feed: FeedServer?
    let dashboard: DashboardFiles
    let logger: Logger
    private let group = LockedBox<ServiceGroup?>(nil)
    private let httpReadiness = ListenerReadiness()

    public init(store: any PacketStore, configuration: ServerConfiguration, hub: LiveHub? = nil,
                control: CaptureControl? = nil, logger: Logger = Logger(label: "sniff.api")) {
        self.store = store
        self.configuration = configuration
        self.metrics = ServerMetrics()
        let broadcaster = LiveBroadcaster(hub: hub, configuration: configuration, logger: Logger(label: "sniff.ws"), metrics: metrics)
        self.broadcaster = broadcaster
        self.control = control
        self.dashboard = DashboardFiles(directory: configuration.dashboardDirectory)
        self.logger = logger
        self.feed = configuration.feedHost.map { FeedServer(host: $0, port: configuration.feedPort, token: configuration.token,
                                                            broadcaster: broadcaster, logger: Logger(label: "sniff.feed")) }
    }

    /// The router with every route; a WebSocket request context so that the same
    /// router answers HTTP and upgrades /ws/live.
    public func makeRouter() -> Router<SniffRequestContext> {
        // HEAD of every GET route (dashboard, API, /metrics) answers as GET would, with the
        // same status, Content-Type and Content-Length, and no body (RFC 9110 9.3.2).
        let router = Router(context: SniffRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: HeadMiddleware())
        router.add(middleware: SecurityMiddleware(token: configuration.token, maxURILength: configuration.maxURILength,
                                                  hosts: HostPolicy(configuration: configuration), csrfToken: csrfToken))
        router.add(middleware: ErrorMiddleware(logger: logger))
        router.add(middleware: CountingMiddleware(metrics: metrics))
        APIRoutes(store: store, broadcaster: broadcaster, control: control, metrics: metrics, configuration: configuration,
                  dashboard: dashboard, logger: logger, csrfToken: csrfToken).add(to: router)
        let broadcaster = self.broadcaster
        // The query may hold the first filter (the message's fields: ip, port, ...,
        // capture); a bad one is refused before the upgrade, with the API's 400.
        router.ws("/ws/live") { request, _ in
            _ = try LiveSocket.initialFilter(request.uri.queryParameters)
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            let first = try LiveSocket.initialFilter(context.request.uri.queryParameters)
            try await LiveSocket.run(inbound: inbound, outbound: outbound, broadcaster: broadcaster, first: first)
        }
        return router
    }

    public func makeApplication(onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in })
        -> some ApplicationProtocol {
        let router = makeRouter()
        let webSocketResponder = router.buildResponder()
        let c = configuration
        let channel = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: .init(idleTimeout: .nanoseconds(Int64(c.httpIdleTimeoutSeconds * 1e9))),
            ws: .init(maxFrameSize: 1 << 16))
        // Hummingbird's idle timeout starts once a request head has been read; the
        // deadline wrapper covers the time before that.
        let server = HTTPServerBuilder { responder in
            FirstResponseDeadline(
                inner: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: channel),
                timeout: .nanoseconds(Int64(c.firstResponseTimeoutSeconds * 1e9)))
        }
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(c.host, port: c.port), serverName: nil,
                                 availableConnectionsDelegate: .maximum(c.maxHTTPConnections, logger: logger)),
            onServerRunning: onServerRunning,
            logger: logger
        )
    }

    /// Runs until `shutdown()` (or cancellation). No signal handling here: the command
    /// decides when to stop.
    public func run() async throws {
        let http = httpReadiness
        let application = makeApplication(onServerRunning: { channel in http.resolve(channel.localAddress?.port) })
        var services: [any Service] = [application, broadcaster]
        if let feed { services.append(feed) }
        let g = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [], logger: logger))
        group.set(g)
        // A listener that never bound (a bind failed and ended the group, or it was shut
        // down first) answers its waiters with nil; one that bound keeps its port.
        defer {
            http.resolve(nil)
            feed?.resolveReadiness(nil)
        }
        try await g.run()
    }

    /// Waits until the HTTP server (and the feed, when asked) accept connections and
    /// returns their ports; nil when one of them could not bind. Call it beside `run()`.
    public func listening() async -> ListeningPorts? {
        guard let httpPort = await httpReadiness.wait() else { return nil }
        guard let feed else { return ListeningPorts(http: httpPort, feed: nil) }
        guard let feedPort = await feed.listening() else { return nil }
        return ListeningPorts(http: httpPort, feed: feedPort)
    }

    /// Graceful shutdown: stop accepting, finish requests in flight, close live clients.
    public func shutdown() async {
        await group.get()?.triggerGracefulShutdown()
    }
}

struct CountingMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        metrics.requests.increment()
        return try await next(request, context)
    }
}

/// Errors (404, 400, 401) answer HEAD with their status and headers and, like the
/// routes, no body: the generated HEAD routes cover matched paths only.
struct HeadMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        return request.method == .head ? response.createHeadResponse() : response
    }
}

final class LockedBox<T: Sendable>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value: T
    init(_ v: T) { value = v }
    func get() -> T { lock.withLock { value } }
    func set(_ v: T) { lock.withLock { value = v } }
}

/// One /ws/live connection: a writer task draining the client's queue, a reader task
/// applying filter messages, and a watchdog that ends the connection when the
/// broadcaster closed the client (slow or shutting down).
enum LiveSocket {
    /// The filter of the connection's query: the filter message's fields; `token` is
    /// the API's. Throws the API's 400 for a bad value.
    static func initialFilter(_ query: Parameters) throws -> (filter: LiveFilter, capture: Int64?) {
        var p: [String: String] = [:]
        for (k, v) in query where k != "token" { p[String(k)] = String(v) }
        let capture = try parseCapture(p.removeValue(forKey: "capture"))
        do {
            return (try LiveFilter(parameters: p), capture)
        } catch StoreError.badParameter(let name, let message) {
            throw APIError.badParameter(name, message)
        }
    }

    /// A capture id (a string of digits, as the API writes ids); empty means all.
    static func parseCapture(_ v: String?) throws -> Int64? {
        guard let v, !v.isEmpty else { return nil }
        guard let id = Int64(v) else { throw APIError.badParameter("capture", "a capture id is a number") }
        return id
    }

    static func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, broadcaster: LiveBroadcaster,
                    first: (filter: LiveFilter, capture: Int64?) = (LiveFilter(), nil)) async throws {
        guard let client = broadcaster.register(.webSocket) else {
            var o = JSONObject()
            o.string("type", "error")
            o.string("error", "too many clients (\(broadcaster.configuration.maxLiveClients) connected); try again later")
            try await outbound.write(.text(o.finish().string))
            return
        }
        defer { broadcaster.unregister(client) }
        client.filter = first.filter; client.capture = first.capture
        client.enqueue(broadcaster.helloMessage())
        let history = broadcaster.recentStats
        if !history.isEmpty { client.enqueue("{\"type\":\"history\",\"stats\":[" + history.joined(separator: ",") + "]}") }
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while let m = await client.next() {
                    try await outbound.write(.text(m))
                    client.wrote()
                }
            }
            group.addTask {
                for try await message in inbound.messages(maxSize: 4096) {
                    guard case .text(let text) = message else { continue }
                    client.enqueue(apply(text, to: client, running: broadcaster.hub?.captureID))
                }
            }
            group.addTask {
                while !client.isClosed { try await Task.sleep(for: .milliseconds(200)) }
            }
            _ = try? await group.next()
            client.close()
            group.cancelAll()
        }
    }

    /// A filter message: {"ip": "10.0.0.0/8", "port": 53, "transport": "udp"}; also
    /// {"paused": true}; {"capture": "12"} shows one capture ("" or null: all). Answers
    /// with the filter in force, and whether the chosen capture's rows stream here
    /// (`streaming`: false when it is another capture than the one running), or an error.
    static func apply(_ text: String, to client: LiveClient, running: Int64? = nil) -> String {
        func failure(_ message: String, _ parameter: String?) -> String {
            var o = JSONObject()
            o.string("type", "error"); o.string("error", message)
            if let parameter { o.string("parameter", parameter) }
            return o.finish().string
        }
        guard let data = text.data(using: .utf8), let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return failure("a filter message is a JSON object such as {\"ip\":\"10.0.0.0/8\",\"port\":53}", nil)
        }
        var p: [String: String] = [:]
        var paused: Bool? = nil
        for (k, v) in obj {
            if k == "type" { continue }
            if k == "paused" {
                guard let b = v as? Bool else { return failure("paused is true or false", "paused") }
                paused = b; continue
            }
            switch v {
            case let s as String: p[k] = s
            case let n as NSNumber: p[k] = n.stringValue
            case is NSNull: continue
            default: return failure("\(k.prefix(40)) must be a string or a number", String(k.prefix(40)))
            }
        }
        let capture: Int64?
        do { capture = try parseCapture(p.removeValue(forKey: "capture")) } catch let e as APIError {
            return failure(e.message, "capture")
        } catch { return failure("invalid capture", "capture") }
        do {
            let f = try LiveFilter(parameters: p)
            client.filter = f
            client.capture = capture
            if let paused { client.paused = paused }
            var o = JSONObject()
            o.string("type", "filter")
            o.raw("filter") { s in
                var x = JSONObject()
                for (k, v) in p.sorted(by: { $0.key < $1.key }) where !v.isEmpty { x.string(k, v) }
                if let capture { x.string("capture", String(capture)) }
                s.bytes.append(contentsOf: x.finish().bytes)
            }
            o.bool("paused", client.paused)
            o.bool("streaming", running != nil && (capture == nil || capture == running))
            return o.finish().string
        } catch let e as StoreError {
            if case .badParameter(let name, let message) = e { return failure("invalid \(name): \(message)", name) }
            return failure("invalid filter", nil)
        } catch {
            return failure("invalid filter", nil)
        }
    }
}
