import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SniffCore

/// ClickHouse's HTTP interface: a statement in the body (or, for an INSERT, in the
/// `query` parameter with the rows in the body), credentials in the X-ClickHouse-User
/// and X-ClickHouse-Key headers, the database as the `database` parameter. A status
/// other than 200 carries the server's exception text.
final class ClickHouseHTTP: Sendable {
    let target: ClickHouseTarget
    let client: HTTPClient
    /// How long one statement may take before the store reports the server unreachable.
    let timeoutSeconds: Int64
    /// The largest answer read into memory.
    static let maxAnswer = 256 << 20

    init(target: ClickHouseTarget, timeoutSeconds: Int64 = 120) {
        self.target = target
        self.timeoutSeconds = timeoutSeconds
        var config = HTTPClient.Configuration(redirectConfiguration: .disallow,
                                              timeout: .init(connect: .seconds(10), read: .seconds(timeoutSeconds)))
        config.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    func shutdown() async { try? await client.shutdown() }

    /// Runs `sql` (with `body` as its data, for an INSERT … FORMAT) in `database`
    /// (the target's unless given) and returns the answer's bytes.
    @discardableResult
    func run(_ sql: String, body: [UInt8], database: String? = nil, what: String) async throws -> [UInt8] {
        try await run(sql, body: ByteBuffer(bytes: body), database: database, what: what)
    }

    /// As above, with the insert's rows in the buffer they were encoded into (sent as
    /// they are, not copied).
    @discardableResult
    func run(_ sql: String, body: ByteBuffer? = nil, database: String? = nil, what: String) async throws -> [UInt8] {
        var url = target.baseURL + "?database=" + ClickHouseHTTP.percentEncode(database ?? target.database)
        var request: HTTPClientRequest
        if let body {
            // Through a Distributed table, an insert returns only once every shard has
            // its rows, so a shard that is down fails it and the writer keeps the rows
            // (without it, the server queues them on its own disk and answers at once).
            // Plain tables ignore the setting.
            url += "&insert_distributed_sync=1&query=" + ClickHouseHTTP.percentEncode(sql)
            request = HTTPClientRequest(url: url)
            request.body = .bytes(body)
        } else {
            request = HTTPClientRequest(url: url)
            request.body = .bytes(ByteBuffer(string: sql))
        }
        request.method = .POST
        request.headers.add(name: "X-ClickHouse-User", value: target.user)
        if let p = target.password, !p.isEmpty { request.headers.add(name: "X-ClickHouse-Key", value: p) }
        request.headers.add(name: "User-Agent", value: "sniff")
        let response: HTTPClientResponse
        var answer: ByteBuffer
        do {
            response = try await client.execute(request, timeout: .seconds(timeoutSeconds))
            answer = try await response.body.collect(upTo: ClickHouseHTTP.maxAnswer)
        } catch {
            throw StoreError.unreachable(
                "cannot reach ClickHouse at \(target.redacted): \(ClickHouseHTTP.describe(error))",
                detail: "\(what) \(String(reflecting: error))")
        }
        let bytes = answer.readBytes(length: answer.readableBytes) ?? []
        guard response.status == .ok else {
            throw ClickHouseHTTP.failure(
                status: response.status, text: String(decoding: bytes.prefix(2000), as: UTF8.self),
                target: target, what: what)
        }
        return bytes
    }

    /// The rows of a SELECT, as text (TabSeparated; `\N` is nil).
    func rows(_ sql: String, what: String) async throws -> [[String?]] {
        let bytes = try await run(sql + " FORMAT TabSeparated", what: what)
        return ClickHouseHTTP.parseTSV(bytes)
    }

    /// The rows of a SELECT as typed cells: the answer names each column's type
    /// (TabSeparatedWithNamesAndTypes), and each text cell is read once by it.
    func cells(_ sql: String, what: String) async throws -> [[Cell]] {
        let rows = ClickHouseHTTP.parseTSV(try await run(sql + " FORMAT TabSeparatedWithNamesAndTypes", what: what))
        guard rows.count >= 2 else {
            throw StoreError.database(
                "ClickHouse answered without its column names and types", detail: "\(what): \(rows.count) lines")
        }
        let types = rows[1].map { ClickHouseHTTP.CellType($0 ?? "") }
        return try rows.dropFirst(2).map { row in
            guard row.count == types.count else {
                throw StoreError.database(
                    "ClickHouse answered a row of \(row.count) columns, not \(types.count)", detail: what)
            }
            return try zip(row, types).map { try $1.cell($0) }
        }
    }

    /// How a column's text becomes a `Cell`: whole numbers as `.int` (a UInt64 beyond
    /// Int64 keeps its bits, as the other readers do), anything else as text.
    enum CellType: Equatable {
        case int, text, null

        /// `type` as the server names it: `Nullable(…)` and `LowCardinality(…)` wrap
        /// the type of the values; `Nothing` is the type of a NULL literal.
        init(_ type: String) {
            var t = Substring(type)
            for wrapper in ["Nullable(", "LowCardinality("] where t.hasPrefix(wrapper) && t.hasSuffix(")") {
                t = t.dropFirst(wrapper.count).dropLast()
            }
            if t.hasPrefix("Int") || t.hasPrefix("UInt") {
                self = .int
            } else if t == "Nothing" {
                self = .null
            } else {
                self = .text
            }
        }

        func cell(_ text: String?) throws -> Cell {
            guard let text else { return .null }
            switch self {
            case .null: return .null
            case .text: return .text(text)
            case .int:
                if let v = Int64(text) { return .int(v) }
                if let v = UInt64(text) { return .int(Int64(bitPattern: v)) }
                throw StoreError.database(
                    "ClickHouse answered a number Sniff cannot read", detail: String(text.prefix(40)))
            }
        }
    }

    /// The first value of a SELECT's first row; nil without a row, or when it is NULL.
    func value(_ sql: String, what: String) async throws -> String? {
        try await rows(sql, what: what).first?.first ?? nil
    }

    /// `value` as a number (a count, a sum); nil when there is none.
    func int(_ sql: String, what: String) async throws -> Int64? {
        try await value(sql, what: what).flatMap { Int64($0) }
    }

    /// The server's exception as a StoreError: a login it refused, a database that is
    /// missing or a server going down are worth retrying (the journal keeps the rows
    /// meanwhile); anything else is the statement's fault.
    static func failure(status: HTTPResponseStatus, text: String, target: ClickHouseTarget, what: String) -> StoreError
    {
        let message = text.split(separator: "\n").first.map(String.init) ?? "HTTP \(status.code)"
        // "Code: 516, e.displayText() = DB::Exception: ..." (the format of 18.16 to today).
        var code = 0
        if message.hasPrefix("Code: ") {
            code = Int(message.dropFirst(6).prefix { $0.isNumber }) ?? 0
        }
        let short = message.range(of: "DB::Exception: ").map { String(message[$0.upperBound...]) } ?? message
        switch code {
        case 192, 193, 194, 195, 516:
            return .unreachable(
                "ClickHouse at \(target.redacted) refused the login: \(short); check the user and password in --db",
                detail: "\(what) code \(code)")
        case 81:
            return .unreachable("ClickHouse at \(target.redacted): \(short); create it (CREATE DATABASE \(target.database)) or run: sniff db migrate",
                                detail: "\(what) code \(code)")
        case 202, 210, 241, 242, 252, 279:
            // Too many simultaneous queries, network error, memory limit, read-only
            // table (e.g. ZooKeeper gone), too many parts, no shard of a Distributed
            // table reachable: later may work.
            return .unreachable("ClickHouse at \(target.redacted): \(short)", detail: "\(what) code \(code)")
        default:
            if status.code >= 500 && code == 0 {
                return .unreachable(
                    "ClickHouse at \(target.redacted) answered HTTP \(status.code)", detail: "\(what) \(message)")
            }
            return .database("ClickHouse: \(short)", detail: "\(what) code \(code)")
        }
    }

    static func describe(_ error: Error) -> String {
        if let e = error as? HTTPClientError {
            switch e {
            case .connectTimeout: return "the connection timed out"
            case .deadlineExceeded, .readTimeout: return "no answer in time"
            case .remoteConnectionClosed: return "the server closed the connection"
            default: return "\(e)"
            }
        }
        return "\(error)"
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%"
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(b >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(b & 15)]))
            }
        }
        return out
    }

    /// TabSeparated: rows end in \n, values are separated by \t, and \\, \t, \n, \0,
    /// \b, \f, \r, \' are escaped; \N alone is NULL.
    static func parseTSV(_ bytes: [UInt8]) -> [[String?]] {
        var rows: [[String?]] = []
        var row: [String?] = []
        var field: [UInt8] = []
        var isNull = false
        var i = 0
        func endField() {
            row.append(isNull && field.isEmpty ? nil : String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true); isNull = false
        }
        while i < bytes.count {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "\t"): endField()
            case UInt8(ascii: "\n"): endField(); rows.append(row); row = []
            case UInt8(ascii: "\\") where i + 1 < bytes.count:
                i += 1
                switch bytes[i] {
                case UInt8(ascii: "N") where field.isEmpty: isNull = true
                case UInt8(ascii: "t"): field.append(9)
                case UInt8(ascii: "n"): field.append(10)
                case UInt8(ascii: "r"): field.append(13)
                case UInt8(ascii: "0"): field.append(0)
                case UInt8(ascii: "b"): field.append(8)
                case UInt8(ascii: "f"): field.append(12)
                default: field.append(bytes[i])
                }
            default: field.append(b)
            }
            i += 1
        }
        if !field.isEmpty || !row.isEmpty { endField(); rows.append(row) }
        return rows
    }
}
