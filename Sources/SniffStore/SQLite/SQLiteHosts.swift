import SniffCore

/// The hosts tables of SQLite since `hostBytesVersion`: the address is its 4 or 16
/// network-order bytes (`CompactPacket`) and leads the primary key, which is the only
/// B-tree of each table. Before it, the address was text in a key led by the capture,
/// with two more indexes (`hosts_address`, `hosts_last`): three B-trees with a random key
/// updated on every upsert, a third of the writer's time on a capture with many clients.
///
/// What the reads need of them (`HostQueries`): one address (`/api/hosts/{ip}`, the names
/// of a page's addresses) is a seek on the key; the list groups by address, which walks
/// the key in order. The list's time range and a name's substring scan the table either
/// way. `hosts_v` and `host_names_v` show the addresses as text.
extension SQLiteSchema {
    static let hostBytesVersion = 19

    static let hostBytesStatements: [String] = {
        func copy(_ table: String, _ columns: [String]) -> String {
            let from = columns.map { $0 == "address" ? "sniff_address_bytes(address)" : $0 }.joined(separator: ", ")
            return "INSERT INTO \(table) (\(columns.joined(separator: ", "))) SELECT \(from) FROM \(table)_v18 "
                + "WHERE sniff_address_bytes(address) IS NOT NULL"
        }
        func view(_ table: String, _ columns: [String]) -> String {
            let cols = columns.map { $0 == "address" ? "\(CompactPacket.addressText("address")) AS address" : $0 }
            return "CREATE VIEW \(table)_v AS SELECT \(cols.joined(separator: ", ")) FROM \(table)"
        }
        return [
            // Their indexes go with them (hosts_address, hosts_last, host_names_address, host_names_name).
            "ALTER TABLE hosts RENAME TO hosts_v18",
            "ALTER TABLE host_names RENAME TO host_names_v18",
            """
            CREATE TABLE hosts (
                capture_id INTEGER NOT NULL, sensor TEXT NOT NULL, address BLOB NOT NULL, first_ts INTEGER NOT NULL,
                last_ts INTEGER NOT NULL, country TEXT, asn INTEGER, org TEXT, category TEXT NOT NULL, mac TEXT,
                vendor TEXT, PRIMARY KEY (address, capture_id, sensor)) WITHOUT ROWID
            """,
            """
            CREATE TABLE host_names (
                capture_id INTEGER NOT NULL, sensor TEXT NOT NULL, address BLOB NOT NULL, name TEXT NOT NULL,
                first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, source TEXT NOT NULL DEFAULT 'dns',
                PRIMARY KEY (address, capture_id, sensor, name)) WITHOUT ROWID
            """,
            copy("hosts", Schema.hostColumns),
            copy("host_names", Schema.hostNameColumns),
            "DROP TABLE hosts_v18",
            "DROP TABLE host_names_v18",
            view("hosts", Schema.hostColumns),
            view("host_names", Schema.hostNameColumns),
        ]
    }()
}
