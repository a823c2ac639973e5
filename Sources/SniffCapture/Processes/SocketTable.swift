import SniffCore

/// One socket of the kernel's tables (/proc/net/tcp, tcp6, udp, udp6, raw, raw6): its
/// local and remote ends, state, owner's uid and inode. Addresses are as the kernel
/// keeps them, except that an IPv4-mapped IPv6 address (a dual-stack socket carrying
/// IPv4) is given as the IPv4 address the packets carry.
public struct SocketEntry: Sendable, Equatable {
    /// 6 TCP, 17 UDP; for raw sockets the IP protocol they were opened for.
    public var proto: UInt8
    public var local: IPAddress
    public var localPort: UInt16
    public var remote: IPAddress
    public var remotePort: UInt16
    /// The kernel's state number (TCP: 0x0A listen, 0x06 time-wait ...).
    public var state: UInt8
    public var uid: UInt32
    /// 0 for sockets no file refers to any more (TIME_WAIT, orphans).
    public var inode: UInt64

    public init(proto: UInt8, local: IPAddress, localPort: UInt16, remote: IPAddress, remotePort: UInt16,
                state: UInt8, uid: UInt32, inode: UInt64) {
        self.proto = proto; self.local = local; self.localPort = localPort
        self.remote = remote; self.remotePort = remotePort
        self.state = state; self.uid = uid; self.inode = inode
    }

    /// True when the socket has no peer (an unconnected UDP or raw socket, a listener):
    /// it may carry datagrams from and to anyone.
    public var isUnconnected: Bool { remotePort == 0 && remote.high == 0 && remote.low == 0 }

    static let tcpListen: UInt8 = 0x0A
}

/// The files of /proc/net that list sockets, and how their lines read.
public enum ProcNet {
    /// (file name, protocol for TCP/UDP, 0 for raw: the "port" column is the protocol).
    public static let tables: [(name: String, proto: UInt8)] = [
        ("tcp", 6), ("tcp6", 6), ("udp", 17), ("udp6", 17), ("raw", 0), ("raw6", 0),
    ]

    /// Parses one line of a table: `sl local rem st tx:rx tr:when retrnsmt uid timeout
    /// inode ...`. `proto` is 6 or 17, or 0 for raw tables (where the local "port" is the
    /// socket's IP protocol). Returns nil for the header and for lines that do not read.
    public static func parse(line: Substring, proto: UInt8) -> SocketEntry? {
        var fields: [Substring] = []
        fields.reserveCapacity(10)
        for f in line.split(separator: " ", omittingEmptySubsequences: true) {
            fields.append(f)
            if fields.count == 10 { break }
        }
        guard fields.count == 10, fields[0].last == ":" else { return nil }
        guard let (local, lport) = endpoint(fields[1]), let (remote, rport) = endpoint(fields[2]),
              let state = UInt8(fields[3], radix: 16), let uid = UInt32(fields[7]),
              let inode = UInt64(fields[9]) else { return nil }
        if proto == 0 {
            guard lport <= 255 else { return nil }
            return SocketEntry(proto: UInt8(lport), local: local, localPort: 0, remote: remote, remotePort: 0,
                               state: state, uid: uid, inode: inode)
        }
        return SocketEntry(proto: proto, local: local, localPort: lport, remote: remote, remotePort: rport,
                           state: state, uid: uid, inode: inode)
    }

    /// "0100007F:1F90" (IPv4) or 32 hex digits and a port (IPv6). The kernel prints each
    /// 32-bit word of the address as a number in host byte order, so the word's bytes in
    /// memory are the address's bytes in network order.
    static func endpoint(_ s: Substring) -> (IPAddress, UInt16)? {
        guard let colon = s.firstIndex(of: ":") else { return nil }
        let hex = s[s.startIndex..<colon]
        guard let port = UInt16(s[s.index(after: colon)...], radix: 16) else { return nil }
        switch hex.count {
        case 8:
            guard let w = UInt32(hex, radix: 16) else { return nil }
            return (IPAddress(v4: UInt32(bigEndian: w)), port)
        case 32:
            var words: [UInt32] = []
            var i = hex.startIndex
            for _ in 0..<4 {
                let j = hex.index(i, offsetBy: 8)
                guard let w = UInt32(hex[i..<j], radix: 16) else { return nil }
                words.append(UInt32(bigEndian: w))
                i = j
            }
            let high = UInt64(words[0]) << 32 | UInt64(words[1])
            let low = UInt64(words[2]) << 32 | UInt64(words[3])
            // ::ffff:a.b.c.d is what a dual-stack socket shows for IPv4 peers.
            if high == 0 && low >> 32 == 0xFFFF { return (IPAddress(v4: words[3]), port) }
            return (IPAddress(v6High: high, low: low), port)
        default:
            return nil
        }
    }

    /// Reads and parses a whole table (e.g. "/proc/net/tcp"); nil when it cannot be read.
    public static func read(path: String, proto: UInt8) -> [SocketEntry]? {
        guard let text = ProcFile.read(path) else { return nil }
        var out: [SocketEntry] = []
        for line in text.split(separator: "\n") {
            if let e = parse(line: line, proto: proto) { out.append(e) }
        }
        return out
    }
}
