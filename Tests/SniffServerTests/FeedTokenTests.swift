import Foundation
import Logging
import Testing
import SniffCore
@testable import SniffServer
#if canImport(Glibc)
import Glibc
#endif

/// With a token, the feed must not let unauthenticated connections sit on the places
/// that `--max-clients` allows: one that sends no token in time is told so and closed;
/// one that sends it is served and stays.
@Suite("Feed token deadline", .serialized)
struct FeedTokenTests {
    @Test("a feed client without the token is closed after the deadline; one with it stays")
    func unauthenticatedFeedClientIsClosed() async throws {
        let db = try await SharedDatabase.shared.get()
        var c = ServerConfiguration()
        c.feedTokenTimeoutSeconds = 1
        c.token = "s3cret"
        let server = SniffServerApp(store: db.store, configuration: c)
        let feed = FeedServer(host: "127.0.0.1", port: 0, token: "s3cret", broadcaster: server.broadcaster, logger: Logger(label: "test.feed"))
        let feedTask = Task { try await feed.run() }
        defer { feedTask.cancel() }
        var port: Int? = nil
        for _ in 0..<100 where port == nil { port = feed.boundPort; try await Task.sleep(for: .milliseconds(50)) }
        let p = try #require(port)

        // The clients block on their sockets, so they run on a thread of their own: on
        // the cooperative pool they could starve the server they wait for (two threads
        // here, and other suites block too).
        struct Seen: Sendable {
            var memberPrompt = "", memberGreeting = "", silentPrompt = "", silentNotice = "", silentAfter = "", paused = ""
            var waited = 0.0
        }
        let seen = await Self.onThread { () -> Seen in
            var r = Seen()
            let silent = Self.connect(p), member = Self.connect(p)
            defer { close(silent); close(member) }
            r.memberPrompt = Self.readLine(member)
            Self.send(member, "token s3cret\n")
            r.memberGreeting = Self.readLine(member)
            r.silentPrompt = Self.readLine(silent)
            let start = Date()
            r.silentNotice = Self.readLine(silent)
            r.silentAfter = Self.readLine(silent)
            r.waited = Date().timeIntervalSince(start)
            // The authenticated client is still served after the deadline.
            usleep(500_000)
            Self.send(member, "pause\n")
            r.paused = Self.readLine(member)
            return r
        }
        #expect(seen.memberPrompt.hasPrefix("# sniff feed: send 'token TOKEN' first"))
        #expect(seen.memberGreeting.hasPrefix("# sniff feed: one line per packet"))
        #expect(seen.silentPrompt.hasPrefix("# sniff feed: send 'token TOKEN' first"))
        #expect(seen.silentNotice == "# no token within 1 s; closing")
        #expect(seen.silentAfter.isEmpty, "the connection is closed after the message")
        // A 1 s deadline; the bound leaves room for a loaded machine (CI, with every
        // suite running beside it, saw 4.8 s), and stays under the 20 s receive timeout.
        #expect(seen.waited < 15, "closed after \(seen.waited) s")
        #expect(seen.paused == "# paused")
        #expect(server.broadcaster.clientCount == 1)
    }

    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in
            Thread.detachNewThread { c.resume(returning: body()) }
        }
    }

    static func connect(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var tv = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(rc == 0)
        return fd
    }

    static func send(_ fd: Int32, _ text: String) {
        _ = text.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// One line without its newline; "" at EOF or after the 20 s receive timeout.
    static func readLine(_ fd: Int32) -> String {
        var line: [UInt8] = []
        var b: UInt8 = 0
        while read(fd, &b, 1) == 1 {
            if b == 0x0A { return String(decoding: line, as: UTF8.self) }
            line.append(b)
        }
        return String(decoding: line, as: UTF8.self)
    }
}
