import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import SniffCore
import SniffStore
@testable import SniffServer
#if canImport(Glibc)
import Glibc
#endif
import SniffTestSupport

/// Who may drive and read the server: Host names (DNS rebinding), Origin (CSRF and
/// cross-site WebSocket hijacking), the CSRF token on state-changing requests, and the
/// capture state after a stop. In-process and over a socket with the same body; the
/// attacks that need exact bytes on the wire (one foreign Host, a WebSocket upgrade)
/// also go through a raw socket.
@Suite("Security")
struct SecurityTests {
    static let csrf = HeaderName("X-Sniff-CSRF")!
    static let host = HeaderName("Host")!
    static let fetchSite = HeaderName("Sec-Fetch-Site")!

    /// The test clients always send `Host: localhost` (the authority); a further Host
    /// header is checked as well, so a foreign one there is refused the same way.
    @Test("a foreign Host is 421 on the API, the dashboard, /metrics and /ws/live", arguments: bothSetups)
    func foreignHost(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        let control = CaptureControl()
        let (server, app) = makeApp(db.store, control: control)
        try await app.test(setup) { client in
            for uri in ["/api/stats", "/api/packets", "/api/session", "/", "/ui/app.js", "/metrics", "/ws/live"] {
                try await client.execute(uri: uri, method: .get, headers: [Self.host: "evil.example:8086"]) { r in
                    #expect(r.status == .misdirectedRequest, "\(uri)")
                    let message = jsonObject(r.body)["error"] as? String ?? ""
                    #expect(message.contains("evil.example") && message.contains("--allow-host"), "\(uri): \(message)")
                }
            }
            try await client.execute(uri: "/api/capture/stop", method: .post,
                                     headers: [Self.host: "evil.example", Self.csrf: server.csrfToken]) {
                #expect($0.status == .misdirectedRequest)
            }
        }
        #expect(control.state == .running)
    }

