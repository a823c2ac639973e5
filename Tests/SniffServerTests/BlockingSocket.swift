import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Plain blocking sockets for the tests that must see the server's bytes and closes as a
/// raw client would (the feed, HTTP connection deadlines).
enum BlockingSocket {
    /// Runs `body` on a thread of its own: clients that block on their sockets must not
    /// sit on the cooperative pool (two threads here, and other suites block too), where
    /// they could starve the server they wait for.
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
