import SniffCore
import SniffDecode

/// SQLite's packets table since schema 23: the columns a filter, a key run, the pcap
/// export or a sort reads stay columns (addresses as bytes, transport and app as codes,
/// see `CompactPacket`); the capture and sensor are one code, `origin`, and the MAC
/// addresses codes too (`PacketCodes`); the rest of a `PacketRow` is one `cold` BLOB
/// (`PacketCold`). 18 parameters per row where version 10 bound 31: the writer's time
/// went to binding columns one by one.
enum PacketTable {
    static let columns = ["origin"] + PacketBody.columns + ["mac_src", "mac_dst"]
    static let createSQL = """
        CREATE TABLE packets (
            id INTEGER PRIMARY KEY, origin INTEGER NOT NULL, ts INTEGER NOT NULL,
            len INTEGER NOT NULL, caplen INTEGER NOT NULL, link INTEGER NOT NULL, src BLOB, dst BLOB, transport INTEGER,
            sport INTEGER, dport INTEGER, app INTEGER, dns_query TEXT, flow_uid TEXT, cold BLOB NOT NULL,
            mac_src INTEGER, mac_dst INTEGER, raw BLOB)
        """

    static var insertColumns: [String] { ["id"] + columns + ["raw"] }
    static let insertSQL = MultiRowInsert.sql(table: "packets", columns: insertColumns, rows: 1)
    /// Rows per statement of the writer's INSERT: SQLite's per-statement work (step,
    /// program start, cursor open, halt, reset) is paid once per 64 rows.
    static let rowsPerInsert = 64
    static let insertManySQL = MultiRowInsert.sql(table: "packets", columns: insertColumns, rows: rowsPerInsert)
    static let parametersPerRow = Int32(columns.count + 2)

    /// Binds one row to `insertSQL`, or to the row of `insertManySQL` whose first
    /// parameter is `base + 1`. `scratch` (32 bytes) holds the addresses and `arena`
    /// the text and the cold BLOB until the statement runs (all bound without a copy).
    @inline(__always)
    static func bind(_ st: SQLiteStatement, base: Int32 = 0, id: Int64, origin: Int64, _ macs: (src: Int64?, dst: Int64?),
                     _ r: PacketRow, raw: UnsafeRawBufferPointer?, scratch: UnsafeMutableRawPointer, arena: BindArena) {
        st.bind(base + 1, id); st.bind(base + 2, origin)
        PacketBody.bind(st, at: base + 3, r, macsInCold: false, scratch: scratch, arena: arena)
        let k = base + 3 + Int32(PacketBody.columns.count)
        if let m = macs.src { st.bind(k, m) } else { st.bindNull(k) }
        if let m = macs.dst { st.bind(k + 1, m) } else { st.bindNull(k + 1) }
        if let raw { st.bindBlobStatic(k + 2, raw) } else { st.bindNull(k + 2) }
    }

    /// "id, origin, ts, ... mac_dst": what `read` expects.
    static let selectColumns = "id, " + columns.joined(separator: ", ")
    /// Where `ts` is in `selectColumns`.
    static let tsColumn = Int32(1 + columns.firstIndex(of: "ts")!)

    /// Reads a row of `selectColumns` (the id at column 0); the codes through the
    /// statement's connection (`PacketCodeCache`).
    static func read(_ st: SQLiteStatement) -> StoredPacket {
        let codes = st.connection.packetCodes
        let (captureID, sensor) = codes.origin(st.int64(1), st.connection)
        var r = PacketBody.read(st, from: 2)
        let k = Int32(2 + PacketBody.columns.count)
        if let c = st.optionalInt64(k), let m = codes.mac(c, st.connection) {
            r.ethSrc = MACAddress(m); r.present.insert(.ethSrc)
        }
        if let c = st.optionalInt64(k + 1), let m = codes.mac(c, st.connection) {
            r.ethDst = MACAddress(m); r.present.insert(.ethDst)
        }
        return StoredPacket(sensor: sensor, captureID: captureID, row: r)
    }

    /// `packets_v`: the packets with every field as a readable column, for people in
    /// the sqlite3 shell (the same columns as versions 7-22); the cold BLOB is taken
    /// apart by `PacketCold.viewColumns`, the codes looked up in their tables.
    static let viewSQL = PacketBody.viewSQL(
        origin: ("o.capture_id", "o.sensor"), macs: ("ms.mac", "md.mac"),
        joins: "LEFT JOIN sniff_origins o ON o.code = p.origin LEFT JOIN sniff_macs ms ON ms.code = p.mac_src "
            + "LEFT JOIN sniff_macs md ON md.code = p.mac_dst")
}

