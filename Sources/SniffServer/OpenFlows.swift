import SniffCore
import SniffDecode
import SniffStore

extension TrafficFilter {
    /// Whether a flow row passes the filter's address, port, transport, app and text
    /// fields, as `SQLBuilder.flowFilter` decides in SQL: ip and port match either end,
    /// transport is the IP protocol, text is a substring of the DNS query, SNI or Host.
    /// The time range, capture and sensor are the caller's (they are not in the row).
    public func matchesFlow(_ r: FlowRow) -> Bool {
        if let n = ip, !(n.contains(r.origH) || n.contains(r.respH)) { return false }
        if let n = src, !n.contains(r.origH) { return false }
        if let n = dst, !n.contains(r.respH) { return false }
        if let p = port, r.origP != p && r.respP != p { return false }
        if let p = sport, r.origP != p { return false }
        if let p = dport, r.respP != p { return false }
        if let t = transport, TransportKind(ipProto: r.ipProto) != t { return false }
        if let a = app, r.app != a.name { return false }
        if let t = text?.lowercased() {
            let names = [r.dnsQuery, r.httpHost, r.tlsSNI].compactMap { $0?.lowercased() }
            if !names.contains(where: { $0.contains(t) }) { return false }
        }
        return true
    }
}

/// The running capture's flows in progress (the live hub's snapshot of its flow table),
/// filtered and ranked as the API ranks stored flows, so that /api/flows and
/// /api/talkers show a flow before it ends. Filters mean what they mean in SQL
/// (`SQLBuilder.flowFilter`): ip/port match either end, transport is the IP protocol.
enum OpenFlows {
    static func matches(_ s: StoredFlow, _ q: FlowQuery) -> Bool {
        let f = q.filter, r = s.row
        if !f.matchesFlow(r) { return false }
        if !inRange(s, from: f.from, to: f.to, capture: f.capture, sensor: f.sensor) { return false }
        if let c = q.connState, r.connState != c { return false }
        if let t = q.tls {
            let fingerprint = t.lowercased()
            let sni = r.tlsSNI?.lowercased().contains(fingerprint) ?? false
            if !sni && ![r.ja3, r.ja3s, r.ja4].contains(fingerprint) { return false }
        }
        if let p = q.process {
            if let pid = Int32(p) { if r.pid != pid { return false } } else if r.process != p { return false }
        }
        if let c = q.country, r.origCC != c && r.respCC != c { return false }
        if let a = q.asn, r.origASN != a && r.respASN != a { return false }
        if let m = q.minBytes, r.totalBytes < m { return false }
        switch q.tunnel {
        case nil: break
        case .any?: if r.tunnel == nil { return false }
        case .none?: if r.tunnel != nil { return false }
        case .kind(let k)?: if r.tunnel != k.label { return false }
        }
        return true
    }

    /// A flow counts in a range by its start, as stored flows do.
    static func inRange(_ s: StoredFlow, from: Int64?, to: Int64?, capture: Int64?, sensor: String?) -> Bool {
        if let v = from, s.row.ts < v { return false }
        if let v = to, s.row.ts >= v { return false }
        if let v = capture, s.captureID != v { return false }
        if let v = sensor, s.sensor != v { return false }
        return true
    }

    /// Largest (or newest) first, as the store orders flows.
    static func sorted(_ rows: [StoredFlow], by sort: FlowSort) -> [StoredFlow] {
        func key(_ r: FlowRow) -> Int64 {
            switch sort {
            case .bytes: Int64(clamping: r.totalBytes)
            case .packets: Int64(clamping: r.totalPackets)
            case .time: r.ts
            }
        }
        return rows.sorted { key($0.row) > key($1.row) }
    }

