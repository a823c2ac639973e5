import SniffCore
import SniffCapture

/// Which local process each flow belongs to, for live capture: asks the process
/// table (a cache kept by its own thread) when a flow starts, retries flows it could
/// not place yet after the table's next scans, and sums each process's bytes sent and
/// received as flows end. Runs on the analysis thread, per flow, never per packet.
///
/// A flow is "unknown" when one of its addresses is this host's but no socket of this
/// namespace was found for it by a scan that began after the flow did (the socket was
/// closed before a scan saw it, or belongs to a process Sniff may not read). A flow
/// between two other hosts (a mirror port, a router) is "not local".
///
/// Only flows with a local address are kept here (placed, or waiting for a scan). A flow
/// between two other hosts is told apart from an unknown one by asking the host's
/// addresses again when it ends or is shown, rather than by a set of such flows: on a
/// mirror port or a router every flow is one, and inserting and removing each of them
/// cost about 13% of the analysis thread under 150 k new flows per second. So a flow
/// during which the host gained or lost one of its addresses counts by the addresses
/// at its end.
public final class FlowProcesses {
    /// Bytes and flows of one process (nil: unknown, or not this host's).
    public struct Usage: Sendable, Equatable {
        public var process: LocalProcess?
        public var flows: UInt64 = 0
        /// Wire bytes the process's sockets sent and received.
        public var sent: UInt64 = 0
        public var received: UInt64 = 0
        public init(process: LocalProcess?) { self.process = process }
        public var bytes: UInt64 { sent &+ received }
    }

    /// The owner, and whether its socket is endpoint A of the canonical key (roles may
    /// flip later; the key's sides do not).
    struct Placed {
        var process: LocalProcess
        var localIsA: Bool
    }

    /// Flows waiting for a scan, at most this many (beyond, they are unknown).
    public static let pendingLimit = 100_000
    /// Packet times and the wall clock may differ slightly; a scan must begin this much
    /// after a flow's first packet to be the last word on it.
    static let settleNanos: Int64 = 50_000_000

    public let table: ProcessTable
    private var placed: [FlowKey: Placed] = [:]
    /// Flows waiting for a scan: first packet time, and whether the originator is A.
    private var pending: [FlowKey: (start: Int64, origIsA: Bool)] = [:]
    private var endedUsage: [LocalProcess: Usage] = [:]
    public private(set) var unknown = Usage(process: nil)
    public private(set) var others = Usage(process: nil)
    private var retriedAt: UInt64 = 0

    public init(table: ProcessTable) { self.table = table }

    public func flowStarted(_ f: Flow) { _ = place(f, final: false) }

    /// The process of a flow (open or just ended), if known.
    public func process(of f: Flow) -> LocalProcess? {
        settled(f)?.process
    }

    /// The process of a flow (open or just ended) and whether it owns the originator's
    /// socket (so that its bytes sent are the originator's), if known.
    public func owner(of f: Flow) -> (process: LocalProcess, isOrig: Bool)? {
        guard let p = settled(f) else { return nil }
        return (p.process, p.localIsA == f.origIsA)
    }

    /// A flow's owner, settling it now if it waits for a scan. The dictionaries are
    /// hashed only when they hold something (never on a mirror port or a router).
    private func settled(_ f: Flow) -> Placed? {
        if !placed.isEmpty, let p = placed[f.key] { return p }
        if !pending.isEmpty && pending[f.key] != nil { return place(f, final: true) }
        return nil
    }

    /// The owner of a flow still open, if a scan placed it already. Unlike `owner(of:)`
    /// it never settles a pending flow as unknown: a later scan may still find it.
    public func placedOwner(of f: Flow) -> (process: LocalProcess, isOrig: Bool)? {
        guard !placed.isEmpty, let p = placed[f.key] else { return nil }
        return (p.process, p.localIsA == f.origIsA)
    }

    /// Accounts a finished flow to its process and forgets it. Call after the writers
    /// asked `process(of:)`.
    public func flowEnded(_ f: Flow) {
        var p: Placed? = nil
        if !placed.isEmpty { p = placed.removeValue(forKey: f.key) }
        if p == nil && !pending.isEmpty && pending.removeValue(forKey: f.key) != nil {
            p = place(f, final: true)
            if p != nil { placed[f.key] = nil }
        }
        if let p {
            endedUsage[p.process, default: Usage(process: p.process)].add(f, localIsA: p.localIsA)
        } else if table.isLocal(f.key.a, or: f.key.b) {
            unknown.add(f, localIsA: true)
        } else {
            others.add(f, localIsA: true)
        }
    }

    /// After the table's scans: places waiting flows, gives up on those a scan that began
    /// after them did not find. Returns the table's notice about what it cannot see, once.
    public func tick() -> String? {
        let g = table.generation
        if g != retriedAt && !pending.isEmpty {
            retriedAt = g
            let scanStart = table.lastScanStart
            var done: [FlowKey] = []
            for (key, w) in pending {
                if tryPlace(key: key, start: w.start, origIsA: w.origIsA, final: false) != nil
                    || scanStart > w.start + FlowProcesses.settleNanos {
                    done.append(key)
                }
            }
            for k in done { pending[k] = nil }
        }
        return table.takeNotice()
    }

    /// Per process: finished flows plus the given open ones, busiest first; the
    /// unknown and not-local totals are separate (`unknown`, `others` include only
    /// finished flows; `openUnknown` adds the open ones).
    public func usage(open: [Flow]) -> (processes: [Usage], unknown: Usage, others: Usage) {
        usage { each in open.forEach(each) }
    }

