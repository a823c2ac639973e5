#if canImport(Glibc)
import Glibc
#endif

/// Where `--db` points: `sqlite:PATH`, `postgres://` / `postgresql://` URLs (with the
/// PG* environment variables filling what the URL leaves out, as libpq does), or
/// `clickhouse://` / `clickhouses://` URLs.
public enum StoreURL: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(PostgresTarget)
    case clickhouse(ClickHouseTarget)

    public static let defaultSQLitePath = "sniff.db"

    public init(_ text: String, environment: [String: String] = StoreURL.processEnvironment()) throws {
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            if path.isEmpty { path = StoreURL.defaultSQLitePath }
            self = .sqlite(path: path)
            return
        }
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") || text == "postgres:"
            || text == "postgresql:" {
            self = .postgres(try PostgresTarget(url: text, environment: environment))
            return
        }
        if text.hasPrefix("clickhouse://") || text.hasPrefix("clickhouses://") {
            self = .clickhouse(try ClickHouseTarget(url: text))
            return
        }
        // Echo the value without its credentials: a mistyped scheme ("postgress://",
        // "mysql://") must not print the password it carries.
        throw StoreError.badURL("invalid --db '\(StoreURL.withoutCredentials(text))': use sqlite:PATH (e.g. sqlite:sniff.db), postgres://user:password@host:5432/database or clickhouse://user:password@host:8123/database")
    }

    /// `text` with the password of any `user:password@` and any `password=` value
    /// replaced by `***`, for messages about a value that could not be parsed (so not
    /// even a scheme is assumed: "postgresql:/u:pw@h" hides "pw" too).
    public static func withoutCredentials(_ text: String) -> String {
        var b = Array(text.utf8)
        let stars = Array("***".utf8)
        // Before each '@', back to the nearest ':' is a password, unless that ':' ends a
        // scheme ("scheme:/"), which means there is none. A raw '/' in it is covered too.
        var at = b.count - 1
        while at >= 0 {
            if b[at] == UInt8(ascii: "@") {
                var colon = at - 1
                while colon >= 0, b[colon] != UInt8(ascii: ":") { colon -= 1 }
                if colon >= 0, b[colon + 1] != UInt8(ascii: "/") {
                    b.replaceSubrange((colon + 1)..<at, with: stars)
                    at = colon
                }
            }
            at -= 1
        }
        let key = Array("password=".utf8)
        var i = 0
        while i + key.count <= b.count {
            // ASCII case-insensitive match ('=' is unchanged by the case bit).
            guard zip(b[i..<(i + key.count)], key).allSatisfy({ $0 | 0x20 == $1 }) else { i += 1; continue }
            let valueStart = i + key.count
            var valueEnd = valueStart
            while valueEnd < b.count, b[valueEnd] != UInt8(ascii: "&"), b[valueEnd] != UInt8(ascii: "#") {
                valueEnd += 1
            }
            b.replaceSubrange(valueStart..<valueEnd, with: stars)
            i = valueStart + stars.count
        }
        return String(decoding: b, as: UTF8.self)
    }

    /// The URL without the password, for messages.
    public var redacted: String {
        switch self {
        case .sqlite(let p): return "sqlite:" + p
        case .postgres(let t): return t.redacted
        case .clickhouse(let t): return t.redacted
        }
    }

    public static func processEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        for key in [
            "PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSSLMODE", "PGCONNECT_TIMEOUT", "PGAPPNAME",
            "USER"
        ] {
            if let v = getenv(key) { env[key] = String(cString: v) }
        }
        return env
    }
}

/// A PostgreSQL server to connect to.
public struct PostgresTarget: Sendable, Equatable {
    /// A host name or address, or a directory holding the server's Unix socket.
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// disable, allow, prefer, require, verify-ca, verify-full (libpq's names).
    public var sslMode: String
    public var connectTimeoutSeconds: Int

    public var isUnixSocket: Bool { host.hasPrefix("/") }
    public var socketPath: String { host + "/.s.PGSQL.\(port)" }

    public var redacted: String {
        let h = isUnixSocket ? "" : (host.contains(":") ? "[\(host)]" : host)
        var s = "postgres://\(user)@\(h):\(port)/\(database)"
        if isUnixSocket { s += "?host=\(host)" }
        return s
    }

