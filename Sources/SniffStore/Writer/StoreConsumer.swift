import SniffCore
import SniffDecode
import SniffAnalysis
import SniffCapture

/// What `--store-packets` keeps of the packets (flows, alerts and the per-second
/// traffic sums are always stored).
public enum PacketPolicy: Sendable, Equatable, CustomStringConvertible {
    case all
    case none
    /// One packet in N (the 1st, the N+1th ...).
    case sample(Int)

    public init?(_ text: String) {
        switch text.lowercased() {
        case "all": self = .all
        case "none": self = .none
        default:
            guard text.lowercased().hasPrefix("sample:"), let n = Int(text.dropFirst(7)), n >= 1 else { return nil }
            self = n == 1 ? .all : .sample(n)
        }
    }

    public var description: String {
        switch self {
        case .all: return "all"
        case .none: return "none"
        case .sample(let n): return "sample:\(n)"
        }
    }
}

/// The analysis-thread side of storage: a packet consumer, flow observer and alert
/// sink that copies rows into batch buffers and hands full batches to a `StoreWriter`.
/// Per packet it fills one row in place (no allocation but the DNS name) and updates
/// the per-second traffic sums; it never waits for the database.
///
/// Put it after the flow table in the pipeline's consumers, so that a packet's flow
/// exists when the packet is stored (its uid goes in the row).
public final class StoreConsumer: PacketConsumer, FlowObserver, AlertSink, TransactionObserver {
    public let writer: StoreWriter
    public let policy: PacketPolicy
    /// `--store-raw`: the stored packets keep their captured bytes.
    public let storeFrames: Bool
    public private(set) var capture: CaptureInfo
    public var packetBatchSize = 8192
    public var flowBatchSize = 2048
    /// Protocol log rows (DNS and HTTP transactions, TLS handshakes) per batch.
    public var logBatchSize = 1024
    /// Host rows per batch. Each goes out with a flow batch once this many are
    /// waiting, and at every `flush` (a live capture's tick): the hosts table's
    /// B-trees are keyed by address, so a batch dirties pages all over them and its
    /// commit rewrites them; fewer, larger batches write each page fewer times.
    public var hostBatchSize = 16_384
    /// With `storeFrames`, a packet batch also goes out once it holds this many bytes,
    /// so that a batch of jumbo frames stays a few megabytes.
    public var frameBatchBytes = 8 << 20
    /// Live capture: partial batches older than this go out at `tick`.
    public var flushIntervalNanos: Int64 = 1_000_000_000
    public var captureUpdateIntervalNanos: Int64 = 10_000_000_000

    private var builder: RowBuilder
    private var packets: [PacketRow] = []
    /// The kept bytes of the rows in `packets`, back to back (the batch's `frames`).
    private var frames: [UInt8] = []
    private var flows: [FlowRow] = []
    private var alerts: [AlertRow] = []
    private var logs: [LogRow] = []
    private var traffic: [TrafficRow] = []
    private var trafficIndex: [TrafficKey: Int] = [:]
    private var lastTrafficKey = TrafficKey(second: .min, transport: 0, app: 0)
    private var lastTrafficSlot = -1
    /// The uid of each open flow, for its packets' rows, with the flow's start: a key
    /// can be reused by a later flow, and the start tells whether the uid is the ending
    /// flow's (then its row takes it instead of making it again).
    private var flowUIDs = SlotTable<FlowKey, OpenFlowUID>()
    /// What this consumer knows of each address (`AddressFacts`): one table, so that a
    /// flow's end probes it once per address, where three dictionaries were probed.
    private var addresses = SlotTable<IPAddress, AddressFacts>()
    /// The host rows to tell, one per address (its slot in `AddressFacts.tellSlot`): an
    /// array that the batch takes whole.
    private var hostsToTell: [HostRow] = []
    /// Counts the host batches handed over: a `tellSlot` is this batch's when its
    /// `tellBatch` equals this.
    private var hostBatch: UInt32 = 1
    /// Set by `flowStarted`: the packet this consumer sees next opened a flow.
    private var packetOpensFlow = false
    /// The IEEE registry (ieee-data) for the hosts' vendors; nil without it.
    public var vendors: MACVendors?
    /// Live capture: the local process that owns a flow's socket (`FlowProcesses.owner`),
    /// asked as the flow ends. Put the consumer before the observer that makes the
    /// processes forget ended flows.
    public var processOf: ((Flow) -> (process: LocalProcess, isOrig: Bool)?)?
    private var matched: UInt64 = 0
    private var lastFlush = Timestamp.now()
    private var lastCaptureUpdate = Timestamp.now()
    private var finished = false
    public private(set) var packetsHandedOver: UInt64 = 0
    public private(set) var flowsHandedOver: UInt64 = 0
    public private(set) var alertsHandedOver: UInt64 = 0
    public private(set) var logsHandedOver: UInt64 = 0

