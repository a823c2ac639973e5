import CSQLite
import SniffCore
import SniffDecode

/// How SQLite's packets table (schema 7) keeps a `PacketRow`: addresses as their 4 or 16
/// network-order bytes (exact, and sorted as addresses within a family), MAC addresses
/// as 48-bit integers, the link as its LINKTYPE number, transport and app as the raw
/// values of `TransportKind` and `AppProtocol` (names in the `sniff_transports`,
/// `sniff_apps` and `sniff_links` tables and the `packets_v` view). SQLite stores a small
/// integer in 0-2 bytes, where the names took 3-8 and text addresses 7-39.
enum CompactPacket {
    static func bytes(_ a: IPAddress) -> [UInt8] {
        if a.isIPv6 {
            return (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? a.high : a.low) >> UInt64(56 - 8 * (i % 8))) }
        }
        return (0..<4).map { i in UInt8(truncatingIfNeeded: a.v4 >> UInt32(24 - 8 * i)) }
    }

    /// Writes the address's bytes at `p`; returns their count.
    @inline(__always)
    static func write(_ a: IPAddress, to p: UnsafeMutableRawPointer) -> Int {
        if a.isIPv6 {
            p.storeBytes(of: a.high.bigEndian, as: UInt64.self)
            (p + 8).storeBytes(of: a.low.bigEndian, as: UInt64.self)
            return 16
        }
        p.storeBytes(of: a.v4.bigEndian, as: UInt32.self)
        return 4
    }

    static func address(_ b: UnsafeRawBufferPointer) -> IPAddress? {
        func word(_ at: Int, _ n: Int) -> UInt64 { (0..<n).reduce(UInt64(0)) { $0 << 8 | UInt64(b[at + $1]) } }
        switch b.count {
        case 4: return IPAddress(v4: UInt32(word(0, 4)))
        case 16: return IPAddress(v6High: word(0, 8), low: word(8, 8))
        default: return nil
        }
    }

    /// The first and last address of a network, as bytes.
    static func range(_ n: IPNetwork) -> ([UInt8], [UInt8]) {
        let lo = bytes(n.address)
        var hi = lo
        let bits = hi.count * 8
        for bit in n.prefixLength..<bits { hi[bit / 8] |= UInt8(0x80) >> UInt8(bit % 8) }
        return (lo, hi)
    }

    /// The lookup tables behind the view: one source of truth, the Swift enumerations,
    /// written again on every migrate so that a newer Sniff's names appear.
    static func lookupRows() -> [(table: String, code: Int64, name: String)] {
        var rows: [(String, Int64, String)] = []
        for t in TransportKind.allCases { rows.append(("sniff_transports", Int64(t.rawValue), t.label)) }
        for a in AppProtocol.allCases { rows.append(("sniff_apps", Int64(a.rawValue), a.name)) }
        for l: UInt32 in [0, 1, 12, 14, 101, 108, 113, 228, 229, 276] {
            rows.append(("sniff_links", Int64(l), LinkType(l).name))
        }
        return rows
    }

    /// An address column of `packets` as text, in SQL the sqlite3 shell runs without
    /// Sniff's functions: dotted quads, IPv6 as eight groups of four hex digits.
    static func addressText(_ column: String) -> String {
        let hex = "hex(\(column))"
        func byte(_ i: Int) -> String {
            "((instr('0123456789ABCDEF', substr(\(hex), \(2 * i + 1), 1)) - 1) * 16 + instr('0123456789ABCDEF', substr(\(hex), \(2 * i + 2), 1)) - 1)"
        }
        let v4 = "printf('%d.%d.%d.%d', \(byte(0)), \(byte(1)), \(byte(2)), \(byte(3)))"
        let v6 = "lower(" + (0..<8).map { "substr(\(hex), \($0 * 4 + 1), 4)" }.joined(separator: " || ':' || ") + ")"
        return "CASE length(\(column)) WHEN 4 THEN \(v4) WHEN 16 THEN \(v6) END"
    }

    static func macText(_ column: String) -> String {
        let parts = (0..<6).map { "((\(column) >> \(40 - 8 * $0)) & 255)" }.joined(separator: ", ")
        return "CASE WHEN \(column) IS NOT NULL THEN printf('%02x:%02x:%02x:%02x:%02x:%02x', \(parts)) END"
    }
}

