import SniffCore
import SniffDecode

/// What the report header describes besides the counters.
public struct ReportContext: Sendable {
    public var source: String
    public var startedAt: Timestamp
    public var lastUpdate: Timestamp
    public var intervalSeconds: Int
    public var updates: Int
    /// "Running", "Paused" or "Finished".
    public var status: String
    public var minPackets: UInt64
    public var filter: PacketFilter
    public var bpf: String?
    /// Names, countries and ASNs for each address's "Host" line.
    public var hosts: HostEnrichment?

    public init(source: String, startedAt: Timestamp, lastUpdate: Timestamp, intervalSeconds: Int, updates: Int,
                status: String, minPackets: UInt64, filter: PacketFilter, bpf: String?) {
        self.source = source
        self.startedAt = startedAt
        self.lastUpdate = lastUpdate
        self.intervalSeconds = intervalSeconds
        self.updates = updates
        self.status = status
        self.minPackets = minPackets
        self.filter = filter
        self.bpf = bpf
    }
}

/// An extra titled block in the report (the protocol summary, for instance).
public struct ReportSection: Sendable {
    public var title: String
    public var lines: [String]
    public init(title: String, lines: [String]) {
        self.title = title
        self.lines = lines
    }
}

/// The plain-text report in sniffnet 0.1's layout: a header with the source, times
/// and filters; totals; then one block per address:port, busiest first.
public enum ReportWriter {
    static let rule = "=================================================================================="
    static let thin = "----------------------------------------------------------------------------------"