    struct OpenFlowUID {
        var start: Int64
        var uid: String
    }

    /// Addresses kept in `addresses`: past this many, the table starts over (a host
    /// told twice is a harmless upsert; a MAC forgotten is learned again from the
    /// address's next flow).
    static let addressLimit = 262_144

    /// The facts of one address.
    struct AddressFacts {
        /// What the `hosts` table was last told (the raw values, compared before any
        /// text is made); nil before the first time.
        var told: HostTold? = nil
        /// The MAC the address sent from (or was sent to) in the first packet of a flow;
        /// a remote address's frames carry its router's MAC, so it gets none.
        var mac: MACAddress? = nil
        /// The address's row in `hostsToTell`, when `tellBatch` is the current batch.
        var tellSlot: Int32 = 0
        var tellBatch: UInt32 = 0
    }

    struct TrafficKey: Hashable {
        var second: Int64
        var transport: UInt8
        var app: UInt8
    }

    /// `format` must be the one the flow writers use, so that uids match.
    public init(writer: StoreWriter, capture: CaptureInfo, policy: PacketPolicy, format: FlowFormat = FlowFormat(),
                storeFrames: Bool = false) {
        self.writer = writer
        self.capture = capture
        self.policy = policy
        self.storeFrames = storeFrames
        builder = RowBuilder(format: format)
        self.capture.storePackets = policy.description
        packets.reserveCapacity(packetBatchSize)
        if storeFrames { frames.reserveCapacity(frameBatchBytes + 65_536) }
    }

    /// Records the capture's start.
    public func start() {
        submit(.capture(capture))
    }

    private func submit(_ content: BatchContent, frames: [UInt8] = []) {
        writer.submit(
            StoreBatch(
                id: writer.makeBatchID(), sensor: capture.sensor, captureID: capture.id, content: content,
                frames: frames))
    }

    // MARK: packets

    public func consume(_ p: DecodedPacket, frame: UnsafeRawBufferPointer) {
        matched &+= 1
        countTraffic(p)
        if packetOpensFlow {
            // Once per flow, not per packet: an address's MAC seldom changes.
            packetOpensFlow = false
            learnMACs(p)
        }
        switch policy {
        case .none: return
        case .all: break
        case .sample(let n): if (matched &- 1) % UInt64(n) != 0 { return }
        }
        packets.append(PacketRow())
        let i = packets.count - 1
        builder.fill(&packets[i], from: p, frame: frame)
        if !flowUIDs.isEmpty, let key = FlowKey(packet: p), let slot = flowUIDs.find(key) {
            packets[i].flowUID = flowUIDs[slot: slot].uid
            packets[i].present.insert(.flowUID)
        }
        if storeFrames {
            // Appended to the batch's one byte array (capacity reserved per batch): no
            // allocation per packet.
            packets[i].frameOffset = UInt32(frames.count)
            packets[i].frameLength = UInt32(frame.count)
            packets[i].present.insert(.frame)
            frames.append(contentsOf: frame)
            if frames.count >= frameBatchBytes { flushPackets(); return }
        }
        if packets.count >= packetBatchSize { flushPackets() }
    }

    private func learnMACs(_ p: DecodedPacket) {
        guard p.ipVersion != 0, p.link == .ethernet else { return }
        let local = builder.format.localNetworks
        for side in 0..<2 {
            let address = side == 0 ? p.src : p.dst, mac = side == 0 ? p.ethSrc : p.ethDst
            // Not the all-zero MAC of loopback captures, nor a group (multicast, broadcast) one.
            guard mac.value != 0, mac.value >> 40 & 1 == 0, local.contains(address) else { continue }
            let slot = addressSlot(address)
            addresses[slot: slot].mac = mac
        }
    }

