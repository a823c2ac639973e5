import SniffCore
import SniffDecode
import SniffAnalysis
import SniffStore
import SniffServer

/// The views, in the order of the bottom line's keys 1-7.
public enum TopView: Int, CaseIterable, Sendable {
    case overview, talkers, flows, apps, alerts, packets, processes

    public var title: String {
        switch self {
        case .overview: return "Overview"
        case .talkers: return "Talkers"
        case .flows: return "Flows"
        case .apps: return "Apps"
        case .alerts: return "Alerts"
        case .packets: return "Packets"
        // Short, so that the bottom line with its keys fits 80 columns.
        case .processes: return "Procs"
        }
    }
}

/// A key, as the terminal layer decodes it.
public enum TopKey: Equatable, Sendable {
    case char(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, escape, backspace, tab, backTab
}

/// What the run must do after a key (the model itself changes only the view).
public enum TopAction: Equatable, Sendable {
    case none, quit, pause, resume, stop
}

/// The sort of one view: a column index into the view's columns, and its direction.
public struct TopSort: Equatable, Sendable {
    public var column: Int
    public var descending: Bool
    public init(column: Int, descending: Bool) { self.column = column; self.descending = descending }
}

/// The UI's state: which view, its sort, filter, selection and scroll, the last
/// snapshot, and the packet rows and alerts received so far. Pure: keys and data go
/// in, `TopLayout` draws it; no terminal, no threads.
public struct TopModel {
    public var view: TopView = .overview
    public var sorts: [TopView: TopSort] = [
        .talkers: TopSort(column: 5, descending: true),   // total bytes
        .flows: TopSort(column: 0, descending: true),     // newest first
        .apps: TopSort(column: 2, descending: true),      // bytes
        .alerts: TopSort(column: 0, descending: true),    // newest first
        .packets: TopSort(column: 0, descending: false),  // frame order
        .processes: TopSort(column: 4, descending: true), // received per second
    ]
    /// The filter in force (`/`), with the words of the CLI's feed and the API.
    public private(set) var filter: LiveFilter? = nil
    public private(set) var filterText = ""
    /// The `/` prompt's text while it is open.
    public var prompt: String? = nil
    public var showHelp = false
    /// A one-line message (a bad filter, "paused") shown on the status line.
    public var message: String? = nil
    public var selection: [TopView: Int] = [:]
    public var scroll: [TopView: Int] = [:]
    /// The packet list follows the newest packet until the selection moves.
    public var followPackets = true
    /// Rows visible in the current view's table, set by the layout (page keys use it).
    public var pageRows = 10
    /// "selected/total" of the current table, set by the layout.
    public var position: String? = nil
    public var paused = false
    public var stopped = false
    /// Draw sparklines with Unicode blocks (the terminal's character set is UTF-8).
    public var unicode = true

    /// The time cursor (a file read to its end): the index of the window of `cursorStep`
    /// seconds the views show, from the file's first second; nil shows the whole file.
    public private(set) var cursor: Int? = nil

    public private(set) var snapshot = TopSnapshot()
    public private(set) var packets: [PacketRow] = []
    /// Rows the packet list could not keep (beyond `packetLimit`) or the hub did not sample.
    public private(set) var packetsNotListed: UInt64 = 0
    public private(set) var alerts: [AlertRow] = []
    public let packetLimit: Int
    /// Live capture keeps the newest rows; a file keeps its first rows in order.
    public let keepNewest: Bool

    public init(packetLimit: Int = 100_000, keepNewest: Bool = true) {
        self.packetLimit = packetLimit
        self.keepNewest = keepNewest
    }

    // MARK: data

    public mutating func ingest(_ snap: TopSnapshot) {
        snapshot = snap
        if snap.timeline == nil { cursor = nil }
    }

    // MARK: time cursor

    /// Window lengths the cursor steps by: the first that cuts the file into at most
    /// `cursorWindows` windows, so that each window is a column of the overview's
    /// sparkline at 80 columns.
    static let cursorSteps: [Int64] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400
    ]
    public static let cursorWindows = 40

