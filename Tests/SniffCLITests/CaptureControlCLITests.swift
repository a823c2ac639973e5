import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
import SniffTestSupport

/// The dashboard's capture buttons against a real `sniff -i lo --serve`: the state the
/// API and /api/stats show is the capture loop's, and a stop is final.
@Suite(.serialized, .enabled(if: getuid() == 0, "live capture needs root (CAP_NET_RAW)"))
struct CaptureControlCLITests {
    /// One request over a fresh connection: status and body.
    static func request(
        _ port: UInt16, _ method: String, _ path: String, headers: [String: String] = [:]
    ) -> (Int, [String: Any]) {
        let fd = BlockingSocket.connect(port)
        guard fd >= 0 else { return (0, [:]) }
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: 0\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        BlockingSocket.send(fd, Array((head + "\r\n").utf8))
        var got: [UInt8] = []
        while true { let c = BlockingSocket.readSome(fd, max: 65536); if c.isEmpty { break }; got += c }
        let text = String(decoding: got, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return (0, [:]) }
        let status = Int(text[..<split.lowerBound].split(separator: " ").dropFirst().first ?? "") ?? 0
        let body =
            (try? JSONSerialization.jsonObject(with: Data(text[split.upperBound...].utf8)) as? [String: Any]) ?? [:]
        return (status, body)
    }

    static func statsState(_ port: UInt16) -> String? { request(port, "GET", "/api/stats").1["state"] as? String }

    /// /api/stats follows the capture loop, which looks at the flags every 100 ms.
    static func waitForState(_ port: UInt16, _ want: String) -> Bool {
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if statsState(port) == want { return true }
            usleep(50_000)
        }
        return false
    }

    @Test func pauseResumeStopFollowTheRealCapture() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = try BlockingSocket.freePort()
        let server = try ServerProcess(
            [
                "-i", "lo", "-q", "--serve", "--db", "sqlite:" + dir.appendingPathComponent("live.db").path,
                "--listen", "127.0.0.1:\(port)", "udp", "port", "9"
            ],
            executable: CLI.binary.path, dir: dir)
        defer { server.stop() }
        #expect(server.waitFor("serving on", seconds: 60), "the server did not start: \(server.stderr)")
        #expect(Self.waitForState(port, "running"))
        let csrf = try #require(Self.request(port, "GET", "/api/session").1["csrf_token"] as? String)
        let h = ["X-Sniff-CSRF": csrf]

        // Refused without the token or from another site: the capture goes on.
        #expect(Self.request(port, "POST", "/api/capture/pause").0 == 403)
        #expect(
            Self.request(
                port, "POST", "/api/capture/pause", headers: h.merging(["Origin": "http://evil.example"]) { a, _ in a }
            ).0 == 403)
        #expect(
            Self.request(port, "POST", "/api/capture/pause", headers: h.merging(["Host": "evil.example"]) { a, _ in a })
                .0 == 421)
        #expect(Self.statsState(port) == "running")

        let paused = Self.request(port, "POST", "/api/capture/pause", headers: h)
        #expect(paused.0 == 200 && paused.1["state"] as? String == "paused")
        // The answer comes once the capture loop applied it: /api/stats (and the live
        // stream) say the same at once, so the dashboard's header never flips back.
        for _ in 0..<3 {
            #expect(Self.statsState(port) == "paused")
            let resumed = Self.request(port, "POST", "/api/capture/resume", headers: h)
            #expect(resumed.0 == 200 && resumed.1["state"] as? String == "running")
            #expect(Self.statsState(port) == "running")
            let again = Self.request(port, "POST", "/api/capture/pause", headers: h)
            #expect(again.0 == 200 && again.1["state"] as? String == "paused")
        }
        let resumed = Self.request(port, "POST", "/api/capture/resume", headers: h)
        #expect(resumed.0 == 200 && resumed.1["state"] as? String == "running")
        #expect(Self.statsState(port) == "running")

        let stopped = Self.request(port, "POST", "/api/capture/stop", headers: h)
        #expect(stopped.0 == 200 && stopped.1["state"] as? String == "stopped", "\(stopped)")
        #expect(Self.statsState(port) == "stopped")
        let resume = Self.request(port, "POST", "/api/capture/resume", headers: h)
        #expect(resume.0 == 409 && (resume.1["error"] as? String ?? "").contains("sniff -i IFACE --serve"), "\(resume)")
        #expect(Self.request(port, "POST", "/api/capture/pause", headers: h).0 == 409)
        let again = Self.request(port, "POST", "/api/capture/stop", headers: h)
        #expect(again.0 == 200 && again.1["state"] as? String == "stopped")
        usleep(300_000)
        #expect(Self.statsState(port) == "stopped", "the state stays stopped")
        #expect(server.waitFor("still serving", seconds: 5), "after a stop from the dashboard the server goes on")
        let r = server.stop()
        #expect(r.exited && r.status == 0, "\(server.stderr.suffix(2000))")
    }
}

/// `--allow-host` is checked like every other option.
@Suite struct AllowHostOptionTests {
    @Test(arguments: ["evil.example:80", "a b", "", "http://x"])
    func badNamesExit64(name: String) throws {
        let r = try CLI.run(["serve", "--db", "sqlite:/nonexistent/x.db", "--allow-host", name])
        #expect(r.status == 64, "\(name): \(r.stderr)")
        #expect(r.stderr.contains("--allow-host"), "\(r.stderr)")
    }

    @Test func helpNamesTheOption() throws {
        let r = try CLI.run(["serve", "--help"])
        #expect(r.stdout.contains("--allow-host <NAME>") && r.stdout.contains("421"), "\(r.stdout)")
    }
}
