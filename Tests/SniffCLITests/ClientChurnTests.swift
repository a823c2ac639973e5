import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
import SniffTestSupport

/// 1000 WebSocket and 1000 telnet-feed clients connect to a real `sniff --serve`
/// process, some read a little, some send a command, some give up in the middle of the
/// handshake, and all drop abruptly (RST or FIN), for several rounds. The server must
/// then still answer, hold no leaked descriptors, and not have grown in memory; and it
/// must have raised its own open-file limit, since it is started with the usual 1024.
@Suite(
    .serialized,
    .enabled(
        if: Proc.hardFileLimit >= 8192,
        "the hard open-file limit (ulimit -Hn) is below 8192: 2000 clients on each side do not fit"))
struct ClientChurnTests {
    static let clients = 1000
    static let batch = 100
    /// SNIFF_CHURN_ROUNDS runs more (up to 50), to watch memory over time.
    static let rounds = min(50, max(2, Int(ProcessInfo.processInfo.environment["SNIFF_CHURN_ROUNDS"] ?? "") ?? 4))

    @Test func thousandWebSocketAndFeedClientsConnectAndDrop() throws {
        // This process holds 2000+ sockets at once.
        var l = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &l)
        l.rlim_cur = l.rlim_max
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &l)

        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let http = try BlockingSocket.freePort(), feed = try BlockingSocket.freePort()
        // Started with a soft limit of 1024, as from a login shell: the server has to raise it.
        let server = try ServerProcess(
            [
                "--nofile=1024:\(l.rlim_max)", CLI.binary.path, "-r", TestPaths.sample.path, "-q", "--serve",
                "--db", "sqlite:" + dir.appendingPathComponent("churn.db").path,
                "--listen", "127.0.0.1:\(http)", "--feed", "127.0.0.1:\(feed)"
            ],
            executable: "/usr/bin/prlimit", dir: dir)
        defer { server.stop() }
        #expect(server.waitFor("still serving", seconds: 60), "the server did not start: \(server.stderr)")
        let pid = server.pid
        let limits = try #require(Proc.openFileLimits(pid))
        #expect(
            limits.soft == limits.hard, "sniff kept its soft open-file limit at \(limits.soft) (hard \(limits.hard))")

        // Warm up what is allocated once (routes, the first WebSocket), then take the baseline.
        #expect(try Net.get(http, "/api/stats").status == 200)
        #expect(try Net.webSocketReceivesStats(http), "a first WebSocket client got no stats")
        usleep(500_000)
        let baselineFDs = try #require(Proc.fdCount(pid))
        let baselineRSS = try #require(Proc.rssKiB(pid))
        var rssAfterRound: [Int] = []
        var fdsAfterRound: [Int] = []
        var peakFDs = 0

        for round in 0..<Self.rounds {
            var sockets: [Int32] = []
            // WebSocket clients, in batches: connect and send the upgrade, then read the
            // answers; every third reads its first frames too, every tenth sends a filter.
            for start in stride(from: 0, to: Self.clients, by: Self.batch) {
                let group = (start..<start + Self.batch).map { i -> (Int, Int32) in
                    let fd = BlockingSocket.connect(http)
                    if fd >= 0 { BlockingSocket.send(fd, Net.upgradeRequest(http)) }
                    return (i, fd)
                }
                for (i, fd) in group {
                    #expect(
                        fd >= 0,
                        "round \(round): WebSocket client \(i) could not connect: \(String(cString: strerror(errno)))")
                    guard fd >= 0 else { continue }
                    let answer = BlockingSocket.readUntil(fd, "\r\n\r\n", max: 4096)
                    #expect(answer.hasPrefix("HTTP/1.1 101"), "round \(round): client \(i) got \(answer.prefix(80))")
                    if i % 10 == 0 { BlockingSocket.send(fd, Net.maskedTextFrame("{\"port\":53}")) }
                    if i % 3 == 0 { _ = BlockingSocket.readSome(fd, max: 2048) }
                    sockets.append(fd)
                }
            }
            // Feed clients: connect, read the greeting; every fifth sends a command.
            for start in stride(from: 0, to: Self.clients, by: Self.batch) {
                let group = (start..<start + Self.batch).map { i in (i, BlockingSocket.connect(feed)) }
                for (i, fd) in group {
                    #expect(fd >= 0, "round \(round): feed client \(i) could not connect")
                    guard fd >= 0 else { continue }
                    let greeting = BlockingSocket.readUntil(fd, "\n", max: 512)
                    #expect(
                        greeting.hasPrefix("# sniff feed"),
                        "round \(round): feed client \(i) got \(greeting.prefix(80))")
                    if i % 5 == 0 { BlockingSocket.send(fd, Array("json\nfilter udp\n".utf8)) }
                    sockets.append(fd)
                }
            }
            // Clients that give up halfway through the WebSocket handshake.
            for _ in 0..<Self.batch {
                let fd = BlockingSocket.connect(http)
                guard fd >= 0 else { continue }
                BlockingSocket.send(fd, Array("GET /ws/live HTTP/1.1\r\nHost: 127.0.0.1\r\nUpg".utf8))
                BlockingSocket.reset(fd)
            }
            // Clients that send the whole upgrade request and reset before reading the
            // answer: the upgrade may end on a dead connection.
            for _ in 0..<Self.batch {
                let fd = BlockingSocket.connect(http)
                guard fd >= 0 else { continue }
                BlockingSocket.send(fd, Net.upgradeRequest(http))
                BlockingSocket.reset(fd)
            }
            // While all are connected the server still answers, and counts them.
            var live = -1
            let countDeadline = Date().addingTimeInterval(10)
            while Date() < countDeadline {
                live = try Net.liveClients(http)
                if live == 2 * Self.clients { break }
                usleep(100_000)
            }
            #expect(live == 2 * Self.clients, "round \(round): the server counts \(live) live clients")
            peakFDs = max(peakFDs, Proc.fdCount(pid) ?? 0)

            // Everyone drops: half with a reset (SO_LINGER 0), half with a plain close.
            for (k, fd) in sockets.enumerated() {
                if k % 2 == 0 { BlockingSocket.reset(fd) } else { close(fd) }
            }
            // Descriptors go back to the baseline, and the clients are forgotten.
            var fds = Int.max
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                fds = Proc.fdCount(pid) ?? Int.max
                if fds <= baselineFDs + 8, (try? Net.liveClients(http)) == 0 { break }
                usleep(200_000)
            }
            #expect(fds <= baselineFDs + 8, "round \(round): \(fds) descriptors open, baseline \(baselineFDs)")
            #expect(try Net.liveClients(http) == 0, "round \(round): clients still registered")
            fdsAfterRound.append(fds)
            rssAfterRound.append(Proc.rssKiB(pid) ?? 0)
        }

        // Still serving: the API answers and a fresh WebSocket client gets stats.
        let stats = try Net.get(http, "/api/stats")
        #expect(
            stats.status == 200 && stats.body.contains("\"live_stats\""),
            "after the churn: \(stats.status) \(stats.body.prefix(200))")
        #expect(try Net.webSocketReceivesStats(http), "a fresh WebSocket client got no stats after the churn")
        // Memory: bounded. RSS is a coarse gauge here: glibc keeps what each round's
        // 2000 connections took (about 75 MB of heap at the peak) and fragments, so RSS
        // creeps and sometimes steps up by an arena (16-20 MB) even when the live heap is
        // flat. A gross leak (a buffer per client) shows; the small WebSocket context
        // leak (400 bytes per client) was found with heaptrack, see docs/THREAT_MODEL.md.
        let first = rssAfterRound[0], last = rssAfterRound[rssAfterRound.count - 1]
        #expect(
            last <= first + 48 * 1024,
            "RSS grew from \(first) KiB after round 1 to \(last) KiB after round \(Self.rounds): \(rssAfterRound)")
        #expect(last <= baselineRSS + 192 * 1024, "RSS \(last) KiB against a baseline of \(baselineRSS) KiB")
        print("client churn: fds baseline \(baselineFDs), peak \(peakFDs), after rounds \(fdsAfterRound); RSS KiB baseline \(baselineRSS), after rounds \(rssAfterRound); soft limit \(limits.soft)")

        let r = server.stop()
        #expect(
            r.exited && r.status == 0,
            "sniff ended with \(r.status) (exited \(r.exited)): \(server.stderr.suffix(2000))")
    }

    /// `--max-clients`: past the cap, a feed client gets one line and EOF, a WebSocket
    /// client an error message and a close; the API still answers; once clients leave,
    /// new ones are served again.
    @Test func clientsPastTheCapAreRefusedWithAMessage() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let http = try BlockingSocket.freePort(), feed = try BlockingSocket.freePort()
        let server = try ServerProcess(["-r", TestPaths.sample.path, "-q", "--serve", "--max-clients", "20",
                                        "--db", "sqlite:" + dir.appendingPathComponent("cap.db").path,
                                        "--listen", "127.0.0.1:\(http)", "--feed", "127.0.0.1:\(feed)"],
                                       executable: CLI.binary.path, dir: dir)
        defer { server.stop() }
        #expect(server.waitFor("still serving", seconds: 60), "the server did not start: \(server.stderr)")
        var held: [Int32] = []
        for i in 0..<20 {
            let fd = BlockingSocket.connect(feed)
            #expect(
                BlockingSocket.readUntil(fd, "\n", max: 512).hasPrefix("# sniff feed: one line"),
                "client \(i) was not served")
            held.append(fd)
        }
        let refused = BlockingSocket.connect(feed)
        #expect(
            BlockingSocket.readUntil(refused, "\n", max: 512).hasPrefix("# sniff feed: too many clients (20 connected)")
        )
        #expect(BlockingSocket.readSome(refused, max: 512).isEmpty, "a refused feed client is closed")
        close(refused)

        let ws = BlockingSocket.connect(http)
        BlockingSocket.send(ws, Net.upgradeRequest(http))
        var got = BlockingSocket.readUntilBytes(ws, "too many clients", max: 8192)
        for _ in 0..<10 where !got.isEmpty {
            let more = BlockingSocket.readSome(ws, max: 4096); if more.isEmpty { break }; got += more
        }
        let text = String(decoding: got, as: UTF8.self)
        #expect(
            text.hasPrefix("HTTP/1.1 101") && text.contains("\"type\":\"error\"") && text.contains("too many clients"),
            "refused WebSocket client got: \(text.prefix(300))")
        close(ws)
        #expect(try Net.get(http, "/api/stats").status == 200, "the API answers at the cap")

        for fd in held.prefix(5) { BlockingSocket.reset(fd) }
        var served = false
        let deadline = Date().addingTimeInterval(10)
        while !served && Date() < deadline {
            let fd = BlockingSocket.connect(feed)
            served = BlockingSocket.readUntil(fd, "\n", max: 512).hasPrefix("# sniff feed: one line")
            close(fd)
            if !served { usleep(100_000) }
        }
        #expect(served, "no client served after others left")
        for fd in held.dropFirst(5) { close(fd) }
        #expect(
            server.stderr.contains("refusing live clients: 20 connected already"),
            "the refusal is not logged: \(server.stderr)")
    }
}

