import SniffCore

/// How urgent an alert is.
public enum AlertSeverity: UInt8, Sendable, CaseIterable, Comparable {
    case info, low, medium, high, critical

    public var name: String {
        switch self {
        case .info: return "info"
        case .low: return "low"
        case .medium: return "medium"
        case .high: return "high"
        case .critical: return "critical"
        }
    }

    public init?(name: String) {
        guard let s = AlertSeverity.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = s
    }

    public static func < (a: AlertSeverity, b: AlertSeverity) -> Bool { a.rawValue < b.rawValue }
}

/// One alert: what fired, when, about which hosts and flow.
public struct Alert: Sendable, Equatable {
    /// Unique within a run: "A" and a sequence number.
    public var id: String
    /// The time of the traffic that triggered it (packet time for files).
    public var time: Timestamp
    public var severity: AlertSeverity
    /// The rule's name, and its kind ("port_scan", "rate" ...).
    public var rule: String
    public var kind: String
    public var message: String
    /// The flow involved, when there is one.
    public var uid: String?
    public var hosts: [IPAddress]
    /// Alerts of the same rule and subject that were held back since the previous one
    /// (rate limiting); this alert stands for them too.
    public var suppressed: UInt64 = 0

    public init(id: String = "", time: Timestamp, severity: AlertSeverity, rule: String, kind: String, message: String,
                uid: String? = nil, hosts: [IPAddress] = [], suppressed: UInt64 = 0) {
        self.id = id; self.time = time; self.severity = severity; self.rule = rule; self.kind = kind
        self.message = message; self.uid = uid; self.hosts = hosts; self.suppressed = suppressed
    }

    /// `{"id":"A1","ts":1700000000.123456789,"time":"2023-11-14 22:13:20.123 UTC","severity":"high",...}`
    /// without a newline.
    public func writeJSON(into s: inout ByteSink) {
        s.append("{\"id\":\"" as StaticString)
        s.appendJSONEscaped(id)
        s.append("\",\"ts\":" as StaticString)
        s.appendEpoch(time)
        s.append(",\"time\":\"" as StaticString)
        time.writeUTC(into: &s, fractionDigits: 3)
        s.append("\",\"severity\":\"" as StaticString)
        s.append(severity.name)
        s.append("\",\"rule\":\"" as StaticString)
        s.appendJSONEscaped(rule)
        s.append("\",\"kind\":\"" as StaticString)
        s.appendJSONEscaped(kind)
        s.append("\",\"message\":\"" as StaticString)
        s.appendJSONEscaped(message)
        s.append(UInt8(ascii: "\""))
        if let uid {
            s.append(",\"uid\":\"" as StaticString)
            s.appendJSONEscaped(uid)
            s.append(UInt8(ascii: "\""))
        }
        s.append(",\"hosts\":[" as StaticString)
        for (i, h) in hosts.enumerated() {
            if i > 0 { s.append(0x2C) }
            s.append(0x22); h.write(into: &s); s.append(0x22)
        }
        s.append("],\"suppressed\":" as StaticString)
        s.append(decimal: suppressed)
        s.append(0x7D)
    }

    public var json: String {
        var s = ByteSink(capacity: 256)
        writeJSON(into: &s)
        return s.string
    }

    /// One line for a terminal or a log: "alert high port-scan: ... (uid C..., hosts a, b)".
    public var logLine: String {
        var line = "alert \(severity.name) \(rule): \(message)"
        var extra: [String] = []
        if let uid { extra.append("uid \(uid)") }
        if !hosts.isEmpty { extra.append("hosts " + hosts.map(\.description).joined(separator: ", ")) }
        if suppressed > 0 { extra.append("\(suppressed) similar suppressed") }
        if !extra.isEmpty { line += " (" + extra.joined(separator: "; ") + ")" }
        return line
    }
}
