import SniffCore
import SniffDecode

/// Text stored for enumerations, read back: the NDJSON names.
enum RowNames {
    static let transports: [String: TransportKind] = Dictionary(
        uniqueKeysWithValues: TransportKind.allCases.compactMap { k in k.name.map { ("\($0)", k) } })
    static let apps: [String: AppProtocol] = Dictionary(
        AppProtocol.allCases.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

    static func transport(_ s: String) -> TransportKind { transports[s] ?? .other }
    static func app(_ s: String) -> AppProtocol { apps[s] ?? .unknown }

    static func link(_ s: String) -> LinkType {
        switch s {
        case "null": return .null
        case "ethernet": return .ethernet
        case "raw": return .raw
        case "loop": return .loop
        case "linux_sll": return .linuxSLL
        case "ipv4": return .ipv4
        case "ipv6": return .ipv6
        case "linux_sll2": return .linuxSLL2
        default:
            if s.hasPrefix("linktype_"), let v = UInt32(s.dropFirst(9)) { return LinkType(v) }
            return .ethernet
        }
    }

    /// "aa:bb:cc:dd:ee:ff" (also PostgreSQL's macaddr text output).
    static func mac(_ s: String) -> MACAddress? {
        var v: UInt64 = 0
        var digits = 0
        for c in s.utf8 {
            if c == UInt8(ascii: ":") || c == UInt8(ascii: "-") { continue }
            let d: UInt8
            switch c {
            case 48...57: d = c - 48
            case 97...102: d = c - 87
            case 65...70: d = c - 55
            default: return nil
            }
            v = v << 4 | UInt64(d)
            digits += 1
        }
        return digits == 12 ? MACAddress(v) : nil
    }

    /// The transport of a flow's IP protocol number, as the summary names it.
    static func transportName(ipProto: UInt8) -> String {
        switch ipProto {
        case 6: return "TCP"
        case 17: return "UDP"
        case 1: return "ICMP"
        case 58: return "ICMPv6"
        case 47: return "GRE"
        default: return "OTHER"
        }
    }
}

/// Builds the protocol summary from the per-second traffic sums and the flow counts.
enum SummaryAssembler {
    static func assemble(byTransport: [(String, UInt64, UInt64)], byApp: [(String, UInt64, UInt64)],
                         flowsByProto: [(UInt8, UInt64)], flowsByApp: [(String, UInt64)]) -> ProtocolSummaryTable {
        var transports: [String: ProtocolSummaryTable.Entry] = [:]
        for (name, p, b) in byTransport {
            transports[name, default: .init(name: name, packets: 0, bytes: 0, flows: 0)].packets += p
            transports[name]!.bytes += b
        }
        for (proto, n) in flowsByProto {
            let name = RowNames.transportName(ipProto: proto)
            transports[name, default: .init(name: name, packets: 0, bytes: 0, flows: 0)].flows += n
        }
        var apps: [String: ProtocolSummaryTable.Entry] = [:]
        for (name, p, b) in byApp {
            apps[name, default: .init(name: name, packets: 0, bytes: 0, flows: 0)].packets += p
            apps[name]!.bytes += b
        }
        for (name, n) in flowsByApp {
            apps[name, default: .init(name: name, packets: 0, bytes: 0, flows: 0)].flows += n
        }
        return sorted(transports, apps)
    }

    /// The summary of flows grouped by (IP protocol, app): packets, bytes, flows.
    static func assembleFlows(_ rows: [(UInt8, String, UInt64, UInt64, UInt64)]) -> ProtocolSummaryTable {
        var transports: [String: ProtocolSummaryTable.Entry] = [:], apps: [String: ProtocolSummaryTable.Entry] = [:]
        for (proto, app, p, b, n) in rows {
            for (key, name) in [(0, RowNames.transportName(ipProto: proto)), (1, app)] {
                var e = (key == 0 ? transports : apps)[name] ?? .init(name: name, packets: 0, bytes: 0, flows: 0)
                e.packets += p; e.bytes += b; e.flows += n
                if key == 0 { transports[name] = e } else { apps[name] = e }
            }
        }
        return sorted(transports, apps)
    }

    static func sorted(_ transports: [String: ProtocolSummaryTable.Entry],
                       _ apps: [String: ProtocolSummaryTable.Entry]) -> ProtocolSummaryTable {
        var t = ProtocolSummaryTable()
        let order: (ProtocolSummaryTable.Entry, ProtocolSummaryTable.Entry) -> Bool = {
            $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.name < $1.name
        }
        // An app whose packets all moved to their flows' payload findings nets to zero.
        let seen: (ProtocolSummaryTable.Entry) -> Bool = { $0.packets != 0 || $0.bytes != 0 || $0.flows != 0 }
        t.transports = transports.values.filter(seen).sorted(by: order)
        t.apps = apps.values.filter(seen).sorted(by: order)
        return t
    }
}