/// A sniff server (or anything that execs one, such as prlimit) run in the background.
final class ServerProcess {
    let process = Process()
    let errURL: URL
    private var result: (exited: Bool, status: Int32)? = nil

    init(_ args: [String], executable: String, dir: URL) throws {
        errURL = dir.appendingPathComponent("server.stderr")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: pid_t { process.processIdentifier }
    var stderr: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }

    func waitFor(_ text: String, seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if stderr.contains(text) { return true }
            if !process.isRunning { return false }
            usleep(50_000)
        }
        return false
    }

    /// SIGINT, then SIGKILL after 20 s.
    @discardableResult
    func stop() -> (exited: Bool, status: Int32) {
        if let result { return result }
        if process.isRunning { kill(pid, SIGINT) }
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        let r = (process.terminationReason == .exit, process.terminationStatus)
        result = r
        return r
    }
}

/// What /proc (and getrlimit) say about a process.
enum Proc {
    /// This process's hard open-file limit.
    static var hardFileLimit: rlim_t {
        var l = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &l)
        return l.rlim_max
    }

    static func fdCount(_ pid: pid_t) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    static func rssKiB(_ pid: pid_t) -> Int? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
        return line.split(separator: " ").compactMap { Int($0) }.first
    }

    /// "Max open files  SOFT  HARD  files" from /proc/PID/limits.
    static func openFileLimits(_ pid: pid_t) -> (soft: UInt64, hard: UInt64)? {
        guard let s = try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else { return nil }
        let v = line.split(separator: " ").compactMap { UInt64($0) }
        return v.count >= 2 ? (v[0], v[1]) : nil
    }
}

