import SniffCore
import SniffDecode

/// Evaluates alert rules over packets (rates) and flows (everything else), rate-limits
/// the results and hands them to an `AlertSink`.
///
/// Owned by the analysis thread. Per packet it only does work when a rate rule exists
/// (a dictionary update per packet for per-host rates); the other rules run per flow
/// (country and ASN rules ask `format.hosts`, which looks each address up once).
/// State per host or port is bounded by `maxTrackedKeys` per rule.
public final class AlertEngine: PacketConsumer, FlowObserver {
    public let config: AlertConfig
    public let sink: AlertSink
    public var format: FlowFormat
    public private(set) var limiter: AlertLimiter
    public private(set) var alertsRaised: UInt64 = 0
    public private(set) var alertsDelivered: UInt64 = 0
    /// Per-rule bound on tracked hosts, ports or sources.
    public var maxTrackedKeys = 100_000

    private var nextID: UInt64 = 0
    private var firstPacketNanos: Int64? = nil
    private var states: [RuleState]
    private let hasRateRules: Bool
    /// Without a DNS domain rule a flow's query name is not read: normalising it (a
    /// lowercased copy) for every DNS flow was 2% of a read of small packets.
    private let hasDNSRules: Bool
    /// Each blocklist rule's networks as sorted ranges (empty for other rules).
    private let blocklists: [NetworkSet]

    struct Window { var start: Int64 = 0; var value: UInt64 = 0; var alerted = false }
    struct ScanState {
        var start: Int64; var ports: Set<UInt32> = []; var hosts: Set<IPAddress> = []; var alerted = false
    }
    struct FloodState { var start: Int64; var count: Int = 0; var alerted = false }

    final class RuleState {
        var total = Window()
        var perHost: [IPAddress: Window] = [:]
        var seenHosts: Set<IPAddress> = []
        var seenPorts: Set<UInt32> = []
        var scans: [IPAddress: ScanState] = [:]
        var floods: [IPAddress: FloodState] = [:]
    }

    public init(config: AlertConfig = AlertConfig(), sink: AlertSink, format: FlowFormat = FlowFormat()) {
        self.config = config
        self.sink = sink
        self.format = format
        limiter = AlertLimiter(maxPerSecond: config.maxAlertsPerSecond)
        states = config.rules.map { _ in RuleState() }
        hasRateRules = config.rules.contains { if case .rate = $0.kind { return true }; return false }
        hasDNSRules = config.rules.contains { if case .dnsDomain = $0.kind { return true }; return false }
        blocklists = config.rules.map { rule in
            if case .blocklist(let nets) = rule.kind { return NetworkSet(nets) }
            return NetworkSet([])
        }
    }

    // MARK: packets

    public func consume(_ p: DecodedPacket, frame: UnsafeRawBufferPointer) {
        let now = p.timestamp.totalNanoseconds
        if firstPacketNanos == nil { firstPacketNanos = now }
        guard hasRateRules else { return }
        for (i, rule) in config.rules.enumerated() {
            guard case .rate(let metric, let perHost, let threshold, let window) = rule.kind else { continue }
            let amount: UInt64 = metric == .bytes ? UInt64(p.wireLength) : 1
            let st = states[i]
            if !perHost {
                if let v = Self.add(&st.total, amount, now: now, window: window, threshold: threshold) {
                    raise(
                        rule, time: p.timestamp, subject: "total",
                        message: "\(v) \(metric.rawValue) in \(seconds(window)) s (threshold \(threshold))", hosts: [])
                }
                continue
            }
            guard p.ipVersion != 0 else { continue }
            // Source and destination in turn, without an array literal per packet.
            for side in 0..<2 {
                let host = side == 0 ? p.src : p.dst
                if st.perHost[host] == nil && st.perHost.count >= maxTrackedKeys { continue }
                let over = Self.add(
                    &st.perHost[host, default: Window(start: now)], amount, now: now, window: window,
                    threshold: threshold)
                if let v = over {
                    let message = "\(host) sent and received \(v) \(metric.rawValue) in \(seconds(window)) s "
                        + "(threshold \(threshold))"
                    raise(rule, time: p.timestamp, subject: host.description, message: message, hosts: [host])
                }
            }
        }
    }

