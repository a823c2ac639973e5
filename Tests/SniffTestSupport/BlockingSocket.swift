import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Plain blocking loopback sockets with timeouts, for the tests that must see a server's
/// bytes and closes as a raw client would (the feed, HTTP deadlines, WebSocket churn):
/// every call is bounded in time.
public enum BlockingSocket {
    /// Runs `body` on a thread of its own: clients that block on their sockets must not
    /// sit on the cooperative pool (two threads here, and other suites block too), where
    /// they could starve the server they wait for.
    public static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { c in
            Thread.detachNewThread { c.resume(returning: body()) }
        }
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago (for a server started as a
    /// separate process, which cannot hand back the port it bound).
    public static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = LoopbackTraffic.address(0)
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return UInt16(bigEndian: addr.sin_port)
    }

    /// A socket connected to 127.0.0.1:`port` whose sends and receives give up after
    /// `timeoutSeconds`, or -1 (errno kept).
    public static func connect(_ port: Int, timeoutSeconds: Int = 5, receiveBuffer: Int32? = nil) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        if var rb = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, socklen_t(4)) }
        var addr = LoopbackTraffic.address(UInt16(port))
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 { let e = errno; close(fd); errno = e; return -1 }
        return fd
    }

    /// `connect` for a UInt16 port.
    public static func connect(_ port: UInt16, timeoutSeconds: Int = 5) -> Int32 {
        connect(Int(port), timeoutSeconds: timeoutSeconds)
    }

    /// Sends all of `bytes` unless the peer goes away or the send times out.
    public static func send(_ fd: Int32, _ bytes: [UInt8]) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + done, bytes.count - done, Int32(MSG_NOSIGNAL))
            }
            if n <= 0 { return }
            done += n
        }
    }

    public static func send(_ fd: Int32, _ text: String) { send(fd, Array(text.utf8)) }

    /// Closes with a reset instead of a FIN: the abrupt end of a killed client.
    public static func reset(_ fd: Int32) {
        var lg = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }

    /// One read of at most `max` bytes; empty at EOF or after the receive timeout.
    public static func readSome(_ fd: Int32, max: Int) -> [UInt8] {
        var buf = [UInt8](repeating: 0, count: max)
        let n = read(fd, &buf, max)
        return n > 0 ? Array(buf[0..<n]) : []
    }

    /// One line without its newline; "" at EOF or after the receive timeout.
    public static func readLine(_ fd: Int32) -> String {
        var line: [UInt8] = []
        var b: UInt8 = 0
        while read(fd, &b, 1) == 1 {
            if b == 0x0A { return String(decoding: line, as: UTF8.self) }
            line.append(b)
        }
        return String(decoding: line, as: UTF8.self)
    }

    /// Reads until `marker` or `max` bytes, EOF or the receive timeout (what follows
    /// the marker in the last read is kept: the caller may need it).
    public static func readUntilBytes(_ fd: Int32, _ marker: String, max: Int) -> [UInt8] {
        var got: [UInt8] = []
        let m = Array(marker.utf8)
        while got.count < max {
            var b = [UInt8](repeating: 0, count: max - got.count)
            let n = read(fd, &b, b.count)
            if n <= 0 { break }
            got += b[0..<n]
            if find(m, in: got) != nil { break }
        }
        return got
    }

    public static func readUntil(_ fd: Int32, _ marker: String, max: Int) -> String {
        String(decoding: readUntilBytes(fd, marker, max: max), as: UTF8.self)
    }

    /// Where `needle` first stands in `hay`.
    public static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count, !needle.isEmpty else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<i + needle.count]) == needle
        {
            return i
        }
        return nil
    }
}
