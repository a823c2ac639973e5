import SniffCore

/// Every schema version in one place: its number, its name (what `sniff db info` lists)
/// and what each database runs to reach it. Both stores apply this list in order inside
/// one transaction (`SQLiteStore.migrate`, `PostgresStore.migrate`) and record each
/// version in `sniff_migrations`; a version a database does not need still gets its row,
/// so that the versions mean the same on every backend.
///
/// A new version: take the next free number on main, add one entry at the end with every
/// dialect's statements (an empty list when that database changes nothing). Another
/// dialect is one more stored property beside `sqlite` and `postgres`, which makes every
/// entry name its statements for it.
///
/// ClickHouse came at version 14: that entry creates its tables as they were then
/// (`ClickHouseSchema.tables`), and the versions before it are nothing for it. A later
/// version that changes a table names the ClickHouse steps too (`ALTER TABLE … ADD
/// COLUMN`, with `MODIFY ORDER BY` for a longer sorting key), or ClickHouse's writes
/// will not carry the new columns.
struct SchemaVersion: Sendable {
    let version: Int
    let name: String
    let sqlite: SQLiteStep
    let postgres: [String]
    let clickhouse: [ClickHouseStep]

    init(_ version: Int, _ name: String, sqlite: SQLiteStep, postgres: [String], clickhouse: [ClickHouseStep] = []) {
        self.version = version; self.name = name; self.sqlite = sqlite; self.postgres = postgres
        self.clickhouse = clickhouse
    }

    /// How SQLite reaches a version: statements, or a conversion that copies a whole
    /// table into a new layout in code (packets and flows as segments with key runs, their
    /// cold fields in one BLOB), which no statement list can say.
    enum SQLiteStep: Sendable {
        case statements([String])
        case convert(SQLiteConversion)
    }

    enum SQLiteConversion: Sendable { case compactPackets, segmentedFlows, coldColumns, packetCodes }

    /// How ClickHouse reaches a version: a statement, or columns added to a table, and
    /// to its sorting key when `orderBy` is given (`ALTER TABLE … ADD COLUMN …, MODIFY
    /// ORDER BY (…)`: 18.16 takes a new key only as the old one followed by columns the
    /// same ALTER adds). The columns are added only to a table that lacks them: 18.16 has
    /// no `ADD COLUMN IF NOT EXISTS`, and a migration stopped between a cluster's servers,
    /// or between a shard's table and the Distributed table in front, must run again.
    enum ClickHouseStep: Sendable {
        case sql(String)
        case addColumns(table: String, columns: [ClickHouseSchema.Column], orderBy: String?)
        /// Packets' flow uid as bytes and caplen as the bytes cut: several statements and
        /// a wait for the rows' conversion (`ClickHouseStore.convertPackets`).
        case packetUIDBytes

        /// The step as one statement (`ClickHouseCluster.statements` makes a cluster's);
        /// none for `packetUIDBytes`, which `ClickHouseStore.migrate` runs by itself.
        var sql: String {
            switch self {
            case .packetUIDBytes: return ""
            case .sql(let s): return s
            case .addColumns(let table, let columns, let key):
                return "ALTER TABLE \(table) "
                    + columns.map { "ADD COLUMN \($0.name) \($0.type)" }.joined(separator: ", ")
                    + (key.map { ", MODIFY ORDER BY (\($0))" } ?? "")
            }
        }
    }
}

extension Schema {
    /// The table each database records its versions in, made before anything else.
    static func migrationsTable(_ d: SQLDialect) -> String {
        let (int, text, bigint) = d == .postgres ? ("integer", "text", "bigint") : ("INTEGER", "TEXT", "INTEGER")
        return "CREATE TABLE IF NOT EXISTS sniff_migrations (version \(int) PRIMARY KEY, name \(text) NOT NULL, applied_at \(bigint) NOT NULL)"
    }

    /// The versions a database with `applied` versions still needs, up to `last`, in
    /// order. A database written by a newer Sniff is refused rather than guessed at.
    static func pending(applied: Set<Int>, through last: Int = latestVersion) throws -> [SchemaVersion] {
        if let top = applied.max(), top > latestVersion {
            throw StoreError.schemaTooNew(found: top, known: latestVersion)
        }
        return versions.filter { !applied.contains($0.version) && $0.version <= last }
    }

