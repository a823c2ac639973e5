import SniffCore

/// Schema 24 (SQLite): the `dns` log compact, as packets became in schemas 22 and 23. On
/// the small bench capture (a DNS row every other packet) its rows and four indexes were
/// 96.6 of the file's 354.6 bytes per packet. A row now names its capture and sensor by
/// the `origin` code of `sniff_origins` (`PacketCodes`: 8 bytes of capture id and the
/// sensor's text were in every row), keeps its flow uid as 13 bytes (`FlowUIDBytes`, also
/// in the uid index), and its enum-like text, `proto`, `qclass_name`, `qtype_name` and
/// `rcode_name` ("udp", "C_INTERNET", "A", "NOERROR"), as codes of
/// `sniff_names (code, name)`, a code below 128 one byte (0 and 1 none). The reads and
/// `dns_v` give the text back, so the API, the exports and the view are unchanged.
///
/// The four indexes stay, each serving a filter of `/api/dns` (the table's one reader):
/// `dns_ts` pages every read without a uid or an exact address and the time range,
/// `dns_uid` the flow page's `flow=`, `dns_orig` and `dns_resp` an exact `src=`, `dst=`
/// or `ip=`. All but `dns_ts` lead with the segment (`Schema.logSegmentStatements`).
///
/// The other logs (`http`, `tls`: a few rows next to DNS on every capture measured) keep
/// their layout; PostgreSQL and ClickHouse keep theirs (text, inet, 16 bytes).
enum DNSTable {
    static let version = 24
    static let kind = LogKind.dns

    /// Whether the reads of `kind` on `dialect` go through this layout.
    static func isCoded(_ kind: LogKind, _ dialect: SQLDialect) -> Bool { kind == self.kind && dialect == .sqlite }

    /// The text columns kept as codes of `sniff_names`.
    static let namedColumns: Set<String> = ["proto", "qclass_name", "qtype_name", "rcode_name"]

    /// The stored columns after `id`, in the order the writer binds them: `Schema.logColumns`
    /// with `origin` for capture_id and sensor.
    static let columns: [String] = ["origin"] + Schema.logColumns(kind).dropFirst(2)

    static let createNames = "CREATE TABLE sniff_names (code INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"

    static let createSQL: String = {
        let types = Dictionary(uniqueKeysWithValues: kind.columns.map { ($0.name, $0.kind) })
        let defs = columns.map { c -> String in
            switch c {
            case "origin", "ts", "orig_p", "resp_p": return "\(c) INTEGER NOT NULL"
            // A BLOB is stored as given whatever the affinity; text that is no uid or
            // address stays text.
            case "uid", "orig_h", "resp_h": return "\(c) TEXT NOT NULL"
            case "proto": return "proto INTEGER NOT NULL"
            default:
                let text = types[c] == .text || types[c] == .texts || types[c] == .ints
                return "\(c) \(text && !namedColumns.contains(c) ? "TEXT" : "INTEGER")"
            }
        }
        return "CREATE TABLE dns (id INTEGER PRIMARY KEY, \(defs.joined(separator: ", ")))"
    }()

    static let insertSQL = "INSERT INTO dns (\(columns.joined(separator: ", "))) VALUES ("
        + (1...columns.count).map { "?\($0)" }.joined(separator: ", ") + ")"

    /// Whether value `j` of a DNS row (`LogKind.columns`) is kept as a code.
    static let namedValues: [Bool] = kind.columns.map { namedColumns.contains($0.name) }

    static func name(_ column: String) -> String { "(SELECT name FROM sniff_names WHERE code = \(column))" }

    /// The columns `Schema.logSelect` reads, in its order, as text again; `uid` stays as
    /// stored (the reader makes text of its bytes).
    static let selectSQL: String = {
        let cols = ["id", "(SELECT capture_id FROM sniff_origins WHERE code = origin)",
                    "(SELECT sensor FROM sniff_origins WHERE code = origin)"]
            + columns.dropFirst().map { namedColumns.contains($0) ? name($0) : $0 }
        return "SELECT \(cols.joined(separator: ", ")) FROM dns"
    }()

    /// `dns_v`: every column readable in the sqlite3 shell, without Sniff's functions.
    static let viewSQL: String = {
        let cols = ["d.id", "o.capture_id", "o.sensor"] + columns.dropFirst().map { c -> String in
            if c == "uid" { return "\(FlowUIDBytes.viewText("d.uid")) AS uid" }
            if c == "orig_h" || c == "resp_h" {
                let text = CompactPacket.addressText("d.\(c)")
                return "CASE typeof(d.\(c)) WHEN 'blob' THEN \(text) ELSE d.\(c) END AS \(c)"
            }
            return namedColumns.contains(c) ? "\(name("d.\(c)")) AS \(c)" : "d.\(c)"
        }
        return "CREATE VIEW dns_v AS SELECT \(cols.joined(separator: ", ")) "
            + "FROM dns d LEFT JOIN sniff_origins o ON o.code = d.origin"
    }()

    /// A uid as the table keeps it: Sniff's as 13 bytes, other text as it is.
    static func uidValue(_ uid: String) -> SQLValue {
        var u = uid
        var bytes = [UInt8](repeating: 0, count: FlowUIDBytes.count)
        let ours = u.withUTF8 { t in bytes.withUnsafeMutableBytes { FlowUIDBytes.write(t, to: $0.baseAddress!) } }
        return ours ? .blob(bytes) : .text(uid)
    }

    /// Version 23's table rewritten into this layout in SQL, keeping every id (so
    /// `log_segments` stays valid), inside the migration's transaction. The indexes are
    /// made again on the new table.
    static let migrationStatements: [String] = {
        let old = "dns_v23"
        let code = { (c: String) in "(SELECT code FROM sniff_names WHERE name = d.\(c))" }
        let values = columns.map { c -> String in
            switch c {
            case "origin":
                return "(SELECT code FROM sniff_origins o WHERE o.capture_id = d.capture_id AND o.sensor = d.sensor)"
            case "uid": return "coalesce(sniff_uid_bytes(d.uid), d.uid)"
            default: return namedColumns.contains(c) ? code(c) : "d.\(c)"
            }
        }
        let names = namedColumns.sorted().map { "SELECT \($0) FROM \(old) WHERE \($0) IS NOT NULL" }
        return [
            createNames,
            "DROP VIEW dns_v",
            "DROP INDEX dns_ts", "DROP INDEX dns_uid", "DROP INDEX dns_orig", "DROP INDEX dns_resp",
            "ALTER TABLE dns RENAME TO \(old)",
            createSQL,
            "INSERT OR IGNORE INTO sniff_origins (capture_id, sensor) SELECT DISTINCT capture_id, sensor FROM \(old)",
            "INSERT OR IGNORE INTO sniff_names (name) \(names.joined(separator: " UNION "))",
            "INSERT INTO dns (id, \(columns.joined(separator: ", "))) SELECT d.id, \(values.joined(separator: ", ")) "
                + "FROM \(old) d ORDER BY d.id",
            "DROP TABLE \(old)",
        ] + indexStatements + [viewSQL]
    }()

    /// The indexes of schema 15 (`Schema.logSegmentStatements`), on the new table.
    static let indexStatements = [
        "CREATE INDEX dns_ts ON dns (ts)",
        "CREATE INDEX dns_uid ON dns (\(Schema.logSegment), uid)",
        "CREATE INDEX dns_orig ON dns (\(Schema.logSegment), orig_h)",
        "CREATE INDEX dns_resp ON dns (\(Schema.logSegment), resp_h)",
    ]
}