    /// Adds to a tumbling window; returns the value when it first crosses the threshold.
    static func add(_ w: inout Window, _ amount: UInt64, now: Int64, window: Int64, threshold: UInt64) -> UInt64? {
        if now &- w.start >= window || now < w.start { w = Window(start: now) }
        w.value &+= amount
        if !w.alerted && w.value >= threshold {
            w.alerted = true
            return w.value
        }
        return nil
    }

    // MARK: flows

    public func flowStarted(_ flow: Flow) {
        if firstPacketNanos == nil { firstPacketNanos = flow.startNanos }
        for (i, rule) in config.rules.enumerated() {
            let st = states[i]
            switch rule.kind {
            case .blocklist:
                for host in [flow.origAddress, flow.respAddress] where blocklists[i].contains(host) {
                    let other = host == flow.origAddress ? flow.respAddress : flow.origAddress
                    raise(
                        rule, flow: flow, subject: "\(host)|\(other)",
                        message: "traffic with blocklisted \(host): \(describe(flow))",
                        hosts: [flow.origAddress, flow.respAddress])
                    break
                }
            case .country(let codes, let end):
                raiseOnGeo(rule, flow, end) { geo in
                    guard let cc = geo.countryCode, codes.contains(cc) else { return nil }
                    return "in \(cc)"
                }
            case .asn(let numbers, let end):
                raiseOnGeo(rule, flow, end) { geo in
                    guard let asn = geo.asn, numbers.contains(asn) else { return nil }
                    return "in AS\(asn)" + (geo.organization.map { " (\($0))" } ?? "")
                }
            case .newHost(let localOnly, let learn):
                for host in [flow.origAddress, flow.respAddress] {
                    if localOnly && !format.localNetworks.contains(host) { continue }
                    guard !st.seenHosts.contains(host) else { continue }
                    if st.seenHosts.count < maxTrackedKeys { st.seenHosts.insert(host) }
                    if flow.startNanos &- (firstPacketNanos ?? flow.startNanos) >= learn {
                        raise(
                            rule, flow: flow, subject: host.description, message: "new host \(host): \(describe(flow))",
                            hosts: [host])
                    }
                }
            case .newPort(let localOnly, let learn):
                guard flow.isTCP || flow.isUDP else { continue }
                if localOnly && !format.localNetworks.contains(flow.respAddress) { continue }
                let key = UInt32(flow.proto) << 16 | UInt32(flow.respPort)
                guard !st.seenPorts.contains(key) else { continue }
                if st.seenPorts.count < maxTrackedKeys { st.seenPorts.insert(key) }
                if flow.startNanos &- (firstPacketNanos ?? flow.startNanos) >= learn {
                    raise(
                        rule, flow: flow, subject: "\(key)",
                        message:
                            "new port \(flow.transportName)/\(flow.respPort) on \(flow.respAddress): \(describe(flow))",
                        hosts: [flow.origAddress, flow.respAddress])
                }
            default:
                break
            }
        }
        checkDNS(flow)
    }

    public func flowUpdated(_ flow: Flow) { checkDNS(flow) }

    public func flowEnded(_ flow: Flow, reason: FlowEndReason) {
        guard flow.isTCP else { return }
        let state = flow.connState
        let failed = state == .s0 || state == .rej || state == .rstos0
        guard failed else { return }
        for (i, rule) in config.rules.enumerated() {
            let st = states[i]
            switch rule.kind {
            case .portScan(let ports, let hosts, let window):
                let src = flow.origAddress
                var s = st.scans[src] ?? ScanState(start: flow.startNanos)
                if st.scans[src] == nil && st.scans.count >= maxTrackedKeys { continue }
                if flow.startNanos &- s.start >= window || flow.startNanos < s.start {
                    s = ScanState(start: flow.startNanos)
                }
                s.ports.insert(UInt32(flow.respPort))
                if s.hosts.count < hosts { s.hosts.insert(flow.respAddress) }
                if !s.alerted && (s.ports.count >= ports || s.hosts.count >= hosts) {
                    s.alerted = true
                    let what = s.ports.count >= ports ? "\(s.ports.count) ports" : "\(s.hosts.count) hosts"
                    raise(
                        rule, flow: flow, subject: src.description,
                        message: "\(src) probed \(what) with failed connections within \(seconds(window)) s",
                        hosts: [src])
                }
                if s.ports.count > ports * 4 { s.ports.removeAll(keepingCapacity: true) }
                st.scans[src] = s
            case .synFlood(let threshold, let window):
                guard state == .s0 else { continue }
                let dst = flow.respAddress
                if st.floods[dst] == nil && st.floods.count >= maxTrackedKeys { continue }
                var f = st.floods[dst] ?? FloodState(start: flow.startNanos)
                if flow.startNanos &- f.start >= window || flow.startNanos < f.start {
                    f = FloodState(start: flow.startNanos)
                }
                f.count += 1
                if !f.alerted && f.count >= threshold {
                    f.alerted = true
                    raise(rule, flow: flow, subject: dst.description,
                          message: "\(f.count) unanswered SYNs to \(dst) within \(seconds(window)) s", hosts: [dst])
                }
                st.floods[dst] = f
            default:
                break
            }
        }
    }

