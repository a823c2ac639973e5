/// Keeps a flood of traffic from becoming a flood of alerts.
///
/// Per subject (rule plus what it is about, such as a host): the first alert passes;
/// repeats within the rule's `suppress` time are counted, and the next alert after that
/// carries the count. Across all rules: at most `maxPerSecond` alerts per second of
/// traffic time; the excess is counted. `finish()` reports what is still held back.
public struct AlertLimiter: Sendable {
    struct Subject: Sendable { var lastSent: Int64; var pending: UInt64; var alert: Alert }

    public let maxPerSecond: Int
    private var subjects: [String: Subject] = [:]
    private var currentSecond: Int64 = .min
    private var sentThisSecond = 0
    /// Alerts dropped by the global limit, in total.
    public private(set) var droppedByRate: UInt64 = 0
    /// Alerts counted into a later one (or into `finish`), in total.
    public private(set) var suppressed: UInt64 = 0

    public init(maxPerSecond: Int) { self.maxPerSecond = maxPerSecond }

    /// Returns the alert to deliver, or nil when it is held back.
    public mutating func admit(_ alert: Alert, subject: String, holdoff: Int64) -> Alert? {
        let now = alert.time.totalNanoseconds
        var out = alert
        if var s = subjects[subject] {
            if now &- s.lastSent < holdoff {
                s.pending &+= 1
                s.alert = alert
                subjects[subject] = s
                suppressed &+= 1
                return nil
            }
            out.suppressed = s.pending
        }
        let second = now / 1_000_000_000
        if second != currentSecond { currentSecond = second; sentThisSecond = 0 }
        guard sentThisSecond < maxPerSecond else {
            droppedByRate &+= 1
            var s = subjects[subject] ?? Subject(lastSent: .min / 2, pending: 0, alert: alert)
            s.pending &+= 1
            s.alert = alert
            subjects[subject] = s
            return nil
        }
        sentThisSecond += 1
        subjects[subject] = Subject(lastSent: now, pending: 0, alert: alert)
        return out
    }

    /// One alert per subject with held-back repeats, carrying their count (for the end of
    /// a capture).
    public mutating func finish() -> [Alert] {
        var out: [Alert] = []
        for key in subjects.keys.sorted() {
            guard let s = subjects[key], s.pending > 0 else { continue }
            var a = s.alert
            a.message = "\(s.pending) more: " + a.message
            a.suppressed = s.pending
            out.append(a)
            subjects[key]?.pending = 0
        }
        return out
    }
}
