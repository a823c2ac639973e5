import SniffCore
import SniffDecode
import SniffStore

/// The live streams' filter: the API's packet filters applied to rows in memory.
public struct LiveFilter: Sendable, Equatable {
    public var filter = TrafficFilter()

    public init(_ filter: TrafficFilter = TrafficFilter()) { self.filter = filter }

    /// From a WebSocket filter message's fields (the API's parameter names). Numbers
    /// may be JSON numbers or strings.
    public init(parameters: [String: String]) throws {
        let allowed = TrafficFilter.rowParameterNames
        for k in parameters.keys where !allowed.contains(k) {
            throw APIError.badParameter(
                String(k.prefix(40)), "unknown filter field; use " + allowed.sorted().joined(separator: ", "))
        }
        filter = try TrafficFilter(parameters: parameters.filter { !$0.value.isEmpty })
    }

    /// From the feed's `filter` command: `tcp port 80 host 10.0.0.1`, `net 10.0.0.0/8`,
    /// `src 1.2.3.4`, `dst port 53`, `app dns`, `udp`, or key=value words.
    public init(expression: String) throws {
        var p: [String: String] = [:]
        let words = expression.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var i = 0
        var direction: String? = nil
        func next(_ name: String) throws -> String {
            i += 1
            guard i < words.count else { throw APIError.badParameter(name, "'\(name)' needs a value") }
            return words[i]
        }
        while i < words.count {
            let w = words[i].lowercased()
            if let eq = w.firstIndex(of: "=") {
                p[String(w[..<eq])] = String(words[i][words[i].index(after: eq)...])
            } else if TransportKind(userValue: w) != nil {
                // A transport's name alone, as `--transport` and `transport=` take it.
                p["transport"] = w
            } else {
                switch w {
                case "src", "dst": direction = w; i += 1; continue
                case "host", "ip", "net":
                    let v = try next(w)
                    p[direction ?? "ip"] = v
                case "port":
                    let v = try next(w)
                    p[direction.map { $0 == "src" ? "sport" : "dport" } ?? "port"] = v
                case "app": p["app"] = try next(w)
                case "and", "&&": break
                default:
                    if direction != nil { p[direction!] = words[i] } else {
                        throw APIError.badParameter("filter", """
                            unknown word '\(words[i].prefix(40))'; try: tcp port 80, host 10.0.0.1, net 10.0.0.0/8, \
                            src 1.2.3.4, dst port 53, app dns
                            """)
                    }
                }
            }
            direction = w == "src" || w == "dst" ? direction : nil
            i += 1
        }
        try self.init(parameters: p)
    }

    public var isEmpty: Bool { filter == TrafficFilter() }

    public func matches(_ r: PacketRow) -> Bool {
        let f = filter
        let hasIP = r.has(.ip)
        if let n = f.ip, !(hasIP && (n.contains(r.src) || n.contains(r.dst))) { return false }
        if let n = f.src, !(hasIP && n.contains(r.src)) { return false }
        if let n = f.dst, !(hasIP && n.contains(r.dst)) { return false }
        let hasPorts = r.has(.ports)
        if let p = f.port, !(hasPorts && (r.sport == p || r.dport == p)) { return false }
        if let p = f.sport, !(hasPorts && r.sport == p) { return false }
        if let p = f.dport, !(hasPorts && r.dport == p) { return false }
        if let t = f.transport, r.transport != t { return false }
        if let a = f.app, r.app != a { return false }
        if let from = f.from, r.ts < from { return false }
        if let to = f.to, r.ts >= to { return false }
        if let q = f.text {
            guard let d = r.dnsQuery, d.lowercased().contains(q.lowercased()) else { return false }
        }
        return true
    }
}

/// One packet as a tcpdump-like line for the feed:
/// `2023-11-14 22:13:20.123456 IP 10.0.0.1.51000 > 10.0.0.2.443: TCP [P.] seq 1 ack 1 win 502 len 583 TLS
/// | Client Hello (SNI example.com)`; UDP gives the payload length as tcpdump does:
/// `... > 10.0.0.2.53: UDP, length 29 DNS | query A example.com`.
public enum PacketLine {
    static func text(_ r: PacketRow) -> String {
        var s = Timestamp(totalNanoseconds: r.ts).utcString(fractionDigits: 6)
        if r.has(.ip) {
            s += r.ipVersion == 6 ? " IP6 " : " IP "
            s += r.src.description
            if r.has(.ports) { s += "." + String(r.sport) }
            s += " > " + r.dst.description
            if r.has(.ports) { s += "." + String(r.dport) }
            s += ":"
        } else {
            s += " " + r.link.name
        }
        if let t = r.transport.name { s += " " + "\(t)".uppercased() }
        if r.has(.tcp) {
            var f = ByteSink(capacity: 8)
            TCP.writeFlagLetters(r.tcpFlags, into: &f)
            s += " [\(f.string)] seq \(r.seq) ack \(r.ack) win \(r.window)"
        }
        if r.has(.icmp) { s += " type \(r.icmpType) code \(r.icmpCode)" }
        if r.transport == .udp && r.has(.payloadLen) { s += ", length \(r.payloadLen)" } else { s += " len \(r.len)" }
        if r.app != .unknown { s += " " + r.app.name }
        // The Info line where it says more than the fields above: what the frame gave
        // (DNS, TLS, HTTP, ARP, echo ids, malformed) or an ICMP type's name.
        if r.has(.info) || r.has(.icmp) {
            s += " | " + printable(r.infoLine)
        } else if let q = r.dnsQuery {
            s += " " + printable(q)
        }
        return s
    }

    /// Control characters would let a packet move a terminal's cursor; show them escaped.
    public static func printable(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if u.value < 0x20 || u.value == 0x7F || (0x80..<0xA0).contains(u.value) {
                out += "\\x" + String(u.value, radix: 16)
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }
}
