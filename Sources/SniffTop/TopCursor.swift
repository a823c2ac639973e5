import SniffCore
import SniffDecode
import SniffAnalysis
import SniffStore
import SniffServer

/// What the views show at the time cursor (a file read to its end, `TopModel.cursor`).
/// The cursor selects a window of `TopModel.cursorStep` seconds; the views show:
/// - overview: the packets and bytes up to the window's end, the window's rates per
///   transport, and the whole file per window in the sparklines, the cursor's column
///   marked;
/// - flows: the flows active during the window (started before its end, last packet at
///   or after its start), each with its whole counts (a flow's counts are not kept per
///   second);
/// - talkers and apps: the address:port pairs and applications of those flows, summed
///   from the flows' counts;
/// - alerts and packets: those inside the window.
/// Computed on the UI thread from what the snapshot and the model already hold: the
/// analysis (and live capture) does nothing more for it.
extension TopLayout {
    static func windowFlows(_ m: TopModel) -> [TopFlow] {
        guard let w = m.timeWindow else { return m.snapshot.flows }
        return m.snapshot.flows.filter { $0.row.ts < w.end && max($0.row.lastTs, $0.row.ts) >= w.start }
    }

    /// The address:port pairs of `flows`, each flow's counts added to both ends.
    static func windowTalkers(_ flows: [TopFlow]) -> [TopTalker] {
        var stats: [Endpoint: EndpointStat] = [:]
        for f in flows {
            let r = f.row
            let ports = r.ipProto == 6 || r.ipProto == 17
            let kind = TransportKind(ipProto: r.ipProto)
            let app = AppProtocol(name: r.app)
            let first = Timestamp(totalNanoseconds: r.ts), last = Timestamp(totalNanoseconds: max(r.ts, r.lastTs))
            func add(_ h: IPAddress, _ p: UInt16, sent: (UInt64, UInt64), received: (UInt64, UInt64)) {
                let e = Endpoint(address: h, port: ports ? Int32(p) : -1)
                var s = stats[e] ?? EndpointStat()
                if s.totalPackets == 0 && s.first == .zero { s.first = first; s.last = last }
                s.sentPackets &+= sent.0; s.sentBytes &+= sent.1
                s.receivedPackets &+= received.0; s.receivedBytes &+= received.1
                s.first = min(s.first, first); s.last = max(s.last, last)
                s.transports |= 1 << UInt16(kind.rawValue)
                if let app, app != .unknown { s.apps.insert(app) }
                stats[e] = s
            }
            add(r.origH, r.origP, sent: (r.origPkts, r.origIPBytes), received: (r.respPkts, r.respIPBytes))
            add(r.respH, r.respP, sent: (r.respPkts, r.respIPBytes), received: (r.origPkts, r.origIPBytes))
        }
        let busiest = stats.sorted { a, b in
            let x = a.value.sentBytes &+ a.value.receivedBytes, y = b.value.sentBytes &+ b.value.receivedBytes
            return x != y ? x > y : a.key < b.key
        }
        return busiest.prefix(TopCollector.talkerLimit).map { TopTalker(endpoint: $0.key, stat: $0.value) }
    }

    /// The applications of `flows`, busiest first.
    static func windowApps(_ flows: [TopFlow]) -> [TopApp] {
        var byName: [String: TopApp] = [:]
        for f in flows {
            let name = f.row.app.isEmpty ? AppProtocol.unknown.name : f.row.app
            var a = byName[name] ?? TopApp(name: name, packets: 0, bytes: 0, flows: 0)
            a.packets &+= f.packets; a.bytes &+= f.bytes; a.flows &+= 1
            byName[name] = a
        }
        return byName.values.sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.name < $1.name }
    }

    static func apps(_ m: TopModel) -> [TopApp] {
        m.timeWindow == nil ? m.snapshot.apps : windowApps(windowFlows(m))
    }

    static func inWindow(_ m: TopModel, _ ts: Int64) -> Bool {
        guard let w = m.timeWindow else { return true }
        return ts >= w.start && ts < w.end
    }

    /// "12:00:05 +1 s": the window's start (UTC) and length.
    static func windowLabel(_ m: TopModel) -> String? {
        guard let k = m.cursor, let w = m.cursorWindow(k) else { return nil }
        return String(TopFormat.clock(nanos: w.start * 1_000_000_000).prefix(8)) + " +" + stepLabel(m.cursorStep)
    }

    static func stepLabel(_ s: Int64) -> String {
        if s < 60 || s % 60 != 0 { return "\(s) s" }
        if s < 3600 || s % 3600 != 0 { return "\(s / 60) min" }
        return "\(s / 3600) h"
    }

    /// The overview's lines at the cursor: packets and bytes by the window's end, its rates.
    static func cursorTotals(_ m: TopModel) -> (upTo: (UInt64, UInt64), window: (UInt64, UInt64),
                                                 perTransport: (packets: [UInt64], bytes: [UInt64]))? {
        guard let tl = m.snapshot.timeline, let k = m.cursor, let w = m.cursorWindow(k) else { return nil }
        let upTo = tl.sum(from: tl.firstSecond, to: w.end), win = tl.sum(from: w.start, to: w.end)
        return (
            (upTo.packets.reduce(0, &+), upTo.bytes.reduce(0, &+)),
            (win.packets.reduce(0, &+), win.bytes.reduce(0, &+)), win
        )
    }

    /// Per transport, the packets and bytes of each window of the file, and the first
    /// window shown when they do not all fit `columns` (the cursor's stays in sight).
    static func cursorSeries(
        _ m: TopModel, transport: Int, columns: Int
    ) -> (packets: [UInt64], bytes: [UInt64], first: Int) {
        guard let tl = m.snapshot.timeline, columns > 0 else { return ([], [], 0) }
        let n = m.cursorWindowCount
        let shown = min(n, columns)
        let first = max(0, min((m.cursor ?? n - 1) - shown / 2, n - shown))
        var p: [UInt64] = [], b: [UInt64] = []
        for k in first..<(first + shown) {
            guard let w = m.cursorWindow(k) else { break }
            let s = tl.sum(from: w.start, to: w.end)
            p.append(s.packets[transport])
            b.append(s.bytes[transport])
        }
        return (p, b, first)
    }
}
