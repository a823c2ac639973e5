import SniffCore
import SniffDecode

/// Packets, bytes and flows per transport and per application, for the report.
///
/// Packet and byte counts come from every packet: per application, under the app the
/// flow table gave it (its flow's payload finding once known, else the port guess; a
/// packet in no flow keeps the port guess). When a payload decides a flow's app, the
/// flow's earlier packets move to it (`moveApp`), so that each flow's packets end up
/// under one name, as the store's traffic sums do. Flow counts come from finished flows.
public struct ProtocolSummary: Sendable, Equatable {
    public struct Counts: Sendable, Equatable {
        public var packets: UInt64 = 0
        public var bytes: UInt64 = 0
        public var flows: UInt64 = 0
        public init() {}
    }

    public private(set) var transports = [Counts](repeating: Counts(), count: TransportKind.allCases.count)
    public private(set) var apps = [Counts](repeating: Counts(), count: AppProtocol.rawValueBound)

    public init() {}

    public func transport(_ t: TransportKind) -> Counts { transports[Int(t.rawValue)] }
    public func app(_ a: AppProtocol) -> Counts { apps[Int(a.rawValue)] }

    /// Counts a packet labeled by the flow table (see `FlowTable.label`).
    public mutating func add(packet p: DecodedPacket) {
        let i = Int(p.transport.rawValue)
        transports[i].packets &+= 1
        transports[i].bytes &+= UInt64(p.wireLength)
        let a = Int(p.app.rawValue)
        apps[a].packets &+= 1
        apps[a].bytes &+= UInt64(p.wireLength)
    }

    public mutating func add(flow f: Flow) {
        transports[Int(f.transport.rawValue)].flows &+= 1
        apps[Int(f.app.rawValue)].flows &+= 1
    }

    /// Moves packets counted under `old` to `new` (a flow's packets seen before its
    /// payload decided).
    public mutating func moveApp(from old: AppProtocol, to new: AppProtocol, packets: UInt64, bytes: UInt64) {
        apps[Int(old.rawValue)].packets &-= packets
        apps[Int(old.rawValue)].bytes &-= bytes
        apps[Int(new.rawValue)].packets &+= packets
        apps[Int(new.rawValue)].bytes &+= bytes
    }

    public mutating func merge(_ o: ProtocolSummary) {
        for i in transports.indices {
            transports[i].packets &+= o.transports[i].packets
            transports[i].bytes &+= o.transports[i].bytes
            transports[i].flows &+= o.transports[i].flows
        }
        for i in apps.indices {
            apps[i].packets &+= o.apps[i].packets
            apps[i].bytes &+= o.apps[i].bytes
            apps[i].flows &+= o.apps[i].flows
        }
    }

    /// The applications seen, most bytes first.
    public var appsByBytes: [(AppProtocol, Counts)] {
        AppProtocol.allCases.map { ($0, apps[Int($0.rawValue)]) }.filter { $0.1.flows > 0 || $0.1.packets > 0 }
            .sorted { $0.1.bytes != $1.1.bytes ? $0.1.bytes > $1.1.bytes : $0.0.rawValue < $1.0.rawValue }
    }

    /// A plain-text table for the report.
    public func writeText(into s: inout ByteSink) {
        s.append("protocol summary\n  transport   packets         bytes     flows\n" as StaticString)
        for t in TransportKind.allCases {
            let c = transports[Int(t.rawValue)]
            guard c.packets > 0 || c.flows > 0 else { continue }
            row(t.label, c, &s)
        }
        let apps = appsByBytes
        if !apps.isEmpty {
            s.append("  app         packets         bytes     flows\n" as StaticString)
            for (a, c) in apps { row(a.name, c, &s) }
        }
    }

    private func row(_ name: String, _ c: Counts, _ s: inout ByteSink) {
        s.append("  " as StaticString)
        pad(name, 10, left: true, &s)
        pad(String(c.packets), 10, left: false, &s)
        pad(String(c.bytes), 14, left: false, &s)
        pad(String(c.flows), 10, left: false, &s)
        s.append(0x0A)
    }

    private func pad(_ v: String, _ width: Int, left: Bool, _ s: inout ByteSink) {
        let n = v.utf8.count
        if !left { for _ in 0..<Swift.max(0, width - n) { s.append(0x20) } }
        s.append(v)
        if left { for _ in 0..<Swift.max(0, width - n) { s.append(0x20) } }
    }

    /// `{"transports":{"TCP":{"packets":..,"bytes":..,"flows":..},...},"apps":{...}}`
    public func writeJSON(into s: inout ByteSink) {
        s.append("{\"transports\":{" as StaticString)
        var first = true
        for t in TransportKind.allCases {
            let c = transports[Int(t.rawValue)]
            guard c.packets > 0 || c.flows > 0 else { continue }
            if !first { s.append(0x2C) }
            first = false
            object(t.label, c, &s)
        }
        s.append("},\"apps\":{" as StaticString)
        first = true
        for (a, c) in appsByBytes {
            if !first { s.append(0x2C) }
            first = false
            object(a.name, c, &s)
        }
        s.append("}}" as StaticString)
    }

    private func object(_ name: String, _ c: Counts, _ s: inout ByteSink) {
        s.append(0x22); s.appendJSONEscaped(name); s.append("\":{\"packets\":" as StaticString)
        s.append(decimal: c.packets)
        s.append(",\"bytes\":" as StaticString)
        s.append(decimal: c.bytes)
        s.append(",\"flows\":" as StaticString)
        s.append(decimal: c.flows)
        s.append(0x7D)
    }
}

/// Feeds a `ProtocolSummary` from the packet pipeline and the flow table. Place it after
/// the flow table among the consumers, so that packets arrive labeled.
public final class ProtocolSummaryCollector: PacketConsumer, FlowObserver {
    public private(set) var summary = ProtocolSummary()

    public init() {}

    public func consume(_ packet: DecodedPacket, frame: UnsafeRawBufferPointer) { summary.add(packet: packet) }
    public func flowEnded(_ flow: Flow, reason: FlowEndReason) { summary.add(flow: flow) }
    public func flowAppChanged(_ flow: Flow, from old: AppProtocol, packets: UInt64, bytes: UInt64, at nanos: Int64) {
        summary.moveApp(from: old, to: flow.app, packets: packets, bytes: bytes)
    }
}