/// The HTTP and WebSocket side of the churn tests, over `BlockingSocket`.
enum Net {
    static func upgradeRequest(_ port: UInt16) -> [UInt8] {
        Array(("GET /ws/live HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8)
    }

    /// A client text frame (clients must mask).
    static func maskedTextFrame(_ text: String) -> [UInt8] {
        let payload = Array(text.utf8)
        precondition(payload.count < 126)
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        return [0x81, 0x80 | UInt8(payload.count)] + mask
            + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }

    /// GET over a fresh connection: status and body (Content-Length or chunked).
    static func get(_ port: UInt16, _ path: String) throws -> (status: Int, body: String) {
        let fd = BlockingSocket.connect(port)
        guard fd >= 0 else { throw POSIXError(.ECONNREFUSED) }
        defer { close(fd) }
        BlockingSocket.send(fd, Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8))
        var got: [UInt8] = []
        while got.count < 8 << 20 {
            let chunk = BlockingSocket.readSome(fd, max: 65536)
            if chunk.isEmpty { break }
            got += chunk
        }
        let text = String(decoding: got, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return (0, text) }
        let head = text[..<split.lowerBound]
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        var body = String(text[split.upperBound...])
        if head.lowercased().contains("transfer-encoding: chunked") {
            var out = "", rest = Substring(body)
            while let nl = rest.range(of: "\r\n"), let size = Int(rest[..<nl.lowerBound], radix: 16), size > 0 {
                let start = nl.upperBound
                let end = rest.utf8.index(start, offsetBy: size, limitedBy: rest.endIndex) ?? rest.endIndex
                out += rest[start..<end]
                rest = rest[end...].dropFirst(2)
            }
            body = out
        }
        return (status, body)
    }

    /// `live_stats.clients` from /api/stats.
    static func liveClients(_ port: UInt16) throws -> Int {
        let r = try get(port, "/api/stats")
        guard r.status == 200, let o = try JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any],
              let live = o["live_stats"] as? [String: Any], let n = live["clients"] as? Int else { return -1 }
        return n
    }