    /// Parses `postgres://[user[:password]@][host][:port][/database][?param=value&...]`.
    /// Query parameters `host`, `port`, `user`, `password`, `dbname`, `sslmode`,
    /// `connect_timeout` are understood; PG* variables fill the rest.
    public init(url: String, environment env: [String: String]) throws {
        func bad(_ why: String) -> StoreError {
            .badURL("invalid --db URL: \(why); expected postgres://user:password@host:5432/database")
        }
        var rest = Substring(url)
        if let r = rest.range(of: "://") { rest = rest[r.upperBound...] } else { rest = "" }
        var query: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard kv.count == 2, let k = PostgresTarget.percentDecode(kv[0]),
                    let v = PostgresTarget.percentDecode(kv[1])
                else {
                    throw bad("the parameter '\(pair)' is not name=value")
                }
                query[k] = v
            }
            rest = rest[..<q]
        }
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[rest.index(after: slash)...])
            rest = rest[..<slash]
        }
        var userInfo: Substring? = nil
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        var urlUser: String? = nil, urlPassword: String? = nil
        if let ui = userInfo {
            let parts = ui.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let u = PostgresTarget.percentDecode(parts[0]) else {
                throw bad("bad percent-encoding in the user name")
            }
            urlUser = u.isEmpty ? nil : u
            if parts.count == 2 {
                guard let p = PostgresTarget.percentDecode(parts[1]) else {
                    throw bad("bad percent-encoding in the password")
                }
                urlPassword = p
            }
        }
        var urlHost: String? = nil, urlPort: Int? = nil
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw bad("unclosed [ in the host") }
            urlHost = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()) else { throw bad("the port is not a number") }
                urlPort = p
            } else if !after.isEmpty {
                throw bad("unexpected text after the host")
            }
        } else if !rest.isEmpty {
            let parts = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let h = PostgresTarget.percentDecode(parts[0]) else { throw bad("bad percent-encoding in the host") }
            if !h.isEmpty { urlHost = h }
            if parts.count == 2 {
                guard let p = Int(parts[1]) else { throw bad("the port '\(parts[1])' is not a number") }
                urlPort = p
            }
        }
        guard let db = PostgresTarget.percentDecode(Substring(path)) else {
            throw bad("bad percent-encoding in the database name")
        }

        let hostValue = query["host"] ?? urlHost ?? env["PGHOST"] ?? "localhost"
        // libpq allows a list of hosts; Sniff takes the first.
        host = String(hostValue.split(separator: ",").first ?? "localhost")
        let portText = query["port"] ?? urlPort.map(String.init) ?? env["PGPORT"] ?? "5432"
        guard let p = Int(portText.split(separator: ",").first ?? "5432"), (1...65535).contains(p) else {
            throw bad("the port '\(portText)' is not between 1 and 65535")
        }
        port = p
        user = query["user"] ?? urlUser ?? env["PGUSER"] ?? env["USER"] ?? "postgres"
        password = query["password"] ?? urlPassword ?? env["PGPASSWORD"]
        let dbName = query["dbname"] ?? (db.isEmpty ? nil : db) ?? env["PGDATABASE"] ?? user
        database = dbName
        sslMode = (query["sslmode"] ?? env["PGSSLMODE"] ?? "prefer").lowercased()
        guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(sslMode) else {
            throw bad("sslmode '\(sslMode)' is not one of disable, allow, prefer, require, verify-ca, verify-full")
        }
        connectTimeoutSeconds = Int(query["connect_timeout"] ?? env["PGCONNECT_TIMEOUT"] ?? "") ?? 10
        if connectTimeoutSeconds <= 0 { connectTimeoutSeconds = 10 }
    }

    static func percentDecode(_ s: Substring) -> String? {
        var out: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let c = it.popFirst() {
            if c == UInt8(ascii: "%") {
                guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else {
                    return nil
                }
                out.append(v)
                it = it.dropFirst(2)
            } else {
                out.append(c)
            }
        }
        return String(validating: out, as: UTF8.self)
    }
}

/// Opens the store a URL names.
public enum StoreFactory {
    public static func open(_ url: StoreURL) -> any PacketStore {
        switch url {
        case .sqlite(let path): return SQLiteStore(path: path)
        case .postgres(let target): return PostgresStore(target: target)
        case .clickhouse(let target): return ClickHouseStore(target: target)
        }
    }

    public static func open(_ text: String) throws -> any PacketStore {
        open(try StoreURL(text))
    }
}

// Interpolating, printing, dumping or reflecting a target shows its redacted form, so
// that no log line or error detail can carry the password by accident.
extension PostgresTarget: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { redacted }
    public var debugDescription: String { redacted }
    public var customMirror: Mirror { Mirror(self, children: ["redacted": redacted]) }
}

extension StoreURL: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String { redacted }
    public var debugDescription: String { redacted }
}