/// The packets table of schemas 7-10 (every field a column): what migration 7 writes and
/// migration 11 reads back.
enum PacketsV10 {
    /// `packets_v` of schemas 7-10: the packets with readable columns.
    static let viewSQL = """
        CREATE VIEW packets_v AS SELECT p.id, p.capture_id, p.sensor, p.n, p.ts,
            strftime('%Y-%m-%dT%H:%M:%S', p.ts / 1000000000, 'unixepoch') || '.' || printf('%09d', p.ts % 1000000000) || 'Z' AS time,
            p.len, p.caplen, p.iface, l.name AS link, \(CompactPacket.macText("p.eth_src")) AS eth_src, \(CompactPacket.macText("p.eth_dst")) AS eth_dst,
            p.vlan, p.ip, \(CompactPacket.addressText("p.src")) AS src, \(CompactPacket.addressText("p.dst")) AS dst, p.proto, t.name AS transport,
            p.sport, p.dport, p.seq, p.ack, p.tcp_flags, p.tcp_window, p.payload_len, p.icmp_type, p.icmp_code,
            p.dns_query, COALESCE(a.name, 'unknown') AS app,
            CASE p.app_payload WHEN 1 THEN 'payload' WHEN 0 THEN 'port' END AS app_source, p.flow_uid, p.info,
            p.raw IS NOT NULL AS has_raw
        FROM packets p LEFT JOIN sniff_links l ON l.code = p.link LEFT JOIN sniff_transports t ON t.code = p.transport
            LEFT JOIN sniff_apps a ON a.code = p.app
        """

    static var insertColumns: [String] { ["id"] + Schema.packetWriteColumns }

    static let insertSQL = MultiRowInsert.sql(table: "packets", columns: insertColumns, rows: 1)

    /// Binds one row to `insertSQL`. `scratch` (32 bytes) holds the addresses and `arena` the text
    /// until the statement runs (both bound without a copy).
    @inline(__always)
    static func bind(_ st: SQLiteStatement, id: Int64, captureID: Int64, sensor: String,
                     _ r: PacketRow, raw: UnsafeRawBufferPointer?, scratch: UnsafeMutableRawPointer, arena: BindArena) {
        // Parameter of column k of Schema.packetWriteColumns.
        @inline(__always) func p(_ k: Int32) -> Int32 { k + 2 }
        st.bind(1, id)
        st.bind(p(0), captureID); st.bind(p(1), sensor, arena: arena)
        st.bind(p(2), Int64(r.n)); st.bind(p(3), r.ts); st.bind(p(4), Int64(r.len)); st.bind(p(5), Int64(r.caplen))
        st.bind(p(6), Int64(r.iface)); st.bind(p(7), Int64(r.link.rawValue))
        if r.has(.ethSrc) { st.bind(p(8), Int64(r.ethSrc.value)) } else { st.bindNull(p(8)) }
        if r.has(.ethDst) { st.bind(p(9), Int64(r.ethDst.value)) } else { st.bindNull(p(9)) }
        if r.has(.vlan) { st.bind(p(10), Int64(r.vlan)) } else { st.bindNull(p(10)) }
        if r.has(.ip) {
            st.bind(p(11), Int64(r.ipVersion)); st.bind(p(14), Int64(r.proto))
            let n = CompactPacket.write(r.src, to: scratch)
            st.bindBlobStatic(p(12), UnsafeRawBufferPointer(start: scratch, count: n))
            let m = CompactPacket.write(r.dst, to: scratch + 16)
            st.bindBlobStatic(p(13), UnsafeRawBufferPointer(start: scratch + 16, count: m))
        } else {
            st.bindNull(p(11)); st.bindNull(p(12)); st.bindNull(p(13)); st.bindNull(p(14))
        }
        if r.transport == .none { st.bindNull(p(15)) } else { st.bind(p(15), Int64(r.transport.rawValue)) }
        if r.has(.ports) {
            st.bind(p(16), Int64(r.sport)); st.bind(p(17), Int64(r.dport))
        } else {
            st.bindNull(p(16)); st.bindNull(p(17))
        }
        if r.has(.tcp) {
            st.bind(p(18), Int64(r.seq)); st.bind(p(19), Int64(r.ack)); st.bind(p(20), Int64(r.tcpFlags));
            st.bind(p(21), Int64(r.window))
        } else {
            st.bindNull(p(18)); st.bindNull(p(19)); st.bindNull(p(20)); st.bindNull(p(21))
        }
        if r.has(.payloadLen) { st.bind(p(22), Int64(r.payloadLen)) } else { st.bindNull(p(22)) }
        if r.has(.icmp) {
            st.bind(p(23), Int64(r.icmpType)); st.bind(p(24), Int64(r.icmpCode))
        } else {
            st.bindNull(p(23)); st.bindNull(p(24))
        }
        if r.has(.dnsQuery), let q = r.dnsQuery { st.bind(p(25), q, arena: arena) } else { st.bindNull(p(25)) }
        if r.app == .unknown {
            st.bindNull(p(26)); st.bindNull(p(28))
        } else {
            st.bind(p(26), Int64(r.app.rawValue)); st.bind(p(28), r.has(.appPayload) ? 1 : 0)
        }
        if r.has(.flowUID), let u = r.flowUID { st.bind(p(27), u, arena: arena) } else { st.bindNull(p(27)) }
        if r.has(.info), let i = r.info { st.bind(p(29), i, arena: arena) } else { st.bindNull(p(29)) }
        if let raw { st.bindBlobStatic(p(30), raw) } else { st.bindNull(p(30)) }
    }

