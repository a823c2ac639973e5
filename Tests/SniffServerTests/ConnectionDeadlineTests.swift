import Foundation
import NIOCore
import Testing
@testable import SniffServer
#if canImport(Glibc)
import Glibc
#endif
import SniffTestSupport

/// Plain HTTP connections are bounded in time: one that never sends a request is
/// closed after the first-response deadline, one idle after a keep-alive response after
/// the idle timeout, and a connection that keeps asking is served throughout.
@Suite("HTTP connection deadlines", .serialized)
struct ConnectionDeadlineTests {
    struct Seen: Sendable {
        var silentClosedAfter = -1.0
        var idleResponse = ""
        var idleClosedAfter = -1.0
        var busyAnswers = 0
    }

    @Test("silent and idle HTTP connections are closed; a busy one is not")
    func silentAndIdleConnectionsAreClosed() async throws {
        let db = try await SharedDatabase.shared.get()
        var c = ServerConfiguration()
        c.port = 0
        // 3 s, not less: the first answer of /api/stats on the database other suites
        // share took over 1 s on a loaded machine, and the deadline then cut it.
        c.firstResponseTimeoutSeconds = 3
        c.httpIdleTimeoutSeconds = 3
        let server = SniffServerApp(store: db.store, configuration: c)
        let run = Task { try await server.run() }
        defer { run.cancel() }
        let p = try #require(await server.listening()?.http, "the server did not bind")

        // Each client on its own thread, so that the busy one asks while the others wait.
        async let waited = BlockingSocket.onThread { () -> Seen in
            var r = Seen()
            let silent = BlockingSocket.connect(p, timeoutSeconds: 20)
            let idle = BlockingSocket.connect(p, timeoutSeconds: 20)
            defer { close(silent); close(idle) }
            let start = Date()
            BlockingSocket.send(idle, "GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            r.idleResponse = BlockingSocket.readLine(idle)
            let answered = Date()
            r.silentClosedAfter = Self.waitForClose(silent).map { $0.timeIntervalSince(start) } ?? -1
            r.idleClosedAfter = Self.waitForClose(idle).map { $0.timeIntervalSince(answered) } ?? -1
            return r
        }
        // The busy client asks every 300 ms for 4.8 s: longer than both timeouts.
        async let busyAnswers = BlockingSocket.onThread { () -> Int in
            let busy = BlockingSocket.connect(p, timeoutSeconds: 20)
            defer { close(busy) }
            var n = 0
            for _ in 0..<16 {
                BlockingSocket.send(busy, "GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                if Self.readResponse(busy) { n += 1 }
                usleep(300_000)
            }
            return n
        }
        var seen = await waited
        seen.busyAnswers = await busyAnswers
        // 3 s timeouts; the upper bounds leave room for a loaded machine and stay under
        // the sockets' 20 s receive timeout.
        #expect(seen.idleResponse.hasPrefix("HTTP/1.1 200"))
        #expect(seen.busyAnswers == 16, "a connection in use is never cut")
        #expect(
            seen.silentClosedAfter > 2 && seen.silentClosedAfter < 18,
            "closed after \(seen.silentClosedAfter) s")
        #expect(seen.idleClosedAfter > 2 && seen.idleClosedAfter < 18, "closed after \(seen.idleClosedAfter) s")
        await server.shutdown()
    }

    /// Reads one response with a Content-Length body; false on EOF or timeout.
    static func readResponse(_ fd: Int32) -> Bool {
        var length = -1
        while true {
            let line = BlockingSocket.readLine(fd)
            if line.isEmpty { return false }
            if line == "\r" { break }
            let lower = line.lowercased()
            if lower.hasPrefix("content-length:") {
                length = Int(lower.dropFirst(15).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            }
        }
        guard length >= 0 else { return false }
        var body = [UInt8](repeating: 0, count: max(length, 1))
        var got = 0
        while got < length {
            let n = body.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, length - got) }
            if n <= 0 { return false }
            got += n
        }
        return true
    }

    /// Reads and discards until EOF; the time of EOF, or nil if the socket stayed open
    /// for 20 s (its receive timeout).
    static func waitForClose(_ fd: Int32) -> Date? {
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buf, buf.count)
            if n == 0 { return Date() }
            if n < 0 { return errno == ECONNRESET ? Date() : nil }
        }
    }
}
