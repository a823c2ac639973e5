import SniffCore
import SniffDecode
import SniffAnalysis
import SniffStore
import SniffServer

/// A column of a table view: its title, width, how to sort, and what to drop first
/// when the terminal is narrow (lowest `priority` goes first; 0 stays).
struct TopColumn<Item>: Sendable {
    let title: String
    let width: Int
    let right: Bool
    let priority: Int
    /// Takes the width left over (one per table, usually the last).
    let flexible: Bool
    let text: @Sendable (Item) -> String
    let less: @Sendable (Item, Item) -> Bool

    init(_ title: String, _ width: Int, right: Bool = false, priority: Int = 0, flexible: Bool = false,
         text: @escaping @Sendable (Item) -> String, less: @escaping @Sendable (Item, Item) -> Bool) {
        self.title = title; self.width = width; self.right = right; self.priority = priority
        self.flexible = flexible; self.text = text; self.less = less
    }

    static func number(_ title: String, _ width: Int, priority: Int = 0, _ value: @escaping @Sendable (Item) -> UInt64,
                       text: (@Sendable (Item) -> String)? = nil) -> TopColumn {
        TopColumn(title, width, right: true, priority: priority, text: text ?? { TopFormat.count(value($0)) },
                  less: { value($0) < value($1) })
    }

    static func string(_ title: String, _ width: Int, priority: Int = 0, flexible: Bool = false,
                       _ value: @escaping @Sendable (Item) -> String) -> TopColumn {
        TopColumn(title, width, priority: priority, flexible: flexible, text: value, less: { value($0) < value($1) })
    }
}

/// Lays the model out into a grid of cells: a title line, the view, a status line and
/// the bottom line of view keys. Pure; the same grid is drawn by ncurses and read by
/// the tests.
public enum TopLayout {
    public static func render(_ model: inout TopModel, width: Int, height: Int) -> TopGrid {
        var g = TopGrid(width: width, height: height)
        guard width >= 20, height >= 6 else {
            g.put("terminal too small", row: 0, col: 0)
            return g
        }
        title(model, &g)
        let area = (top: 1, rows: height - 3)
        if model.showHelp {
            help(&g, area)
        } else {
            switch model.view {
            case .overview: overview(model, &g, area)
            case .talkers: table(&model, &g, area, items: talkers(model), columns: talkerColumns)
            case .flows: table(&model, &g, area, items: flows(model), columns: flowColumns)
            case .apps: table(&model, &g, area, items: apps(model), columns: appColumns)
            case .alerts: table(&model, &g, area, items: alerts(model), columns: alertColumns)
            case .packets: packets(&model, &g, area)
            case .processes:
                if model.snapshot.processesShown || !model.snapshot.processes.isEmpty {
                    table(&model, &g, area, items: model.snapshot.processes, columns: processColumns)
                } else {
                    g.put("  processes are known for live capture only (sniff top -i IFACE), without --no-processes",
                          row: area.top, col: 0, style: .dim)
                }
            }
        }
        status(model, &g)
        tabs(model, &g)
        return g
    }

    // MARK: frame

    static func title(_ m: TopModel, _ g: inout TopGrid) {
        let s = m.snapshot
        let state = m.stopped && s.state != "finished" ? "stopped" : s.state
        var parts = ["sniff top", s.source.isEmpty ? "-" : s.source, state]
        if let w = windowLabel(m) { parts.append("cursor " + w) }
        parts.append("\(TopFormat.count(s.totals.packetsMatched)) pkts \(TopFormat.bytes(s.totals.bytesMatched))")
        if let p = s.fileProgress, p.total > 0, s.state != "finished" {
            parts.append("read \(min(100, p.done * 100 / p.total))%")
        }
        if !m.filterText.isEmpty { parts.append("filter: " + m.filterText) }
        g.paint(row: 0, style: .title)
        g.put(" " + parts.joined(separator: " | "), row: 0, col: 0, style: .title)
    }

