import Hummingbird
import NIOCore
import SniffCore
import Synchronization

/// Checks every request before any route runs, in this order:
///
/// 1. the request target is not too long (414);
/// 2. every Host header names this server (421): DNS rebinding gives an attacker's name
///    our address, so a page on that name could otherwise read the API;
/// 3. a request from a page (Origin, or `Sec-Fetch-Site: cross-site`) comes from this
///    server's own pages (403): any site could otherwise drive the capture, and browsers
///    let any page open a WebSocket to /ws/live;
/// 4. with a token configured, every /api, /ws and /metrics request carries it, as
///    `Authorization: Bearer TOKEN` or `?token=TOKEN` (browsers cannot set headers on a
///    WebSocket or a download link); the dashboard's static files need none (no data);
/// 5. a state-changing request (anything but GET and HEAD) carries the token or the
///    per-process CSRF token from GET /api/session in `X-Sniff-CSRF` (403).
///
/// A request without Host (HTTP/1.0) passes step 2: browsers always send one, so
/// rebinding cannot leave it out, and steps 3 to 5 still apply.
struct SecurityMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?
    let maxURILength: Int
    let hosts: HostPolicy
    let csrfToken: String

    static var csrfHeader: HeaderName { HeaderName("X-Sniff-CSRF")! }
    /// A Host header beyond the first (which becomes the authority).
    static var hostHeader: HeaderName { HeaderName("Host")! }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if let refusal = refusal(request) {
            if request.headers[.upgrade]?.lowercased() == "websocket", let c = context as? SniffRequestContext {
                await RefusedUpgradeAnswer.record(refusal, on: c.slot.channel)
            }
            return refusal.response
        }
        var response = try await next(request, context)
        response.headers[HeaderName("X-Content-Type-Options")!] = "nosniff"
        response.headers[HeaderName("Referrer-Policy")!] = "no-referrer"
        response.headers[HeaderName("X-Frame-Options")!] = "DENY"
        return response
    }

    /// Why the request is refused, or nil when it may go on.
    func refusal(_ request: Request) -> APIError? {
        if request.uri.description.utf8.count > maxURILength {
            return APIError(.uriTooLong, "the request target is longer than \(maxURILength) bytes")
        }
        // The first Host header becomes the authority; any further ones stay in the
        // fields. Each must name this server.
        var named: HostPolicy.Authority? = nil
        for (i, value) in ([request.head.authority].compactMap { $0 } + request.headers[values: Self.hostHeader])
            .enumerated() {
            guard let a = HostPolicy.Authority(value), hosts.allows(a) else {
                return APIError(
                    .misdirectedRequest,
                    "this server does not answer to the name '\(value.prefix(100))' in the Host header; "
                        + "open it as \(hosts.example), or start sniff with --allow-host NAME for a name of yours")
            }
            if i == 0 { named = a }
        }
        if request.headers[HeaderName("Sec-Fetch-Site")!] == "cross-site" {
            return APIError(.forbidden, "cross-site requests are refused: only this server's own pages may call it")
        }
        if let origin = request.headers[.origin], !hosts.allowsOrigin(origin, host: named) {
            return APIError(
                .forbidden,
                "requests from the page at '\(origin.prefix(100))' are refused: only this server's own "
                    + "pages may call it (start sniff with --allow-host NAME when a proxy serves it under NAME)")
        }
        var authenticated = false
        if let token {
            var given: Substring? = nil
            if let h = request.headers[.authorization], h.hasPrefix("Bearer ") { given = Substring(h.dropFirst(7)) }
            if given == nil, let q = request.uri.queryParameters["token"] { given = q }
            authenticated = given.map { Self.constantTimeEquals($0, token) } ?? false
            let path = request.uri.path
            if !authenticated && (path.hasPrefix("/api") || path.hasPrefix("/ws") || path.hasPrefix("/metrics")) {
                return APIError(
                    .unauthorized, "this server needs a token: send Authorization: Bearer TOKEN (or ?token=TOKEN)",
                    parameter: "token")
            }
        }
        if request.method != .get && request.method != .head && !authenticated {
            guard let given = request.headers[Self.csrfHeader], Self.constantTimeEquals(Substring(given), csrfToken)
            else {
                return APIError(
                    .forbidden,
                    "a request that changes something needs the header X-Sniff-CSRF: take its value "
                        + "from GET /api/session (csrf_token)"
                        + (token == nil ? "" : ", or send Authorization: Bearer TOKEN"))
            }
        }
        return nil
    }

    static func constantTimeEquals(_ a: Substring, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }

    /// 32 random bytes as hex, from the system's CSPRNG (getrandom on Linux).
    static func makeCSRFToken() -> String {
        var g = SystemRandomNumberGenerator()
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for _ in 0..<4 {
            var v = g.next()
            for _ in 0..<16 { out.append(digits[Int(v & 0xF)]); v >>= 4 }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A header's name (HTTPTypes' `HTTPField.Name`, which Hummingbird does not re-export).
typealias HeaderName = HTTPFields.Element.Name

/// The names a request may give this server in Host, and the pages (Origin) that may
/// call it.
///
/// Only the name is checked in Host, not the port: rebinding needs a name of the
/// attacker's, while an SSH tunnel (`ssh -L 9000:127.0.0.1:8086`) or a proxy changes
/// the port legitimately. An Origin must match the Host it was sent with, port included
/// (a page on another local port is another origin), unless its name was given with
/// --allow-host (a proxy in front may serve the pages on a port of its own).
struct HostPolicy: Sendable {
    /// Canonical names and addresses (see `Authority.key`).
    private(set) var allowed: Set<String> = []
    /// Listening on every address: any address literal names this server.
    private(set) var anyAddress = false
    /// --allow-host names, accepted as an Origin on any port.
    private(set) var proxies: Set<String> = []
    /// How to name the server in a message.
    let example: String

    init(configuration c: ServerConfiguration) {
        let listen = c.host.lowercased()
        let loopbackNames = ["localhost", "127.0.0.1", "::1"]
        if listen == "0.0.0.0" || listen == "::" {
            anyAddress = true
            allowed.formUnion(loopbackNames.compactMap { Authority(bare: $0)?.key })
        } else {
            if let a = Authority(bare: listen) { allowed.insert(a.key) }
            if ServerConfiguration.isLoopback(listen) {
                allowed.formUnion(loopbackNames.compactMap { Authority(bare: $0)?.key })
            }
        }
        for name in c.allowedHosts {
            guard let a = Authority(bare: name) else { continue }
            allowed.insert(a.key); proxies.insert(a.key)
        }
        let shown = anyAddress ? "127.0.0.1" : (listen.contains(":") ? "[\(listen)]" : listen)
        example = "http://\(shown):\(c.port)/"
    }

    func allows(_ a: Authority) -> Bool {
        allowed.contains(a.key) || (anyAddress && a.address != nil)
    }

    /// An Origin header ("http://host:port") from a page allowed to call us. `host` is
    /// the request's Host (already checked), nil when the request had none.
    func allowsOrigin(_ origin: String, host: Authority?) -> Bool {
        // Pages have http(s) origins (or "null"); a ws:// one comes from a WebSocket
        // library outside any browser (swift-websocket sends it), which could as well
        // send none: no page stands behind it.
        if origin.hasPrefix("ws://") || origin.hasPrefix("wss://") { return true }
        let scheme: String
        if origin.hasPrefix("http://") {
            scheme = "http"
        } else if origin.hasPrefix("https://") {
            scheme = "https"
        } else {
            return false
        }
        guard let o = Authority(origin.dropFirst(scheme.count + 3)) else { return false }
        if proxies.contains(o.key) { return true }
        guard let host else { return allows(o) }
        let port = o.port ?? (scheme == "https" ? 443 : 80)
        return o.key == host.key && (host.port == nil || host.port == port)
    }

    /// A Host header value or an Origin's authority: "name", "name:port", "1.2.3.4:80",
    /// "[::1]:8086". Names are lower-cased; addresses compare by value.
    struct Authority: Sendable {
        let name: String
        let address: IPAddress?
        let port: Int?
        var key: String { address?.description ?? name }

        init?<S: StringProtocol>(_ text: S) {
            let text = Substring(text)
            var host: Substring, rest: Substring
            if text.hasPrefix("[") {
                guard let close = text.firstIndex(of: "]") else { return nil }
                host = text[text.index(after: text.startIndex)..<close]
                rest = text[text.index(after: close)...]
                guard IPAddress(String(host))?.isIPv6 == true else { return nil }
            } else if let colon = text.firstIndex(of: ":") {
                host = text[..<colon]; rest = text[colon...]
            } else {
                host = text; rest = ""
            }
            var port: Int? = nil
            if !rest.isEmpty {
                let digits = rest.dropFirst()
                guard rest.first == ":", !digits.isEmpty, digits.count <= 5,
                    digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                    let p = Int(digits), p <= 65535
                else { return nil }
                port = p
            }
            guard let bare = Authority(bare: host) else { return nil }
            self.name = bare.name; self.address = bare.address; self.port = port
        }

        /// A name or address without port or brackets ("::1", "sniff.example.com").
        init?<S: StringProtocol>(bare text: S) {
            var name = text.lowercased()
            if name.hasPrefix("[") && name.hasSuffix("]") {
                name = String(name.dropFirst().dropLast())
                guard IPAddress(name)?.isIPv6 == true else { return nil }
            }
            guard !name.isEmpty, name.utf8.count <= 253 else { return nil }
            if let a = IPAddress(name) {
                self.name = name; self.address = a; self.port = nil
                return
            }
            guard
                name.utf8.allSatisfy({
                    ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F
                })
            else { return nil }
            self.name = name; self.address = nil; self.port = nil
        }
    }
}

/// The answer to a refused WebSocket upgrade. hummingbird-websocket answers every
/// upgrade its responder declines with a bare "400 Bad Request", dropping the status and
/// the sentence that the middleware chose; this handler, next to the socket, writes
/// those instead and closes the connection.
/// Unchecked Sendable: `written` is touched on the channel's event loop only (as NIO
/// handlers' state is); `answer` comes from the responder's task, under its mutex.
final class RefusedUpgradeAnswer: ChannelOutboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias OutboundIn = Any
    typealias OutboundOut = ByteBuffer
    private let answer = Mutex<[UInt8]?>(nil)
    private var written = false

    static func record(_ refusal: APIError, on channel: any Channel) async {
        guard let handler = try? await channel.pipeline.handler(type: RefusedUpgradeAnswer.self).get() else { return }
        var o = JSONObject()
        o.string("error", refusal.message)
        let body = o.finish().bytes
        let head = "HTTP/1.1 \(refusal.status.code) \(refusal.status.reasonPhrase)\r\n" +
            "Content-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\n" +
            "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        handler.answer.withLock { $0 = Array(head.utf8) + body }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard let answer = answer.withLock({ $0 }) else {
            context.write(data, promise: promise)
            return
        }
        if written {
            promise?.succeed(())
            return
        }
        written = true
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: answer)), promise: promise)
        context.close(promise: nil)
    }
}
