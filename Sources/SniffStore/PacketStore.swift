import SniffCore
import SniffDecode

/// Where Sniff keeps packets, flows, alerts and captures: SQLite (embedded, the
/// default) or PostgreSQL. Writers hand it batches; the server reads it through the
/// query methods. Every value reaches SQL as a bound parameter.
///
/// Implementations are safe to use from several tasks at once.
public protocol PacketStore: AnyObject, Sendable {
    /// "sqlite", "postgresql" or "clickhouse".
    var backend: String { get }
    /// Where the data lives, without a password ("sqlite:sniff.db", "postgres://sniff@db:5432/sniff").
    var location: String { get }

    // MARK: schema

    /// Applies the migrations the database lacks, in order; returns the ones applied
    /// now (empty when the schema was current). Safe to run from several processes.
    @discardableResult
    func migrate() async throws -> [Migration]
    /// Schema version, applied migrations, table sizes.
    func info() async throws -> StoreInfo

    // MARK: writing

    /// Stores one batch in one transaction together with its id. Returns false when
    /// the batch id was already stored (a replay), in which case nothing is written.
    @discardableResult
    func write(_ batch: StoreBatch) async throws -> Bool
    /// Rows the writer may hand over in one `write(_ batches:)` call; 0: one batch at a
    /// time. A store whose inserts cost per statement (ClickHouse) takes many.
    var coalesceRows: Int { get }
    /// The least time between the starts of two writes from memory while the capture
    /// goes on (nanoseconds; 0: none). A store that pays per write call (ClickHouse makes
    /// a part per table per insert and merges them later) asks the writer to gather more
    /// rows into fewer calls (`WriterStateMachine.nextWrite`).
    var writePaceNanos: Int64 { get }
    /// Stores several batches; returns, for each, what `write(_:)` returns. A batch
    /// counts as stored only when this returns: on a throw, none does, and the writer
    /// writes them all again (which stores each once).
    func write(_ batches: [StoreBatch]) async throws -> [Bool]
    /// Deletes rows older than `cutoff` (nanoseconds): old day partitions are dropped in
    /// PostgreSQL, rows deleted in SQLite. Also creates the partitions of the coming days.
    @discardableResult
    func maintain(now: Int64, retentionCutoff: Int64?) async throws -> MaintenanceReport
    func close() async

    // MARK: reading (the server's API)

    /// Packets, newest first, with keyset pagination.
    func packets(_ query: PacketQuery) async throws -> Page<StoredPacket>
    func flows(_ query: FlowQuery) async throws -> Page<StoredFlow>
    /// Packets, bytes and flows per transport and per app in a time range.
    func protocolSummary(_ range: RangeQuery) async throws -> ProtocolSummaryTable
    func timeSeries(_ query: TimeSeriesQuery) async throws -> [TimeSeriesPoint]
    /// The top address:port pairs (the report's list) and the top hosts, by bytes.
    func talkers(_ query: TalkersQuery) async throws -> Talkers
    func alerts(_ query: AlertQuery) async throws -> Page<StoredAlert>
    /// Protocol log rows of one kind (dns.log, http.log, ssl.log), newest first.
    func logs(_ query: LogQuery) async throws -> Page<StoredLog>
    func captures(_ query: CaptureQuery) async throws -> [CaptureInfo]
    /// Row totals, the newest batch and the write lag.
    func stats() async throws -> StoreStats
    /// The addresses enrichment learned about (names, country, ASN, category).
    func hosts(_ query: HostQuery) async throws -> Page<HostSummary>
    /// One address: what enrichment learned and its flows' totals, peers and apps.
    func host(_ address: IPAddress, range: RangeQuery) async throws -> HostDetail
    /// Bytes and flows per local process (flows captured live with process attribution).
    func processes(_ range: RangeQuery, process: String?, limit: Int) async throws -> [ProcessUsage]
    /// Bytes and flows per country or AS of the flows' endpoints (GeoIP enrichment).
    func networkShares(_ query: NetworkShareQuery) async throws -> [NetworkShare]

    // MARK: packet bytes (pcap export)

    /// Per link type, the packets that match `filter` and how many of them kept their
    /// bytes (`--store-raw`): what a pcap export needs to know before it starts.
    func frameSummary(_ filter: TrafficFilter) async throws -> FrameSummary
    /// The kept bytes of the packets that match `query.filter`, oldest first (the order
    /// of a capture file), with keyset pagination; packets without bytes are left out.
    func frames(_ query: PacketQuery) async throws -> FramePage
}