    static func status(_ m: TopModel, _ g: inout TopGrid) {
        let row = g.height - 2
        if let p = m.prompt {
            g.put("filter (Enter applies, Esc cancels): " + p + "_", row: row, col: 0, style: .warn)
            return
        }
        if let msg = m.message {
            g.put(msg, row: row, col: 0, style: .warn)
            return
        }
        var s = m.view != .overview && !m.showHelp ? (m.position.map { "row \($0)  " } ?? "") : ""
        if let w = windowLabel(m), let k = m.cursor {
            s = "cursor \(w), window \(k + 1)/\(m.cursorWindowCount) ([ ] { } ^ $, c all)  " + s
        }
        if m.view != .overview, let sort = m.sorts[m.view], sort.column < columnTitles(m.view).count {
            s += "sort: " + columnTitles(m.view)[sort.column] + (sort.descending ? " desc" : " asc") + " (</> i)  "
        }
        s += "filter: " + (m.filterText.isEmpty ? "none" : m.filterText) + " (/)  "
        // A file read to its end has nothing left to pause: its keys are the cursor's.
        if m.cursorWindowCount > 0 {
            if m.cursor == nil { s += "[ ] time cursor" }
        } else {
            s += m.stopped ? "stopped" : (m.paused ? "paused (r resumes)" : "p pause  r resume  s stop")
        }
        g.put(s, row: row, col: 0, style: .dim)
    }

    static func tabs(_ m: TopModel, _ g: inout TopGrid) {
        let row = g.height - 1
        var col = 0
        for v in TopView.allCases {
            let label = "\(v.rawValue + 1) \(v.title)"
            g.put(label, row: row, col: col, style: v == m.view && !m.showHelp ? .tabActive : .header)
            col += label.count
            g.put(" ", row: row, col: col, style: .normal)
            col += 1
        }
        let keys = "? help  q quit"
        if col + keys.count + 1 <= g.width { g.put(keys, row: row, col: g.width - keys.count, style: .header) }
    }

    static let helpLines = [
        "Keys",
        "  1-7, Tab, Shift-Tab  views: overview, talkers, flows, apps, alerts, packets,",
        "                       processes (bytes per local process, live capture)",
        "  o t f a e l n        the same views by letter",
        "  Up Down PgUp PgDn    move the selection (j k); Home End (g G) first, last",
        "  < >  (Left Right)    sort by the previous / next column",
        "  i  (-)               reverse the sort",
        "  /                    filter: tcp port 80, host 10.0.0.1, net 10.0.0.0/8,",
        "                       src 1.2.3.4, dst port 53, app dns, udp (Esc clears)",
        "  p  r  s              pause, resume, stop the capture (or the file read)",
        "  [ ]  { }  ^ $        time cursor, a file read to its end: back, forward one",
        "                       window (ten with { }), first, last; c the whole file",
        "  ?                    this help (any key closes it)",
        "  q  Ctrl-C            quit",
        "",
        "The packet list shows the selected packet's fields below it; it follows the",
        "newest packet until the selection moves (End follows again).",
        "At the cursor: the overview shows the packets up to the window's end and its",
        "rates; flows, talkers and apps the flows active in the window (whole counts);",
        "alerts and packets those inside it.",
    ]

    static func help(_ g: inout TopGrid, _ area: (top: Int, rows: Int)) {
        for (i, l) in helpLines.prefix(area.rows).enumerated() {
            g.put(l, row: area.top + i, col: 1, style: i == 0 ? .header : .normal)
        }
    }

    // MARK: overview

