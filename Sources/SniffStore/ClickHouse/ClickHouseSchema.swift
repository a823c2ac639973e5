import SniffCore
import SniffDecode

/// The ClickHouse tables (18.16 and later; docs/SCALING.md says why each key).
///
/// Times are Int64 nanoseconds as in the other databases. Addresses are FixedString(16):
/// IPv6 as is, IPv4 as its IPv4-mapped form, so one column holds both (18.16 has no IPv6
/// type; `IPv6NumToString` prints either). Small enumerations (transport, app, link)
/// are their journal codes as UInt8/UInt32, which never change meaning
/// (`AppProtocol`'s raw values); LowCardinality is still experimental in 18.16.
///
/// Tables with a row per packet, flow, alert, log record or second are partitioned by
/// day of `ts`, so that retention drops whole partitions. They are ReplacingMergeTree
/// with each row's identity at the end of the sorting key: a batch whose rows reached
/// the server but whose `sniff_batches` row did not (the connection broke in between)
/// is written again on replay, and the copies collapse into one when parts merge.
enum ClickHouseSchema {
    typealias Column = (name: String, type: String)

    /// The table a read names. On one server that is the table itself; in a cluster
    /// (`sniff db migrate --cluster`) the Distributed table in front of the shards takes
    /// the plain name and each shard's own table is `localTable(table)`, so reads (and
    /// the writer's inserts) name the same table either way and the Distributed table
    /// fans them out. Every read goes through here, so that a change of naming is made
    /// in one place.
    static func readTable(_ table: String) -> String { table }

    /// A shard's own table behind the Distributed table of the same plain name.
    static func localTable(_ table: String) -> String { table + "_local" }

    /// The partition key of the time tables: the UTC day of `ts`.
    static let dayOfTs = "toDate(intDiv(ts, 1000000000))"

    /// Packet rows: `PacketRow` as it is in memory, the presence bits standing for the
    /// NULLs of the other databases (a value that is absent is stored as 0 or ''). The
    /// columns the writer sends, in its order: since `Schema.packetUIDBytesVersion`
    /// `caplen` and `flow_uid` are stored as `ClickHousePacketColumns` says.
    static let packetColumns: [Column] = packetColumns(
        caplen: [ClickHousePacketColumns.caplenCut],
        flowUID: [ClickHousePacketColumns.uidBytes, ClickHousePacketColumns.uidText])

    /// The packets as version 14 created them (`tables`).
    static let packetColumnsCreated: [Column] = packetColumns(
        caplen: [("caplen", "UInt32")], flowUID: [("flow_uid", "String")])

    private static func packetColumns(caplen: [Column], flowUID: [Column]) -> [Column] {
        [("capture_id", "Int64"), ("sensor", "String"), ("n", "UInt64"), ("ts", "Int64"), ("present", "UInt32"),
         ("len", "UInt32")] + caplen + [("iface", "UInt32"), ("link", "UInt32"),
        ("eth_src", "UInt64"), ("eth_dst", "UInt64"), ("vlan", "UInt16"), ("ip", "UInt8"), ("proto", "UInt8"),
        ("src", "FixedString(16)"), ("dst", "FixedString(16)"), ("transport", "UInt8"),
        ("sport", "UInt16"), ("dport", "UInt16"), ("seq", "UInt32"), ("ack", "UInt32"), ("tcp_flags", "UInt16"),
        ("tcp_window", "UInt16"), ("payload_len", "UInt32"), ("icmp_type", "UInt8"), ("icmp_code", "UInt8"),
        ("app", "UInt8"), ("dns_query", "String"), ("info", "String")] + flowUID + [("raw", "String")]
    }