/// What the packets matching a filter hold, per link type.
public struct FrameSummary: Sendable, Equatable {
    public struct Link: Sendable, Equatable {
        public var link: LinkType
        public var packets: Int64
        /// Packets whose bytes were kept.
        public var withBytes: Int64
        /// Largest captured length among them.
        public var maxCaplen: Int64
        public init(link: LinkType, packets: Int64, withBytes: Int64, maxCaplen: Int64) {
            self.link = link; self.packets = packets; self.withBytes = withBytes; self.maxCaplen = maxCaplen
        }
    }
    /// Sorted by link type number.
    public var links: [Link]
    public init(links: [Link]) { self.links = links.sorted { $0.link.rawValue < $1.link.rawValue } }

    public var packets: Int64 { links.reduce(0) { $0 + $1.packets } }
    public var withoutBytes: Int64 { links.reduce(0) { $0 + $1.packets - $1.withBytes } }
}

/// A page of kept packet bytes: one array for the page, each frame a range of it.
public struct FramePage: Sendable {
    public struct Frame: Sendable, Equatable {
        /// Nanoseconds since the epoch.
        public var ts: Int64
        /// Length on the wire (the bytes kept may be fewer).
        public var wireLength: UInt32
        public var link: LinkType
        public var offset: Int
        public var count: Int
        public init(ts: Int64, wireLength: UInt32, link: LinkType, offset: Int, count: Int) {
            self.ts = ts; self.wireLength = wireLength; self.link = link; self.offset = offset; self.count = count
        }
    }
    public var frames: [Frame] = []
    public var bytes: [UInt8] = []
    public var nextCursor: String? = nil
    public init() {}

    /// Frames per page: at most 256 × the 262 144-byte snaplen in memory, and usually
    /// a few hundred kilobytes.
    public static let pageSize = 256
}

/// One schema migration.
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    /// When it was applied (wall clock, nanoseconds), for `info`.
    public var appliedAt: Int64?

    public init(version: Int, name: String, appliedAt: Int64? = nil) {
        self.version = version; self.name = name; self.appliedAt = appliedAt
    }
}

/// What `sniff db info` prints.
public struct StoreInfo: Sendable {
    public var backend: String
    public var location: String
    public var serverVersion: String
    public var schemaVersion: Int
    public var latestKnownVersion: Int
    public var migrations: [Migration]
    /// Table name and row count (estimated for large PostgreSQL tables).
    public var tables: [(name: String, rows: Int64)]
    /// PostgreSQL: day partitions per partitioned table.
    public var partitions: [(table: String, count: Int, oldest: String?, newest: String?)]
    public var sizeBytes: Int64?

    public init(backend: String, location: String, serverVersion: String, schemaVersion: Int, latestKnownVersion: Int) {
        self.backend = backend; self.location = location; self.serverVersion = serverVersion
        self.schemaVersion = schemaVersion; self.latestKnownVersion = latestKnownVersion
        migrations = []; tables = []; partitions = []
    }