/// The packets table of schemas 11-22: capture id and sensor in every row, the MAC
/// addresses in the cold BLOB. What migrations 11-22 write and migration 23 reads back.
enum PacketsV22 {
    static let columns = ["capture_id", "sensor"] + PacketBody.columns
    static let createSQL = """
        CREATE TABLE packets (
            id INTEGER PRIMARY KEY, capture_id INTEGER NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL,
            len INTEGER NOT NULL, caplen INTEGER NOT NULL, link INTEGER NOT NULL, src BLOB, dst BLOB, transport INTEGER,
            sport INTEGER, dport INTEGER, app INTEGER, dns_query TEXT, flow_uid TEXT, cold BLOB NOT NULL, raw BLOB)
        """
    static let insertSQL = MultiRowInsert.sql(table: "packets", columns: ["id"] + columns + ["raw"], rows: 1)

    static func bind(_ st: SQLiteStatement, id: Int64, captureID: Int64, sensor: String,
                     _ r: PacketRow, raw: UnsafeRawBufferPointer?, scratch: UnsafeMutableRawPointer, arena: BindArena) {
        st.bind(1, id); st.bind(2, captureID); st.bind(3, sensor, arena: arena)
        PacketBody.bind(st, at: 4, r, macsInCold: true, scratch: scratch, arena: arena)
        let k = 4 + Int32(PacketBody.columns.count)
        if let raw { st.bindBlobStatic(k, raw) } else { st.bindNull(k) }
    }

    static let selectColumns = "id, " + columns.joined(separator: ", ")

    static func read(_ st: SQLiteStatement) -> StoredPacket {
        StoredPacket(sensor: st.text(2), captureID: st.int64(1), row: PacketBody.read(st, from: 3))
    }

    static let viewSQL = PacketBody.viewSQL(
        origin: ("p.capture_id", "p.sensor"), macs: ("p.eth_src", "p.eth_dst"), joins: "")
}

/// The columns from `ts` to `cold` that the packets tables of versions 11-22 and 23
/// share, bound and read alike.
enum PacketBody {
    static let columns = [
        "ts", "len", "caplen", "link", "src", "dst", "transport", "sport", "dport", "app", "dns_query", "flow_uid", "cold",
    ]

    /// Binds `columns` to parameters `k`, `k + 1`, ...; the MACs go into the cold BLOB
    /// only with `macsInCold` (versions 11-22).
    @inline(__always)
    static func bind(_ st: SQLiteStatement, at k: Int32, _ r: PacketRow, macsInCold: Bool,
                     scratch: UnsafeMutableRawPointer, arena: BindArena) {
        st.bind(k, r.ts); st.bind(k + 1, Int64(r.len)); st.bind(k + 2, Int64(r.caplen))
        st.bind(k + 3, Int64(r.link.rawValue))
        if r.has(.ip) {
            let n = CompactPacket.write(r.src, to: scratch)
            st.bindBlobStatic(k + 4, UnsafeRawBufferPointer(start: scratch, count: n))
            let m = CompactPacket.write(r.dst, to: scratch + 16)
            st.bindBlobStatic(k + 5, UnsafeRawBufferPointer(start: scratch + 16, count: m))
        } else {
            st.bindNull(k + 4); st.bindNull(k + 5)
        }
        if r.transport == .none { st.bindNull(k + 6) } else { st.bind(k + 6, Int64(r.transport.rawValue)) }
        if r.has(.ports) {
            st.bind(k + 7, Int64(r.sport)); st.bind(k + 8, Int64(r.dport))
        } else {
            st.bindNull(k + 7); st.bindNull(k + 8)
        }
        if r.app == .unknown { st.bindNull(k + 9) } else { st.bind(k + 9, Int64(r.app.rawValue)) }
        if r.has(.dnsQuery), let q = r.dnsQuery { st.bind(k + 10, q, arena: arena) } else { st.bindNull(k + 10) }
        if r.has(.flowUID), let u = r.flowUID {
            FlowUIDBytes.bind(st, k + 11, u, arena: arena)
        } else {
            st.bindNull(k + 11)
        }
        if r.has(.info), var info = r.info {
            info.withUTF8 { PacketCold.bind(st, k + 12, r, info: $0, macs: macsInCold, arena: arena) }
        } else {
            PacketCold.bind(st, k + 12, r, info: nil, macs: macsInCold, arena: arena)
        }
    }

