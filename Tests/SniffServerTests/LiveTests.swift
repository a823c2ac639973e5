import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Testing
import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
import SniffStore
@testable import SniffServer
import SniffTestSupport

/// Feeds a hub from a capture file on its own thread, as the analysis thread would,
/// pacing the packets and looping until stopped.
final class Replayer: @unchecked Sendable {
    let hub: LiveHub
    let files: [URL]
    private let lock = ConditionLock()
    private var stopFlag = false
    private var thread: WorkerThread? = nil
    let pauseMicros: UInt32

    init(hub: LiveHub, files: [URL], pauseMicros: UInt32 = 200) {
        self.hub = hub; self.files = files; self.pauseMicros = pauseMicros
    }

    func start() {
        thread = WorkerThread(name: "replay") { [self] in
            let pipeline = PacketPipeline()
            pipeline.consumers = [hub]
            while !lock.withLock({ stopFlag }) {
                for f in files {
                    guard let reader = try? CaptureFileReader(path: f.path) else { continue }
                    while let raw = try? reader.next() {
                        pipeline.process(raw)
                        if pauseMicros > 0 { usleep(pauseMicros) }
                        if lock.withLock({ stopFlag }) { break }
                    }
                    hub.tick()
                }
            }
            hub.tick(force: true)
        }
    }

    func stop() {
        lock.withLock { stopFlag = true }
        thread?.join()
    }
}

/// Collects what a WebSocket client received.
final class Received: @unchecked Sendable {
    private let lock = ConditionLock()
    private var messages: [[String: Any]] = []
    func add(_ m: [String: Any]) { lock.withLock { messages.append(m) } }
    func of(_ type: String) -> [[String: Any]] { lock.withLock { messages.filter { $0["type"] as? String == type } } }
    /// Messages of `type` that arrived after the first `marker` message, less the first
    /// `skip` of them (a message the broadcaster built just before the marker may follow it).
    func of(_ type: String, after marker: String, skip: Int = 0) -> [[String: Any]] {
        lock.withLock {
            guard let i = messages.firstIndex(where: { $0["type"] as? String == marker }) else { return [] }
            return Array(messages[(i + 1)...].filter { $0["type"] as? String == type }.dropFirst(skip))
        }
    }
}

func connectAndCollect(
    port: Int, query: String = "", send: String? = nil, until: @escaping @Sendable (Received) -> Bool
) async throws -> Received {
    let received = Received()
    let logger = Logger(label: "test.ws")
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            _ = try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/ws/live\(query)", configuration: .init(maxFrameSize: 1 << 22),
                logger: logger
            ) { inbound, outbound, _ in
                if let send { try await outbound.write(.text(send)) }
                for try await message in inbound.messages(maxSize: 1 << 22) {
                    guard case .text(let t) = message,
                        let o = try? JSONSerialization.jsonObject(with: Data(t.utf8)) as? [String: Any]
                    else { continue }
                    received.add(o)
                    if until(received) { break }
                }
                try? await outbound.close(.normalClosure, reason: nil)
            }
        }
        group.addTask { try await Task.sleep(for: .seconds(20)); throw CancellationError() }
        try await group.next()
        group.cancelAll()
    }
    return received
}

