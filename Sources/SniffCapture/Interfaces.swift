import CPcap
import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// A capture device as libpcap lists it (`sniff -D`).
public struct NetworkInterface: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var addresses: [String]
    public var isUp: Bool
    public var isRunning: Bool
    public var isLoopback: Bool
    public var isWireless: Bool

    public var flagWords: [String] {
        var f: [String] = []
        if isUp { f.append("up") }
        if isRunning { f.append("running") }
        if isLoopback { f.append("loopback") }
        if isWireless { f.append("wireless") }
        return f
    }
}

public enum Interfaces {
    /// Every device libpcap can open, in libpcap's order.
    public static func list() throws -> [NetworkInterface] {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        var head: UnsafeMutablePointer<pcap_if_t>?
        guard pcap_findalldevs(&head, &errbuf) == 0 else {
            throw RuntimeFailure("cannot list interfaces: \(String(nulTerminated: errbuf))")
        }
        defer { pcap_freealldevs(head) }
        var out: [NetworkInterface] = []
        var cur = head
        while let d = cur {
            let f = d.pointee.flags
            var addrs: [String] = []
            var a = d.pointee.addresses
            while let ap = a {
                if let sa = ap.pointee.addr, let s = sockaddrString(sa) { addrs.append(s) }
                a = ap.pointee.next
            }
            out.append(NetworkInterface(
                name: String(cString: d.pointee.name),
                description: d.pointee.description.map { String(cString: $0) },
                addresses: addrs,
                isUp: f & UInt32(PCAP_IF_UP) != 0,
                isRunning: f & UInt32(PCAP_IF_RUNNING) != 0,
                isLoopback: f & UInt32(PCAP_IF_LOOPBACK) != 0,
                isWireless: f & UInt32(PCAP_IF_WIRELESS) != 0))
            cur = d.pointee.next
        }
        return out
    }

    static func sockaddrString(_ sa: UnsafeMutablePointer<sockaddr>) -> String? {
        var buf = [CChar](repeating: 0, count: 64)
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                var addr = sin.pointee.sin_addr
                guard inet_ntop(AF_INET, &addr, &buf, socklen_t(buf.count)) != nil else { return nil }
                return String(nulTerminated: buf)
            }
        case AF_INET6:
            return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                var addr = sin6.pointee.sin6_addr
                guard inet_ntop(AF_INET6, &addr, &buf, socklen_t(buf.count)) != nil else { return nil }
                return String(nulTerminated: buf)
            }
        default:
            return nil
        }
    }

    /// tcpdump's rule: the first interface that is up and is not a loopback.
    public static func defaultCaptureInterface() throws -> NetworkInterface? {
        try list().first { $0.isUp && !$0.isLoopback && $0.name != "any" && !$0.name.hasPrefix("bluetooth")
            && !$0.name.hasPrefix("nflog") && !$0.name.hasPrefix("nfqueue") && !$0.name.hasPrefix("dbus") }
    }

    /// The `sniff -D` listing, one interface per block.
    public static func render(_ list: [NetworkInterface]) -> String {
        var s = ""
        for (i, d) in list.enumerated() {
            s += "\(i + 1). \(d.name)"
            if let desc = d.description { s += " (\(desc))" }
            s += " [\(d.flagWords.joined(separator: ", "))]\n"
            for a in d.addresses { s += "     \(a)\n" }
        }
        return s
    }
}
