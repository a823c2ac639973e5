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

/// A file's packets and bytes per transport over the whole file, in bins of
/// `binSeconds` seconds of capture time from its first packet's second: what the time
/// cursor reads. Filled while a file is read (never live: the live history is the
/// ring of `TopHistory`); one second a bin until the file spans `maxBins` seconds,
/// then neighbouring bins merge and a bin covers twice as long, so that a file of
/// days stays a few megabytes.
public struct TopTimeline: Sendable, Equatable {
    public static let maxBins = 86_400
    static let kinds = TransportKind.allCases.count
    /// The second (since the epoch) where bin 0 starts.
    public private(set) var firstSecond: Int64 = 0
    public private(set) var binSeconds: Int64 = 1
    /// [bin * transports + transport raw value].
    public private(set) var packets: [UInt64] = []
    public private(set) var bytes: [UInt64] = []

    public init() {}

    public var bins: Int { packets.count / TopTimeline.kinds }
    public var isEmpty: Bool { packets.isEmpty }
    /// The second just after the last bin.
    public var endSecond: Int64 { firstSecond + Int64(bins) * binSeconds }

    /// Counts one packet. A packet older than the first (out of order) counts in bin 0.
    public mutating func add(second: Int64, transport: TransportKind, wireLength: UInt32) {
        if packets.isEmpty { firstSecond = second }
        var bin = max(0, Int((second - firstSecond) / binSeconds))
        while bin >= TopTimeline.maxBins {
            coarsen()
            bin = Int((second - firstSecond) / binSeconds)
        }
        if bin >= bins {
            let extra = (bin + 1 - bins) * TopTimeline.kinds
            packets.append(contentsOf: repeatElement(0, count: extra))
            bytes.append(contentsOf: repeatElement(0, count: extra))
        }
        let i = bin * TopTimeline.kinds + Int(transport.rawValue)
        packets[i] &+= 1
        bytes[i] &+= UInt64(wireLength)
    }

    /// Halves the bins: each new bin is two old ones.
    mutating func coarsen() {
        let k = TopTimeline.kinds, n = (bins + 1) / 2
        for b in 0..<n {
            for t in 0..<k {
                let a = 2 * b * k + t, c = a + k
                packets[b * k + t] = packets[a] &+ (c < packets.count ? packets[c] : 0)
                bytes[b * k + t] = bytes[a] &+ (c < bytes.count ? bytes[c] : 0)
            }
        }
        packets.removeLast(packets.count - n * k)
        bytes.removeLast(bytes.count - n * k)
        binSeconds *= 2
    }

    /// Packets and bytes per transport (raw value) in the seconds [from, to).
    public func sum(from: Int64, to: Int64) -> (packets: [UInt64], bytes: [UInt64]) {
        var p = Array(repeating: UInt64(0), count: TopTimeline.kinds), b = p
        guard !packets.isEmpty, to > from else { return (p, b) }
        let lo = max(0, Int((from - firstSecond) / binSeconds))
        let hi = min(bins, Int((to - firstSecond + binSeconds - 1) / binSeconds))
        guard lo < hi else { return (p, b) }
        for bin in lo..<hi {
            for t in 0..<TopTimeline.kinds {
                p[t] &+= packets[bin * TopTimeline.kinds + t]
                b[t] &+= bytes[bin * TopTimeline.kinds + t]
            }
        }
        return (p, b)
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

/// One application protocol of the apps view: its name, packets, bytes and flows, the
/// same entry the store's protocol summary gives per app, so there is one such type.
public typealias TopApp = ProtocolSummaryTable.Entry

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
    /// The whole file's packets and bytes over time, for the time cursor: only in a
    /// file's last snapshot (read to its end, or stopped); nil live.
    public var timeline: TopTimeline? = nil

    public init() {}

    public static func == (a: TopSnapshot, b: TopSnapshot) -> Bool {
        a.source == b.source && a.state == b.state && a.totals == b.totals && a.wallNanos == b.wallNanos
            && a.talkers == b.talkers && a.flows == b.flows && a.processes == b.processes && a.apps == b.apps
            && a.history == b.history
            && a.fileProgress?.done == b.fileProgress?.done && a.fileProgress?.total == b.fileProgress?.total
            && a.timeline == b.timeline
    }
}