    @inline(__always)
    private func countTraffic(_ p: DecodedPacket) {
        let ns = p.timestamp.totalNanoseconds
        let second = ns >= 0 ? ns / 1_000_000_000 : (ns + 1) / 1_000_000_000 - 1
        let key = TrafficKey(second: second, transport: p.transport.rawValue, app: p.app.rawValue)
        let slot: Int
        if key == lastTrafficKey {
            slot = lastTrafficSlot
        } else if let s = trafficIndex[key] {
            slot = s
        } else {
            slot = traffic.count
            traffic.append(
                TrafficRow(ts: second &* 1_000_000_000, transport: p.transport, app: p.app, packets: 0, bytes: 0))
            trafficIndex[key] = slot
        }
        lastTrafficKey = key
        lastTrafficSlot = slot
        traffic[slot].packets &+= 1
        traffic[slot].bytes &+= Int64(p.wireLength)
        if traffic.count >= 8192 { flushTraffic() }
    }

    /// The flow's earlier packets were counted under the port guess: move them, in the
    /// second of the packet that decided (exact in every total; a time series shows
    /// them a little later when the flow's first packets fell in an earlier second).
    public func flowAppChanged(_ flow: Flow, from old: AppProtocol, packets: UInt64, bytes: UInt64, at nanos: Int64) {
        let second = nanos >= 0 ? nanos / 1_000_000_000 : (nanos + 1) / 1_000_000_000 - 1
        let p = Int64(clamping: packets), b = Int64(clamping: bytes)
        traffic.append(
            TrafficRow(ts: second &* 1_000_000_000, transport: flow.transport, app: old, packets: -p, bytes: -b))
        traffic.append(
            TrafficRow(ts: second &* 1_000_000_000, transport: flow.transport, app: flow.app, packets: p, bytes: b))
        if traffic.count >= 8192 { flushTraffic() }
    }

    // MARK: flows and alerts

    public func flowStarted(_ flow: Flow) {
        packetOpensFlow = true
        let uid = OpenFlowUID(start: flow.startNanos, uid: FlowUID.string(seed: builder.format.uidSeed, flow: flow))
        let (slot, inserted) = flowUIDs.slot(flow.key) { uid }
        if !inserted { flowUIDs[slot: slot] = uid }
    }

    public func flowEnded(_ flow: Flow, reason: FlowEndReason) {
        var uid: String? = nil
        if let i = flowUIDs.find(flow.key), flowUIDs[slot: i].start == flow.startNanos {
            uid = flowUIDs.remove(at: i).uid
        }
        let pair = builder.format.hostPair(flow)
        // Built where it lies in the batch: a returned row (about 1 KB) was copied in,
        // each of its strings retained, and the original released.
        flows.append(FlowRow())
        builder.fill(&flows[flows.count - 1], from: flow, reason: reason, uid: uid, hosts: pair,
                     process: processOf?(flow))
        if let pair {
            noteHost(flow.origAddress, pair.orig, first: flow.startNanos, last: flow.lastNanos)
            noteHost(flow.respAddress, pair.resp, first: flow.startNanos, last: flow.lastNanos)
        }
        if flows.count >= flowBatchSize { flushFlows() }
        if let tls = builder.tlsRow(from: flow) { addLog(tls) }
    }

    // MARK: protocol logs

    /// A DNS query and its response (the flow table's `TransactionTracker`, on when storing).
    public func dnsTransaction(_ t: DNSTransaction) {
        addLog(builder.row(from: t, uid: openUID(t.flow)))
        noteAnswered(t)
    }

