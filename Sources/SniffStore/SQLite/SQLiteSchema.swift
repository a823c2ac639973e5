/// SQLite's statements for each schema version. Addresses and MAC addresses are text
/// in their canonical forms (so equality is exact); times are integer nanoseconds.
enum SQLiteSchema {
    static let bootstrap = """
        CREATE TABLE IF NOT EXISTS sniff_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)
        """

    static func statements(version: Int) -> [String] {
        switch version {
        case 1:
            return [
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
            ]
        case 2:
            return [
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
            ]
        case 3:
            return [
                """
                CREATE TABLE traffic (
                    capture_id INTEGER NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL,
                    transport TEXT, app TEXT, packets INTEGER NOT NULL, bytes INTEGER NOT NULL)
                """,
                "CREATE INDEX traffic_ts ON traffic (ts)",
            ]
        case 4:
            // Nullable, no default: adding it rewrites nothing.
            return ["ALTER TABLE packets ADD COLUMN raw BLOB"]
        case 5:
            return [
                """
                CREATE TABLE flow_counts (
                    capture_id INTEGER NOT NULL, sensor TEXT NOT NULL, ts INTEGER NOT NULL,
                    ip_proto INTEGER NOT NULL, app TEXT NOT NULL, flows INTEGER NOT NULL)
                """,
                "CREATE INDEX flow_counts_ts ON flow_counts (ts)",
                Schema.flowCountBackfill,
            ]
        case 6:
            // app_payload: 1 when the app came from the flow's payload, 0 from the port
            // (SQLite stores both in the record header, no body byte). info: the Info
            // line only when the frame gave it; NULL when the header columns render it.
            return ["ALTER TABLE packets ADD COLUMN app_payload INTEGER", "ALTER TABLE packets ADD COLUMN info TEXT"]
        case 8:
            return Schema.flowHandshakeColumns.map { "ALTER TABLE flows ADD COLUMN \($0) TEXT" }
        case 10:
            return enrichmentStatements
        case Schema.logsVersion:
            return Schema.logTableStatements(.sqlite)
        case Schema.hostMACVersion:
            return ["ALTER TABLE hosts ADD COLUMN mac TEXT", "ALTER TABLE hosts ADD COLUMN vendor TEXT"]
        default:
            return []
        }
    }
}