    @Test("the loopback names, the listen address and --allow-host names pass; others are 421", arguments: bothSetups)
    func allowedHosts(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        func statuses(_ hosts: [String], configure: @escaping (inout ServerConfiguration) -> Void,
                      auth: HTTPFields = [:]) async throws -> [String: HTTPResponse.Status] {
            let (_, app) = makeApp(db.store, configure: configure)
            return try await app.test(setup) { client in
                var out: [String: HTTPResponse.Status] = [:]
                for h in hosts {
                    var headers = auth
                    headers[Self.host] = h
                    out[h] = try await client.execute(uri: "/api/stats", method: .get, headers: headers) { $0.status }
                }
                return out
            }
        }
        // Loopback listen: the loopback names on any port (an SSH tunnel changes it).
        let loopback = try await statuses(
            [
                "localhost:8086", "127.0.0.1:8086", "[::1]:8086", "LocalHost", "localhost:9000",
                "evil.example", "localhost.evil.example", "127.0.0.2:8086", "::1", "[::2]:8086",
                "localhost:99999", "local host"
            ], configure: { _ in })
        for h in ["localhost:8086", "127.0.0.1:8086", "[::1]:8086", "LocalHost", "localhost:9000"] {
            #expect(loopback[h] == .ok, "\(h): \(String(describing: loopback[h]))")
        }
        for h in [
            "evil.example", "localhost.evil.example", "127.0.0.2:8086", "::1", "[::2]:8086", "localhost:99999",
            "local host"
        ] {
            #expect(loopback[h] == .misdirectedRequest, "\(h): \(String(describing: loopback[h]))")
        }
        // --allow-host names, for a reverse proxy.
        let named = try await statuses(
            ["sniff.example.com", "sniff.example.com:443", "other.example.com", "localhost:8086"],
            configure: { $0.allowedHosts = ["sniff.example.com"] })
        #expect(
            named["sniff.example.com"] == .ok && named["sniff.example.com:443"] == .ok && named["localhost:8086"] == .ok
        )
        #expect(named["other.example.com"] == .misdirectedRequest)
        // Every address: any address literal (rebinding needs a name), names only when given.
        let wildcard = try await statuses(
            ["192.0.2.7:8086", "[2001:db8::1]:8086", "localhost:8086", "evil.example:8086"],
            configure: { $0.host = "0.0.0.0"; $0.token = "s3cret-token-1" },
            auth: [.authorization: "Bearer s3cret-token-1"])
        #expect(
            wildcard["192.0.2.7:8086"] == .ok && wildcard["[2001:db8::1]:8086"] == .ok
                && wildcard["localhost:8086"] == .ok)
        #expect(
            wildcard["evil.example:8086"] == .misdirectedRequest, "the token does not make a foreign name acceptable")
        // A bad --allow-host is a configuration problem (exit 64 in the CLI).
        var c = ServerConfiguration()
        c.allowedHosts = ["evil.example:80"]
        #expect(c.problem?.contains("--allow-host") == true)
        c.allowedHosts = ["[::1]", "sniff.example.com", "192.0.2.7"]
        #expect(c.problem == nil)
    }

    @Test(
        "a request from a foreign page (Origin, Sec-Fetch-Site) is 403, the WebSocket upgrade included",
        arguments: bothSetups)
    func foreignOrigin(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        let control = CaptureControl()
        let (server, app) = makeApp(db.store, control: control)
        try await app.test(setup) { client in
            let evil: HTTPFields = [.origin: "http://evil.example", Self.csrf: server.csrfToken]
            for (uri, method) in [("/api/capture/pause", HTTPRequest.Method.post), ("/api/capture/stop", .post),
                                  ("/api/stats", .get), ("/api/session", .get), ("/ws/live", .get)] {
                try await client.execute(uri: uri, method: method, headers: evil) { r in
                    #expect(r.status == .forbidden, "\(uri)")
                    #expect((jsonObject(r.body)["error"] as? String)?.contains("evil.example") == true, "\(uri)")
                }
            }
            // (A page on another local port is refused in `rawSocket`: the test clients'
            // Host has no port, and then only the name is compared.)
            for origin in ["null", "http://localhost.evil.example", "file://", "https://127.0.0.1"] {
                try await client.execute(uri: "/api/stats", method: .get, headers: [.origin: origin]) {
                    #expect($0.status == .forbidden, "\(origin)")
                }
            }
            try await client.execute(uri: "/api/stats", method: .get, headers: [Self.fetchSite: "cross-site"]) {
                #expect($0.status == .forbidden)
            }
            // The dashboard's own page: same origin as the Host it was sent with.
            try await client.execute(uri: "/api/stats", method: .get,
                                     headers: [.origin: "http://localhost", Self.fetchSite: "same-origin"]) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/api/capture/pause", method: .post,
                                     headers: [.origin: "http://localhost", Self.csrf: server.csrfToken]) {
                #expect($0.status == .ok)
            }
        }
        #expect(control.state == .paused, "only the same-origin request took effect")
    }

    /// What a browser sends on a rebinding attack or a cross-site WebSocket, byte for byte.
    @Test("over a socket: one foreign Host is 421; a foreign or other-port Origin cannot open /ws/live")
    func rawSocket() async throws {
        let db = try await SharedDatabase.shared.get()
        let (_, app) = makeApp(db.store, live: LiveOutbox())
        try await app.test(.live) { client in
            let port = try #require(client.port)
            func statusLine(_ request: String) async -> String {
                await BlockingSocket.onThread {
                    let fd = BlockingSocket.connect(port, timeoutSeconds: 20)
                    defer { close(fd) }
                    BlockingSocket.send(fd, request)
                    return BlockingSocket.readLine(fd).trimmingCharacters(in: .whitespacesAndNewlines)
                }
            }
            func get(_ path: String, host: String) -> String {
                "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
            }
            func upgrade(host: String, origin: String?) -> String {
                "GET /ws/live HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                    (origin.map { "Origin: \($0)\r\n" } ?? "") +
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            }
            let me = "127.0.0.1:\(port)"
            #expect(await statusLine(get("/api/stats", host: "evil.example:\(port)")).hasPrefix("HTTP/1.1 421"))
            #expect(await statusLine(get("/", host: "evil.example:\(port)")).hasPrefix("HTTP/1.1 421"))
            #expect(await statusLine(get("/api/stats", host: me)).hasPrefix("HTTP/1.1 200"))
            #expect(await statusLine(get("/", host: "localhost:\(port)")).hasPrefix("HTTP/1.1 200"))
            // HTTP/1.0 without Host: browsers always send one, so rebinding cannot omit it.
            #expect(await statusLine("GET /api/stats HTTP/1.0\r\n\r\n").hasSuffix(" 200 OK"))
            #expect(await statusLine(upgrade(host: "evil.example:\(port)", origin: "http://evil.example:\(port)"))
                .hasPrefix("HTTP/1.1 421"))
            #expect(await statusLine(upgrade(host: me, origin: "http://evil.example")).hasPrefix("HTTP/1.1 403"))
            #expect(await statusLine(upgrade(host: me, origin: "http://127.0.0.1:3000")).hasPrefix("HTTP/1.1 403"),
                    "a page on another local port is another origin")
            #expect(await statusLine(upgrade(host: me, origin: "http://\(me)")).hasPrefix("HTTP/1.1 101"))
            #expect(
                await statusLine(upgrade(host: me, origin: nil)).hasPrefix("HTTP/1.1 101"),
                "non-browser clients send no Origin")
        }
    }

    @Test("a state-changing request needs the CSRF token or the bearer token", arguments: bothSetups)
    func csrf(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        let control = CaptureControl()
        let (server, app) = makeApp(db.store, control: control)
        #expect(server.csrfToken.utf8.count == 64 && server.csrfToken.allSatisfy(\.isHexDigit))
        #expect(server.csrfToken != makeApp(db.store).0.csrfToken, "a secret per process (per server)")
        try await app.test(setup) { client in
            for headers: HTTPFields in [
                [:], [Self.csrf: (server.csrfToken.first == "0" ? "1" : "0") + server.csrfToken.dropFirst()],
                [Self.csrf: ""]
            ] {
                try await client.execute(uri: "/api/capture/pause", method: .post, headers: headers) { r in
                    #expect(r.status == .forbidden)
                    let message = jsonObject(r.body)["error"] as? String ?? ""
                    #expect(message.contains("X-Sniff-CSRF") && message.contains("/api/session"), "\(message)")
                }
            }
            #expect(control.state == .running)
            let session = try await client.execute(uri: "/api/session", method: .get) { jsonObject($0.body) }
            let token = try #require(session["csrf_token"] as? String)
            #expect(token == server.csrfToken && session["csrf_header"] as? String == "X-Sniff-CSRF")
            try await client.execute(uri: "/api/capture/pause", method: .post, headers: [Self.csrf: token]) { r in
                #expect(r.status == .ok)
                #expect(jsonObject(r.body)["state"] as? String == "paused")
            }
            #expect(control.paused)
            try await client.execute(uri: "/api/capture/resume", method: .post, headers: [Self.csrf: token]) { r in
                #expect(jsonObject(r.body)["state"] as? String == "running")
            }
            #expect(!control.paused)
        }

        // With a token configured, the token alone is enough (browsers never add it on
        // their own), and nothing passes without it.
        let tokenControl = CaptureControl()
        let (tokenServer, tokenApp) = makeApp(
            db.store, configure: { $0.token = "s3cret-token-1" }, control: tokenControl)
        try await tokenApp.test(setup) { client in
            try await client.execute(
                uri: "/api/capture/pause", method: .post, headers: [Self.csrf: tokenServer.csrfToken]
            ) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(
                uri: "/api/capture/pause", method: .post, headers: [.authorization: "Bearer s3cret-token-1"]
            ) { r in
                #expect(r.status == .ok)
                #expect(jsonObject(r.body)["state"] as? String == "paused")
            }
        }
        #expect(tokenControl.state == .paused)
    }

    @Test(
        "after a stop, pause and resume are 409 and the state stays stopped; a second stop is harmless",
        arguments: bothSetups)
    func stopIsFinal(_ setup: TestingSetup) async throws {
        let db = try await SharedDatabase.shared.get()
        let control = CaptureControl()
        // The capture loop's part, as LiveRun does it: see the stop, drain, end.
        let loop = WorkerThread(name: "capture-loop") {
            while !control.stopRequested { usleep(5_000) }
            control.captureEnding()
            usleep(50_000)
            control.captureEnded()
        }
        defer { control.stop(); loop.join() }
        let (server, app) = makeApp(db.store, control: control)
        let h: HTTPFields = [Self.csrf: server.csrfToken]
        try await app.test(setup) { client in
            func post(_ action: String) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await client.execute(uri: "/api/capture/" + action, method: .post, headers: h) {
                    ($0.status, jsonObject($0.body))
                }
            }
            #expect(try await post("pause").1["state"] as? String == "paused")
            let (status, body) = try await post("stop")
            #expect(status == .ok)
            #expect(body["state"] as? String == "stopped", "the stop answers once the capture has really stopped")
            for action in ["resume", "pause"] {
                let (s, b) = try await post(action)
                #expect(s == .conflict, "\(action)")
                let message = b["error"] as? String ?? ""
                #expect(message.contains("stopped") && message.contains("sniff -i IFACE --serve"), "\(message)")
            }
            let again = try await post("stop")
            #expect(again.0 == .ok && again.1["state"] as? String == "stopped")
        }
        #expect(control.state == .stopped)
    }
}