@Suite("Live streams", .serialized)
struct LiveTests {
    /// A server whose hub replays fixtures (in a loop) as capture `captureID`; `body` gets
    /// the test client and the port it listens on.
    static func replaying(_ fixtures: [String], captureID: Int64,
                          _ body: @escaping @Sendable (any TestClientProtocol, Int) async throws -> Void) async throws {
        let db = try await SharedDatabase.shared.get()
        let hub = LiveHub(sensor: "test", captureID: captureID, source: "file test")
        let (server, app) = makeApp(db.store, live: hub.outbox)
        let replay = Replayer(hub: hub, files: fixtures.map { TestPaths.fixtures.appendingPathComponent($0) })
        replay.start()
        defer { replay.stop() }
        let broadcaster = Task { try await server.broadcaster.run() }
        defer { broadcaster.cancel() }
        try await app.test(.live) { client in try await body(client, try #require(client.port)) }
    }

    @Test("a WebSocket client receives stats and packets while a capture file is replayed, and its filter applies")
    func webSocketReplay() async throws {
        try await Self.replaying(["dns.pcap", "lo-udp-tcp.pcap"], captureID: 1) { _, port in
            let r = try await connectAndCollect(port: port) { r in
                r.of("stats").count >= 2 && r.of("packets").count >= 2
            }
            #expect(r.of("hello").count == 1)
            let stats = r.of("stats")
            #expect(stats.count >= 2)
            #expect(stats.contains { ($0["packets"] as? Int ?? 0) > 0 })
            #expect(stats.allSatisfy { $0["transport"] is [String: Any] && $0["drops"] is [String: Any] })
            let rows = r.of("packets").flatMap { $0["rows"] as? [[String: Any]] ?? [] }
            #expect(!rows.isEmpty)
            // At most N rows per second per client.
            #expect(rows.count <= 200 * 25)

            // With a filter: only UDP rows once the server has acknowledged it. Rows sent
            // before the acknowledgement were chosen under no filter (the replay does not
            // wait for the client's message), so they are not counted.
            let f = try await connectAndCollect(port: port, send: "{\"transport\":\"udp\"}") { r in
                r.of("packets", after: "filter", skip: 1).flatMap { $0["rows"] as? [[String: Any]] ?? [] }.count >= 20
            }
            #expect(f.of("filter").count == 1)
            let frows = f.of("packets", after: "filter", skip: 1).flatMap { $0["rows"] as? [[String: Any]] ?? [] }
            #expect(frows.count >= 20)
            #expect(frows.allSatisfy { ($0["transport"] as? String)?.lowercased() == "udp" })

            // A bad filter gets an error message naming the field.
            let e = try await connectAndCollect(port: port, send: "{\"port\":\"http\"}") { !$0.of("error").isEmpty }
            #expect(e.of("error").first?["parameter"] as? String == "port")
        }
    }

    @Test("/ws/live?capture= and the capture field: rows and alerts only of the running capture; another capture gets stats only")
    func webSocketCapture() async throws {
        try await Self.replaying(["dns.pcap"], captureID: 7) { client, port in
            // The running capture, chosen in the query: its rows, and the hello names it.
            let mine = try await connectAndCollect(port: port, query: "?capture=7") { $0.of("packets").count >= 2 }
            #expect(mine.of("hello").first?["capture"] as? String == "7")
            let rows = mine.of("packets").flatMap { $0["rows"] as? [[String: Any]] ?? [] }
            #expect(!rows.isEmpty && rows.allSatisfy { $0["capture"] as? String == "7" })
            // Another (stored) capture: three seconds of stats, no rows.
            let other = try await connectAndCollect(port: port, query: "?capture=8") { $0.of("stats").count >= 3 }
            #expect(other.of("packets").isEmpty)
            #expect(other.of("stats").count >= 3)
            // The same through the filter message, which says whether rows stream.
            let msg = try await connectAndCollect(port: port, send: "{\"capture\":\"8\"}") { $0.of("stats").count >= 3 }
            #expect(msg.of("filter").first?["streaming"] as? Bool == false)
            #expect((msg.of("filter").first?["filter"] as? [String: Any])?["capture"] as? String == "8")
            #expect(msg.of("packets", after: "filter", skip: 1).isEmpty)
            let back = try await connectAndCollect(port: port, send: "{\"capture\":7}") {
                !$0.of("packets", after: "filter", skip: 1).isEmpty
            }
            #expect(back.of("filter").first?["streaming"] as? Bool == true)
            // A bad id: a message naming the field; in the query, the API's 400 before the upgrade.
            let bad = try await connectAndCollect(port: port, send: "{\"capture\":\"x\"}") { !$0.of("error").isEmpty }
            #expect(bad.of("error").first?["parameter"] as? String == "capture")
            try await client.execute(uri: "/ws/live?capture=x", method: .get) { r in
                #expect(r.status == .badRequest)
                #expect(String(buffer: r.body).contains("capture"))
            }
        }
    }

    @Test("the WebSocket needs ?token= on a non-loopback bind")
    func webSocketToken() async throws {
        let db = try await SharedDatabase.shared.get()
        let hub = LiveHub()
        let (server, app) = makeApp(
            db.store, configure: { $0.host = "0.0.0.0"; $0.token = "ws-token-123" }, live: hub.outbox)
        let broadcaster = Task { try await server.broadcaster.run() }
        defer { broadcaster.cancel() }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            await #expect(throws: (any Error).self) {
                _ = try await connectAndCollect(port: port) { _ in true }
            }
            let ok = try await connectAndCollect(port: port, query: "?token=ws-token-123") { !$0.of("hello").isEmpty }
            #expect(ok.of("hello").count == 1)
        }
    }