    static func overview(_ m: TopModel, _ g: inout TopGrid, _ area: (top: Int, rows: Int)) {
        let s = m.snapshot
        let t = s.totals
        var r = area.top
        let half = g.width >= 100 ? g.width / 2 : 0
        func pair(_ a: (String, String), _ b: (String, String)) {
            func one(_ kv: (String, String), _ col: Int) {
                g.put(kv.0, row: r, col: col, style: .header)
                let room = half > 0 && col == 1 ? half - 12 : g.width - col - 10
                g.put(kv.1, row: r, col: col + 10, maxWidth: max(0, room))
            }
            if half > 0 {
                one(a, 1); one(b, half)
            } else {
                one(a, 1); r += 1; one(b, 1)
            }
            r += 1
        }
        let span: Double = {
            guard let f = t.firstTimestamp, let l = t.lastTimestamp else { return 0 }
            return Double(l.totalNanoseconds - f.totalNanoseconds) / 1e9
        }()
        let last = lastSecond(s)
        let at = cursorTotals(m)
        let average = ("Average", span > 0 ? "\(TopFormat.rate(Double(t.packetsMatched) / span, unit: "pkt/s")), "
            + "\(TopFormat.bytes(UInt64(Double(t.bytesMatched) / span)))/s"
            + " over \(TopFormat.duration(nanos: Int64(span * 1e9)))" : "-")
        pair(("Source", s.source), ("State", m.stopped && s.state != "finished" ? "stopped" : s.state))
        if let at {
            pair(("Packets", "\(at.upTo.0) by the cursor, of \(t.packetsMatched) matched"),
                 ("Bytes", "\(TopFormat.bytes(at.upTo.1)) by the cursor, of \(TopFormat.bytes(t.bytesMatched))"))
            let step = Double(m.cursorStep)
            pair(("Rate", "\(TopFormat.rate(Double(at.window.0) / step, unit: "pkt/s")), "
                    + "\(TopFormat.bytes(UInt64(Double(at.window.1) / step)))/s in the window"),
                 average)
        } else {
            pair(("Packets", "\(t.packetsMatched) matched of \(t.packetsSeen) seen"),
                 ("Bytes", "\(TopFormat.bytes(t.bytesMatched)) matched of \(TopFormat.bytes(t.bytesSeen))"))
            let lastRate = "\(TopFormat.rate(Double(last.packets), unit: "pkt/s")), \(TopFormat.bytes(last.bytes))/s"
            pair(("Rate", lastRate + " last second"),
                 average)
        }
        pair(("Drops", "kernel \(t.kernelDropped), interface \(t.interfaceDropped), sniff \(t.sniffDropped)"
                + (t.skippedWhilePaused > 0 ? ", paused \(t.skippedWhilePaused)" : "")),
             ("Decode", "malformed \(t.malformed), truncated \(t.truncated), undecoded \(t.undecoded)"))
        if at != nil {
            pair(("Flows", "\(windowFlows(m).count) active in the window, of \(s.flows.count) listed"),
                 ("Alerts", "\(alerts(m).count) in the window, of \(s.alertsRaised) raised"))
        } else {
            pair(("Flows", "open \(s.openFlows), started \(s.flowsStarted), finished \(s.flowsEnded)"),
                 ("Alerts", "\(s.alertsRaised) raised"
                    + (m.packetsNotListed > 0 ? "; \(m.packetsNotListed) packets not listed" : "")))
        }
        r += 1
        guard r < area.top + area.rows else { return }
        // Per transport: totals, then packets/s and bytes/s for as many seconds as fit,
        // from the first packet's second at most. At the cursor: the window's counts,
        // and one column per window of the file, the cursor's marked.
        let labelWidth = 32
        let room = max(0, g.width - labelWidth - 3)
        var seconds = max(0, min(TopHistory.seconds, room))
        if let first = t.firstTimestamp?.seconds, let lastSec = s.history.lastSecond {
            seconds = max(1, min(seconds, Int(lastSec - first + 1)))
        }
        g.put("transport packets     bytes", row: r, col: 1, style: .header)
        var cursorCol: Int? = nil
        if let k = m.cursor {
            let first = cursorSeries(m, transport: 0, columns: room).first
            let col = labelWidth + 2 + k - first
            cursorCol = col
            g.put(m.unicode ? "↓" : "v", row: r, col: col, style: .warn)
            let shown = min(m.cursorWindowCount, room)
            g.put(stepLabel(m.cursorStep) + " a column", row: r, col: labelWidth + 2 + shown + 1, style: .header)
        } else {
            g.put(
                "per second, last \(seconds) s" + (s.live ? "" : " of capture time"), row: r, col: labelWidth + 2,
                style: .header)
        }
        r += 1
        for k in TransportKind.allCases where k.rawValue < s.transports.count {
            let c = s.transports[Int(k.rawValue)]
            guard c.packets > 0 else { continue }
            guard r + 1 < area.top + area.rows else { break }
            var pk = s.history.packets[Int(k.rawValue)].suffix(seconds)
            var by = s.history.bytes[Int(k.rawValue)].suffix(seconds)
            var counts = (c.packets, c.bytes)
            var perSecond: UInt64 = 1
            if let at {
                let series = cursorSeries(m, transport: Int(k.rawValue), columns: room)
                pk = series.packets[...]; by = series.bytes[...]
                counts = (at.perTransport.packets[Int(k.rawValue)], at.perTransport.bytes[Int(k.rawValue)])
                perSecond = UInt64(m.cursorStep)
            }
            // Both labels end at labelWidth, where the sparklines start.
            g.put(TopFormat.fit(k == .none ? "non-IP" : k.label.lowercased(), 8)
                  + TopFormat.fit(TopFormat.count(counts.0), 8, right: true)
                  + TopFormat.fit(TopFormat.bytes(counts.1), 10, right: true) + " pkt/s", row: r, col: 1)
            let peakPackets = TopFormat.count((pk.max() ?? 0) / perSecond)
            let peakBytes = TopFormat.bytes((by.max() ?? 0) / perSecond)
            g.put(TopFormat.fit("  peak \(peakPackets)/s, \(peakBytes)/s", 26)
                  + "   B/s", row: r + 1, col: 1, style: .dim)
            g.put(TopFormat.sparkline(pk, unicode: m.unicode), row: r, col: labelWidth + 2, style: .spark)
            g.put(TopFormat.sparkline(by, unicode: m.unicode), row: r + 1, col: labelWidth + 2, style: .good)
            if let col = cursorCol {
                g.paint(row: r, col: col, width: 1, style: .selected)
                g.paint(row: r + 1, col: col, width: 1, style: .selected)
            }
            r += 2
        }
    }