    /// As `usage(open:)`, with the table's open flows read where they lie (a live view's
    /// snapshot, a million flows under load).
    public func usage(table: FlowTable) -> (processes: [Usage], unknown: Usage, others: Usage) {
        usage { each in table.forEachOpen(each) }
    }

    private func usage(_ forEachOpen: ((Flow) -> Void) -> Void) -> (processes: [Usage], unknown: Usage, others: Usage) {
        var sum = startUsage()
        let local = table.localAddresses
        forEachOpen { f in add(f, to: &sum, local: local) }
        return finish(sum)
    }

    /// `usage(table:)` summed in steps (a live view spreads its pass over the open flows
    /// over several calls): `startUsage` takes the finished flows' totals, `add` each open
    /// flow of a step, `finish` sorts. A flow that ends between two steps before its step
    /// came is left out of that sum, never counted twice.
    public struct UsageSum {
        var byProcess: [LocalProcess: Usage]
        var unknown: Usage
        var others: Usage
    }

    public func startUsage() -> UsageSum {
        UsageSum(byProcess: endedUsage, unknown: unknown, others: others)
    }

    /// Adds the open flows of one step (`local`: the host's addresses, read once per step).
    public func add(_ f: Flow, to sum: inout UsageSum, local: Set<IPAddress>) {
        if !placed.isEmpty, let p = placed[f.key] {
            sum.byProcess[p.process, default: Usage(process: p.process)].add(f, localIsA: p.localIsA)
        } else if !local.isEmpty && (local.contains(f.key.a) || local.contains(f.key.b)) {
            sum.unknown.add(f, localIsA: true)
        } else {
            sum.others.add(f, localIsA: true)
        }
    }

    public var localAddresses: Set<IPAddress> { table.localAddresses }

    public func finish(_ sum: UsageSum) -> (processes: [Usage], unknown: Usage, others: Usage) {
        let list = sum.byProcess.values.sorted {
            $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.process!.pid < $1.process!.pid
        }
        return (list, sum.unknown, sum.others)
    }

    private func place(_ f: Flow, final: Bool) -> Placed? {
        if let p = tryPlace(key: f.key, start: f.startNanos, origIsA: f.origIsA, final: final) {
            pending[f.key] = nil
            return p
        }
        guard table.isLocal(f.key.a, or: f.key.b) else { return nil }
        if !final && pending[f.key] == nil && pending.count < FlowProcesses.pendingLimit {
            pending[f.key] = (f.startNanos, f.origIsA)
            table.request()
        }
        return nil
    }

    /// Asks the table with the originator first (its socket wins when both ends are
    /// local). An owner found through an unconnected socket is taken only when `final`
    /// or once a scan that began after the flow did has found no connected one.
    private func tryPlace(key: FlowKey, start: Int64, origIsA: Bool, final: Bool) -> Placed? {
        let ports = key.proto == 6 || key.proto == 17
        let (o, op, r, rp) = origIsA ? (key.a, key.portA, key.b, key.portB) : (key.b, key.portB, key.a, key.portA)
        guard let owner = table.owner(proto: key.proto, first: o, firstPort: ports ? op : 0,
                                      second: r, secondPort: ports ? rp : 0, startedAt: start) else { return nil }
        if !owner.exact && !final && table.lastScanStart <= start + FlowProcesses.settleNanos { return nil }
        let p = Placed(process: owner.process, localIsA: owner.firstIsLocal == origIsA)
        placed[key] = p
        return p
    }
}

extension FlowProcesses.Usage {
    /// Adds a flow; the local socket is endpoint A of its key when `localIsA`.
    mutating func add(_ f: Flow, localIsA: Bool) {
        flows &+= 1
        let localIsOrig = localIsA == f.origIsA
        sent &+= localIsOrig ? f.orig.wireBytes : f.resp.wireBytes
        received &+= localIsOrig ? f.resp.wireBytes : f.orig.wireBytes
    }
}

/// The report's "Processes" section: bytes each local process sent and received
/// (like nethogs, totals since the start), busiest first.
public enum ProcessReport {
    public static let limit = 20

    public static func lines(_ p: FlowProcesses, open: [Flow], limit: Int = ProcessReport.limit) -> [String] {
        let (list, unknown, others) = p.usage(open: open)
        func cell(_ s: String, _ w: Int) -> String {
            s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count)
        }
        func right(_ s: String, _ w: Int) -> String {
            s.count >= w ? " " + s : String(repeating: " ", count: w - s.count) + s
        }
        func row(_ pid: String, _ name: String, _ user: String, _ u: FlowProcesses.Usage, _ container: String) -> String
        {
            cell(pid, 8) + cell(name, 16) + cell(user, 10) + right(String(u.sent), 14) + right(String(u.received), 14)
                + right(String(u.flows), 8) + "  " + container
        }
        var out = [cell("pid", 8) + cell("process", 16) + cell("user", 10) + right("sent", 14) + right("received", 14)
                   + right("flows", 8) + "  container"]
        // Names come from processes: keep them printable on a terminal.
        func printable(_ s: String) -> String {
            String(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) })
        }
        for u in list.prefix(limit) {
            guard let pr = u.process else { continue }
            out.append(
                row(String(pr.pid), printable(pr.command), printable(pr.user), u, printable(pr.container ?? "-")))
        }
        if list.count > limit {
            out.append("\(list.count - limit) more processes (see --flows for each flow's process)")
        }
        out.append("unknown: \(unknown.flows) flows, \(unknown.bytes) bytes (a local address, but no socket found)")
        if others.flows > 0 { out.append("not this host's: \(others.flows) flows, \(others.bytes) bytes") }
        return out
    }
}
