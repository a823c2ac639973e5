/// A ClickHouse server to talk to over its HTTP interface:
/// `clickhouse://user:password@host:8123/database`, or `clickhouses://` for HTTPS
/// (default port 8443). The user defaults to `default` and the database to `default`,
/// as ClickHouse's own clients do.
public struct ClickHouseTarget: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: Bool

    public var redacted: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return (tls ? "clickhouses://" : "clickhouse://") + "\(user)@\(h):\(port)/\(database)"
    }

    /// The HTTP base URL, without credentials (they travel in headers).
    var baseURL: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return (tls ? "https://" : "http://") + "\(h):\(port)/"
    }

    public init(url: String) throws {
        func bad(_ why: String) -> StoreError {
            .badURL("invalid --db URL: \(why); expected clickhouse://user:password@host:8123/database")
        }
        let scheme: String
        if url.hasPrefix("clickhouses://") { scheme = "clickhouses://"; tls = true }
        else if url.hasPrefix("clickhouse://") { scheme = "clickhouse://"; tls = false }
        else { throw bad("it must start with clickhouse:// or clickhouses://") }
        var rest = Substring(url.dropFirst(scheme.count))
        if rest.contains("?") || rest.contains("#") {
            throw bad("query parameters are not understood; put the database in the path")
        }
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[rest.index(after: slash)...])
            rest = rest[..<slash]
        }
        var urlUser: String? = nil
        password = nil
        if let at = rest.lastIndex(of: "@") {
            let parts = rest[..<at].split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let u = PostgresTarget.percentDecode(parts[0]) else {
                throw bad("bad percent-encoding in the user name")
            }
            urlUser = u.isEmpty ? nil : u
            if parts.count == 2 {
                guard let p = PostgresTarget.percentDecode(parts[1]) else {
                    throw bad("bad percent-encoding in the password")
                }
                password = p
            }
            rest = rest[rest.index(after: at)...]
        }
        var hostText: Substring = rest, portText: Substring? = nil
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw bad("unclosed [ in the host") }
            hostText = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw bad("unexpected text after the host")
            }
        } else if let colon = rest.firstIndex(of: ":") {
            hostText = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !hostText.isEmpty else { throw bad("the host is missing") }
        host = String(hostText)
        if let pt = portText {
            guard let p = Int(pt), (1...65535).contains(p) else {
                throw bad("the port '\(pt)' is not between 1 and 65535")
            }
            port = p
        } else {
            port = tls ? 8443 : 8123
        }
        user = urlUser ?? "default"
        guard let db = PostgresTarget.percentDecode(Substring(path)) else {
            throw bad("bad percent-encoding in the database name")
        }
        // The name is spliced into DDL and sent as a URL parameter: keep it to what an
        // unquoted ClickHouse identifier allows.
        let name = db.isEmpty ? "default" : db
        guard
            name.utf8.allSatisfy({
                $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0)
                    || (0x61...0x7A).contains($0)
            }),
            !(0x30...0x39).contains(name.utf8.first!)
        else {
            throw bad("the database name '\(name)' must be letters, digits and _ (not starting with a digit)")
        }
        database = name
    }
}

extension ClickHouseTarget: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { redacted }
    public var debugDescription: String { redacted }
    public var customMirror: Mirror { Mirror(self, children: ["redacted": redacted]) }
}
