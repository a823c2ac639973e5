import SniffCore

/// How the server listens and what it allows. The defaults are the safe ones: loopback
/// only, no token needed there, small pages.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8086
    /// Required (and checked on every API and WebSocket request) when `host` is not a
    /// loopback address.
    public var token: String? = nil
    /// Names (or addresses) besides the listen address that requests may give in Host
    /// and pages may have in Origin: a reverse proxy's name, the machine's DNS name.
    public var allowedHosts: [String] = []
    /// Rows an export may hold (xlsx is further capped at Excel's 1 048 575 data rows).
    public var exportLimit = 5_000_000
    /// Longest request target accepted (the API takes no request bodies).
    public var maxURILength = 8192
    /// Live packet rows per second per client (WebSocket and feed).
    public var liveRowsPerSecond = 200
    /// Messages a WebSocket client may have waiting; older ones are dropped and counted.
    public var clientQueueCapacity = 256
    /// Lines a feed client may have waiting.
    public var feedQueueCapacity = 4096
    /// WebSocket and feed clients held at once; more are refused with a message. Each
    /// holds a descriptor and about 40 KB, and the server raises its open-file limit,
    /// so this is what keeps a flood of idle connections from exhausting memory.
    public var maxLiveClients = 4096
    /// With a token, a feed client that has not sent it within this many seconds is
    /// closed, so that unauthenticated connections cannot hold the places above.
    public var feedTokenTimeoutSeconds: Double = 10
    /// A client whose writes make no progress for this long is disconnected.
    public var slowClientTimeoutSeconds: Double = 10
    /// An HTTP connection that has not been answered once within this many seconds is
    /// closed: a client that connects and sends nothing, or trickles its request head,
    /// cannot hold a connection (and a place below) for long.
    public var firstResponseTimeoutSeconds: Double = 30
    /// A keep-alive HTTP connection idle this long between requests is closed.
    public var httpIdleTimeoutSeconds: Double = 60
    /// HTTP connections (WebSocket ones included) open at once. Past it the server stops
    /// accepting: new connections wait in the kernel's backlog until one closes.
    public var maxHTTPConnections: Int { maxLiveClients + 1024 }
    /// Where the dashboard files are; nil means the ones built into Sniff.
    public var dashboardDirectory: String? = nil
    /// The plain TCP feed (`--feed`), if any.
    public var feedHost: String? = nil
    public var feedPort = 8000

    public init() {}

    /// "127.0.0.1:8086", "[::1]:8086", ":8086" (all addresses), "localhost:9000".
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        guard let port = Int(portText), (0...65535).contains(port) else { return nil }
        if host.isEmpty { host = "0.0.0.0" }
        return (String(host), port)
    }

    /// True for 127.0.0.0/8, ::1 and "localhost".
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" { return true }
        if let a = IPAddress(host) {
            if a.isIPv6 { return host == "::1" || a == IPAddress("::1") }
            return host.hasPrefix("127.")
        }
        return false
    }

    /// Why this configuration may not run, as a sentence for the user; nil when fine.
    public var problem: String? {
        if !ServerConfiguration.isLoopback(host) && (token ?? "").isEmpty {
            return """
                listening on \(host) exposes captured traffic to the network; give --token TOKEN (or set \
                SNIFF_TOKEN), or listen on 127.0.0.1
                """
        }
        if let feedHost, !ServerConfiguration.isLoopback(feedHost) && (token ?? "").isEmpty {
            return """
                the feed on \(feedHost) would expose captured traffic to the network; give --token TOKEN (or set \
                SNIFF_TOKEN), or use 127.0.0.1
                """
        }
        for name in allowedHosts where HostPolicy.Authority(bare: name) == nil {
            return """
                invalid --allow-host '\(name.prefix(100))': give a host name or an address without port, such as \
                sniff.example.com or 192.0.2.7
                """
        }
        if let t = token,
            t.utf8.count < 8 || t.utf8.count > 256
                || t.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F }) {
            return "the token must be 8 to 256 printable ASCII characters without spaces"
        }
        return nil
    }
}