    /// An address a DNS answer named gets its host row, and so its name, even when no
    /// flow of its own is stored: `/api/hosts/{ip}` answers "who is that?" for every
    /// address DNS named. Only addresses not told yet: a flow's end updates the rest.
    private func noteAnswered(_ t: DNSTransaction) {
        guard let hosts = builder.format.hosts else { return }
        for text in t.answers {
            guard let address = IPAddress(text) else { continue }
            if let slot = addresses.find(address), addresses[slot: slot].told != nil { continue }
            let info = hosts.host(address)
            guard let n = info.name else { continue }
            noteHost(address, info, first: n.firstSeen.totalNanoseconds, last: n.lastSeen.totalNanoseconds)
        }
    }

    public func httpTransaction(_ t: HTTPTransaction) { addLog(builder.row(from: t, uid: openUID(t.flow))) }

    /// The uid `flowStarted` made for the flow while it is open (a transaction ends
    /// before its flow, or as it ends), so that the row does not make it again.
    private func openUID(_ flow: Flow) -> String? {
        guard let i = flowUIDs.find(flow.key), flowUIDs[slot: i].start == flow.startNanos else { return nil }
        return flowUIDs[slot: i].uid
    }

    /// The slot of `address` in `addresses`, inserted when new. Past `addressLimit`
    /// addresses the table starts over, after handing over the host rows waiting (their
    /// slots are in it: a batch must not hold an address twice).
    private func addressSlot(_ address: IPAddress) -> Int {
        if addresses.count >= Self.addressLimit && addresses.find(address) == nil {
            flushHosts()
            addresses.removeAll()
        }
        return addresses.slot(address) { AddressFacts() }.slot
    }

    private func addLog(_ row: LogRow) {
        logs.append(row)
        if logs.count >= logBatchSize { flushLogs() }
    }

    /// A host row goes out when the address is new to this run, its name, country, ASN
    /// or MAC changed, a DNS answer named it again, or its times moved by more than a minute
    /// (the table's first/last seen are that precise; most flow ends write nothing).
    /// A name from a reverse lookup (`--resolve`, when no DNS answer named the address)
    /// has no answer times: it takes the address's flow times.
    private func noteHost(_ address: IPAddress, _ info: HostInfo, first: Int64, last: Int64) {
        guard address != .none else { return }
        // Most flow ends change nothing: decide that on the raw values, before the row's
        // text (the MAC's, the vendor's, the cleaned names) is made. One probe of the
        // table for the address: the slot found is read and updated in place below.
        let slot = addressSlot(address)
        let mac = addresses[slot: slot].mac
        var told = HostTold(firstTs: first, lastTs: last, name: info.name?.name ?? info.resolvedName,
                            isPTR: info.name == nil && info.resolvedName != nil,
                            nameLastSeen: info.name?.lastSeen.totalNanoseconds ?? 0, country: info.geo.countryCode,
                            asn: info.geo.asn, mac: mac)
        if let old = addresses[slot: slot].told {
            told.firstTs = min(told.firstTs, old.firstTs)
            told.lastTs = max(told.lastTs, old.lastTs)
            let minute: Int64 = 60_000_000_000
            if old.name == told.name && old.isPTR == told.isPTR && (told.isPTR || old.nameLastSeen == told.nameLastSeen)
                && old.country == told.country && old.asn == told.asn
                && old.mac == told.mac && told.firstTs == old.firstTs && told.lastTs - old.lastTs < minute {
                return
            }
        }
        var h = HostRow(address: address, firstTs: told.firstTs, lastTs: told.lastTs, category: info.category.rawValue)
        h.country = info.geo.countryCode; h.asn = info.geo.asn; h.org = info.geo.organization.map(StoreText.clean)
        if let n = info.name {
            h.name = StoreText.clean(n.name)
            h.nameFirstSeen = n.firstSeen.totalNanoseconds; h.nameLastSeen = n.lastSeen.totalNanoseconds
        } else if let ptr = info.resolvedName {
            h.name = StoreText.clean(ptr)
            h.nameSource = .ptr
            (h.nameFirstSeen, h.nameLastSeen) = (h.firstTs, h.lastTs)
        }
        if let mac {
            h.mac = mac.description
            h.vendor = vendors?.vendor(mac).map(StoreText.clean)
        }
        addresses[slot: slot].told = told
        if addresses[slot: slot].tellBatch == hostBatch {
            hostsToTell[Int(addresses[slot: slot].tellSlot)] = h
        } else {
            addresses[slot: slot].tellBatch = hostBatch
            addresses[slot: slot].tellSlot = Int32(hostsToTell.count)
            hostsToTell.append(h)
        }
    }

