import Foundation
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import SniffCore
import SniffStore

/// The plain TCP feed (`--feed 127.0.0.1:8000`, seed 000): one tcpdump-like line per
/// packet to every client, sampled and queued like the WebSocket stream. Commands, one
/// per line: `json`, `text`, `filter <expr>` (`filter` alone clears it), `pause`,
/// `resume`, `quit`; with a token, `token <TOKEN>` first.
public final class FeedServer: Service, Sendable {
    public let host: String
    public let port: Int
    let token: String?
    let broadcaster: LiveBroadcaster
    let logger: Logger
    private let readiness = ListenerReadiness()
    /// Socket send buffer for clients (small buffers make a stuck reader show sooner).
    let sendBufferBytes: Int?

    public init(
        host: String, port: Int, token: String?, broadcaster: LiveBroadcaster, logger: Logger,
        sendBufferBytes: Int? = nil
    ) {
        self.host = host; self.port = port; self.token = token; self.broadcaster = broadcaster; self.logger = logger
        self.sendBufferBytes = sendBufferBytes
    }

    /// Waits until the feed is listening and returns the port it bound (the one given,
    /// or the system's choice for port 0); nil when it could not bind.
    public func listening() async -> Int? { await readiness.wait() }

    func resolveReadiness(_ port: Int?) { readiness.resolve(port) }

    public func run() async throws {
        let server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>
        do {
            server = try await bind()
        } catch {
            resolveReadiness(nil)
            throw error
        }
        resolveReadiness(server.channel.localAddress?.port ?? port)
        logger.info("feed listening on \(host):\(server.channel.localAddress?.port ?? port)")
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask { await self.handle(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    private func bind() async throws -> NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never> {
        let sendBuffer = sendBufferBytes
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sendBuffer {
                        try channel.syncOptions?.setOption(
                            .socketOption(.so_sndbuf), value: SocketOptionValue(sendBuffer))
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
    }

    func handle(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        guard let client = broadcaster.register(.feed) else {
            try? await connection.executeThenClose { _, outbound in
                try await outbound.write(
                    ByteBuffer(string: Self.tooManyClients(broadcaster.configuration.maxLiveClients) + "\n"))
            }
            return
        }
        defer { broadcaster.unregister(client) }
        let authenticated = NIOLockedValueBox(token == nil)
        if !authenticated.withLockedValue({ $0 }) { client.paused = true }
        do {
            try await connection.executeThenClose { inbound, outbound in
                client.enqueue(
                    authenticated.withLockedValue { $0 } ? Self.greeting : "# sniff feed: send 'token TOKEN' first")
                await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await client.writeMessages { m in
                            var b = ByteBuffer(string: m)
                            b.writeInteger(UInt8(0x0A))
                            try await outbound.write(b)
                        }
                    }
                    group.addTask {
                        var pending: [UInt8] = []
                        for try await chunk in inbound {
                            pending += chunk.readableBytesView
                            guard pending.count <= 4096 else { client.enqueue("# line too long"); return }
                            while let nl = pending.firstIndex(of: 0x0A) {
                                let line = String(decoding: pending[..<nl], as: UTF8.self).trimmingCharacters(in: [
                                    " ", "\r", "\t"
                                ])
                                pending.removeSubrange(...nl)
                                if !authenticated.withLockedValue({ $0 }) {
                                    if let token = self.token, line.hasPrefix("token "),
                                        SecurityMiddleware<BasicRequestContextStub>.constantTimeEquals(
                                            line.dropFirst(6), token) {
                                        authenticated.withLockedValue { $0 = true }
                                        client.paused = false
                                        client.enqueue(Self.greeting)
                                    } else {
                                        client.enqueue("# wrong or missing token")
                                    }
                                    continue
                                }
                                if let reply = Self.command(line, client) { client.enqueue(reply) } else { return }
                            }
                        }
                    }
                    let tokenTimeout = self.broadcaster.configuration.feedTokenTimeoutSeconds
                    group.addTask {
                        let deadline = ContinuousClock.now + .milliseconds(Int64(tokenTimeout * 1000))
                        while !client.isClosed {
                            if !authenticated.withLockedValue({ $0 }) && ContinuousClock.now >= deadline {
                                client.enqueue("# no token within \(Self.seconds(tokenTimeout)) s; closing")
                                // Time for the writer to send it before the connection closes.
                                try await Task.sleep(for: .milliseconds(200))
                                return
                            }
                            try await Task.sleep(for: .milliseconds(200))
                        }
                    }
                    _ = try? await group.next()
                    client.close()
                    group.cancelAll()
                }
            }
        } catch {
            logger.debug("feed client ended: \(String(describing: error))")
        }
    }

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? String(Int(s)) : String(s)
    }

    static func tooManyClients(_ n: Int) -> String {
        "# sniff feed: too many clients (\(n) connected); try again later"
    }

    static let greeting = "# sniff feed: one line per packet; commands: json, text, filter <expr>, pause, resume, quit"

    /// Applies one command; nil means quit.
    static func command(_ line: String, _ client: LiveClient) -> String? {
        let word = line.split(separator: " ", maxSplits: 1).first.map { $0.lowercased() } ?? ""
        switch word {
        case "": return "# commands: json, text, filter <expr>, pause, resume, quit"
        case "quit", "exit": return nil
        case "json": client.json = true; return "# json"
        case "text": client.json = false; return "# text"
        case "pause": client.paused = true; return "# paused"
        case "resume": client.paused = false; return "# resumed"
        case "filter":
            let expr = String(line.dropFirst("filter".count)).trimmingCharacters(in: [" "])
            do {
                client.filter = try LiveFilter(expression: expr)
                return expr.isEmpty ? "# filter cleared" : "# filter " + PacketLine.printable(expr)
            } catch let e as APIError {
                return "# error: " + PacketLine.printable(e.message)
            } catch {
                return "# error: invalid filter"
            }
        default:
            return """
                # unknown command '\(PacketLine.printable(String(word.prefix(40))))'; commands: json, text, filter \
                <expr>, pause, resume, quit
                """
        }
    }
}

/// Only to reach the token comparison, which does not depend on the context type.
typealias BasicRequestContextStub = Hummingbird.BasicRequestContext