    public static func write(context: ReportContext, totals: CaptureTotals, endpoints: EndpointTable,
                             sections: [ReportSection] = [], limit: Int? = nil, into s: inout ByteSink) {
        func line(_ text: String) { s.append(text); s.append(0x0A) }
        func field(_ name: String, _ value: String) {
            s.append("  "); s.append(name)
            s.append(String(repeating: " ", count: max(1, 22 - name.count)))
            s.append(value); s.append(0x0A)
        }
        func time(_ t: Timestamp?) -> String { t.map { $0.utcString(fractionDigits: 6) } ?? "-" }

        line(rule)
        line("  Sniff report")
        line(rule)
        field("Source:", context.source)
        field("Status:", context.status)
        field("Report started:", time(context.startedAt))
        field("Last update:", time(context.lastUpdate))
        field("Update interval:", "\(context.intervalSeconds) s")
        field("Updates:", "\(context.updates)")
        field("First packet:", time(totals.firstTimestamp))
        field("Last packet:", time(totals.lastTimestamp))
        line("")
        line("  Filters")
        let f = context.filter
        field("  Min packets:", context.minPackets > 0 ? "\(context.minPackets)" : "none")
        field("  IP version:", f.ipVersion.map { $0 == .ipv4 ? "IPv4" : "IPv6" } ?? "any")
        field("  Transport:", f.transport?.label ?? "any")
        field("  Port range:", f.hasPortRange ? "\(f.lowestPort)-\(f.highestPort)" : "any")
        field("  IP:", f.networks.isEmpty ? "any" : f.networks.map { n in
            (n.address.isIPv6 ? n.prefixLength == 128 : n.prefixLength == 32) ? "\(n.address)" : n.description
        }.joined(separator: ", "))
        field("  BPF:", context.bpf ?? "none")
        line(thin)
        line("  Totals")
        field("Packets seen:", "\(totals.packetsSeen)")
        field("Packets matching:", "\(totals.packetsMatched)")
        field("Bytes matching:", "\(totals.bytesMatched)")
        var perT: [String] = []
        for k in TransportKind.allCases {
            let n = totals.perTransport[Int(k.rawValue)]
            if n > 0 { perT.append("\(k == .none ? "non-IP" : k.label) \(n)") }
        }
        field("Per transport:", perT.isEmpty ? "-" : perT.joined(separator: ", "))
        field("Undecoded:", "\(totals.undecoded)")
        field("Malformed:", "\(totals.malformed)")
        field("Truncated:", "\(totals.truncated)")
        let r = totals.reassembly
        if r.fragments > 0 {
            var parts = ["\(r.fragments) fragments", "\(r.reassembled) datagrams reassembled"]
            if r.incomplete > 0 {
                parts.append("\(r.incomplete) incomplete (\(r.timedOut) timed out, \(r.unfinished) at the end, "
                             + "\(r.evicted) over the caps, \(r.tooLarge) too large)")
            }
            if r.overlaps > 0 { parts.append("\(r.overlaps) overlapping") }
            if r.duplicates > 0 { parts.append("\(r.duplicates) duplicate") }
            if r.tinyFragments > 0 { parts.append("\(r.tinyFragments) tiny first fragments") }
            if r.badLength > 0 { parts.append("\(r.badLength) with bad lengths") }
            field("IP fragments:", parts.joined(separator: ", "))
        }
        if totals.kernelDropped > 0 || totals.interfaceDropped > 0 || totals.sniffDropped > 0
            || context.status != "Finished" {
            field("Dropped (kernel):", "\(totals.kernelDropped)")
            field("Dropped (interface):", "\(totals.interfaceDropped)")
            field("Dropped (sniff):", "\(totals.sniffDropped)")
        }
        if totals.skippedWhilePaused > 0 {
            field("Skipped (paused):", "\(totals.skippedWhilePaused)")
        }
        for section in sections {
            line(thin)
            line("  \(section.title)")
            for l in section.lines { line("  \(l)") }
        }
        line(thin)
        let (list, eligible) = endpoints.top(minPackets: context.minPackets, limit: limit)
        line("  Address:port list: \(list.count) of \(endpoints.count) endpoints, by sent + received packets")
        line(thin)
        // Millions of endpoints are possible: this part writes bytes directly.
        for (ep, st) in list {
            s.append("\n  " as StaticString)
            ep.write(into: &s)
            if let hosts = context.hosts { writeHost(hosts.host(ep.address), into: &s) }
            s.append("\n    Sent:               " as StaticString)
            s.append(decimal: st.sentPackets); s.append(" packets, " as StaticString)
            s.append(decimal: st.sentBytes); s.append(" bytes" as StaticString)
            s.append("\n    Received:           " as StaticString)
            s.append(decimal: st.receivedPackets); s.append(" packets, " as StaticString)
            s.append(decimal: st.receivedBytes); s.append(" bytes" as StaticString)
            s.append("\n    First seen:         " as StaticString)
            st.first.writeUTC(into: &s, fractionDigits: 6)
            s.append("\n    Last seen:          " as StaticString)
            st.last.writeUTC(into: &s, fractionDigits: 6)
            s.append("\n    Transport:          " as StaticString)
            var firstItem = true
            for k in TransportKind.allCases where k != .none && st.transports & (1 << UInt16(k.rawValue)) != 0 {
                if !firstItem { s.append(", " as StaticString) }
                if let n = k.name { s.append(n) }
                firstItem = false
            }
            s.append("\n    Application:        " as StaticString)
            if st.apps.isEmpty {
                s.append(UInt8(ascii: "-"))
            } else {
                firstItem = true
                for a in AppProtocol.allCases where st.apps.contains(a) {
                    if !firstItem { s.append(", " as StaticString) }
                    s.append(a.name)
                    firstItem = false
                }
            }
            s.append(0x0A)
        }
        if eligible > list.count {
            line("")
            line("  \(eligible - list.count) more address:port pairs (use --top all or --report FILE)")
        }
        line(rule)
    }

    /// "Host: www.example.com, US, AS15133 Edgecast Inc." as Sniffnet showed it, with the
    /// category of a special address ("private", "multicast" ...) and "local" for
    /// --local-nets; nothing for a public address nobody named.
    static func writeHost(_ h: HostInfo, into s: inout ByteSink) {
        var first = true
        func part(_ text: String) {
            s.append(first ? "\n    Host:               " as StaticString : ", " as StaticString)
            s.append(text)
            first = false
        }
        if let name = h.displayName { part(name) }
        if let cc = h.geo.countryCode { part(cc) }
        switch (h.geo.asn, h.geo.organization) {
        case (let asn?, let org?): part("AS\(asn) \(org)")
        case (let asn?, nil): part("AS\(asn)")
        case (nil, let org?): part(org)
        case (nil, nil): break
        }
        var kinds: [String] = []
        if h.category != .public { kinds.append(h.category.rawValue) }
        if h.isLocal { kinds.append("local") }
        if !kinds.isEmpty {
            let text = kinds.joined(separator: ", ")
            if first { part(text) } else { s.append(" (" + text + ")") }
        }
    }

    public static func render(context: ReportContext, totals: CaptureTotals, endpoints: EndpointTable,
                              sections: [ReportSection] = [], limit: Int? = nil) -> String {
        var s = ByteSink(capacity: 16 << 10)
        write(context: context, totals: totals, endpoints: endpoints, sections: sections, limit: limit, into: &s)
        return s.string
    }
}