    /// `Schema.flowColumns`, in its order, with ClickHouse types.
    static let flowColumns: [Column] = {
        let ints: [String: String] = [
            "capture_id": "Int64", "ts": "Int64", "last_ts": "Int64", "orig_p": "UInt16", "resp_p": "UInt16",
            "ip_proto": "UInt8", "duration_ns": "Nullable(Int64)", "orig_bytes": "Nullable(UInt64)",
            "resp_bytes": "Nullable(UInt64)", "local_orig": "Nullable(UInt8)", "local_resp": "Nullable(UInt8)",
            "missed_bytes": "UInt64", "orig_pkts": "UInt64", "orig_ip_bytes": "UInt64", "resp_pkts": "UInt64",
            "resp_ip_bytes": "UInt64", "vlan": "Nullable(UInt16)", "orig_l2_bytes": "UInt64", "resp_l2_bytes": "UInt64",
            "total_bytes": "UInt64", "total_pkts": "UInt64", "orig_asn": "Nullable(UInt32)",
            "resp_asn": "Nullable(UInt32)",
            "pid": "Nullable(Int32)", "process_orig": "Nullable(UInt8)",
            "orig_h": "FixedString(16)", "resp_h": "FixedString(16)",
            "sensor": "String", "uid": "String", "proto": "String", "conn_state": "String", "community_id": "String",
            "app": "String", "app_source": "String",
        ]
        return Schema.flowColumns.map { quoted in
            let name = quoted.replacingOccurrences(of: "\"", with: "")
            return (name == "user" ? "`user`" : name, ints[name] ?? "Nullable(String)")
        }
    }()

    /// `Schema.flowTunnelColumns` (`Schema.flowTunnelVersion`), added after the rest; the writer sends
    /// `flowColumns` then these.
    static let flowTunnelColumns: [Column] = [
        ("tunnel", "Nullable(String)"), ("tunnel_id", "Nullable(UInt32)"), ("tunnel_parents", "Nullable(String)"),
    ]

    /// The flow record's batch and position (`Schema.flowRecordKeyVersion`), the end of
    /// its sorting key (`flowKey`), written after `flowTunnelColumns`.
    static let flowRecordColumns: [Column] = [("writer_id", "Int64"), ("seq", "Int64"), ("i", "UInt32")]

    /// Every column the writer sends to `flows`, in order.
    static let flowStoredColumns = flowColumns + flowTunnelColumns + flowRecordColumns

    /// The flows' sorting key since `Schema.flowRecordKeyVersion`. A capture can end
    /// more than one record with the same uid and start time (7 pairs in the test
    /// captures, most with the same end too), and (sensor, ts, capture_id, uid) folded
    /// them into one. The record's batch id and position in the batch tell every record
    /// apart and are the same in a copy written again (the writer's retry and the
    /// journal's replay send the same batch), so replays still fold; the record's own
    /// fields (`last_ts`, the end reason) can be equal in two records.
    static let flowKey = "sensor, ts, capture_id, uid, writer_id, seq, i"

    /// The packets' sorting key: a packet is its capture's `n`th.
    static let packetKey = "sensor, ts, capture_id, n"

    static let alertColumns: [Column] = [
        ("capture_id", "Int64"), ("sensor", "String"), ("alert_id", "String"), ("ts", "Int64"), ("severity", "String"),
        ("severity_level", "UInt8"), ("rule", "String"), ("kind", "String"), ("message", "String"),
        ("uid", "Nullable(String)"), ("hosts", "String"), ("suppressed", "UInt64"),
    ]

    /// Per-second rollups: signed sums (a flow whose app a payload decided moves its
    /// earlier packets with a negative row), identified by their batch and position.
    static let trafficColumns: [Column] = [
        ("capture_id", "Int64"), ("sensor", "String"), ("ts", "Int64"), ("transport", "UInt8"), ("app", "UInt8"),
        ("packets", "Int64"), ("bytes", "Int64"), ("writer_id", "Int64"), ("seq", "Int64"), ("i", "UInt32"),
    ]
    static let flowCountColumns: [Column] = [
        ("capture_id", "Int64"), ("sensor", "String"), ("ts", "Int64"), ("ip_proto", "UInt8"), ("app", "String"),
        ("flows", "Int64"), ("writer_id", "Int64"), ("seq", "Int64"), ("i", "UInt32"),
    ]