    /// Plain text for the terminal.
    public var text: String {
        var lines = [
            "backend        \(backend) \(serverVersion)", "location       \(location)",
            "schema         version \(schemaVersion) of \(latestKnownVersion)"
                + (schemaVersion < latestKnownVersion ? " (run: sniff db migrate)" : "")
        ]
        for m in migrations {
            let when = m.appliedAt.map { Timestamp(totalNanoseconds: $0).utcString(fractionDigits: 0) } ?? "not applied"
            lines.append("  \(m.version)  \(m.name.padded(34)) \(when)")
        }
        for t in tables { lines.append("table          \(t.name.padded(10)) \(t.rows) rows") }
        for p in partitions {
            lines.append(
                "partitions     \(p.table.padded(10)) \(p.count) days"
                    + (p.oldest.map { " from \($0) to \(p.newest ?? $0)" } ?? ""))
        }
        if let s = sizeBytes { lines.append("size           \(s / 1_000_000) MB") }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    func padded(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}

public struct MaintenanceReport: Sendable, Equatable {
    public var partitionsCreated: [String] = []
    public var partitionsDropped: [String] = []
    public var rowsDeleted: Int64 = 0
    public init() {}
}

/// A packet row with the capture it came from.
public struct StoredPacket: Sendable, Equatable {
    public var sensor: String
    public var captureID: Int64
    public var row: PacketRow
    public init(sensor: String, captureID: Int64, row: PacketRow) {
        self.sensor = sensor; self.captureID = captureID; self.row = row
    }
}

public struct StoredFlow: Sendable, Equatable {
    public var sensor: String
    public var captureID: Int64
    public var row: FlowRow
    public init(sensor: String, captureID: Int64, row: FlowRow) {
        self.sensor = sensor; self.captureID = captureID; self.row = row
    }
}

public struct StoredAlert: Sendable, Equatable {
    public var sensor: String
    public var captureID: Int64
    public var row: AlertRow
    public init(sensor: String, captureID: Int64, row: AlertRow) {
        self.sensor = sensor; self.captureID = captureID; self.row = row
    }
}

/// One page of results; `nextCursor` fetches the following page (nil at the end).
public struct Page<Row: Sendable>: Sendable {
    public var rows: [Row]
    public var nextCursor: String?
    public init(rows: [Row], nextCursor: String?) { self.rows = rows; self.nextCursor = nextCursor }
}

/// Per transport and per app: packets and bytes (from every packet, sampled or not)
/// and flows (finished flows).
public struct ProtocolSummaryTable: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var packets: UInt64
        public var bytes: UInt64
        public var flows: UInt64
        public init(name: String, packets: UInt64, bytes: UInt64, flows: UInt64) {
            self.name = name; self.packets = packets; self.bytes = bytes; self.flows = flows
        }
    }
    public var transports: [Entry] = []
    public var apps: [Entry] = []
    /// Counted from flows (an address or port filter, which the per-second rollups
    /// cannot answer): each flow that starts in the range with all its packets and
    /// bytes, instead of the packets whose own time is in the range.
    public var countedFromFlows = false
    public init() {}
}

public struct TimeSeriesPoint: Sendable, Equatable {
    /// Start of the bucket, nanoseconds.
    public var ts: Int64
    /// The transport or app name.
    public var key: String
    public var packets: UInt64
    public var bytes: UInt64
    public init(ts: Int64, key: String, packets: UInt64, bytes: UInt64) {
        self.ts = ts; self.key = key; self.packets = packets; self.bytes = bytes
    }
}

public struct Talkers: Sendable, Equatable {
    public struct Pair: Sendable, Equatable {
        public var address: IPAddress
        public var port: UInt16
        /// "tcp", "udp", "icmp" ...
        public var proto: String
        public var packets: UInt64
        public var bytes: UInt64
        public var flows: UInt64
        public init(
            address: IPAddress, port: UInt16, proto: String, packets: UInt64 = 0, bytes: UInt64 = 0, flows: UInt64 = 0
        ) {
            self.address = address; self.port = port; self.proto = proto
            self.packets = packets; self.bytes = bytes; self.flows = flows
        }
    }
    public struct Host: Sendable, Equatable {
        public var address: IPAddress
        public var packets: UInt64
        public var bytes: UInt64
        public var flows: UInt64
        public init(address: IPAddress, packets: UInt64 = 0, bytes: UInt64 = 0, flows: UInt64 = 0) {
            self.address = address; self.packets = packets; self.bytes = bytes; self.flows = flows
        }
    }
    public var pairs: [Pair] = []
    public var hosts: [Host] = []
    public init() {}
}

public struct StoreStats: Sendable, Equatable {
    public var packets: Int64 = 0
    public var flows: Int64 = 0
    public var alerts: Int64 = 0
    public var captures: Int64 = 0
    public var batches: Int64 = 0
    /// Wall-clock time of the newest batch stored, nanoseconds.
    public var lastWrite: Int64? = nil
    /// For the newest batch: nanoseconds from being handed to the writer to being committed.
    public var lagNanos: Int64? = nil
    /// Sums over the captures: packets seen, and drops (kernel, interface, sniff).
    public var packetsSeen: UInt64 = 0
    public var kernelDropped: UInt64 = 0
    public var interfaceDropped: UInt64 = 0
    public var sniffDropped: UInt64 = 0
    public init() {}
}

extension PacketStore {
    public var coalesceRows: Int { 0 }
    public var writePaceNanos: Int64 { 0 }

    public func write(_ batches: [StoreBatch]) async throws -> [Bool] {
        var stored: [Bool] = []
        for b in batches { stored.append(try await write(b)) }
        return stored
    }
}