    @Test("a WebSocket client receives live traffic captured on lo", .enabled(if: getuid() == 0))
    func webSocketLoopback() async throws {
        let db = try await SharedDatabase.shared.get()
        let hub = LiveHub(sensor: "test", captureID: 2, source: "interface lo")
        let (server, app) = makeApp(db.store, live: hub.outbox)
        var options = LiveCapture.Options(interface: "lo")
        options.filter = "udp port 39999"
        let capture = try LiveCapture(options)
        let queue = BatchQueue()
        capture.start(into: queue)
        let stop = NIOLockedValueBox(false)
        let analysis = WorkerThread(name: "analysis") {
            let pipeline = PacketPipeline()
            pipeline.consumers = [hub]
            while !stop.withLockedValue({ $0 }) {
                if let b = queue.take(milliseconds: 50) {
                    b.forEach(link: capture.link) { pipeline.process($0) }
                    queue.release(b)
                }
                hub.tick()
            }
        }
        let sender = WorkerThread(name: "sender") {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = UInt16(39999).bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let payload = [UInt8](repeating: 0x41, count: 64)
            while !stop.withLockedValue({ $0 }) {
                _ = withUnsafePointer(to: &addr) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, payload, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                usleep(2000)
            }
            close(fd)
        }
        let broadcaster = Task { try await server.broadcaster.run() }
        defer {
            broadcaster.cancel()
            stop.withLockedValue { $0 = true }
            capture.stop(); capture.join()
            analysis.join(); sender.join()
        }
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let r = try await connectAndCollect(port: port) { r in
                r.of("stats").contains { ($0["packets"] as? Int ?? 0) > 0 } && !r.of("packets").isEmpty
            }
            let rows = r.of("packets").flatMap { $0["rows"] as? [[String: Any]] ?? [] }
            #expect(
                rows.contains { $0["dport"] as? Int == 39999 && ($0["transport"] as? String)?.lowercased() == "udp" })
            #expect(
                r.of("stats").contains {
                    (($0["transport"] as? [String: Any])?["UDP"] as? [String: Any])?["packets"] as? Int ?? 0 > 0
                })
        }
    }

    @Test("telnet feed: 20 clients, one never reads and is dropped, the others keep receiving")
    func feedSlowClient() async throws {
        let db = try await SharedDatabase.shared.get()
        let hub = LiveHub(
            sensor: "test", captureID: 3, source: "file test", sampleCapacity: 4000, publishIntervalNanos: 100_000_000)
        var c = ServerConfiguration()
        c.liveRowsPerSecond = 3000
        c.feedQueueCapacity = 256
        // 5 s, not 2: on a loaded machine (a full test run beside builds) a reader thread
        // that is not scheduled for 2 s was dropped as slow with the silent client (seen
        // as 11 drops); the silent client is still dropped, only later.
        c.slowClientTimeoutSeconds = 5
        let server = SniffServerApp(store: db.store, configuration: c, live: hub.outbox)
        let feed = FeedServer(
            host: "127.0.0.1", port: 0, token: nil, broadcaster: server.broadcaster, logger: Logger(label: "test.feed"),
            sendBufferBytes: 4096)
        let feedTask = Task { try await feed.run() }
        let broadcaster = Task { try await server.broadcaster.run() }
        let replay = Replayer(
            hub: hub,
            files: [
                TestPaths.fixtures.appendingPathComponent("lo-udp-tcp.pcap"),
                TestPaths.fixtures.appendingPathComponent("dns.pcap")
            ], pauseMicros: 20)
        defer { replay.stop(); broadcaster.cancel(); feedTask.cancel() }
        let p = try #require(await feed.listening(), "the feed did not bind")

        func connectSocket(receiveBuffer: Int32? = nil) -> Int32 {
            let fd = BlockingSocket.connect(p, timeoutSeconds: 1, receiveBuffer: receiveBuffer)
            #expect(fd >= 0)
            return fd
        }
        let silent = connectSocket(receiveBuffer: 1024)
        let readers = (0..<19).map { _ in connectSocket() }
        // One reader switches to JSON and filters UDP.
        _ = "json\nfilter udp\n".withCString { write(readers[0], $0, strlen($0)) }
        replay.start()

        // No fixed duration: how soon the silent client is dropped depends on how fast its
        // buffers fill, which on a loaded machine is slower. The test waits for the drop and
        // then for every reader to receive more, up to a deadline only a failure reaches.
        final class Counts: @unchecked Sendable {
            let lock = ConditionLock()
            var lines = [Int](repeating: 0, count: 19)
            var bytes = [Int](repeating: 0, count: 19)
            var lastLine = [Double](repeating: 0, count: 19)
            var sample = [String](repeating: "", count: 19)
            /// Lines each reader received after the test saw the silent client dropped.
            var linesAfterDrop = [Int](repeating: 0, count: 19)
            var droppedAt: Double? = nil
            /// When reader 1 (text, unfiltered: the same stream as the silent client) had
            /// received `fullAfter` bytes.
            var streamFullAt: Double? = nil
            var stop = false
        }
        // The silent client's connection holds at most NIO's high watermark (64 KiB) plus the
        // small socket buffers set above; once the stream has carried four times that, its
        // writes are stuck and it must be dropped after the slow-client timeout.
        let fullAfter = 256 * 1024
        let counts = Counts()
        let start = Date()
        let threads = readers.enumerated().map { (i, fd) in
            WorkerThread(name: "reader\(i)") {
                var buf = [UInt8](repeating: 0, count: 65536)
                var tail = ""
                while !counts.lock.withLock({ counts.stop }) {
                    let n = read(fd, &buf, buf.count)
                    if n <= 0 { if n == 0 { break }; continue }
                    let text = tail + String(decoding: buf[0..<n], as: UTF8.self)
                    var parts = text.components(separatedBy: "\n")
                    tail = parts.removeLast()
                    let packetLines = parts.filter { !$0.hasPrefix("#") && !$0.isEmpty }
                    let now = Date().timeIntervalSince(start)
                    counts.lock.withLock {
                        counts.lines[i] += packetLines.count
                        counts.bytes[i] += n
                        if i == 1 && counts.streamFullAt == nil && counts.bytes[i] >= fullAfter {
                            counts.streamFullAt = now
                        }
                        if counts.droppedAt != nil { counts.linesAfterDrop[i] += packetLines.count }
                        if !packetLines.isEmpty { counts.lastLine[i] = now; counts.sample[i] = packetLines.last! }
                    }
                }
            }
        }
        let deadline = 90.0
        while Date().timeIntervalSince(start) < deadline {
            let now = Date().timeIntervalSince(start)
            let done = counts.lock.withLock { () -> Bool in
                if counts.droppedAt == nil && server.broadcaster.slowDisconnects >= 1 { counts.droppedAt = now }
                guard let d = counts.droppedAt else { return false }
                // Every reader still receives new lines well after the drop.
                return (0..<19).allSatisfy { counts.linesAfterDrop[$0] >= 100 && counts.lastLine[$0] > d + 1 }
            }
            if done { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        counts.lock.withLock { counts.stop = true }
        for t in threads { t.join() }
        let (droppedAt, fullAt) = counts.lock.withLock { (counts.droppedAt, counts.streamFullAt) }
        #expect(
            server.broadcaster.slowDisconnects == 1,
            "the client that never reads was not disconnected; clients \(server.broadcaster.clientCount)")
        #expect(server.broadcaster.clientCount == 19, "only the silent client is dropped")
        // Dropped within the timeout (plus slack for a loaded machine) of its buffers filling;
        // a drop before the stream carried `fullAfter` bytes is within that window too.
        if let droppedAt, let fullAt, fullAt < droppedAt {
            #expect(droppedAt - fullAt < c.slowClientTimeoutSeconds + 10,
                    "dropped at \(droppedAt) s; the stream had carried \(fullAfter) bytes at \(fullAt) s")
        }
        for i in 0..<19 {
            #expect(counts.lines[i] > 100, "reader \(i): \(counts.lines[i]) lines")
            #expect(
                counts.linesAfterDrop[i] >= 100 && counts.lastLine[i] > (droppedAt ?? deadline) + 1,
                "reader \(i): \(counts.linesAfterDrop[i]) lines after the drop, the last at \(counts.lastLine[i]) s")
        }
        // The JSON reader got NDJSON rows of UDP only.
        let row = try #require(try JSONSerialization.jsonObject(with: Data(counts.sample[0].utf8)) as? [String: Any])
        #expect((row["transport"] as? String)?.lowercased() == "udp")
        #expect(counts.sample[1].contains(" > "))
        // The silent client's connection was closed by the server: draining it ends in EOF.
        var buf = [UInt8](repeating: 0, count: 65536)
        var sawEOF = false
        // Each read waits at most 1 s (SO_RCVTIMEO); on a loaded machine the server may
        // take longer than that to close after the drop, so time-outs are retried up to 15 s.
        let drainUntil = Date().addingTimeInterval(15)
        while Date() < drainUntil {
            let n = read(silent, &buf, buf.count)
            if n == 0 { sawEOF = true; break }
            if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { break }
        }
        #expect(sawEOF)
        close(silent)
        for fd in readers { close(fd) }
    }

    /// The feed's text line of every packet of a capture, built as the live hub builds rows.
    func feedLines(_ file: URL) throws -> [(row: PacketRow, line: String, fragment: Bool)] {
        final class Collect: PacketConsumer {
            var builder = RowBuilder()
            var out: [(row: PacketRow, line: String, fragment: Bool)] = []
            func consume(_ p: DecodedPacket, frame: UnsafeRawBufferPointer) {
                let r = builder.row(from: p, frame: frame)
                out.append((r, PacketLine.text(r), p.isFragment))
            }
        }
        let c = Collect()
        let pipeline = PacketPipeline()
        pipeline.consumers = [c]
        let reader = try CaptureFileReader(path: file.path)
        while let raw = try reader.next() { _ = pipeline.process(raw) }
        return c.out
    }

    @Test("feed text lines give UDP's payload length as tcpdump does")
    func feedUDPLength() throws {
        // tcpdump -q -n -r lo-udp-tcp.pcap, first packet:
        // 00:13:42.678779 IP 127.0.0.1.40001 > 127.0.0.1.47001: UDP, length 8
        let lines = try feedLines(TestPaths.fixtures.appendingPathComponent("lo-udp-tcp.pcap"))
        #expect(lines.first?.line.hasSuffix("IP 127.0.0.1.40001 > 127.0.0.1.47001: UDP, length 8") == true,
                "\(lines.first?.line ?? "no packet")")
        // Not UDP: the frame length as before.
        #expect(lines.contains { $0.row.transport == .tcp && $0.line.contains(" len \($0.row.len)") })
    }

    @Test(
        "feed UDP lengths equal tcpdump's on every fixture",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpdump"), "needs tcpdump"))
    func feedUDPLengthMatchesTcpdump() throws {
        var compared = 0
        for file in ServerTestEnv.captures where !file.lastPathComponent.hasPrefix("xss") {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/tcpdump")
            // -q: transport-level lines only, so UDP always reads "UDP, length N".
            p.arguments = ["-q", "-n", "-r", file.path]
            let out = Pipe()
            p.standardOutput = out; p.standardError = FileHandle.nullDevice
            try p.run()
            let theirs = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .split(separator: "\n")
            p.waitUntilExit()
            let ours = try feedLines(file)
            guard theirs.count == ours.count else { continue }
            // IP fragments: tcpdump prints each fragment's own headers (the UDP header on the
            // first), Sniff the reassembled datagram's on the completing frame, as tshark;
            // FragmentTsharkTests compares those frames with tshark.
            for (t, o) in zip(theirs, ours) where o.row.transport == .udp && !o.fragment {
                // tcpdump's outermost header only: tunnelled packets print differently.
                guard let r = t.range(of: ": UDP, length ") else { continue }
                let n = t[r.upperBound...].prefix { $0.isNumber }
                #expect(
                    o.line.contains(": UDP, length \(n)"), "\(file.lastPathComponent): ours \(o.line) / tcpdump \(t)")
                compared += 1
            }
        }
        #expect(compared > 50, "only \(compared) UDP packets compared")
    }

    @Test("feed commands")
    func feedCommands() throws {
        let client = LiveClient(kind: .feed, capacity: 10, rowsPerSecond: 5)
        #expect(FeedServer.command("json", client) == "# json")
        #expect(client.json)
        #expect(FeedServer.command("filter tcp port 80", client) == "# filter tcp port 80")
        #expect(client.filter.filter.transport == .tcp && client.filter.filter.port == 80)
        #expect(FeedServer.command("filter src 10.0.0.1 dst port 53", client)?.hasPrefix("# filter") == true)
        #expect(client.filter.filter.src?.description == "10.0.0.1/32" && client.filter.filter.dport == 53)
        #expect(FeedServer.command("filter port x", client)?.hasPrefix("# error") == true)
        #expect(FeedServer.command("pause", client) == "# paused")
        #expect(client.paused)
        #expect(FeedServer.command("resume", client) == "# resumed")
        #expect(FeedServer.command("quit", client) == nil)
        // Queue bound: oldest dropped and counted.
        for i in 0..<15 { client.enqueue("m\(i)") }
        #expect(client.dropped == 5)
    }

    @Test("a client's queue writes the newest messages in order, times each write, and stops at close")
    func clientQueue() async throws {
        let client = LiveClient(kind: .feed, capacity: 3, rowsPerSecond: 5)
        for i in 0..<5 { client.enqueue("m\(i)") }
        #expect(client.dropped == 2)
        var written: [String] = []
        var stuckWhileWriting = false
        await client.writeMessages { m in
            written.append(m)
            stuckWhileWriting = client.isStuck(now: ContinuousClock.now + .seconds(60), timeout: .seconds(30))
            if written.count == 3 { client.close() }
        }
        #expect(written == ["m2", "m3", "m4"])
        #expect(stuckWhileWriting, "a write in progress is timed")
        #expect(!client.isStuck(now: ContinuousClock.now + .seconds(60), timeout: .seconds(30)), "no write in progress")
        client.enqueue("after close")
        #expect(client.dropped == 2)

        // Messages still queued when the client closes are not written.
        let closing = LiveClient(kind: .webSocket, capacity: 8, rowsPerSecond: 5)
        closing.enqueue("a"); closing.enqueue("b")
        closing.close()
        var late: [String] = []
        await closing.writeMessages { late.append($0) }
        #expect(late.isEmpty && closing.isClosed)
    }
}