    /// Packets and bytes of the last complete second (live), or of the last second of
    /// capture time (a file).
    static func lastSecond(_ s: TopSnapshot) -> (packets: UInt64, bytes: UInt64) {
        let i = s.live ? TopHistory.seconds - 2 : TopHistory.seconds - 1
        guard s.history.lastSecond != nil else { return (0, 0) }
        var p: UInt64 = 0, b: UInt64 = 0
        for t in 0..<s.history.packets.count { p &+= s.history.packets[t][i]; b &+= s.history.bytes[t][i] }
        return (p, b)
    }

    // MARK: tables

    static func table<Item>(_ m: inout TopModel, _ g: inout TopGrid, _ area: (top: Int, rows: Int),
                            items unsorted: [Item], columns all: [TopColumn<Item>]) {
        let view = m.view
        let sort = m.sorts[view] ?? TopSort(column: 0, descending: false)
        let items = sorted(unsorted, all, sort)
        m.position = nil
        let visible = fitColumns(all, width: g.width, keep: sort.column)
        var r = area.top
        var col = 0
        g.paint(row: r, style: .header)
        for (i, w) in visible {
            let down = m.unicode ? "↓" : "v", up = m.unicode ? "↑" : "^"
            let arrow = i == sort.column ? (sort.descending ? down : up) : ""
            let t = all[i].right ? arrow + all[i].title : all[i].title + arrow
            g.put(TopFormat.fit(t, w, right: all[i].right), row: r, col: col, style: .header)
            col += w + 1
        }
        r += 1
        let rows = max(1, area.rows - 1)
        m.pageRows = rows
        if items.isEmpty {
            g.put(m.filter != nil ? "  nothing matches the filter" : "  nothing yet", row: r, col: 0, style: .dim)
            return
        }
        let selected = clampSelection(&m, view, count: items.count)
        var first = m.scroll[view] ?? 0
        if selected < first { first = selected }
        if selected >= first + rows { first = selected - rows + 1 }
        first = max(0, min(first, max(0, items.count - rows)))
        m.scroll[view] = first
        for k in first..<min(items.count, first + rows) {
            col = 0
            for (i, w) in visible {
                g.put(TopFormat.fit(all[i].text(items[k]), w, right: all[i].right), row: r, col: col)
                col += w + 1
            }
            if k == selected { g.paint(row: r, style: .selected) }
            r += 1
        }
        m.position = "\(selected + 1)/\(items.count)"
    }

