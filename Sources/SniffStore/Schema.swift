import SniffAnalysis

/// The logical schema shared by both databases: table and column names, in the order
/// the writers send them. SQLite keeps addresses as text; PostgreSQL as `inet`.
enum Schema {
    static let packetColumns = [
        "capture_id", "sensor", "n", "ts", "len", "caplen", "iface", "link", "eth_src", "eth_dst", "vlan", "ip",
        "src", "dst", "proto", "transport", "sport", "dport", "seq", "ack", "tcp_flags", "tcp_window",
        "payload_len", "icmp_type", "icmp_code", "dns_query", "app", "flow_uid", "app_payload", "info",
    ]

    /// What the writers send for a packet: the columns above and the kept bytes
    /// (`raw`, NULL without --store-raw). Reads name `raw` only when they need bytes, so
    /// that pages of rows never load them.
    static let packetWriteColumns = packetColumns + ["raw"]

    /// The flows' columns up to version 9 (what the version-9 conversion copies), then
    /// the names, countries, ASNs and process of migration 10.
    static let flowColumns = flowColumnsV9 + flowEnrichmentColumns

    static let flowColumnsV9 = [
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

    /// Migration 10: who each end is and which local process owns the flow, under the
    /// flows NDJSON's names (one list, `FlowNDJSONWriter`'s), then `process_orig`: 1 when
    /// the process owns the originator's socket, 0 the responder's (what makes its bytes
    /// sent or received). All nullable, added at the end of the table. `user` is a
    /// reserved word in PostgreSQL, so it is quoted in both databases.
    static let flowEnrichmentColumns = FlowNDJSONWriter.hostFields
        + FlowNDJSONWriter.processFields.map { $0 == "user" ? "\"user\"" : $0 } + ["process_orig"]
    /// The integer columns among them (the rest are text).
    static let flowEnrichmentIntegers: Set = ["orig_asn", "resp_asn", "pid", "process_orig"]

    /// `flowTunnelVersion`: the tunnel a flow was carried in, under the flows NDJSON's names
    /// (`FlowRow.tunnel`): nullable, added at the end of the table. Not part of
    /// `flowColumns`, which the older migrations copy tables by.
    static let flowTunnelColumns = ["tunnel", "tunnel_id", "tunnel_parents"]
    /// Every column a flow is stored with today (PostgreSQL's COPY and reads).
    static let flowStoredColumns = flowColumns + flowTunnelColumns

    /// What enrichment learned of each address seen in a capture's flows (migration 10):
    /// one row per (capture, sensor, address), updated as flows end, and one per name
    /// passive DNS gave it, with the times of the first and last answer.
    /// `mac` and `vendor` (migration 13): the MAC address a local address last sent
    /// from and the IEEE registry's organisation for it.
    static let hostColumns = [
        "capture_id", "sensor", "address", "first_ts", "last_ts", "country", "asn", "org", "category",
        "mac", "vendor"
    ]
    /// `source` (migration 14): `HostNameSource`, 'dns' for the rows written before it.
    static let hostNameColumns = ["capture_id", "sensor", "address", "name", "first_seen", "last_seen", "source"]

    /// The upserts of both databases (SQLite since 3.24 and PostgreSQL share the syntax):
    /// times widen, a later country/ASN/org replaces an earlier one only when known.
    static let hostUpsert = "INSERT INTO hosts (\(hostColumns.joined(separator: ", "))) VALUES "
        + "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (capture_id, sensor, address) DO UPDATE SET "
        + "first_ts = CASE WHEN excluded.first_ts < hosts.first_ts THEN excluded.first_ts ELSE hosts.first_ts END, "
        + "last_ts = CASE WHEN excluded.last_ts > hosts.last_ts THEN excluded.last_ts ELSE hosts.last_ts END, "
        + "country = COALESCE(excluded.country, hosts.country), asn = COALESCE(excluded.asn, hosts.asn), "
        + "org = COALESCE(excluded.org, hosts.org), category = excluded.category, "
        + "mac = COALESCE(excluded.mac, hosts.mac), "
        + "vendor = CASE WHEN excluded.mac IS NULL THEN hosts.vendor ELSE excluded.vendor END"
    static let hostNameUpsert = "INSERT INTO host_names (\(hostNameColumns.joined(separator: ", "))) VALUES "
        + "($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (capture_id, sensor, address, name) DO UPDATE SET "
        + "first_seen = CASE WHEN excluded.first_seen < host_names.first_seen THEN excluded.first_seen "
        + "ELSE host_names.first_seen END, "
        + "last_seen = CASE WHEN excluded.last_seen > host_names.last_seen THEN excluded.last_seen "
        + "ELSE host_names.last_seen END, "
        // A name DNS on the wire gave stays a DNS answer when a PTR lookup gives it too.
        + "source = CASE WHEN host_names.source = 'dns' THEN 'dns' ELSE excluded.source END"

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

    /// The tables `sniff db info` counts.
    static let infoTables =
        ["captures", "packets", "flows", "alerts", "traffic", "sniff_batches"] + LogKind.allCases.map(\.table)

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
