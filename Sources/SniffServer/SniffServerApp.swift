import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle
import SniffCore
import SniffStore
import Synchronization

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
    private let group = Mutex<ServiceGroup?>(nil)
    private let httpReadiness = ListenerReadiness()

    public init(store: any PacketStore, configuration: ServerConfiguration, live: LiveOutbox? = nil,
                control: CaptureControl? = nil, logger: Logger = Logger(label: "sniff.api")) {
        self.store = store
        self.configuration = configuration
        self.metrics = ServerMetrics()
        let broadcaster = LiveBroadcaster(
            outbox: live, configuration: configuration, logger: Logger(label: "sniff.ws"), metrics: metrics)
        self.broadcaster = broadcaster
        self.control = control
        self.dashboard = DashboardFiles(directory: configuration.dashboardDirectory)
        self.logger = logger
        self.feed = configuration.feedHost.map {
            FeedServer(
                host: $0, port: configuration.feedPort, token: configuration.token,
                broadcaster: broadcaster, logger: Logger(label: "sniff.feed"))
        }
    }

    /// The router with every route; a WebSocket request context so that the same
    /// router answers HTTP and upgrades /ws/live.
    public func makeRouter() -> Router<SniffRequestContext> {
        // HEAD of every GET route (dashboard, API, /metrics) answers as GET would, with the
        // same status, Content-Type and Content-Length, and no body (RFC 9110 9.3.2).
        let router = Router(context: SniffRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: HeadMiddleware())
        router.add(
            middleware: SecurityMiddleware(
                token: configuration.token, maxURILength: configuration.maxURILength,
                hosts: HostPolicy(configuration: configuration), csrfToken: csrfToken))
        router.add(middleware: ErrorMiddleware(logger: logger))
        router.add(middleware: CountingMiddleware(metrics: metrics))
        APIRoutes(
            store: store, broadcaster: broadcaster, control: control, metrics: metrics, configuration: configuration,
            dashboard: dashboard, logger: logger, csrfToken: csrfToken
        ).add(to: router)
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
                inner: HTTP1WebSocketUpgradeChannel(
                    responder: responder, webSocketResponder: webSocketResponder, configuration: channel),
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

    /// Runs until `shutdown()` or cancellation and, when `ownsSignals`, until SIGINT or
    /// SIGTERM, which then start the same graceful shutdown. Without it the caller
    /// decides when to stop (a capture's loop keeps the signals for itself).
    public func run(ownsSignals: Bool = false) async throws {
        let http = httpReadiness
        let application = makeApplication(onServerRunning: { channel in http.resolve(channel.localAddress?.port) })
        var services: [any Service] = [application, broadcaster]
        if let feed { services.append(feed) }
        let g = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                  gracefulShutdownSignals: ownsSignals ? [.sigint, .sigterm] : [],
                                                  logger: logger))
        group.withLock { $0 = g }
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
        await group.withLock { $0 }?.triggerGracefulShutdown()
    }
}

struct CountingMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        metrics.requests.increment()
        return try await next(request, context)
    }
}

/// Errors (404, 400, 401) answer HEAD with their status and headers and, like the
/// routes, no body: the generated HEAD routes cover matched paths only.
struct HeadMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let response = try await next(request, context)
        return request.method == .head ? response.createHeadResponse() : response
    }
}
