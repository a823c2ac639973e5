import CSQLite
import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// A thin owner of one `sqlite3*`: open, exec, prepare. Used by one thread at a time
/// (its executor's); SQLite is opened in multi-thread mode, with no mutex of its own.
final class SQLiteConnection {
    let db: OpaquePointer
    let path: String
    var statementCache: [String: SQLiteStatement] = [:]
    /// The writer's keys of the rows after the last indexed segment, by table
    /// (`SegmentedTable.kept`).
    var tailKeys: [String: TailKeys] = [:]
    /// The codes of `sniff_origins` and `sniff_macs` this connection read or wrote.
    let packetCodes = PacketCodeCache()

    /// Process-wide settings, made once before SQLite's first use: no memory
    /// statistics, which took a global mutex and a counter update around every one of
    /// SQLite's allocations (several per row written). Sniff never reads them.
    private static let configured: Bool = {
        sniff_sqlite_disable_memstatus() == SQLITE_OK
    }()

    init(path: String, readOnly: Bool = false) throws {
        _ = SQLiteConnection.configured
        var handle: OpaquePointer? = nil
        let flags =
            (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let msg = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let handle { sqlite3_close_v2(handle) }
            throw StoreError.unreachable(
                "cannot open the SQLite database \(path): \(msg); check that the directory exists and is writable",
                detail: "sqlite3_open_v2 rc=\(rc)")
        }
        db = handle
        self.path = path
        sqlite3_busy_timeout(db, 10_000)
        sqlite3_extended_result_codes(db, 1)
        SQLiteFunctions.register(on: db)
    }

    deinit {
        statementCache.removeAll()
        sqlite3_close_v2(db)
    }

    var errorMessage: String { String(cString: sqlite3_errmsg(db)) }

    func error(_ what: String, rc: Int32) -> StoreError {
        let msg = errorMessage
        let primary = rc & 0xFF
        if primary == SQLITE_BUSY || primary == SQLITE_LOCKED || primary == SQLITE_FULL || primary == SQLITE_IOERR
            || primary == SQLITE_CANTOPEN {
            return .unreachable("SQLite \(path): \(msg)", detail: "\(what) rc=\(rc)")
        }
        return .database("SQLite \(path): \(msg)", detail: "\(what) rc=\(rc)")
    }

    /// Runs SQL text without parameters (schema, pragmas, transactions).
    func exec(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>? = nil
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? errorMessage
            sqlite3_free(err)
            let e = error(sql.prefix(60).description, rc: rc)
            if case .unreachable = e { throw e }
            throw StoreError.database("SQLite \(path): \(msg)", detail: "\(sql.prefix(200)) rc=\(rc)")
        }
    }

    func prepare(_ sql: String) throws -> SQLiteStatement {
        var stmt: OpaquePointer? = nil
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error("prepare \(sql.prefix(80))", rc: rc) }
        return SQLiteStatement(stmt, connection: self)
    }

    var changes: Int { Int(sqlite3_changes(db)) }

    /// Runs one query with bound values and collects rows with `read`.
    func query<T>(_ sql: String, _ binds: [SQLValue], _ read: (SQLiteStatement) throws -> T) throws -> [T] {
        let st = try prepare(sql)
        try st.bind(binds)
        var out: [T] = []
        while try st.step() { out.append(try read(st)) }
        return out
    }

    func scalar(_ sql: String, _ binds: [SQLValue] = []) throws -> Int64? {
        try query(sql, binds) { $0.isNull(0) ? nil : $0.int64(0) }.first ?? nil
    }
}

/// A prepared statement; binds are 1-based, columns 0-based, as in the C API.
final class SQLiteStatement {
    let stmt: OpaquePointer
    unowned let connection: SQLiteConnection

    init(_ stmt: OpaquePointer, connection: SQLiteConnection) {
        self.stmt = stmt
        self.connection = connection
    }

    deinit { sqlite3_finalize(stmt) }