    static func clampSelection(_ m: inout TopModel, _ view: TopView, count: Int) -> Int {
        var s = m.selection[view] ?? (view == .packets && m.followPackets ? count - 1 : 0)
        if view == .packets && m.followPackets { s = count - 1 }
        s = max(0, min(count - 1, s))
        m.selection[view] = s
        return s
    }

    static func sorted<Item>(_ items: [Item], _ columns: [TopColumn<Item>], _ sort: TopSort) -> [Item] {
        guard sort.column < columns.count else { return items }
        let less = columns[sort.column].less
        // Stable: equal keys keep the source's order (newest, busiest).
        let indexed = items.enumerated().sorted { a, b in
            if less(a.element, b.element) { return !sort.descending }
            if less(b.element, a.element) { return sort.descending }
            return a.offset < b.offset
        }
        return indexed.map(\.element)
    }

    /// The columns that fit `width`, with their widths: the lowest priorities are
    /// dropped first (never the sort column), the flexible one takes what is left.
    static func fitColumns<Item>(_ all: [TopColumn<Item>], width: Int, keep: Int) -> [(Int, Int)] {
        var shown = Array(all.indices)
        func used() -> Int { shown.reduce(0) { $0 + all[$1].width + 1 } - 1 }
        while used() > width, shown.count > 1 {
            let drop = shown.filter { $0 != keep && all[$0].priority > 0 }.min { all[$0].priority < all[$1].priority }
                ?? shown.filter { $0 != keep }.last ?? shown.last!
            shown.removeAll { $0 == drop }
        }
        // The spare width is shared by the flexible columns (the last one if none).
        let spare = max(0, width - used())
        var flex = shown.filter { all[$0].flexible }
        if flex.isEmpty { flex = [shown.last!] }
        return shown.map { i in
            guard let k = flex.firstIndex(of: i) else { return (i, all[i].width) }
            return (i, all[i].width + spare / flex.count + (k < spare % flex.count ? 1 : 0))
        }
    }

    // MARK: talkers

    static func talkers(_ m: TopModel) -> [TopTalker] {
        let all = m.timeWindow == nil ? m.snapshot.talkers : windowTalkers(windowFlows(m))
        guard let f = m.filter?.filter else { return all }
        return all.filter { t in
            let a = t.endpoint.address, p = t.endpoint.port
            for n in [f.ip, f.src, f.dst].compactMap({ $0 }) where !n.contains(a) { return false }
            for q in [f.port, f.sport, f.dport].compactMap({ $0 }) where p != Int32(q) { return false }
            if let k = f.transport, t.stat.transports & (1 << UInt16(k.rawValue)) == 0 { return false }
            if let app = f.app, !t.stat.apps.members.contains(app) { return false }
            return true
        }
    }