    /// Reads `columns` from column `k` on (the cold BLOB's MACs when it has them).
    static func read(_ st: SQLiteStatement, from k: Int32) -> PacketRow {
        var r = PacketRow()
        var f: PacketRow.Fields = []
        r.ts = st.int64(k)
        r.len = UInt32(truncatingIfNeeded: st.int64(k + 1))
        r.caplen = UInt32(truncatingIfNeeded: st.int64(k + 2))
        r.link = LinkType(UInt32(truncatingIfNeeded: st.int64(k + 3)))
        if !st.isNull(k + 4) {
            r.src = CompactPacket.address(st.blob(k + 4)) ?? .none
            r.dst = CompactPacket.address(st.blob(k + 5)) ?? .none
        }
        if let t = st.optionalInt64(k + 6) {
            r.transport = TransportKind(rawValue: UInt8(truncatingIfNeeded: t)) ?? .other
        }
        if let s = st.optionalInt64(k + 7) {
            f.insert(.ports)
            r.sport = UInt16(truncatingIfNeeded: s); r.dport = UInt16(truncatingIfNeeded: st.int64(k + 8))
        }
        if let a = st.optionalInt64(k + 9) {
            r.app = AppProtocol.stored(rawValue: UInt8(truncatingIfNeeded: a)) ?? .unknown
        }
        if let q = st.optionalText(k + 10) { r.dnsQuery = q; f.insert(.dnsQuery) }
        if let u = FlowUIDBytes.read(st, k + 11) { r.flowUID = u; f.insert(.flowUID) }
        r.present = f
        PacketCold.read(st.blob(k + 12), into: &r)
        return r
    }

    /// `packets_v` over a packets table whose capture, sensor and MACs (as 48-bit
    /// integers) are the given expressions, after `joins`.
    static func viewSQL(origin: (String, String), macs: (String, String), joins: String) -> String {
        """
        CREATE VIEW packets_v AS SELECT p.id, \(origin.0) AS capture_id, \(origin.1) AS sensor, p.n, p.ts,
            strftime('%Y-%m-%dT%H:%M:%S', p.ts / 1000000000, 'unixepoch') || '.' || printf('%09d', p.ts % 1000000000) || 'Z' AS time,
            p.len, p.caplen, p.iface, l.name AS link, \(CompactPacket.macText(macs.0)) AS eth_src,
            \(CompactPacket.macText(macs.1)) AS eth_dst, p.vlan, p.ip, \(CompactPacket.addressText("p.src")) AS src,
            \(CompactPacket.addressText("p.dst")) AS dst, p.proto, t.name AS transport, p.sport, p.dport, p.seq, p.ack,
            p.tcp_flags, p.tcp_window, p.payload_len, p.icmp_type, p.icmp_code, p.dns_query, COALESCE(a.name, 'unknown') AS app,
            CASE WHEN p.app IS NOT NULL THEN CASE p.app_payload WHEN 1 THEN 'payload' ELSE 'port' END END AS app_source,
            \(FlowUIDBytes.viewText("p.flow_uid")) AS flow_uid, p.info, p.raw IS NOT NULL AS has_raw
        FROM (\(PacketCold.viewColumns)) p \(joins) LEFT JOIN sniff_links l ON l.code = p.link
            LEFT JOIN sniff_transports t ON t.code = p.transport LEFT JOIN sniff_apps a ON a.code = p.app
        """
    }
}

/// The `cold` BLOB of a packet row, layout version 1. Big-endian; sections present
/// only when their flag is set, in this order:
///
/// | bytes | what |
/// |---|---|
/// | 1 | layout version (1) |
/// | 2 | flags (bits below) |
/// | 4, or 8 with bit 8 | n, the frame number |
/// | 4 (bit 9) | iface (absent: 0) |
/// | 6 (bit 0) | eth_src (versions 11-22; since 23 a code in `mac_src`) |
/// | 6 (bit 1) | eth_dst (likewise, `mac_dst`) |
/// | 2 (bit 2) | vlan |
/// | 1 + 1 (bit 3) | ip version, IP protocol |
/// | 4 + 4 + 2 + 2 (bit 4) | seq, ack, tcp_flags, tcp_window |
/// | 4 (bit 5) | payload_len |
/// | 1 + 1 (bit 6) | icmp_type, icmp_code |
/// | rest (bit 10) | info, UTF-8 |
///
/// Bit 7: the app came from the payload (`app_source` "payload"; else "port").
enum PacketCold {
    static let version: UInt8 = 1