    @inline(__always) func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(stmt, i, v) }
    @inline(__always) func bindNull(_ i: Int32) { sqlite3_bind_null(stmt, i) }

    /// Binds bytes that stay valid until the next `step` (SQLITE_STATIC: no copy).
    @inline(__always) func bindStatic(_ i: Int32, _ p: UnsafeRawPointer, _ count: Int) {
        sqlite3_bind_text(stmt, i, p.assumingMemoryBound(to: CChar.self), Int32(count), sniff_sqlite_static())
    }

    /// Binds bytes as a BLOB that stay valid until the next `step` (no copy).
    @inline(__always) func bindBlobStatic(_ i: Int32, _ p: UnsafeRawBufferPointer) {
        // A zero-length buffer may have no address, which SQLite would take for NULL.
        if let base = p.baseAddress, p.count > 0 {
            sqlite3_bind_blob(stmt, i, base, Int32(p.count), sniff_sqlite_static())
        } else {
            sqlite3_bind_zeroblob(stmt, i, 0)
        }
    }

    /// Binds a copy of `p` that SQLite owns (SQLITE_TRANSIENT).
    func bindBlobCopy(_ i: Int32, _ p: UnsafeRawBufferPointer) {
        sqlite3_bind_blob(stmt, i, p.baseAddress, Int32(p.count), sniff_sqlite_transient())
    }

    func bind(_ i: Int32, _ s: String) {
        sqlite3_bind_text(stmt, i, s, -1, sniff_sqlite_transient())
    }

    /// Binds text copied into `arena` (no copy by SQLite, no allocation), valid until
    /// the arena is reset after the next `step`; text too long for the arena's room is
    /// bound as a copy SQLite owns.
    @inline(__always)
    func bind(_ i: Int32, _ s: String, arena: BindArena) {
        var s = s
        s.withUTF8 { bind(i, bytes: $0, arena: arena) }
    }

    /// Binds UTF-8 `bytes` as text through `arena`, as `bind(_:_:arena:)` binds a String.
    @inline(__always)
    func bind(_ i: Int32, bytes u: UnsafeBufferPointer<UInt8>, arena: BindArena) {
        if let p = arena.copy(u) {
            sqlite3_bind_text(stmt, i, p.assumingMemoryBound(to: CChar.self), Int32(u.count), sniff_sqlite_static())
        } else {
            sqlite3_bind_text(stmt, i, UnsafeRawPointer(u.baseAddress)?.assumingMemoryBound(to: CChar.self),
                              Int32(u.count), sniff_sqlite_transient())
        }
    }

    @inline(__always)
    func bind(_ i: Int32, _ s: String?, arena: BindArena) {
        if let s { bind(i, s, arena: arena) } else { bindNull(i) }
    }

    func bind(_ i: Int32, _ s: String?) {
        if let s { bind(i, s) } else { bindNull(i) }
    }

    func bind(_ values: [SQLValue]) throws {
        for (k, v) in values.enumerated() {
            switch v {
            case .int(let x): bind(Int32(k + 1), x)
            case .text(let s): bind(Int32(k + 1), s)
            case .blob(let v):
                _ = v.withUnsafeBytes {
                    sqlite3_bind_blob(stmt, Int32(k + 1), $0.baseAddress, Int32(v.count), sniff_sqlite_transient())
                }
            }
        }
    }

    /// Steps once: true when a row is available, false when done.
    @inline(__always)
    func step() throws -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw connection.error("step", rc: rc)
    }

    /// Runs a statement that returns no rows, then resets it for reuse.
    @inline(__always)
    func run() throws {
        let rc = sqlite3_step(stmt)
        sqlite3_reset(stmt)
        if rc != SQLITE_DONE && rc != SQLITE_ROW { throw connection.error("step", rc: rc) }
    }

    /// Resets for another run with the same bindings.
    @inline(__always) func rewind() { sqlite3_reset(stmt) }

    func reset() {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
    }

    @inline(__always) func isNull(_ c: Int32) -> Bool { sqlite3_column_type(stmt, c) == SQLITE_NULL }
    @inline(__always) func int64(_ c: Int32) -> Int64 { sqlite3_column_int64(stmt, c) }
    func optionalInt64(_ c: Int32) -> Int64? { isNull(c) ? nil : int64(c) }

    func text(_ c: Int32) -> String {
        guard let p = sqlite3_column_text(stmt, c) else { return "" }
        let n = Int(sqlite3_column_bytes(stmt, c))
        return String(decoding: UnsafeRawBufferPointer(start: p, count: n), as: UTF8.self)
    }

    func optionalText(_ c: Int32) -> String? { isNull(c) ? nil : text(c) }

    func isBlob(_ c: Int32) -> Bool { sqlite3_column_type(stmt, c) == SQLITE_BLOB }

    /// Every column of the current row as cells (the host and process queries).
    func cells() -> [Cell] {
        (0..<sqlite3_column_count(stmt)).map { c in
            switch sqlite3_column_type(stmt, c) {
            case SQLITE_NULL: return .null
            case SQLITE_INTEGER: return .int(int64(c))
            case SQLITE_BLOB: return .blob(Array(blob(c)))
            default: return .text(text(c))
            }
        }
    }

    /// A BLOB column's bytes, valid until the next `step` or column call.
    func blob(_ c: Int32) -> UnsafeRawBufferPointer {
        let p = sqlite3_column_blob(stmt, c)
        let n = Int(sqlite3_column_bytes(stmt, c))
        guard let p, n > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: p, count: n)
    }
}