    /// Protocol logs: the common columns, then the kind's (vectors joined as in the
    /// other databases), then the row's batch and position; `created`: only the columns
    /// the table was made with (`LogKind.createdColumns`), in the order they were added
    /// either way, since a later version's columns come last.
    static func logColumns(_ kind: LogKind, created: Bool = false) -> [Column] {
        let common: [Column] = [
            ("capture_id", "Int64"), ("sensor", "String"), ("ts", "Int64"), ("uid", "String"),
            ("orig_h", "FixedString(16)"), ("orig_p", "UInt16"), ("resp_h", "FixedString(16)"), ("resp_p", "UInt16"),
            ("proto", "String"),
        ]
        let own: [Column] = (created ? kind.createdColumns : kind.columns).map(column)
        return common + own + [("writer_id", "Int64"), ("seq", "Int64"), ("i", "UInt32")]
    }

    static func column(_ c: LogColumn) -> Column {
        switch c.kind {
        case .int: return (c.name, "Nullable(Int64)")
        case .bool: return (c.name, "Nullable(UInt8)")
        case .text, .texts, .ints: return (c.name, "Nullable(String)")
        }
    }

    /// Captures, hosts and host names are upserts in the other databases; here each
    /// update is a row and reads fold them (max of counters, min/max of times, the
    /// newest known value), which is what the upserts compute, so a replayed update
    /// changes nothing.
    static let captureColumns: [Column] = [
        ("id", "Int64"), ("sensor", "String"), ("source", "String"), ("start_ns", "Int64"), ("end_ns", "Nullable(Int64)"),
        ("filters", "String"), ("first_packet_ns", "Nullable(Int64)"), ("last_packet_ns", "Nullable(Int64)"),
    ] + Schema.captureCounters.map { ($0, "UInt64") } + [("store_packets", "String"), ("updated_at", "Int64")]

    static let hostColumns: [Column] = [
        ("capture_id", "Int64"), ("sensor", "String"), ("address", "FixedString(16)"), ("first_ts", "Int64"),
        ("last_ts", "Int64"), ("country", "Nullable(String)"), ("asn", "Nullable(UInt32)"), ("org", "Nullable(String)"),
        ("category", "String"), ("mac", "Nullable(String)"), ("vendor", "Nullable(String)"),
    ]
    static let hostNameColumns: [Column] = [
        ("capture_id", "Int64"), ("sensor", "String"), ("address", "FixedString(16)"), ("name", "String"),
        ("first_seen", "Int64"), ("last_seen", "Int64"), ("source", "String"),
    ]

    static let batchColumns: [Column] = [
        ("writer_id", "Int64"), ("seq", "Int64"), ("sensor", "String"), ("capture_id", "Int64"), ("kind", "String"),
        ("row_count", "Int64"), ("first_ts", "Nullable(Int64)"), ("last_ts", "Nullable(Int64)"),
        ("created_at", "Int64"), ("stored_at", "Int64"),
    ]

    /// The tables partitioned by day (dropped whole by retention).
    static let timeTables = ["packets", "flows", "alerts", "traffic", "flow_counts"] + LogKind.allCases.map(\.table)

    static func create(_ table: String, _ columns: [Column], engine: String) -> String {
        "CREATE TABLE IF NOT EXISTS \(table) (" + columns.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
            + ") ENGINE = " + engine
    }

    /// A day-partitioned ReplacingMergeTree sorted by `key`.
    static func timeEngine(_ key: String) -> String {
        "ReplacingMergeTree PARTITION BY \(dayOfTs) ORDER BY (\(key))"
    }