    enum Bit {
        static let ethSrc: UInt16 = 1 << 0, ethDst: UInt16 = 1 << 1, vlan: UInt16 = 1 << 2, ip: UInt16 = 1 << 3
        static let tcp: UInt16 = 1 << 4, payloadLen: UInt16 = 1 << 5, icmp: UInt16 = 1 << 6, appPayload: UInt16 = 1 << 7
        static let wideN: UInt16 = 1 << 8, iface: UInt16 = 1 << 9, info: UInt16 = 1 << 10
    }

    /// The flags of `r`, and the BLOB's size with `infoBytes` of Info line.
    @inline(__always)
    static func layout(_ r: PacketRow, infoBytes: Int?, macs: Bool) -> (flags: UInt16, size: Int) {
        var fl: UInt16 = 0
        var n = 3
        if r.n > UInt64(UInt32.max) { fl |= Bit.wideN; n += 8 } else { n += 4 }
        if r.iface != 0 { fl |= Bit.iface; n += 4 }
        if macs && r.has(.ethSrc) { fl |= Bit.ethSrc; n += 6 }
        if macs && r.has(.ethDst) { fl |= Bit.ethDst; n += 6 }
        if r.has(.vlan) { fl |= Bit.vlan; n += 2 }
        if r.has(.ip) { fl |= Bit.ip; n += 2 }
        if r.has(.tcp) { fl |= Bit.tcp; n += 12 }
        if r.has(.payloadLen) { fl |= Bit.payloadLen; n += 4 }
        if r.has(.icmp) { fl |= Bit.icmp; n += 2 }
        if r.app != .unknown && r.has(.appPayload) { fl |= Bit.appPayload }
        if let infoBytes { fl |= Bit.info; n += infoBytes }
        return (fl, n)
    }

    @inline(__always)
    static func write(
        _ r: PacketRow, flags fl: UInt16, info: UnsafeBufferPointer<UInt8>?, to p: UnsafeMutableRawPointer
    ) {
        var w = BlobWriter(p)
        w.u8(version); w.u16(fl)
        w.word(r.n, wide: fl & Bit.wideN != 0)
        if fl & Bit.iface != 0 { w.u32(r.iface) }
        if fl & Bit.ethSrc != 0 {
            w.u16(UInt16(truncatingIfNeeded: r.ethSrc.value >> 32)); w.u32(UInt32(truncatingIfNeeded: r.ethSrc.value))
        }
        if fl & Bit.ethDst != 0 {
            w.u16(UInt16(truncatingIfNeeded: r.ethDst.value >> 32)); w.u32(UInt32(truncatingIfNeeded: r.ethDst.value))
        }
        if fl & Bit.vlan != 0 { w.u16(r.vlan) }
        if fl & Bit.ip != 0 { w.u8(r.ipVersion); w.u8(r.proto) }
        if fl & Bit.tcp != 0 { w.u32(r.seq); w.u32(r.ack); w.u16(r.tcpFlags); w.u16(r.window) }
        if fl & Bit.payloadLen != 0 { w.u32(r.payloadLen) }
        if fl & Bit.icmp != 0 { w.u8(r.icmpType); w.u8(r.icmpCode) }
        if let info { w.bytes(info) }
    }

    /// Encodes `r` into `arena` and binds it (a copy SQLite owns when the arena is full).
    @inline(__always)
    static func bind(
        _ st: SQLiteStatement, _ k: Int32, _ r: PacketRow, info: UnsafeBufferPointer<UInt8>?, macs: Bool,
        arena: BindArena
    ) {
        let (fl, size) = layout(r, infoBytes: info?.count, macs: macs)
        if let p = arena.reserve(size) {
            write(r, flags: fl, info: info, to: p)
            st.bindBlobStatic(k, UnsafeRawBufferPointer(start: p, count: size))
        } else {
            let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            defer { p.deallocate() }
            write(r, flags: fl, info: info, to: p)
            st.bindBlobCopy(k, UnsafeRawBufferPointer(start: p, count: size))
        }
    }