    /// A new WebSocket client receives a per-second stats message within 5 s.
    static func webSocketReceivesStats(_ port: UInt16) throws -> Bool {
        let fd = BlockingSocket.connect(port)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        BlockingSocket.send(fd, upgradeRequest(port))
        var buffer = BlockingSocket.readUntilBytes(fd, "\r\n\r\n", max: 4096)
        guard let end = BlockingSocket.find(Array("\r\n\r\n".utf8), in: buffer),
              buffer.starts(with: Array("HTTP/1.1 101".utf8)) else { return false }
        // Frames may have come in the same read as the handshake; they are binary.
        buffer.removeFirst(end + 4)
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            // Unmasked server frames: FIN+opcode, length (7 bits, 16 or 64).
            while buffer.count >= 2 {
                var len = Int(buffer[1] & 0x7F), offset = 2
                if len == 126 {
                    guard buffer.count >= 4 else { break }; len = Int(buffer[2]) << 8 | Int(buffer[3]); offset = 4
                }
                if len == 127 {
                    guard buffer.count >= 10 else { break }; len = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) };
                    offset = 10
                }
                guard buffer.count >= offset + len else { break }
                let payload = String(decoding: buffer[offset..<offset + len], as: UTF8.self)
                if payload.contains("\"type\":\"stats\"") { return true }
                buffer.removeFirst(offset + len)
            }
            let more = BlockingSocket.readSome(fd, max: 65536)
            if more.isEmpty { return false }
            buffer += more
        }
        return false
    }
}