    static let talkerColumns: [TopColumn<TopTalker>] = [
        .string("address:port", 24, flexible: true) { $0.endpoint.description },
        TopColumn(
            "transport", 9, priority: 2,
            text: { $0.stat.transportKinds.map { $0.label.lowercased() }.joined(separator: ",") },
            less: { $0.stat.transports < $1.stat.transports }),
        .number("pkts out", 8, priority: 4) { $0.stat.sentPackets },
        .number("bytes out", 9, { $0.stat.sentBytes }, text: { TopFormat.bytes($0.stat.sentBytes) }),
        .number("bytes in", 9, { $0.stat.receivedBytes }, text: { TopFormat.bytes($0.stat.receivedBytes) }),
        .number("bytes", 9, { $0.stat.sentBytes + $0.stat.receivedBytes },
                text: { TopFormat.bytes($0.stat.sentBytes + $0.stat.receivedBytes) }),
        .number("pkts", 7, priority: 5) { $0.stat.totalPackets },
        .string("apps", 12, priority: 3) { $0.stat.apps.members.map(\.name).joined(separator: ",") },
        TopColumn("last seen", 12, priority: 1, text: { TopFormat.clock(nanos: $0.stat.last.totalNanoseconds) },
                  less: { $0.stat.last < $1.stat.last }),
    ]

    // MARK: flows

    static func flows(_ m: TopModel) -> [TopFlow] {
        let all = windowFlows(m)
        guard let f = m.filter?.filter else { return all }
        return all.filter { f.matchesFlow($0.row) }
    }

    static let flowColumns: [TopColumn<TopFlow>] = [
        TopColumn("ts", 12, text: { TopFormat.clock(nanos: $0.row.ts) }, less: { $0.row.ts < $1.row.ts }),
        .string("uid", 18, priority: 2) { $0.row.uid },
        .string("id.orig_h:p", 20, flexible: true) {
            TopFormat.endpoint($0.row.origH, $0.row.ipProto == 6 || $0.row.ipProto == 17 ? $0.row.origP : nil)
        },
        .string("id.resp_h:p", 20, flexible: true) {
            TopFormat.endpoint($0.row.respH, $0.row.ipProto == 6 || $0.row.ipProto == 17 ? $0.row.respP : nil)
        },
        .string("proto", 5, priority: 6) { $0.row.proto },
        .string("service", 8, priority: 7) {
            $0.row.service ?? ($0.row.app.isEmpty || $0.row.app == "unknown" ? "-" : $0.row.app)
        },
        TopColumn(
            "duration", 9, right: true, priority: 4,
            text: { $0.row.durationNanos.map { TopFormat.duration(nanos: $0) } ?? "-" },
            less: { ($0.row.durationNanos ?? 0) < ($1.row.durationNanos ?? 0) }),
        .number(
            "orig_bytes", 10, priority: 3, { $0.row.origBytes ?? 0 },
            text: { $0.row.origBytes.map(TopFormat.bytes) ?? "-" }),
        .number(
            "resp_bytes", 10, priority: 3, { $0.row.respBytes ?? 0 },
            text: { $0.row.respBytes.map(TopFormat.bytes) ?? "-" }),
        .number("bytes", 9, { $0.bytes }, text: { TopFormat.bytes($0.bytes) }),
        .string("conn_state", 10, priority: 5) { $0.row.connState },
        .string("history", 9, priority: 1) { $0.row.history ?? "-" },
        .number("pkts", 6, priority: 4) { $0.packets },
        TopColumn("open", 4, priority: 1, text: { $0.open ? "yes" : "no" }, less: { !$0.open && $1.open }),
    ]

    // MARK: apps

    static let appColumns: [TopColumn<TopApp>] = [
        .string("app", 16, flexible: true) { $0.name },
        .number("packets", 10) { $0.packets },
        .number("bytes", 10, { $0.bytes }, text: { TopFormat.bytes($0.bytes) }),
        .number("flows", 8) { $0.flows },
    ]