    /// Fills the cold fields of `r` (and their presence) from `b`.
    static func read(_ b: UnsafeRawBufferPointer, into r: inout PacketRow) {
        var x = BlobReader(b)
        _ = x.u8()  // version 1: the only layout so far
        let fl = x.u16()
        var f = r.present
        r.n = x.word(wide: fl & Bit.wideN != 0)
        if fl & Bit.iface != 0 { r.iface = x.u32() }
        if fl & Bit.ethSrc != 0 { r.ethSrc = MACAddress(x.uint(6)); f.insert(.ethSrc) }
        if fl & Bit.ethDst != 0 { r.ethDst = MACAddress(x.uint(6)); f.insert(.ethDst) }
        if fl & Bit.vlan != 0 { r.vlan = x.u16(); f.insert(.vlan) }
        if fl & Bit.ip != 0 { r.ipVersion = x.u8(); r.proto = x.u8(); f.insert(.ip) }
        if fl & Bit.tcp != 0 {
            r.seq = x.u32(); r.ack = x.u32(); r.tcpFlags = x.u16(); r.window = x.u16(); f.insert(.tcp)
        }
        if fl & Bit.payloadLen != 0 { r.payloadLen = x.u32(); f.insert(.payloadLen) }
        if fl & Bit.icmp != 0 { r.icmpType = x.u8(); r.icmpCode = x.u8(); f.insert(.icmp) }
        if fl & Bit.appPayload != 0 && r.app != .unknown { f.insert(.appPayload) }
        if fl & Bit.info != 0 { r.info = x.text(from: x.at, to: b.count); f.insert(.info) }
        r.present = f
    }

    /// A SELECT of every packets column plus the cold fields as columns (`n`, `iface`,
    /// `eth_src` as a 48-bit integer ..., `app_payload`, `info`), in built-in SQL.
    static let viewColumns: String = {
        let h = "q.cold", fl = "q._fl"
        func bit(_ b: UInt16) -> String { ColdSQL.bit(fl, b.trailingZeroBitCount) }
        // Each section's offset: the header, then the sizes of the sections before it.
        let sections: [(name: String, bit: UInt16?, size: Int)] = [
            ("iface", Bit.iface, 4), ("eth_src", Bit.ethSrc, 6), ("eth_dst", Bit.ethDst, 6), ("vlan", Bit.vlan, 2),
            ("ip", Bit.ip, 2), ("tcp", Bit.tcp, 12), ("payload_len", Bit.payloadLen, 4), ("icmp", Bit.icmp, 2),
            ("info", nil, 0),
        ]
        var offsets: [String: String] = [:]
        var at = "7 + 4 * \(bit(Bit.wideN))"
        for s in sections {
            offsets[s.name] = at
            if let b = s.bit { at += " + \(s.size) * \(bit(b))" }
        }
        func field(_ section: String, _ b: UInt16, plus: Int, _ width: Int) -> String {
            "CASE WHEN \(bit(b)) = 1 THEN \(ColdSQL.uint(h, "\(offsets[section]!) + \(plus)", width)) END"
        }
        let n = "CASE WHEN \(bit(Bit.wideN)) = 1 THEN \(ColdSQL.uint(h, "3", 8)) ELSE \(ColdSQL.uint(h, "3", 4)) END"
        let cold = [
            "\(n) AS n", "COALESCE(\(field("iface", Bit.iface, plus: 0, 4)), 0) AS iface",
            "\(field("eth_src", Bit.ethSrc, plus: 0, 6)) AS eth_src",
            "\(field("eth_dst", Bit.ethDst, plus: 0, 6)) AS eth_dst",
            "\(field("vlan", Bit.vlan, plus: 0, 2)) AS vlan", "\(field("ip", Bit.ip, plus: 0, 1)) AS ip",
            "\(field("ip", Bit.ip, plus: 1, 1)) AS proto", "\(field("tcp", Bit.tcp, plus: 0, 4)) AS seq",
            "\(field("tcp", Bit.tcp, plus: 4, 4)) AS ack", "\(field("tcp", Bit.tcp, plus: 8, 2)) AS tcp_flags",
            "\(field("tcp", Bit.tcp, plus: 10, 2)) AS tcp_window",
            "\(field("payload_len", Bit.payloadLen, plus: 0, 4)) AS payload_len",
            "\(field("icmp", Bit.icmp, plus: 0, 1)) AS icmp_type",
            "\(field("icmp", Bit.icmp, plus: 1, 1)) AS icmp_code",
            "\(bit(Bit.appPayload)) AS app_payload",
            "CASE WHEN \(bit(Bit.info)) = 1 THEN CAST(substr(q.cold, \(offsets["info"]!) + 1) AS TEXT) END AS info",
        ]
        return "SELECT q.*, " + cold.joined(separator: ", ")
            + " FROM (SELECT pk.*, \(ColdSQL.uint("pk.cold", "1", 2)) AS _fl FROM packets pk) q"
    }()
}