    private func checkDNS(_ flow: Flow) {
        guard hasDNSRules, let q = flow.details.dnsQuery else { return }
        let name = RulesFile.normalizeDomain(q)
        for rule in config.rules {
            guard case .dnsDomain(let domains) = rule.kind else { continue }
            for d in domains where name == d || name.hasSuffix("." + d) {
                raise(
                    rule, flow: flow, subject: "\(name)|\(flow.origAddress)",
                    message: "DNS query for \(q) (listed: \(d)) from \(flow.origAddress)",
                    hosts: [flow.origAddress, flow.respAddress])
                break
            }
        }
    }

    // MARK: raising

    /// Country and ASN rules: the first end that `end` names and whose GeoIP answer
    /// `place` matches ("in DE", "in AS64500 (Org)") raises one alert for the flow.
    /// GeoIP through the run's enrichment: looked up once per address and cached, as the
    /// flow writers ask it; private addresses are never asked.
    private func raiseOnGeo(_ rule: AlertRule, _ flow: Flow, _ end: AlertRule.FlowEnd,
                            place: (GeoRecord) -> String?) {
        guard let hosts = format.hosts else { return }
        for side in 0..<2 where end.includes(orig: side == 0) {
            let host = side == 0 ? flow.origAddress : flow.respAddress
            guard let place = place(hosts.geo(for: host)) else { continue }
            let other = side == 0 ? flow.respAddress : flow.origAddress
            raise(rule, flow: flow, subject: "\(host)|\(other)",
                  message: "flow \(side == 0 ? "from" : "to") \(host) \(place): \(describe(flow))",
                  hosts: [flow.origAddress, flow.respAddress])
            return
        }
    }

    private func describe(_ f: Flow) -> String {
        "\(f.transportName) \(f.origAddress):\(f.origPort) -> \(f.respAddress):\(f.respPort)"
    }

    private func seconds(_ nanos: Int64) -> String {
        nanos % 1_000_000_000 == 0 ? String(nanos / 1_000_000_000) : String(Double(nanos) / 1e9)
    }

    private func raise(_ rule: AlertRule, flow: Flow, subject: String, message: String, hosts: [IPAddress]) {
        raise(rule, time: flow.start, subject: subject, message: message, hosts: hosts,
              uid: FlowUID.string(seed: format.uidSeed, flow: flow))
    }

    private func raise(
        _ rule: AlertRule, time: Timestamp, subject: String, message: String, hosts: [IPAddress], uid: String? = nil
    ) {
        alertsRaised &+= 1
        nextID &+= 1
        let alert = Alert(id: "A\(nextID)", time: time, severity: rule.severity, rule: rule.name, kind: rule.kindName,
                          message: message, uid: uid, hosts: hosts)
        if let out = limiter.admit(alert, subject: rule.name + "|" + subject, holdoff: rule.suppress) {
            alertsDelivered &+= 1
            sink.deliver(out)
        }
    }

    /// Delivers the summaries of held-back alerts (end of capture). Call before
    /// closing the sink.
    public func finish() {
        for a in limiter.finish() {
            alertsDelivered &+= 1
            sink.deliver(a)
        }
    }
}
