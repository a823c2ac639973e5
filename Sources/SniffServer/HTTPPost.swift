import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SniffCore

/// A webhook's http:// or https:// URL, checked when the options are read so that a
/// typo fails the run at once rather than at the first alert.
public struct WebhookURL: Sendable, Equatable {
    public var secure: Bool
    public var host: String
    public var port: UInt16
    public var path: String

    /// Parses `http[s]://host[:port][/path]` (IPv6 hosts in brackets).
    public init(_ text: String) throws {
        func fail(_ why: String) -> RuntimeFailure {
            RuntimeFailure("invalid --webhook URL \"\(text)\": \(why)", exitCode: 64)
        }
        secure = text.hasPrefix("https://")
        guard secure || text.hasPrefix("http://") else { throw fail("it must start with http:// or https://") }
        var rest = Substring(text.dropFirst(secure ? 8 : 7))
        var hostPort: Substring
        if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            rest = rest[slash...]
        } else {
            hostPort = rest
            rest = "/"
        }
        var port: UInt16 = secure ? 443 : 80
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

    /// The URL in its normal form.
    public var text: String {
        let h = host.contains(":") ? "[\(host)]" : host
        let defaultPort: UInt16 = secure ? 443 : 80
        return (secure ? "https://" : "http://") + h + (port == defaultPort ? "" : ":\(port)") + path
    }
}

/// POSTs JSON with async-http-client: http and https (the system's trust store, or the
/// PEM file of `caFile`), a deadline per request, no redirects (a webhook that moves is
/// a configuration error worth seeing). Calls block the calling thread, which is the
/// webhook's own: the analysis thread never waits on the network.
public final class HTTPPost: Sendable {
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case connect(String)
        case tls(String)
        case timeout(Int)
        case io(String)
        case status(Int)

        public var description: String {
            switch self {
            case .connect(let s): return "cannot connect: \(s)"
            case .tls(let s): return "TLS failed: \(s)"
            case .timeout(let ms): return "no answer within \(ms) ms"
            case .io(let s): return "request failed: \(s)"
            case .status(let c): return "server answered HTTP \(c)"
            }
        }
    }

    let client: HTTPClient
    let timeoutMillis: Int

    public init(timeoutMillis: Int, caFile: String? = nil) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            do {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw RuntimeFailure(
                    "cannot read --webhook-ca \(caFile): \(error); it must be a PEM file of CA certificates",
                    exitCode: 64)
            }
        }
        var config = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(timeoutMillis)), read: .milliseconds(Int64(timeoutMillis))))
        config.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
        self.timeoutMillis = timeoutMillis
    }

    /// Sends `body` as `application/json`; succeeds on a 2xx status.
    public func post(_ url: WebhookURL, body: [UInt8]) -> Result<Int, Failure> {
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: url.text, method: .POST,
                                             headers: ["Content-Type": "application/json", "User-Agent": "sniff"],
                                             body: .bytes(body))
        } catch {
            return .failure(.io("\(error)"))
        }
        do {
            let response = try client.execute(request: request, deadline: .now() + .milliseconds(Int64(timeoutMillis)))
                .wait()
            let code = Int(response.status.code)
            return (200..<300).contains(code) ? .success(code) : .failure(.status(code))
        } catch {
            return .failure(Self.failure(error, timeoutMillis: timeoutMillis))
        }
    }

    static func failure(_ error: Error, timeoutMillis: Int) -> Failure {
        if let e = error as? HTTPClientError {
            switch e {
            case .connectTimeout, .deadlineExceeded, .readTimeout, .writeTimeout: return .timeout(timeoutMillis)
            default: return .io("\(e)")
            }
        }
        if error is NIOSSLError || error is BoringSSLError { return .tls("\(error)") }
        if let e = error as? NIOConnectionError {
            return .connect(e.connectionErrors.first.map { "\($0.error)" } ?? "\(e)")
        }
        if let e = error as? IOError { return .connect(e.description) }
        return .io("\(error)")
    }

    /// Closes the client's connections; call once, after the last post.
    public func shutdown() {
        try? client.syncShutdown()
    }
}