    /// Every known version with when it was applied (nil: not yet), for `info`.
    static func migrationStatus(applied: [Int: Int64]) -> [Migration] {
        versions.map { Migration(version: $0.version, name: $0.name, appliedAt: applied[$0.version]) }
    }

    static var migrations: [Migration] { migrationStatus(applied: [:]) }
    static var latestVersion: Int { versions.last!.version }
    /// Adds `mac` and `vendor` (text, nullable) to `hosts`.
    static let hostMACVersion = 13
    static let hostNameSourceVersion = 14
    /// Adds `Schema.flowTunnelColumns` to `flows`.
    static let flowTunnelVersion = 16
    /// Adds `LogKind.tlsCertificateColumns` to `tls`.
    static let tlsCertificateVersion = 17
    /// ClickHouse's flows with the batch id and position added to their sorting key.
    static let flowRecordKeyVersion = 18
    /// ClickHouse's packets keep the flow uid as its 96 bits and caplen as the bytes cut
    /// (`ClickHousePacketColumns`).
    static let packetUIDBytesVersion = 21

    /// SQLite keeps addresses and MAC addresses as text in their canonical forms (so
    /// equality is exact) until its conversions make packets and flows compact; times
    /// are integer nanoseconds.
    ///
    /// PostgreSQL: addresses are `inet`, MAC addresses `macaddr`, times `bigint`
    /// nanoseconds (exact; a timestamptz would keep microseconds only). Unsigned 32-bit
    /// header fields are `bigint` so that no value a capture file can hold is out of
    /// range. The tables with one row per packet, flow or second are partitioned by day
    /// on `ts` (a default partition catches days without one); each index ends in `ts` so
    /// that "newest first" with a filter reads one index range backwards. For Citus, the
    /// distribution column is `sensor` (see docs/SCALING.md): every table carries it, and
    /// no unique constraint spans sensors.
    static let versions: [SchemaVersion] = [
        SchemaVersion(1, "captures, packets, batches",
            sqlite: .statements([
                """
                CREATE TABLE captures (
                    id INTEGER PRIMARY KEY, sensor TEXT NOT NULL, source TEXT NOT NULL,
                    start_ns INTEGER NOT NULL, end_ns INTEGER, filters TEXT NOT NULL DEFAULT '',
                    first_packet_ns INTEGER, last_packet_ns INTEGER,
                    packets_seen INTEGER NOT NULL DEFAULT 0, packets_matched INTEGER NOT NULL DEFAULT 0,
                    bytes_seen INTEGER NOT NULL DEFAULT 0, packets_stored INTEGER NOT NULL DEFAULT 0,
                    flows INTEGER NOT NULL DEFAULT 0, alerts INTEGER NOT NULL DEFAULT 0,
                    kernel_dropped INTEGER NOT NULL DEFAULT 0, interface_dropped INTEGER NOT NULL DEFAULT 0,
                    sniff_dropped INTEGER NOT NULL DEFAULT 0, store_packets TEXT NOT NULL DEFAULT 'all')
                """,
                "CREATE INDEX captures_sensor ON captures (sensor, start_ns)",
                """
                CREATE TABLE packets (
                    id INTEGER PRIMARY KEY, capture_id INTEGER NOT NULL, sensor TEXT NOT NULL,
                    n INTEGER NOT NULL, ts INTEGER NOT NULL, len INTEGER NOT NULL, caplen INTEGER NOT NULL,
                    iface INTEGER NOT NULL, link TEXT NOT NULL, eth_src TEXT, eth_dst TEXT, vlan INTEGER,
                    ip INTEGER, src TEXT, dst TEXT, proto INTEGER, transport TEXT, sport INTEGER, dport INTEGER,
                    seq INTEGER, ack INTEGER, tcp_flags INTEGER, tcp_window INTEGER, payload_len INTEGER,
                    icmp_type INTEGER, icmp_code INTEGER, dns_query TEXT, app TEXT, flow_uid TEXT)
                """,
                // Each index ends in ts (and, implicitly, the rowid): "newest first" with a
                // filter reads one index range backwards.
                "CREATE INDEX packets_ts ON packets (ts)",
                "CREATE INDEX packets_src ON packets (src, ts)",
                "CREATE INDEX packets_dst ON packets (dst, ts)",
                "CREATE INDEX packets_sport ON packets (sport, ts)",
                "CREATE INDEX packets_dport ON packets (dport, ts)",
                "CREATE INDEX packets_app ON packets (app, ts)",
                """
                CREATE TABLE sniff_batches (
                    writer_id INTEGER NOT NULL, seq INTEGER NOT NULL, sensor TEXT NOT NULL,
                    capture_id INTEGER NOT NULL, kind TEXT NOT NULL, row_count INTEGER NOT NULL,
                    first_ts INTEGER, last_ts INTEGER, created_at INTEGER NOT NULL, stored_at INTEGER NOT NULL,
                    PRIMARY KEY (writer_id, seq)) WITHOUT ROWID
                """,
                "CREATE INDEX sniff_batches_stored ON sniff_batches (stored_at)",
            ]),
            postgres: [
                """
                CREATE TABLE captures (
                    id bigint PRIMARY KEY, sensor text NOT NULL, source text NOT NULL,
                    start_ns bigint NOT NULL, end_ns bigint, filters text NOT NULL DEFAULT '',
                    first_packet_ns bigint, last_packet_ns bigint,
                    packets_seen bigint NOT NULL DEFAULT 0, packets_matched bigint NOT NULL DEFAULT 0,
                    bytes_seen bigint NOT NULL DEFAULT 0, packets_stored bigint NOT NULL DEFAULT 0,
                    flows bigint NOT NULL DEFAULT 0, alerts bigint NOT NULL DEFAULT 0,
                    kernel_dropped bigint NOT NULL DEFAULT 0, interface_dropped bigint NOT NULL DEFAULT 0,
                    sniff_dropped bigint NOT NULL DEFAULT 0, store_packets text NOT NULL DEFAULT 'all')
                """,
                "CREATE INDEX captures_sensor ON captures (sensor, start_ns)",
                """
                CREATE TABLE packets (
                    capture_id bigint NOT NULL, sensor text NOT NULL, n bigint NOT NULL, ts bigint NOT NULL,
                    len bigint NOT NULL, caplen bigint NOT NULL, iface bigint NOT NULL, link text NOT NULL,
                    eth_src macaddr, eth_dst macaddr, vlan integer, ip smallint, src inet, dst inet,
                    proto smallint, transport text, sport integer, dport integer, seq bigint, ack bigint,
                    tcp_flags integer, tcp_window integer, payload_len bigint, icmp_type smallint,
                    icmp_code smallint, dns_query text, app text, flow_uid text)
                PARTITION BY RANGE (ts)
                """,
                "CREATE TABLE packets_default PARTITION OF packets DEFAULT",
                "CREATE INDEX packets_ts ON packets (ts)",
                "CREATE INDEX packets_src ON packets (src, ts)",
                "CREATE INDEX packets_dst ON packets (dst, ts)",
                "CREATE INDEX packets_sport ON packets (sport, ts)",
                "CREATE INDEX packets_dport ON packets (dport, ts)",
                "CREATE INDEX packets_app ON packets (app, ts)",
                """
                CREATE TABLE sniff_batches (
                    writer_id bigint NOT NULL, seq bigint NOT NULL, sensor text NOT NULL,
                    capture_id bigint NOT NULL, kind text NOT NULL, row_count bigint NOT NULL,
                    first_ts bigint, last_ts bigint, created_at bigint NOT NULL, stored_at bigint NOT NULL,
                    PRIMARY KEY (writer_id, seq))
                """,
                "CREATE INDEX sniff_batches_stored ON sniff_batches (stored_at)",
            ]),
        SchemaVersion(2, "flows, alerts",
            sqlite: .statements([
                """
                CREATE TABLE flows (
                    id INTEGER PRIMARY KEY, capture_id INTEGER NOT NULL, sensor TEXT NOT NULL,
                    ts INTEGER NOT NULL, last_ts INTEGER NOT NULL, uid TEXT NOT NULL,
                    orig_h TEXT NOT NULL, orig_p INTEGER NOT NULL, resp_h TEXT NOT NULL, resp_p INTEGER NOT NULL,
                    proto TEXT NOT NULL, ip_proto INTEGER NOT NULL, service TEXT, duration_ns INTEGER,
                    orig_bytes INTEGER, resp_bytes INTEGER, conn_state TEXT NOT NULL, local_orig INTEGER,
                    local_resp INTEGER, missed_bytes INTEGER NOT NULL, history TEXT,
                    orig_pkts INTEGER NOT NULL, orig_ip_bytes INTEGER NOT NULL, resp_pkts INTEGER NOT NULL,
                    resp_ip_bytes INTEGER NOT NULL, community_id TEXT NOT NULL, vlan INTEGER, app TEXT NOT NULL,
                    app_source TEXT NOT NULL, dns_query TEXT, tls_sni TEXT, tls_version TEXT, http_host TEXT,
                    http_method TEXT, http_uri TEXT, ssh_client TEXT, ssh_server TEXT, quic_version TEXT,
                    orig_tcp_flags TEXT, resp_tcp_flags TEXT, orig_l2_bytes INTEGER NOT NULL,
                    resp_l2_bytes INTEGER NOT NULL, end_reason TEXT,
                    total_bytes INTEGER NOT NULL, total_pkts INTEGER NOT NULL)
                """,
                "CREATE INDEX flows_ts ON flows (ts)",
                "CREATE INDEX flows_orig ON flows (orig_h, ts)",
                "CREATE INDEX flows_resp ON flows (resp_h, ts)",
                "CREATE INDEX flows_bytes ON flows (total_bytes)",
                "CREATE INDEX flows_pkts ON flows (total_pkts)",
                "CREATE INDEX flows_uid ON flows (uid)",
                """
                CREATE TABLE alerts (
                    id INTEGER PRIMARY KEY, capture_id INTEGER NOT NULL, sensor TEXT NOT NULL,
                    alert_id TEXT NOT NULL, ts INTEGER NOT NULL, severity TEXT NOT NULL,
                    severity_level INTEGER NOT NULL, rule TEXT NOT NULL, kind TEXT NOT NULL,
                    message TEXT NOT NULL, uid TEXT, hosts TEXT NOT NULL, suppressed INTEGER NOT NULL)
                """,
                "CREATE INDEX alerts_ts ON alerts (ts)",
            ]),
            postgres: [
                "CREATE SEQUENCE flows_id_seq CACHE 1000",
                """
                CREATE TABLE flows (
                    id bigint NOT NULL DEFAULT nextval('flows_id_seq'),
                    capture_id bigint NOT NULL, sensor text NOT NULL, ts bigint NOT NULL, last_ts bigint NOT NULL,
                    uid text NOT NULL, orig_h inet NOT NULL, orig_p integer NOT NULL, resp_h inet NOT NULL,
                    resp_p integer NOT NULL, proto text NOT NULL, ip_proto smallint NOT NULL, service text,
                    duration_ns bigint, orig_bytes bigint, resp_bytes bigint, conn_state text NOT NULL,
                    local_orig boolean, local_resp boolean, missed_bytes bigint NOT NULL, history text,
                    orig_pkts bigint NOT NULL, orig_ip_bytes bigint NOT NULL, resp_pkts bigint NOT NULL,
                    resp_ip_bytes bigint NOT NULL, community_id text NOT NULL, vlan integer, app text NOT NULL,
                    app_source text NOT NULL, dns_query text, tls_sni text, tls_version text, http_host text,
                    http_method text, http_uri text, ssh_client text, ssh_server text, quic_version text,
                    orig_tcp_flags text, resp_tcp_flags text, orig_l2_bytes bigint NOT NULL,
                    resp_l2_bytes bigint NOT NULL, end_reason text,
                    total_bytes bigint NOT NULL, total_pkts bigint NOT NULL)
                PARTITION BY RANGE (ts)
                """,
                "CREATE TABLE flows_default PARTITION OF flows DEFAULT",
                "CREATE INDEX flows_ts ON flows (ts)",
                "CREATE INDEX flows_orig ON flows (orig_h, ts)",
                "CREATE INDEX flows_resp ON flows (resp_h, ts)",
                "CREATE INDEX flows_bytes ON flows (total_bytes)",
                "CREATE INDEX flows_pkts ON flows (total_pkts)",
                "CREATE INDEX flows_uid ON flows (uid)",
                """
                CREATE TABLE alerts (
                    id bigserial PRIMARY KEY, capture_id bigint NOT NULL, sensor text NOT NULL,
                    alert_id text NOT NULL, ts bigint NOT NULL, severity text NOT NULL,
                    severity_level smallint NOT NULL, rule text NOT NULL, kind text NOT NULL,
                    message text NOT NULL, uid text, hosts text NOT NULL, suppressed bigint NOT NULL)
                """,
                "CREATE INDEX alerts_ts ON alerts (ts)",
            ]),
        SchemaVersion(3, "traffic per second",
            sqlite: .statements([
                """
                CREATE TABLE traffic (
                    capture_id INTEGER NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL,
                    transport TEXT, app TEXT, packets INTEGER NOT NULL, bytes INTEGER NOT NULL)
                """,
                "CREATE INDEX traffic_ts ON traffic (ts)",
            ]),
            postgres: [
                """
                CREATE TABLE traffic (
                    capture_id bigint NOT NULL, sensor text NOT NULL, ts bigint NOT NULL,
                    transport text, app text, packets bigint NOT NULL, bytes bigint NOT NULL)
                PARTITION BY RANGE (ts)
                """,
                "CREATE TABLE traffic_default PARTITION OF traffic DEFAULT",
                "CREATE INDEX traffic_ts ON traffic (ts)",
            ]),
        SchemaVersion(4, "packet bytes (--store-raw)",
            // Nullable, no default: adding it rewrites nothing.
            sqlite: .statements(["ALTER TABLE packets ADD COLUMN raw BLOB"]),
            // Nullable, no default: a catalog change only, on every partition. EXTERNAL:
            // packet bytes hardly compress, so large ones are not worth trying.
            postgres: ["ALTER TABLE packets ADD COLUMN raw bytea",
                    "ALTER TABLE packets ALTER COLUMN raw SET STORAGE EXTERNAL"]),
        SchemaVersion(5, "flows per second",
            sqlite: .statements([
                """
                CREATE TABLE flow_counts (
                    capture_id INTEGER NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL,
                    ip_proto INTEGER NOT NULL, app TEXT NOT NULL, flows INTEGER NOT NULL)
                """,
                "CREATE INDEX flow_counts_ts ON flow_counts (ts)",
                Schema.flowCountBackfill,
            ]),
            // A few rows per second: not partitioned; retention deletes by ts.
            postgres: [
                """
                CREATE TABLE flow_counts (
                    capture_id bigint NOT NULL, sensor text NOT NULL, ts bigint NOT NULL,
                    ip_proto smallint NOT NULL, app text NOT NULL, flows bigint NOT NULL)
                """,
                "CREATE INDEX flow_counts_ts ON flow_counts (ts)",
                Schema.flowCountBackfill,
            ]),
        SchemaVersion(6, "packet app source and Info line",
            // app_payload: 1 when the app came from the flow's payload, 0 from the port
            // (SQLite stores both in the record header, no body byte). info: the Info
            // line only when the frame gave it; NULL when the header columns render it.
            sqlite: .statements([
                "ALTER TABLE packets ADD COLUMN app_payload INTEGER", "ALTER TABLE packets ADD COLUMN info TEXT"
            ]),
            // Nullable, no default: catalog changes only, on every partition.
            postgres: [
                "ALTER TABLE packets ADD COLUMN app_payload smallint", "ALTER TABLE packets ADD COLUMN info text"
            ]),
        // SQLite rewrites a table in code (see SQLiteCompactPackets); PostgreSQL records the version and changes nothing.
        SchemaVersion(SQLiteSchema.compactPacketsVersion, "compact packets with per-segment key runs (SQLite)",
            sqlite: .convert(.compactPackets),
            postgres: []),
        SchemaVersion(8, "flow TLS handshake",
            sqlite: .statements(Schema.flowHandshakeColumns.map { "ALTER TABLE flows ADD COLUMN \($0) TEXT" }),
            // Nullable, no default: catalog changes only, on every partition.
            postgres: Schema.flowHandshakeColumns.map { "ALTER TABLE flows ADD COLUMN \($0) text" }),
        // SQLite rewrites a table in code (see SQLiteFlows); PostgreSQL records the version and changes nothing.
        SchemaVersion(SQLiteSchema.segmentedFlowsVersion, "flows with per-segment key runs (SQLite)",
            sqlite: .convert(.segmentedFlows),
            postgres: []),
        SchemaVersion(10, "flow hosts and processes, hosts table",
            sqlite: .statements(SQLiteSchema.enrichmentStatements),
            // Nullable, no default: catalog changes only, on every partition. The hosts
            // tables are small (a row per address and capture): not partitioned.
            postgres: Schema.flowEnrichmentColumns.map { c in
                let type = c == "process_orig" ? "boolean" : c == "pid" ? "integer"
                    : Schema.flowEnrichmentIntegers.contains(c) ? "bigint" : "text"
                return "ALTER TABLE flows ADD COLUMN \(c) \(type)"
            } + [
                """
                CREATE TABLE hosts (
                    capture_id bigint NOT NULL, sensor text NOT NULL, address inet NOT NULL, first_ts bigint NOT NULL,
                    last_ts bigint NOT NULL, country text, asn bigint, org text, category text NOT NULL,
                    PRIMARY KEY (capture_id, sensor, address))
                """,
                "CREATE INDEX hosts_address ON hosts (address)",
                "CREATE INDEX hosts_last ON hosts (last_ts)",
                """
                CREATE TABLE host_names (
                    capture_id bigint NOT NULL, sensor text NOT NULL, address inet NOT NULL, name text NOT NULL,
                    first_seen bigint NOT NULL, last_seen bigint NOT NULL,
                    PRIMARY KEY (capture_id, sensor, address, name))
                """,
                "CREATE INDEX host_names_address ON host_names (address)",
                "CREATE INDEX host_names_name ON host_names (name)",
            ]),
        // SQLite rewrites a table in code (see PacketTable, FlowTable); PostgreSQL records the version and changes nothing.
        SchemaVersion(SQLiteSchema.coldColumnsVersion, "cold packet and flow fields in one BLOB per row (SQLite)",
            sqlite: .convert(.coldColumns),
            postgres: []),
        SchemaVersion(Schema.logsVersion, "protocol logs: dns, http, tls",
            sqlite: .statements(Schema.logTableStatements(.sqlite)),
            postgres: Schema.logTableStatements(.postgres)),
        SchemaVersion(Schema.hostMACVersion, "hosts: MAC address and its vendor",
            sqlite: .statements(["ALTER TABLE hosts ADD COLUMN mac TEXT", "ALTER TABLE hosts ADD COLUMN vendor TEXT"]),
            // Text, as in SQLite: the API hands both out as written.
            postgres: ["ALTER TABLE hosts ADD COLUMN mac text", "ALTER TABLE hosts ADD COLUMN vendor text"]),
        // The names stored before came from DNS answers on the wire: the default says so.
        SchemaVersion(Schema.hostNameSourceVersion, "host names: their source (DNS answer or reverse lookup)",
            sqlite: .statements(["ALTER TABLE host_names ADD COLUMN source TEXT NOT NULL DEFAULT 'dns'"]),
            postgres: ["ALTER TABLE host_names ADD COLUMN source text NOT NULL DEFAULT 'dns'"],
            clickhouse: ClickHouseSchema.tables.map(SchemaVersion.ClickHouseStep.sql)),
        // ClickHouse's log tables are sorted by time and have no secondary index: unchanged.
        SchemaVersion(Schema.logSegmentsVersion, "protocol logs: uid and address indexes per segment",
            sqlite: .statements(Schema.logSegmentStatements(.sqlite)),
            postgres: Schema.logSegmentStatements(.postgres)),
        SchemaVersion(Schema.flowTunnelVersion, "flows: tunnel, tunnel_id, tunnel_parents",
            // Columns of their own, after `cold` (which keeps its layout): NULL for every
            // flow not carried in a tunnel, which costs a record header byte each.
            sqlite: .statements(
                Schema.flowTunnelColumns.map { "ALTER TABLE flows ADD COLUMN \($0) \(SQLiteSchema.flowColumnType($0))" }
                    + ["DROP VIEW flows_v", FlowTable.viewSQL(tunnels: true)]),
            // Nullable, no default: catalog changes only, on every partition.
            postgres: Schema.flowTunnelColumns.map {
                "ALTER TABLE flows ADD COLUMN \($0) \($0 == "tunnel_id" ? "bigint" : "text")"
            }
                + ["CREATE INDEX flows_tunnel ON flows (tunnel, ts) WHERE tunnel IS NOT NULL"],
            clickhouse: [.addColumns(table: "flows", columns: ClickHouseSchema.flowTunnelColumns, orderBy: nil)]),
        // Nullable columns at the end: earlier rows (and TLS 1.3 and QUIC ones) have none.
        SchemaVersion(Schema.tlsCertificateVersion, "tls log: certificate subject, issuer and validity",
            sqlite: .statements(LogKind.tlsCertificateColumns.map {
                "ALTER TABLE tls ADD COLUMN \($0.name) \($0.kind == .int ? "INTEGER" : "TEXT")"
            }),
            postgres: LogKind.tlsCertificateColumns.map {
                "ALTER TABLE tls ADD COLUMN \($0.name) \($0.kind == .int ? "bigint" : "text")"
            },
            clickhouse: [
                .addColumns(
                    table: "tls", columns: LogKind.tlsCertificateColumns.map(ClickHouseSchema.column), orderBy: nil)
            ]),
        // ClickHouse's flows were one row per (sensor, ts, capture, uid), which folded
        // two records of one flow; SQLite and PostgreSQL always kept both. The rows
        // stored before keep 0, 0, 0: their replayed copies still fold.
        SchemaVersion(
            Schema.flowRecordKeyVersion, "flows: every record its own row (ClickHouse's key: batch and position)",
            sqlite: .statements([]),
            postgres: [],
            clickhouse: [
                .addColumns(
                    table: "flows", columns: ClickHouseSchema.flowRecordColumns, orderBy: ClickHouseSchema.flowKey)
            ]),
        // SQLite only (see SQLiteHosts). PostgreSQL keeps `inet` (already binary) and its
        // indexes, whose cost there was not measured; ClickHouse keeps its 16-byte
        // addresses and sorting key.
        SchemaVersion(SQLiteSchema.hostBytesVersion, "hosts: addresses as bytes, one B-tree per table (SQLite)",
            sqlite: .statements(SQLiteSchema.hostBytesStatements),
            postgres: []),
        // SQLite only (see SQLiteSchema.logAddressBytesVersion): PostgreSQL's are inet,
        // ClickHouse's 16 bytes already.
        SchemaVersion(SQLiteSchema.logAddressBytesVersion, "protocol logs: addresses as bytes (SQLite)",
            sqlite: .statements(SQLiteSchema.logAddressBytesStatements),
            postgres: []),
        // ClickHouse only: the other databases keep their packets' uids as they were.
        SchemaVersion(Schema.packetUIDBytesVersion, "packets: flow uid as 12 bytes, caplen as the bytes cut (ClickHouse)",
            sqlite: .statements([]),
            postgres: [],
            clickhouse: [.packetUIDBytes]),
        // SQLite only (see FlowUIDBytes): PostgreSQL keeps the uid as text, ClickHouse's
        // packets have their 12 bytes since `packetUIDBytesVersion`.
        SchemaVersion(SQLiteSchema.uidBytesVersion, "packets and flows: flow uid as 13 bytes (SQLite)",
            sqlite: .statements(SQLiteSchema.uidBytesStatements),
            postgres: []),
        // SQLite only (see PacketCodes): PostgreSQL and ClickHouse keep the capture id,
        // sensor and MACs in every packet row as they were.
        SchemaVersion(PacketCodes.version, "packets: capture, sensor and MAC addresses as codes (SQLite)",
            sqlite: .convert(.packetCodes),
            postgres: []),
        // SQLite only (see DNSTable): PostgreSQL keeps text and inet, ClickHouse its table
        // sorted by time; both record the version and change nothing.
        SchemaVersion(DNSTable.version, "dns log: capture and sensor, uid and names as codes and bytes (SQLite)",
            sqlite: .statements(DNSTable.migrationStatements),
            postgres: []),
    ]
}