    /// The cursor's step in seconds: a whole number of the timeline's bins.
    public var cursorStep: Int64 {
        guard let tl = snapshot.timeline, !tl.isEmpty else { return 1 }
        let span = tl.endSecond - tl.firstSecond
        let want = (span + Int64(TopModel.cursorWindows) - 1) / Int64(TopModel.cursorWindows)
        var step = TopModel.cursorSteps.first { $0 >= want } ?? ((want + 86399) / 86400 * 86400)
        step = (step + tl.binSeconds - 1) / tl.binSeconds * tl.binSeconds
        return max(1, step)
    }

    /// How many windows of `cursorStep` the file spans (0 without a timeline).
    public var cursorWindowCount: Int {
        guard let tl = snapshot.timeline, !tl.isEmpty else { return 0 }
        let step = cursorStep
        return Int((tl.endSecond - tl.firstSecond + step - 1) / step)
    }

    /// The seconds [start, end) of window `k`.
    public func cursorWindow(_ k: Int) -> (start: Int64, end: Int64)? {
        guard let tl = snapshot.timeline, !tl.isEmpty else { return nil }
        let start = tl.firstSecond + Int64(k) * cursorStep
        return (start, start + cursorStep)
    }

    /// The window the views show, in nanoseconds [start, end); nil: the whole file.
    public var timeWindow: (start: Int64, end: Int64)? {
        guard let k = cursor, let w = cursorWindow(k) else { return nil }
        return (w.start * 1_000_000_000, w.end * 1_000_000_000)
    }

    /// Moves the cursor by `by` windows, stopping at the first and the last; from the
    /// whole file, back starts at the last window and forward at the first; forward
    /// from the last is the whole file again.
    mutating func moveCursor(_ by: Int) {
        let n = cursorWindowCount
        guard n > 0 else {
            message =
                snapshot.live
                ? "the time cursor is for files (sniff top -r FILE)" : "the time cursor works once the file is read"
            return
        }
        message = nil
        if let c = cursor {
            cursor = c == n - 1 && by > 0 ? nil : max(0, min(n - 1, c + by))
        } else {
            cursor = by < 0 ? n - 1 : 0
        }
        selection = [:]; scroll = [:]
    }

    mutating func setCursor(_ k: Int?) {
        guard cursorWindowCount > 0 else { moveCursor(0); return }
        message = nil
        cursor = k.map { max(0, min(cursorWindowCount - 1, $0)) }
        selection = [:]; scroll = [:]
    }

    public mutating func ingest(_ batches: [LiveBatch]) {
        for b in batches {
            packetsNotListed &+= b.unsampled
            if keepNewest {
                packets.append(contentsOf: b.rows)
                if packets.count > packetLimit + packetLimit / 4 {
                    let extra = packets.count - packetLimit
                    packets.removeFirst(extra)
                    packetsNotListed &+= UInt64(extra)
                    if !followPackets, let s = selection[.packets] { selection[.packets] = max(0, s - extra) }
                }
            } else {
                let room = max(0, packetLimit - packets.count)
                packets.append(contentsOf: b.rows.prefix(room))
                packetsNotListed &+= UInt64(b.rows.count - min(room, b.rows.count))
            }
            alerts.append(contentsOf: b.alerts)
            if alerts.count > 10_000 { alerts.removeFirst(alerts.count - 10_000) }
        }
    }

    /// Sets the filter from `/`'s text; an empty text clears it. A bad expression keeps
    /// the old filter and says why.
    @discardableResult
    public mutating func setFilter(_ text: String) -> Bool {
        let t = text.trimmingCharacters(in: " ")
        if t.isEmpty {
            filter = nil; filterText = ""; message = nil
            return true
        }
        do {
            filter = try LiveFilter(expression: t)
            filterText = t
            message = nil
            selection = [:]; scroll = [:]
            return true
        } catch let e as APIError {
            message = e.message
        } catch {
            message = "filter: \(error)"
        }
        return false
    }

    // MARK: keys

