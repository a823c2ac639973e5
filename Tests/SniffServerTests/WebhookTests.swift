import Foundation
import Testing
import SniffCore
import SniffAnalysis
import SniffServer

/// The webhook sink against a throwaway HTTP server on 127.0.0.1 (bounded: it serves a
/// fixed number of connections and stops).
struct WebhookTests {
    /// Accepts `count` connections; answers each with the next status from `statuses`
    /// (or never answers when the status is 0), and records the request bodies.
    final class TinyServer: @unchecked Sendable {
        let fd: Int32
        let port: UInt16
        private let lock = NSLock()
        private var _bodies: [String] = []
        var bodies: [String] { lock.lock(); defer { lock.unlock() }; return _bodies }
        let done = DispatchSemaphore(value: 0)

        init(statuses: [Int]) throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var yes: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0, listen(fd, 8) == 0 else { port = 0; throw RuntimeFailure("cannot listen") }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            }
            port = UInt16(bigEndian: addr.sin_port)
            start(statuses)
        }

        func start(_ statuses: [Int]) {
            let thread = Thread { [self] in
                for status in statuses {
                    let c = accept(fd, nil, nil)
                    if c < 0 { break }
                    var tv = timeval(tv_sec: 5, tv_usec: 0)
                    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                    var data: [UInt8] = []
                    var buf = [UInt8](repeating: 0, count: 4096)
                    // Read headers, then Content-Length bytes of body.
                    while true {
                        let n = recv(c, &buf, buf.count, 0)
                        if n <= 0 { break }
                        data += buf[0..<n]
                        let text = String(decoding: data, as: UTF8.self)
                        if let r = text.range(of: "\r\n\r\n"),
                            let cl = text.components(separatedBy: "\r\n").first(where: {
                                $0.lowercased().hasPrefix("content-length:")
                            }),
                            let n = Int(cl.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)),
                            text[r.upperBound...].utf8.count >= n
                        {
                            lock.lock(); _bodies.append(String(text[r.upperBound...])); lock.unlock()
                            break
                        }
                    }
                    if status > 0 {
                        let reply = "HTTP/1.1 \(status) X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        _ = reply.withCString { send(c, $0, strlen($0), 0) }
                    } else {
                        usleep(600_000)  // longer than the client's timeout
                    }
                    close(c)
                }
                close(fd)
                done.signal()
            }
            thread.start()
        }
    }

    static func alert(_ n: Int) -> Alert {
        Alert(
            id: "A\(n)", time: Timestamp(seconds: 1_700_000_000, nanoseconds: 0), severity: .high, rule: "r",
            kind: "port_scan", message: "test \(n)", uid: "Cabc", hosts: [IPAddress("10.0.0.1")!])
    }

    @Test func postsJSON() throws {
        let server = try TinyServer(statuses: [200, 204])
        let sink = try WebhookAlertSink(
            url: "http://127.0.0.1:\(server.port)/hook", timeoutSeconds: 2, retries: 0, log: { _ in })
        sink.deliver(WebhookTests.alert(1))
        sink.deliver(WebhookTests.alert(2))
        sink.close()
        #expect(server.done.wait(timeout: .now() + 10) == .success)
        #expect(sink.sent == 2 && sink.failed == 0)
        let bodies = server.bodies
        #expect(bodies.count == 2)
        let obj = try JSONSerialization.jsonObject(with: Data(bodies[0].utf8)) as? [String: Any]
        #expect(obj?["id"] as? String == "A1")
        #expect(obj?["severity"] as? String == "high")
        #expect(obj?["hosts"] as? [String] == ["10.0.0.1"])
    }

    @Test func retriesAfterServerErrorAndTimeout() throws {
        // 500, then no answer (timeout), then 200: delivered on the third try.
        let server = try TinyServer(statuses: [500, 0, 200])
        let sink = try WebhookAlertSink(
            url: "http://127.0.0.1:\(server.port)/", timeoutSeconds: 0.3, retries: 2, log: { _ in })
        sink.deliver(WebhookTests.alert(1))
        sink.close()
        #expect(server.done.wait(timeout: .now() + 10) == .success)
        #expect(sink.sent == 1 && sink.failed == 0)
        #expect(server.bodies.count == 3)
    }

    @Test func givesUpWhenNothingListens() throws {
        // A port that was just closed: connection refused on every try.
        let probe = try TinyServer(statuses: [])
        _ = probe.done.wait(timeout: .now() + 5)
        let sink = try WebhookAlertSink(
            url: "http://127.0.0.1:\(probe.port)/", timeoutSeconds: 0.2, retries: 1, log: { _ in })
        sink.deliver(WebhookTests.alert(1))
        sink.close()
        #expect(sink.failed == 1 && sink.sent == 0)
        #expect(sink.lastError?.contains("connect") == true)
    }

    @Test func urlParsing() throws {
        #expect(try WebhookURL("http://127.0.0.1:8080/x/y") == WebhookURL("http://127.0.0.1:8080/x/y"))
        let u = try WebhookURL("http://[::1]:9000")
        #expect(u.host == "::1" && u.port == 9000 && u.path == "/")
        let s = try WebhookURL("https://hooks.example/x")
        #expect(s.secure && s.port == 443 && s.text == "https://hooks.example/x")
        #expect(try WebhookURL("http://[::1]:9000/a").text == "http://[::1]:9000/a")
        #expect(throws: (any Error).self) { try WebhookURL("ftp://x") }
        #expect(throws: (any Error).self) { try WebhookURL("https://:443/") }
    }

    /// An https receiver: Python's HTTP server behind TLS with a certificate for
    /// 127.0.0.1 signed by a CA made here. Trusted through `caFile`, the alert arrives;
    /// with the system's trust store the handshake fails and says so.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")
                   && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"), "needs openssl and python3"))
    func postsOverHTTPS() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sniff-webhook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func run(_ tool: String, _ args: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: tool)
            p.arguments = args
            p.currentDirectoryURL = dir
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            try #require(p.terminationStatus == 0, "\(tool) \(args)")
        }
        try run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=sniff test CA",
                "-keyout", "ca.key", "-out", "ca.pem"
            ])
        try run("/usr/bin/openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                                     "-keyout", "server.key", "-out", "server.csr"])
        try "subjectAltName=IP:127.0.0.1\n".write(
            to: dir.appendingPathComponent("san.ext"), atomically: true, encoding: .utf8)
        try run(
            "/usr/bin/openssl",
            [
                "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "1", "-extfile", "san.ext", "-out", "server.pem"
            ])
        // Serves POSTs until it has two bodies or 20 s have passed; prints its port first.
        let script = """
            import http.server, ssl, sys, threading
            bodies = []
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    bodies.append(self.rfile.read(int(self.headers['Content-Length'])).decode())
                    self.send_response(200); self.send_header('Content-Length', '0'); self.end_headers()
                def log_message(self, *a): pass
            s = http.server.HTTPServer(('127.0.0.1', 0), H)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain('server.pem', 'server.key')
            s.socket = ctx.wrap_socket(s.socket, server_side=True)
            s.timeout = 1
            print(s.server_address[1], flush=True)
            import time; end = time.time() + 20
            while len(bodies) < 1 and time.time() < end:
                s.handle_request()
            open('bodies.txt', 'w').write('\\n'.join(bodies))
            """
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = ["-c", script]
        server.currentDirectoryURL = dir
        let out = Pipe()
        server.standardOutput = out
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        let portLine = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        let port = try #require(Int(portLine.trimmingCharacters(in: .whitespacesAndNewlines)))

        // Not trusted by the system's store: the handshake fails, the alert is counted.
        let untrusted = try WebhookAlertSink(
            url: "https://127.0.0.1:\(port)/hook", timeoutSeconds: 2, retries: 0, log: { _ in })
        untrusted.deliver(WebhookTests.alert(1))
        untrusted.close()
        #expect(untrusted.failed == 1 && untrusted.sent == 0)
        #expect(untrusted.lastError?.contains("TLS") == true, "\(untrusted.lastError ?? "-")")

        let sink = try WebhookAlertSink(url: "https://127.0.0.1:\(port)/hook", timeoutSeconds: 5, retries: 1,
                                        caFile: dir.appendingPathComponent("ca.pem").path, log: { _ in })
        sink.deliver(WebhookTests.alert(7))
        sink.close()
        server.waitUntilExit()
        #expect(sink.sent == 1 && sink.failed == 0, "\(sink.lastError ?? "-")")
        let body = try String(contentsOf: dir.appendingPathComponent("bodies.txt"), encoding: .utf8)
        let obj = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        #expect(obj?["id"] as? String == "A7")
    }
}