    /// Every table, as the schema version that brought ClickHouse creates them.
    /// The sorting keys lead with `sensor, ts`: every API read is "newest first in a
    /// time range", mostly of one sensor, and rows arrive in that order, so inserts
    /// append to the key's tail and a range read touches only its granules.
    static let tables: [String] = [
        create("packets", packetColumnsCreated, engine: timeEngine(packetKey)),
        create("flows", flowColumns, engine: timeEngine("sensor, ts, capture_id, uid")),
        create("alerts", alertColumns, engine: timeEngine("sensor, ts, capture_id, alert_id")),
        create("traffic", trafficColumns, engine: timeEngine("sensor, ts, transport, app, writer_id, seq, i")),
        create("flow_counts", flowCountColumns, engine: timeEngine("sensor, ts, ip_proto, app, writer_id, seq, i")),
    ] + LogKind.allCases.map {
        create($0.table, logColumns($0, created: true), engine: timeEngine("sensor, ts, writer_id, seq, i"))
    } + [
        create("captures", captureColumns, engine: "ReplacingMergeTree ORDER BY (id, sensor, updated_at)"),
        create("hosts", hostColumns, engine: "ReplacingMergeTree ORDER BY (address, capture_id, sensor, last_ts, first_ts)"),
        create("host_names", hostNameColumns, engine: "ReplacingMergeTree ORDER BY (address, name, capture_id, sensor, last_seen)"),
        create("sniff_batches", batchColumns, engine: "ReplacingMergeTree ORDER BY (writer_id, seq)"),
    ]

    static let migrationsTable =
        "CREATE TABLE IF NOT EXISTS sniff_migrations (version Int64, name String, applied_at Int64) "
        + "ENGINE = ReplacingMergeTree ORDER BY version"

    /// The 16 bytes of an address as two big-endian halves (see the type's comment).
    static func address16(_ a: IPAddress) -> (UInt64, UInt64) {
        a.isIPv6 ? (a.high, a.low) : (0, 0xFFFF_0000_0000 | UInt64(a.v4))
    }

    /// The 16 bytes an address is stored as (IPv4 mapped).
    static func bytes16(_ a: IPAddress) -> [UInt8] {
        let (h, l) = address16(a)
        return (0..<16).map { i in UInt8(truncatingIfNeeded: (i < 8 ? h : l) >> UInt64(56 - 8 * (i % 8))) }
    }

    /// 4 or 16 network-order bytes (`CompactPacket.bytes`) as stored here: IPv4 mapped.
    static func bytes16(_ b: [UInt8]) -> [UInt8] {
        b.count == 4 ? [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF] + b : b
    }

    /// A value as ClickHouse SQL text: integers in decimal, strings quoted and escaped
    /// (`literal(String)`), bytes as `unhex` of their hex digits (a FixedString(16)
    /// when 16 bytes, to compare with the address columns). The query builder's
    /// `SQLBuilder.param` calls this for every value on ClickHouse.
    static func literal(_ v: SQLValue) -> String {
        switch v {
        case .int(let n): return String(n)
        case .text(let s): return literal(s)
        case .blob(let b):
            let hex = Array("0123456789ABCDEF".utf8)
            var digits = ""
            for x in b {
                digits.unicodeScalars.append(Unicode.Scalar(hex[Int(x >> 4)]))
                digits.unicodeScalars.append(Unicode.Scalar(hex[Int(x & 15)]))
            }
            return b.count == 16 ? "toFixedString(unhex('\(digits)'), 16)" : "unhex('\(digits)')"
        }
    }

    /// A string literal for ClickHouse SQL: quoted, with backslash and quote escaped
    /// (ClickHouse's string literals take C escapes). 18.16's HTTP interface has no
    /// query parameters, so values that reach SQL text go through here, and only here.
    static func literal(_ s: String) -> String {
        var out = "'"
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "'": out += "\\'"
            case "\0": out += "\\0"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "'"
    }
}