    /// What a host row said, as `noteHost` compares it: the name as enrichment gave it
    /// (a DNS answer's, else a reverse lookup's), and the times as told.
    struct HostTold {
        var firstTs: Int64
        var lastTs: Int64
        var name: String?
        var isPTR: Bool
        var nameLastSeen: Int64
        var country: String?
        var asn: UInt32?
        var mac: MACAddress?
    }

    public func deliver(_ alert: Alert) {
        alerts.append(builder.row(from: alert))
        if alerts.count >= 256 { flushAlerts() }
    }

    public func close() {}

    // MARK: flushing

    private func flushPackets() {
        guard !packets.isEmpty else { return }
        packetsHandedOver &+= UInt64(packets.count)
        let rows = packets
        packets.removeAll(keepingCapacity: true)
        let bytes = frames
        frames.removeAll(keepingCapacity: storeFrames)
        submit(.packets(rows), frames: bytes)
        // Traffic sums go out with the packets they count, so that a reader sees both.
        flushTraffic()
    }

    private func flushTraffic() {
        guard !traffic.isEmpty else { return }
        submit(.traffic(traffic))
        traffic.removeAll(keepingCapacity: true)
        trafficIndex.removeAll(keepingCapacity: true)
        lastTrafficKey = TrafficKey(second: .min, transport: 0, app: 0)
        lastTrafficSlot = -1
    }

    private func flushFlows() {
        guard !flows.isEmpty else { return }
        flowsHandedOver &+= UInt64(flows.count)
        submit(.flows(flows))
        flows.removeAll(keepingCapacity: true)
        // Host facts follow the flows that taught them, in batches of `hostBatchSize`
        // (and at every flush).
        if hostsToTell.count >= hostBatchSize { flushHosts() }
    }

    private func flushHosts() {
        guard !hostsToTell.isEmpty else { return }
        submit(.hosts(hostsToTell))
        // A new array that grows as needed: the batch holds the old buffer, and a live
        // capture's tick sends a few rows a second.
        hostsToTell = []
        hostBatch &+= 1
    }

    private func flushAlerts() {
        guard !alerts.isEmpty else { return }
        alertsHandedOver &+= UInt64(alerts.count)
        submit(.alerts(alerts))
        alerts.removeAll(keepingCapacity: true)
    }

    private func flushLogs() {
        guard !logs.isEmpty else { return }
        logsHandedOver &+= UInt64(logs.count)
        submit(.logs(logs))
        logs.removeAll(keepingCapacity: true)
    }

    /// Sends everything buffered now.
    public func flush() {
        flushPackets()
        flushTraffic()
        flushFlows()
        flushHosts()
        flushAlerts()
        flushLogs()
        lastFlush = Timestamp.now()
    }

    /// Live capture, called often from the analysis loop: flushes partial batches
    /// every `flushIntervalNanos` and records the capture's counters every
    /// `captureUpdateIntervalNanos`.
    public func tick(now: Timestamp = Timestamp.now(), update: (inout CaptureInfo) -> Void) {
        if now.nanoseconds(since: lastFlush) >= flushIntervalNanos { flush() }
        if now.nanoseconds(since: lastCaptureUpdate) >= captureUpdateIntervalNanos {
            lastCaptureUpdate = now
            update(&capture)
            capture.packetsStored = packetsHandedOver
            capture.flows = flowsHandedOver
            capture.alerts = alertsHandedOver
            submit(.capture(capture))
        }
    }

    /// Flushes everything and records the capture's end with its final counters. Call
    /// after the flow table and alert engine have flushed (they hand over their last
    /// flows and alerts).
    public func finish(update: (inout CaptureInfo) -> Void) {
        guard !finished else { return }
        finished = true
        flush()
        update(&capture)
        capture.end = capture.end ?? Timestamp.now().totalNanoseconds
        capture.packetsStored = packetsHandedOver
        capture.flows = flowsHandedOver
        capture.alerts = alertsHandedOver
        submit(.capture(capture))
    }
}