/// SQL functions Sniff adds to SQLite: `sniff_in_network(address_text, cidr_text)`,
/// `sniff_address_bytes(address_text)`, an address's 4 or 16 bytes (`CompactPacket`; NULL
/// for text that is no address), and `sniff_uid_bytes(uid_text)`, a flow uid's 13 bytes
/// (`FlowUIDBytes`; NULL for anything else), with which migrations convert text columns
/// in SQL.
enum SQLiteFunctions {
    static func register(on db: OpaquePointer) {
        let deterministic = SQLITE_UTF8 | SQLITE_DETERMINISTIC
        sqlite3_create_function_v2(db, "sniff_uid_bytes", 1, deterministic, nil, { ctx, argc, argv in
            guard let argv, argc == 1, sqlite3_value_type(argv[0]) == SQLITE_TEXT,
                  let t = sqlite3_value_text(argv[0]) else {
                sqlite3_result_null(ctx)
                return
            }
            let n = Int(sqlite3_value_bytes(argv[0]))
            var bytes: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &bytes) { p in
                if FlowUIDBytes.write(UnsafeBufferPointer(start: t, count: n), to: p.baseAddress!) {
                    sqlite3_result_blob(ctx, p.baseAddress, Int32(FlowUIDBytes.count), sniff_sqlite_transient())
                } else {
                    sqlite3_result_null(ctx)
                }
            }
        }, nil, nil, nil)
        sqlite3_create_function_v2(db, "sniff_address_bytes", 1, deterministic, nil, { ctx, argc, argv in
            guard let argv, argc == 1, let t = sqlite3_value_text(argv[0]), let a = IPAddress(String(cString: t)) else {
                sqlite3_result_null(ctx)
                return
            }
            var bytes: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &bytes) { p in
                let n = CompactPacket.write(a, to: p.baseAddress!)
                sqlite3_result_blob(ctx, p.baseAddress, Int32(n), sniff_sqlite_transient())
            }
        }, nil, nil, nil)
        sqlite3_create_function_v2(db, "sniff_in_network", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nil, { ctx, argc, argv in
            guard let argv, argc == 2,
                  let a = sqlite3_value_text(argv[0]), let n = sqlite3_value_text(argv[1]) else {
                sqlite3_result_int(ctx, 0)
                return
            }
            let addressText = String(cString: a)
            // The network is the same for every row: parse it once per statement.
            let net: IPNetwork?
            if let cached = sqlite3_get_auxdata(ctx, 1) {
                net = Unmanaged<NetworkBox>.fromOpaque(cached).takeUnretainedValue().network
            } else {
                let parsed = IPNetwork(String(cString: n))
                let box = Unmanaged.passRetained(NetworkBox(parsed))
                sqlite3_set_auxdata(ctx, 1, box.toOpaque(), { p in
                    if let p { Unmanaged<NetworkBox>.fromOpaque(p).release() }
                })
                net = parsed
            }
            guard let net, let addr = IPAddress(addressText) else { sqlite3_result_int(ctx, 0); return }
            sqlite3_result_int(ctx, net.contains(addr) ? 1 : 0)
        }, nil, nil, nil)
    }
}