    public mutating func handle(_ key: TopKey) -> TopAction {
        if prompt != nil { return handlePrompt(key) }
        if showHelp {
            if key == .char("q") { return .quit }
            showHelp = false
            return .none
        }
        switch key {
        case .char(let c):
            switch c {
            case "q", "Q": return .quit
            case "p", "P":
                if stopped { return .none }
                paused = true; message = "paused: packets are counted, not analysed (r resumes)"
                return .pause
            case "r", "R":
                if stopped { return .none }
                paused = false; message = nil
                return .resume
            case "s", "S":
                if stopped { return .none }
                stopped = true; paused = false; message = "stopped: browse the views, q quits"
                return .stop
            case "?", "h": showHelp = true
            case "/": prompt = filterText
            case "1", "2", "3", "4", "5", "6", "7": view = TopView(rawValue: Int(String(c))! - 1)!
            case "o": view = .overview
            case "t": view = .talkers
            case "f": view = .flows
            case "a": view = .apps
            case "e": view = .alerts
            case "l": view = .packets
            case "n": view = .processes
            case "<", ",": moveSort(-1)
            case ">", ".": moveSort(1)
            case "i", "-": flipSort()
            case "j": moveSelection(1)
            case "k": moveSelection(-1)
            case "g": moveSelection(Int.min / 2)
            case "G": moveSelection(Int.max / 2)
            case "[": moveCursor(-1)
            case "]": moveCursor(1)
            case "{": moveCursor(-10)
            case "}": moveCursor(10)
            case "^": setCursor(0)
            case "$": setCursor(Int.max)
            case "c": if cursor != nil { setCursor(nil) }
            default: break
            }
        case .tab: view = TopView(rawValue: (view.rawValue + 1) % TopView.allCases.count)!
        case .backTab: view = TopView(rawValue: (view.rawValue + TopView.allCases.count - 1) % TopView.allCases.count)!
        case .left: moveSort(-1)
        case .right: moveSort(1)
        case .up: moveSelection(-1)
        case .down: moveSelection(1)
        case .pageUp: moveSelection(-max(1, pageRows - 1))
        case .pageDown: moveSelection(max(1, pageRows - 1))
        // The overview has no rows: Home and End move the time cursor there.
        case .home: if view == .overview { setCursor(0) } else { moveSelection(Int.min / 2) }
        case .end: if view == .overview { setCursor(Int.max) } else { moveSelection(Int.max / 2) }
        case .escape:
            if filter != nil { setFilter("") }
            message = nil
        case .enter, .backspace: break
        }
        return .none
    }

    mutating func handlePrompt(_ key: TopKey) -> TopAction {
        switch key {
        case .enter:
            let t = prompt ?? ""
            prompt = nil
            setFilter(t)
        case .escape: prompt = nil
        case .backspace: if prompt?.isEmpty == false { prompt?.removeLast() }
        case .char(let c):
            if c.isASCII, let a = c.asciiValue, a >= 0x20, a < 0x7F, (prompt?.count ?? 0) < 200 { prompt?.append(c) }
        default: break
        }
        return .none
    }

    mutating func moveSort(_ by: Int) {
        guard view != .overview else { return }
        let n = TopLayout.columnCount(view)
        var s = sorts[view] ?? TopSort(column: 0, descending: false)
        s.column = ((s.column + by) % n + n) % n
        // Numbers read best largest first; text in alphabetical order.
        s.descending = TopLayout.numericColumn(view, s.column)
        sorts[view] = s
        selection[view] = 0; scroll[view] = 0
        if view == .packets { followPackets = false }
    }

    mutating func flipSort() {
        guard view != .overview, var s = sorts[view] else { return }
        s.descending.toggle()
        sorts[view] = s
    }

    mutating func moveSelection(_ by: Int) {
        guard view != .overview else { return }
        let count = TopLayout.rowCount(self, view)
        guard count > 0 else { return }
        let current = selection[view] ?? (view == .packets && followPackets ? count - 1 : 0)
        let next = max(
            0, min(count - 1, current.addingReportingOverflow(by).overflow ? (by > 0 ? count - 1 : 0) : current + by))
        selection[view] = next
        if view == .packets { followPackets = next == count - 1 && by > 0 }
    }
}

extension String {
    func trimmingCharacters(in c: Character) -> String {
        var s = Substring(self)
        while s.first == c { s.removeFirst() }
        while s.last == c { s.removeLast() }
        return String(s)
    }
}