    // MARK: processes

    static let processColumns: [TopColumn<TopProcess>] = [
        TopColumn("pid", 7, right: true, text: { $0.pid > 0 ? String($0.pid) : "-" }, less: { $0.pid < $1.pid }),
        .string("process", 15, flexible: true) { $0.command },
        .string("user", 9, priority: 3) { $0.user },
        .string("container", 14, priority: 1) { $0.container },
        .number("recv/s", 10, { $0.receivedPerSecond }, text: { TopFormat.bytes($0.receivedPerSecond) + "/s" }),
        .number("sent/s", 10, { $0.sentPerSecond }, text: { TopFormat.bytes($0.sentPerSecond) + "/s" }),
        .number("received", 9, priority: 4, { $0.received }, text: { TopFormat.bytes($0.received) }),
        .number("sent", 9, priority: 4, { $0.sent }, text: { TopFormat.bytes($0.sent) }),
        .number("flows", 6, priority: 2) { $0.flows },
    ]

    // MARK: alerts

    static func alerts(_ m: TopModel) -> [AlertRow] {
        let all = m.timeWindow == nil ? m.alerts : m.alerts.filter { inWindow(m, $0.ts) }
        guard let f = m.filter?.filter else { return all }
        let nets = [f.ip, f.src, f.dst].compactMap { $0 }
        return all.filter { a in nets.allSatisfy { n in a.hosts.contains { n.contains($0) } } }
    }

    static let alertColumns: [TopColumn<AlertRow>] = [
        TopColumn("time", 12, text: { TopFormat.clock(nanos: $0.ts) }, less: { $0.ts < $1.ts }),
        .string("severity", 8) { $0.severity },
        .string("rule", 16, priority: 2) { $0.rule },
        .string("message", 30, flexible: true) { PacketLine.printable($0.message) },
        .string("hosts", 16, priority: 1) { $0.hosts.map(\.description).joined(separator: ",") },
    ]

    // MARK: packets

    static func packetItems(_ m: TopModel) -> [PacketRow] {
        let all = m.timeWindow == nil ? m.packets : m.packets.filter { inWindow(m, $0.ts) }
        guard let f = m.filter else { return all }
        return all.filter(f.matches)
    }

    static func packetColumns(origin: Int64) -> [TopColumn<PacketRow>] {
        [
            .number("no.", 6) { $0.n },
            TopColumn(
                "time", 10, right: true, priority: 3, text: { TopFormat.relative(nanos: $0.ts, origin: origin) },
                less: { $0.ts < $1.ts }),
            .string("source", 19) { r in
                r.has(.ip) ? TopFormat.endpoint(r.src, r.has(.ports) ? r.sport : nil) : r.ethSrc.description
            },
            .string("destination", 19) { r in
                r.has(.ip) ? TopFormat.endpoint(r.dst, r.has(.ports) ? r.dport : nil) : r.ethDst.description
            },
            .string("proto", 6, priority: 2) { r in
                r.app != .unknown ? r.app.name : (r.transport.name.map { "\($0)" } ?? r.link.name)
            },
            .number("len", 5, priority: 1) { UInt64($0.len) },
            .string("info", 14, flexible: true) { PacketLine.printable($0.infoLine) },
        ]
    }

