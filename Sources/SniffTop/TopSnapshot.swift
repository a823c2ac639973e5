import SniffCore
import SniffDecode
import SniffAnalysis
import SniffStore

/// Packets and bytes per second and transport for the last `TopHistory.seconds`
/// seconds (capture time), newest last: the overview's sparklines.
public struct TopHistory: Sendable, Equatable {
    public static let seconds = 600
    /// The second (since the epoch) of the last entry; nil before the first packet.
    public var lastSecond: Int64? = nil
    /// [transport raw value][second], oldest first, `seconds` long each.
    public var packets: [[UInt64]] = Array(repeating: Array(repeating: 0, count: TopHistory.seconds),
                                           count: TransportKind.allCases.count)
    public var bytes: [[UInt64]] = Array(repeating: Array(repeating: 0, count: TopHistory.seconds),
                                         count: TransportKind.allCases.count)

    public init() {}

    /// All transports summed, per second.
    public var totalPackets: [UInt64] { sum(packets) }
    public var totalBytes: [UInt64] { sum(bytes) }

    func sum(_ m: [[UInt64]]) -> [UInt64] {
        var out = Array(repeating: UInt64(0), count: TopHistory.seconds)
        for row in m { for i in 0..<row.count { out[i] &+= row[i] } }
        return out
    }
}

/// One address:port of the talkers view.
public struct TopTalker: Sendable, Equatable {
    public var endpoint: Endpoint
    public var stat: EndpointStat
    public init(endpoint: Endpoint, stat: EndpointStat) { self.endpoint = endpoint; self.stat = stat }
}

/// One flow of the flows view: Zeek's fields, and whether it is still open.
public struct TopFlow: Sendable, Equatable {
    public var row: FlowRow
    public var open: Bool
    public init(row: FlowRow, open: Bool) { self.row = row; self.open = open }
    public var packets: UInt64 { row.origPkts + row.respPkts }
    public var bytes: UInt64 { row.origIPBytes + row.respIPBytes }
}

/// One application protocol of the apps view.
public struct TopApp: Sendable, Equatable {
    public var name: String
    public var packets: UInt64
    public var bytes: UInt64
    public var flows: UInt64
    public init(name: String, packets: UInt64, bytes: UInt64, flows: UInt64) {
        self.name = name; self.packets = packets; self.bytes = bytes; self.flows = flows
    }
}

/// One process of the processes view: what its sockets sent and received, in all
/// and per second (over the last one to two seconds). `pid` 0 with a command in
/// parentheses is the flows no process was found for.
public struct TopProcess: Sendable, Equatable {
    public var pid: Int32
    public var command: String
    public var user: String
    public var container: String
    public var flows: UInt64
    public var sent: UInt64
    public var received: UInt64
    public var sentPerSecond: UInt64
    public var receivedPerSecond: UInt64
    public init(pid: Int32, command: String, user: String, container: String, flows: UInt64, sent: UInt64,
                received: UInt64, sentPerSecond: UInt64 = 0, receivedPerSecond: UInt64 = 0) {
        self.pid = pid; self.command = command; self.user = user; self.container = container; self.flows = flows
        self.sent = sent; self.received = received
        self.sentPerSecond = sentPerSecond; self.receivedPerSecond = receivedPerSecond
    }
}

/// Everything the views show except the packet list and alerts (which arrive as
/// LiveHub batches): built on the analysis thread a few times a second and handed to
/// the UI thread whole.
public struct TopSnapshot: Sendable, Equatable {
    public var source: String = ""
    public var live = false
    /// "starting", "running", "paused", "stopping", "stopped" or "finished".
    public var state = "starting"
    public var totals = CaptureTotals()
    /// Wall clock at the snapshot (nanoseconds).
    public var wallNanos: Int64 = 0
    public var history = TopHistory()
    /// Per transport (raw value): packets, bytes, flows.
    public var transports: [ProtocolSummary.Counts] = []
    public var apps: [TopApp] = []
    public var talkers: [TopTalker] = []
    /// Address:port pairs in all (the list holds the busiest `TopCollector.talkerLimit`).
    public var talkersTotal = 0
    public var flows: [TopFlow] = []
    public var openFlows = 0
    public var flowsStarted: UInt64 = 0
    public var flowsEnded: UInt64 = 0
    public var alertsRaised: UInt64 = 0
    /// The processes view's rows; `processesShown` is false when attribution is off
    /// (reading a file, --no-processes).
    public var processes: [TopProcess] = []
    public var processesShown = false
    /// Bytes read of the file and its size (a file being read); nil live.
    public var fileProgress: (done: Int, total: Int)? = nil

    public init() {}

    public static func == (a: TopSnapshot, b: TopSnapshot) -> Bool {
        a.source == b.source && a.state == b.state && a.totals == b.totals && a.wallNanos == b.wallNanos
            && a.talkers == b.talkers && a.flows == b.flows && a.processes == b.processes && a.apps == b.apps && a.history == b.history
            && a.fileProgress?.done == b.fileProgress?.done && a.fileProgress?.total == b.fileProgress?.total
    }
}