final class NetworkBox {
    let network: IPNetwork?
    init(_ n: IPNetwork?) { network = n }
}

/// Bytes bound to a statement without a copy by SQLite (SQLITE_STATIC) until its next
/// `step`: the writer copies a batch's text into it instead of handing SQLite copies to
/// allocate and free (SQLITE_TRANSIENT: a malloc, a copy and a free per string, about 5%
/// of the writer's time on flows of 20 text columns). Reset after every step. Never
/// grows while bound pointers are alive: what does not fit is bound as a copy.
final class BindArena {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private var used = 0

    init(capacity: Int = 1 << 18) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    /// A copy of `bytes` in the arena, or nil when it has no room. Never NULL for empty
    /// text (SQLite would store NULL).
    @inline(__always)
    func copy(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeRawPointer? {
        let n = bytes.count
        guard used + n <= capacity else { return nil }
        let p = base + used
        if n > 0, let b = bytes.baseAddress { p.copyMemory(from: b, byteCount: n) }
        used += n
        return UnsafeRawPointer(p)
    }

    /// `n` bytes of the arena for the caller to fill (a cold BLOB), or nil when it has
    /// no room.
    @inline(__always)
    func reserve(_ n: Int) -> UnsafeMutableRawPointer? {
        guard used + n <= capacity else { return nil }
        defer { used += n }
        return base + used
    }

    @inline(__always) func reset() { used = 0 }
}

enum MultiRowInsert {
    /// Where one row's bytes bound without a copy live until its statement runs: 32
    /// bytes of scratch (two addresses) and the statement's text arena.
    struct Space {
        let scratch: UnsafeMutableRawPointer
        let arena: BindArena
    }

    /// Inserts rows 0..<count: full statements of `per` rows through `many`, the rest
    /// one by one through `one`. `bind(statement, slot, row, space)` binds row `row` as
    /// the statement's `slot`th row. Inlined so that `bind` is too (it runs per row).
    @inline(__always)
    static func run(count: Int, per: Int, one: SQLiteStatement, many: SQLiteStatement,
                    bind: (SQLiteStatement, Int, Int, Space) -> Void) throws {
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: 32 * per, alignment: 8)
        defer { scratch.deallocate() }
        let arena = BindArena()
        var i = 0
        while i < count {
            let k = count - i >= per ? per : 1
            let st = k == per ? many : one
            for j in 0..<k { bind(st, j, i + j, Space(scratch: scratch + 32 * j, arena: arena)) }
            try st.run()
            arena.reset()
            i += k
        }
    }

    /// `INSERT INTO table (columns) VALUES (?1, ..., ?k), (?k+1, ..., ?2k), ...` for
    /// `rows` rows: row j's column c is parameter j * columns.count + c + 1, so one
    /// row's binding code serves every row given its base.
    static func sql(table: String, columns: [String], rows: Int) -> String {
        let k = columns.count
        let values = (0..<rows).map { j in
            "(" + (1...k).map { "?\(j * k + $0)" }.joined(separator: ", ") + ")"
        }
        return "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES " + values.joined(separator: ", ")
    }
}