    static func packets(_ m: inout TopModel, _ g: inout TopGrid, _ area: (top: Int, rows: Int)) {
        let origin = m.packets.first?.ts ?? 0
        let items = packetItems(m)
        // The list gets just over half; the selected packet's fields the rest.
        let listRows = items.isEmpty ? area.rows : max(4, (area.rows + 1) / 2 + 1)
        table(&m, &g, (area.top, listRows), items: items, columns: packetColumns(origin: origin))
        guard !items.isEmpty, let sel = m.selection[.packets] else { return }
        let sort = m.sorts[.packets] ?? TopSort(column: 0, descending: false)
        let row = sorted(items, packetColumns(origin: origin), sort)[min(sel, items.count - 1)]
        var r = area.top + listRows
        let bottom = area.top + area.rows
        g.put(String(repeating: "-", count: g.width), row: r, col: 0, style: .dim)
        g.put(" Frame \(row.n) ", row: r, col: 2, style: .header)
        r += 1
        for line in detailLines(row) {
            guard r < bottom else { break }
            g.put(" " + line, row: r, col: 0)
            r += 1
        }
    }

    /// Every field the row decoded, one layer a line, Wireshark's order.
    public static func detailLines(_ r: PacketRow) -> [String] {
        var out: [String] = []
        out.append("Frame \(r.n): \(r.len) bytes on wire, \(r.caplen) captured, interface \(r.iface), \(r.link.name)")
        out.append("Time: " + Timestamp(totalNanoseconds: r.ts).utcString(fractionDigits: 6))
        if r.has(.ethSrc) || r.has(.ethDst) {
            out.append(
                "Ethernet: \(r.ethSrc.description) -> \(r.ethDst.description)"
                    + (r.has(.vlan) ? ", VLAN \(r.vlan)" : ""))
        }
        if r.has(.ip) {
            out.append("IPv\(r.ipVersion): \(r.src.description) -> \(r.dst.description), protocol \(r.proto)")
        }
        if r.has(.tcp) {
            var f = ByteSink(capacity: 8)
            TCP.writeFlagLetters(r.tcpFlags, into: &f)
            out.append(
                "TCP: \(r.sport) -> \(r.dport), flags [\(f.string)], seq \(r.seq), ack \(r.ack), window \(r.window)"
                    + (r.has(.payloadLen) ? ", payload \(r.payloadLen) bytes" : ""))
        } else if r.has(.ports) {
            out.append(
                "\(r.transport.label): \(r.sport) -> \(r.dport)"
                    + (r.has(.payloadLen) ? ", payload \(r.payloadLen) bytes" : ""))
        }
        if r.has(.icmp) { out.append("\(r.transport.label): type \(r.icmpType), code \(r.icmpCode)") }
        if r.app != .unknown { out.append("App: \(r.app.name) (from the \(r.appSource.name))") }
        if let q = r.dnsQuery { out.append("DNS query: " + PacketLine.printable(q)) }
        if let u = r.flowUID { out.append("Flow: " + u) }
        out.append("Info: " + PacketLine.printable(r.infoLine))
        return out
    }

    // MARK: model support

    static func columnTitles(_ v: TopView) -> [String] {
        switch v {
        case .overview: return []
        case .talkers: return talkerColumns.map(\.title)
        case .flows: return flowColumns.map(\.title)
        case .apps: return appColumns.map(\.title)
        case .alerts: return alertColumns.map(\.title)
        case .packets: return packetColumns(origin: 0).map(\.title)
        case .processes: return processColumns.map(\.title)
        }
    }

    static func columnCount(_ v: TopView) -> Int { max(1, columnTitles(v).count) }

    static func numericColumn(_ v: TopView, _ c: Int) -> Bool {
        switch v {
        case .overview: return false
        case .talkers: return talkerColumns[c].right
        case .flows: return flowColumns[c].right || c == 0
        case .apps: return appColumns[c].right
        case .alerts: return c == 0
        case .packets: return false
        case .processes: return processColumns[c].right
        }
    }

    static func rowCount(_ m: TopModel, _ v: TopView) -> Int {
        switch v {
        case .overview: return 0
        case .talkers: return talkers(m).count
        case .flows: return flows(m).count
        case .apps: return apps(m).count
        case .alerts: return alerts(m).count
        case .packets: return packetItems(m).count
        case .processes: return m.snapshot.processes.count
        }
    }
}
