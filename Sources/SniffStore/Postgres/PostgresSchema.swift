/// PostgreSQL's statements for each schema version.
///
/// Addresses are `inet`, MAC addresses `macaddr`, times `bigint` nanoseconds (exact;
/// a timestamptz would keep microseconds only). Unsigned 32-bit header fields are
/// `bigint` so that no value a capture file can hold is out of range. The tables with
/// one row per packet, flow or second are partitioned by day on `ts` (a default
/// partition catches days without one); each index ends in `ts` so that "newest first"
/// with a filter reads one index range backwards.
///
/// For Citus, the distribution column is `sensor` (see docs/SCALING.md): every table
/// carries it, and no unique constraint spans sensors.
enum PostgresSchema {
    /// A constant for `pg_advisory_xact_lock`: migrations and partition DDL from several
    /// sensors at once take turns.
    static let ddlLockKey: Int64 = 0x5_3A1F_F500

    static let bootstrap = """
        CREATE TABLE IF NOT EXISTS sniff_migrations (
            version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)
        """

    static func statements(version: Int) -> [String] {
        switch version {
        case 1:
            return [
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
            ]
        case 2:
            return [
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
            ]
        case 3:
            return [
                """
                CREATE TABLE traffic (
                    capture_id bigint NOT NULL, sensor text NOT NULL, ts bigint NOT NULL,
                    transport text, app text, packets bigint NOT NULL, bytes bigint NOT NULL)
                PARTITION BY RANGE (ts)
                """,
                "CREATE TABLE traffic_default PARTITION OF traffic DEFAULT",
                "CREATE INDEX traffic_ts ON traffic (ts)",
            ]
        case 4:
            // Nullable, no default: a catalog change only, on every partition. EXTERNAL:
            // packet bytes hardly compress, so large ones are not worth trying.
            return ["ALTER TABLE packets ADD COLUMN raw bytea",
                    "ALTER TABLE packets ALTER COLUMN raw SET STORAGE EXTERNAL"]
        case 5:
            // A few rows per second: not partitioned; retention deletes by ts.
            return [
                """
                CREATE TABLE flow_counts (
                    capture_id bigint NOT NULL, sensor text NOT NULL, ts bigint NOT NULL,
                    ip_proto smallint NOT NULL, app text NOT NULL, flows bigint NOT NULL)
                """,
                "CREATE INDEX flow_counts_ts ON flow_counts (ts)",
                Schema.flowCountBackfill,
            ]
        case 6:
            // Nullable, no default: catalog changes only, on every partition.
            return ["ALTER TABLE packets ADD COLUMN app_payload smallint", "ALTER TABLE packets ADD COLUMN info text"]
        case 8:
            // Nullable, no default: catalog changes only, on every partition.
            return Schema.flowHandshakeColumns.map { "ALTER TABLE flows ADD COLUMN \($0) text" }
        case 10:
            // Nullable, no default: catalog changes only, on every partition. The hosts
            // tables are small (a row per address and capture): not partitioned.
            return Schema.flowEnrichmentColumns.map { c in
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
            ]
        case Schema.logsVersion:
            return Schema.logTableStatements(.postgres)
        case Schema.hostMACVersion:
            // Text, as in SQLite: the API hands both out as written.
            return ["ALTER TABLE hosts ADD COLUMN mac text", "ALTER TABLE hosts ADD COLUMN vendor text"]
        default:
            return []
        }
    }
}