    /// "id, capture_id, ... info": what `read` expects.
    static let selectColumns = "id, " + Schema.packetColumns.joined(separator: ", ")

    /// Reads a row of `selectColumns` (the id at column 0).
    static func read(_ st: SQLiteStatement) -> StoredPacket {
        var r = PacketRow()
        var f: PacketRow.Fields = []
        @inline(__always) func c(_ k: Int32) -> Int32 { k + 1 }
        let captureID = st.int64(c(0))
        let sensor = st.text(c(1))
        r.n = UInt64(truncatingIfNeeded: st.int64(c(2)))
        r.ts = st.int64(c(3))
        r.len = UInt32(truncatingIfNeeded: st.int64(c(4)))
        r.caplen = UInt32(truncatingIfNeeded: st.int64(c(5)))
        r.iface = UInt32(truncatingIfNeeded: st.int64(c(6)))
        r.link = LinkType(UInt32(truncatingIfNeeded: st.int64(c(7))))
        if let m = st.optionalInt64(c(8)) { r.ethSrc = MACAddress(UInt64(bitPattern: m)); f.insert(.ethSrc) }
        if let m = st.optionalInt64(c(9)) { r.ethDst = MACAddress(UInt64(bitPattern: m)); f.insert(.ethDst) }
        if let v = st.optionalInt64(c(10)) { r.vlan = UInt16(truncatingIfNeeded: v); f.insert(.vlan) }
        if let v = st.optionalInt64(c(11)) {
            f.insert(.ip)
            r.ipVersion = UInt8(truncatingIfNeeded: v)
            r.src = CompactPacket.address(st.blob(c(12))) ?? .none
            r.dst = CompactPacket.address(st.blob(c(13))) ?? .none
            r.proto = UInt8(truncatingIfNeeded: st.int64(c(14)))
        }
        if let t = st.optionalInt64(c(15)) {
            r.transport = TransportKind(rawValue: UInt8(truncatingIfNeeded: t)) ?? .other
        }
        if let s = st.optionalInt64(c(16)) {
            f.insert(.ports)
            r.sport = UInt16(truncatingIfNeeded: s); r.dport = UInt16(truncatingIfNeeded: st.int64(c(17)))
        }
        if let s = st.optionalInt64(c(18)) {
            f.insert(.tcp)
            r.seq = UInt32(truncatingIfNeeded: s); r.ack = UInt32(truncatingIfNeeded: st.int64(c(19)))
            r.tcpFlags = UInt16(truncatingIfNeeded: st.int64(c(20)));
            r.window = UInt16(truncatingIfNeeded: st.int64(c(21)))
        }
        if let v = st.optionalInt64(c(22)) { r.payloadLen = UInt32(truncatingIfNeeded: v); f.insert(.payloadLen) }
        if let v = st.optionalInt64(c(23)) {
            f.insert(.icmp)
            r.icmpType = UInt8(truncatingIfNeeded: v); r.icmpCode = UInt8(truncatingIfNeeded: st.int64(c(24)))
        }
        if let q = st.optionalText(c(25)) { r.dnsQuery = q; f.insert(.dnsQuery) }
        if let a = st.optionalInt64(c(26)) {
            r.app = AppProtocol.stored(rawValue: UInt8(truncatingIfNeeded: a)) ?? .unknown
        }
        if let u = st.optionalText(c(27)) { r.flowUID = u; f.insert(.flowUID) }
        if st.optionalInt64(c(28)) == 1 { f.insert(.appPayload) }
        if let i = st.optionalText(c(29)) { r.info = i; f.insert(.info) }
        r.present = f
        return StoredPacket(sensor: sensor, captureID: captureID, row: r)
    }
}