    /// Stored talkers plus the flows in progress (both ends of each, as the store
    /// counts them), ranked by bytes again and cut to `limit`.
    static func talkers(_ stored: Talkers, open: [StoredFlow], limit: Int) -> Talkers {
        guard !open.isEmpty else { return stored }
        struct PairKey: Hashable { let address: IPAddress; let port: UInt16; let proto: String }
        var pairs: [PairKey: Talkers.Pair] = [:]
        var hosts: [IPAddress: Talkers.Host] = [:]
        for p in stored.pairs { pairs[PairKey(address: p.address, port: p.port, proto: p.proto)] = p }
        for h in stored.hosts { hosts[h.address] = h }
        for f in open {
            let r = f.row
            for (a, port) in [(r.origH, r.origP), (r.respH, r.respP)] {
                let k = PairKey(address: a, port: port, proto: r.proto)
                var p = pairs[k] ?? Talkers.Pair(address: a, port: port, proto: r.proto)
                p.packets &+= r.totalPackets; p.bytes &+= r.totalBytes; p.flows &+= 1
                pairs[k] = p
                var h = hosts[a] ?? Talkers.Host(address: a)
                h.packets &+= r.totalPackets; h.bytes &+= r.totalBytes; h.flows &+= 1
                hosts[a] = h
            }
        }
        var t = Talkers()
        t.pairs = Array(
            pairs.values.sorted {
                ($0.bytes, $1.address.description, $1.port) > ($1.bytes, $0.address.description, $0.port)
            }.prefix(limit))
        t.hosts = Array(
            hosts.values.sorted { ($0.bytes, $1.address.description) > ($1.bytes, $0.address.description) }.prefix(
                limit))
        return t
    }

    /// Stored countries (or ASes) plus the flows in progress, counted as the store counts
    /// them (`HostQueries.networkShares`: a flow once per distinct country or AS of its
    /// ends), ranked by bytes again and cut to `limit`.
    static func networkShares(_ stored: [NetworkShare], open: [StoredFlow], by: NetworkShareQuery.Key,
                              limit: Int) -> [NetworkShare] {
        guard !open.isEmpty else { return stored }
        var shares: [String: NetworkShare] = [:]
        func key(_ s: NetworkShare) -> String { s.country ?? s.asn.map { String($0) } ?? "" }
        for s in stored { shares[key(s)] = s }
        for f in open {
            let r = f.row
            let sides =
                by == .country
                ? [
                    NetworkShare(country: r.origCC, bytes: 0, flows: 0),
                    NetworkShare(country: r.respCC, bytes: 0, flows: 0)
                ]
                : [
                    NetworkShare(asn: r.origASN, org: r.origOrg, bytes: 0, flows: 0),
                    NetworkShare(asn: r.respASN, org: r.respOrg, bytes: 0, flows: 0)
                ]
            var counted = Set<String>()
            for side in sides where side.country != nil || side.asn != nil {
                let k = key(side)
                guard counted.insert(k).inserted else { continue }
                var s = shares[k] ?? side
                if s.org == nil { s.org = side.org }
                s.bytes &+= r.totalBytes; s.flows &+= 1
                shares[k] = s
            }
        }
        return Array(shares.values.sorted { ($0.bytes, key($1)) > ($1.bytes, key($0)) }.prefix(limit))
    }

    /// Stored process usage plus the flows in progress that a scan placed already (bytes
    /// sent are the side its socket is on), busiest first, cut to `limit`.
    static func processes(_ stored: [ProcessUsage], open: [StoredFlow], limit: Int) -> [ProcessUsage] {
        struct Key: Hashable { let process: String; let pid: Int32; let user: String?; let container: String? }
        var usage: [Key: ProcessUsage] = [:]
        for u in stored { usage[Key(process: u.process, pid: u.pid, user: u.user, container: u.container)] = u }
        for f in open {
            let r = f.row
            guard let pid = r.pid, let name = r.process else { continue }
            let k = Key(process: name, pid: pid, user: r.user, container: r.container)
            var u =
                usage[k]
                ?? ProcessUsage(
                    process: name, pid: pid, user: r.user, container: r.container, sent: 0, received: 0,
                    flows: 0)
            let isOrig = r.processIsOrig ?? true
            u.sent &+= isOrig ? r.origL2Bytes : r.respL2Bytes
            u.received &+= isOrig ? r.respL2Bytes : r.origL2Bytes
            u.flows &+= 1
            usage[k] = u
        }
        return Array(
            usage.values.sorted { ($0.sent &+ $0.received, $1.pid) > ($1.sent &+ $1.received, $0.pid) }.prefix(limit))
    }
}
