#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SniffCore

/// An http:// URL split into what a POST needs.
public struct WebhookURL: Sendable, Equatable {
    public var host: String
    public var port: UInt16
    public var path: String

    /// Parses `http://host[:port][/path]` (IPv6 hosts in brackets). https is refused
    /// with a hint: TLS would need a crypto library, so point the webhook at a local
    /// relay instead.
    public init(_ text: String) throws {
        func fail(_ why: String) -> RuntimeFailure {
            RuntimeFailure("invalid --webhook URL \"\(text)\": \(why)", exitCode: 64)
        }
        if text.hasPrefix("https://") {
            throw fail("https is not supported; use an http:// URL (for example a local relay that forwards to the TLS endpoint)")
        }
        guard text.hasPrefix("http://") else { throw fail("it must start with http://") }
        var rest = Substring(text.dropFirst(7))
        var hostPort: Substring
        if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            rest = rest[slash...]
        } else {
            hostPort = rest
            rest = "/"
        }
        var port: UInt16 = 80
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("unclosed [ in the host") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = UInt16(after.dropFirst()), p > 0 else { throw fail("bad port") }
                port = p
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            guard let p = UInt16(hostPort[hostPort.index(after: colon)...]), p > 0 else { throw fail("bad port") }
            port = p
        } else {
            host = String(hostPort)
        }
        guard !host.isEmpty else { throw fail("no host") }
        self.port = port
        path = String(rest)
    }
}

/// A minimal HTTP/1.1 client over a POSIX socket: one POST per connection, with a
/// timeout on connect, send and receive. Enough for webhooks; not a general client.
public enum HTTPPost {
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case resolve(String)
        case connect(String)
        case io(String)
        case status(Int)
        case badResponse

        public var description: String {
            switch self {
            case .resolve(let s): return "cannot resolve host: \(s)"
            case .connect(let s): return "cannot connect: \(s)"
            case .io(let s): return "send/receive failed: \(s)"
            case .status(let c): return "server answered HTTP \(c)"
            case .badResponse: return "server sent no HTTP status line"
            }
        }
    }

    /// Sends `body` as `application/json`; succeeds on a 2xx status.
    public static func post(_ url: WebhookURL, body: [UInt8], timeoutMillis: Int) -> Result<Int, Failure> {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var res: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(url.host, String(url.port), &hints, &res)
        guard rc == 0, let first = res else { return .failure(.resolve(String(cString: gai_strerror(rc)))) }
        defer { freeaddrinfo(res) }
        var lastError = "no address"
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            defer { ai = a.pointee.ai_next }
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd < 0 { lastError = String(cString: strerror(errno)); continue }
            defer { _ = systemClose(fd) }
            if let e = connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen, timeoutMillis: timeoutMillis) { lastError = e; continue }
            var tv = timeval(tv_sec: timeoutMillis / 1000, tv_usec: Int((timeoutMillis % 1000) * 1000))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var request = ByteSink(capacity: 256 + body.count)
            request.append("POST " as StaticString)
            request.append(url.path)
            request.append(" HTTP/1.1\r\nHost: " as StaticString)
            request.append(url.host.contains(":") ? "[\(url.host)]" : url.host)
            if url.port != 80 { request.append(":\(url.port)") }
            request.append("\r\nUser-Agent: sniff\r\nContent-Type: application/json\r\nContent-Length: " as StaticString)
            request.append(decimal: body.count)
            request.append("\r\nConnection: close\r\n\r\n" as StaticString)
            request.bytes.append(contentsOf: body)
            guard request.flush(to: fd) else { return .failure(.io(String(cString: strerror(errno)))) }
            // Read until the status line is complete.
            var response: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 1024)
            while !response.contains(0x0A) && response.count < 8192 {
                let n = recv(fd, &buf, buf.count, 0)
                if n < 0 { if errno == EINTR { continue }; return .failure(.io(String(cString: strerror(errno)))) }
                if n == 0 { break }
                response.append(contentsOf: buf[0..<n])
            }
            let line = String(decoding: response.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
            let parts = line.split(separator: " ")
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let code = Int(parts[1]) else { return .failure(.badResponse) }
            return (200..<300).contains(code) ? .success(code) : .failure(.status(code))
        }
        return .failure(.connect(lastError))
    }

    /// Connects with a deadline; returns an error text or nil.
    static func connect(_ fd: Int32, _ addr: UnsafeMutablePointer<sockaddr>?, _ len: socklen_t, timeoutMillis: Int) -> String? {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        #if canImport(Glibc)
        let r = Glibc.connect(fd, addr, len)
        #else
        let r = Darwin.connect(fd, addr, len)
        #endif
        if r == 0 { return nil }
        guard errno == EINPROGRESS else { return String(cString: strerror(errno)) }
        var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let p = poll(&pfd, 1, Int32(timeoutMillis))
        if p == 0 { return "timed out after \(timeoutMillis) ms" }
        if p < 0 { return String(cString: strerror(errno)) }
        var err: Int32 = 0
        var errLen = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errLen)
        return err == 0 ? nil : String(cString: strerror(err))
    }
}
