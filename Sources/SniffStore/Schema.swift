/// The logical schema shared by both databases: table and column names, in the order
/// the writers send them. SQLite keeps addresses as text; PostgreSQL as `inet`.
enum Schema {
    /// Migrations, in order. Each database has its own statements for each version.
    static let migrations: [Migration] = [
        Migration(version: 1, name: "captures, packets, batches"),
        Migration(version: 2, name: "flows, alerts"),
        Migration(version: 3, name: "traffic per second"),
        Migration(version: 4, name: "packet bytes (--store-raw)"),
        Migration(version: 5, name: "flows per second"),
        Migration(version: 6, name: "packet app source and Info line"),
        // SQLite only (PostgreSQL records it and changes nothing): see SQLiteSchema.
        Migration(version: 7, name: "compact packets with per-segment key runs (SQLite)"),
        Migration(version: 8, name: "flow TLS handshake"),
        // SQLite only (PostgreSQL records it and changes nothing): see SQLiteFlows.
        Migration(version: 9, name: "flows with per-segment key runs (SQLite)"),
    ]
    static var latestVersion: Int { migrations.last!.version }

    static let packetColumns = [
        "capture_id", "sensor", "n", "ts", "len", "caplen", "iface", "link", "eth_src", "eth_dst", "vlan", "ip",
        "src", "dst", "proto", "transport", "sport", "dport", "seq", "ack", "tcp_flags", "tcp_window",
        "payload_len", "icmp_type", "icmp_code", "dns_query", "app", "flow_uid", "app_payload", "info",
    ]

    /// What the writers send for a packet: the columns above and the kept bytes
    /// (`raw`, NULL without --store-raw). Reads name `raw` only when they need bytes, so
    /// that pages of rows never load them.
    static let packetWriteColumns = packetColumns + ["raw"]

    static let flowColumns = [
        "capture_id", "sensor", "ts", "last_ts", "uid", "orig_h", "orig_p", "resp_h", "resp_p", "proto", "ip_proto",
        "service", "duration_ns", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp",
        "missed_bytes", "history", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "community_id",
        "vlan", "app", "app_source", "dns_query", "tls_sni", "tls_version", "http_host", "http_method", "http_uri",
        "ssh_client", "ssh_server", "quic_version", "orig_tcp_flags", "resp_tcp_flags", "orig_l2_bytes",
        "resp_l2_bytes", "end_reason", "total_bytes", "total_pkts",
    ] + flowHandshakeColumns

    /// The TLS/QUIC handshake of a flow (migration 8), in `FlowRow.handshakeColumns` order:
    /// all nullable text, added to the end of the table.
    static let flowHandshakeColumns = [
        "tls_chosen_version", "tls_cipher", "tls_next_protocol", "tls_client_versions", "tls_client_alpn",
        "ja3", "ja3s", "ja4",
    ]

    static let alertColumns = [
        "capture_id", "sensor", "alert_id", "ts", "severity", "severity_level", "rule", "kind", "message", "uid",
        "hosts", "suppressed",
    ]

    static let trafficColumns = ["capture_id", "sensor", "ts", "transport", "app", "packets", "bytes"]

    /// Finished flows counted per second of their start, per IP protocol and app:
    /// written with each batch of flows, so that the protocol summary reads a few rows
    /// per second instead of every flow.
    static let flowCountColumns = ["capture_id", "sensor", "ts", "ip_proto", "app", "flows"]

    /// SQL for the start of `ts`'s second, rounding down for times before 1970 too (`%`
    /// keeps the dividend's sign in SQLite and PostgreSQL).
    static func secondOf(_ ts: String) -> String { "(\(ts) - ((\(ts) % 1000000000) + 1000000000) % 1000000000)" }

    /// The backfill of `flow_counts` from the flows already stored.
    static let flowCountBackfill = "INSERT INTO flow_counts (\(flowCountColumns.joined(separator: ", "))) "
        + "SELECT capture_id, sensor, \(secondOf("ts")) AS second, ip_proto, app, count(*) FROM flows GROUP BY capture_id, sensor, second, ip_proto, app"

    static let captureCounters = [
        "packets_seen", "packets_matched", "bytes_seen", "packets_stored", "flows", "alerts",
        "kernel_dropped", "interface_dropped", "sniff_dropped",
    ]

    /// Tables partitioned by day in PostgreSQL, and deleted by time on retention.
    static let timeTables = ["packets", "flows", "traffic"]

    static func severityLevel(_ s: String) -> Int64 {
        Int64(AlertQuery.severities.firstIndex(of: s) ?? 0)
    }
}
