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
        let bytes = Array(line.utf8)
        return bytes.withUnsafeBufferPointer { parse(line: $0, proto: proto) }
    }

    /// The same over the bytes of one line (no allocation: a scan reads thousands).
    static func parse(line b: UnsafeBufferPointer<UInt8>, proto: UInt8) -> SocketEntry? {
        var i = 0
        /// The next space-separated field.
        func next() -> Range<Int>? {
            while i < b.count && b[i] == 0x20 { i += 1 }
            guard i < b.count else { return nil }
            let s = i
            while i < b.count && b[i] != 0x20 { i += 1 }
            return s..<i
        }
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
        guard let sl = next(), b[sl.upperBound - 1] == UInt8(ascii: ":"),
              let localField = next(), let remoteField = next(), let stateField = next(),
              next() != nil, next() != nil, next() != nil, let uidField = next(), next() != nil,
              let inodeField = next() else { return nil }
        guard let (local, lport) = endpoint(b, localField), let (remote, rport) = endpoint(b, remoteField),
              let state = number(b, stateField, radix: 16), state <= 0xFF,
              let uid = number(b, uidField, radix: 10), uid <= UInt64(UInt32.max),
              let inode = number(b, inodeField, radix: 10) else { return nil }
        if proto == 0 {
            guard lport <= 255 else { return nil }
            return SocketEntry(proto: UInt8(lport), local: local, localPort: 0, remote: remote, remotePort: 0,
                               state: UInt8(state), uid: UInt32(uid), inode: inode)
        }
        return SocketEntry(proto: proto, local: local, localPort: lport, remote: remote, remotePort: rport,
                           state: UInt8(state), uid: UInt32(uid), inode: inode)
    }

    /// An unsigned number in `radix` 10 or 16 (at most 16 digits), or nil.
    static func number(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, radix: UInt64) -> UInt64? {
        guard !r.isEmpty, r.count <= 16 else { return nil }
        var v: UInt64 = 0
        for i in r {
            let c = b[i]
            let d: UInt64
            switch c {
            case 0x30...0x39: d = UInt64(c - 0x30)
            case 0x41...0x46 where radix == 16: d = UInt64(c - 0x41 + 10)
            case 0x61...0x66 where radix == 16: d = UInt64(c - 0x61 + 10)
            default: return nil
            }
            v = v &* radix &+ d
        }
        return v
    }

    /// "0100007F:1F90" (IPv4) or 32 hex digits and a port (IPv6). The kernel prints each
    /// 32-bit word of the address as a number in host byte order, so the word's bytes in
    /// memory are the address's bytes in network order.
    static func endpoint(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> (IPAddress, UInt16)? {
        guard let colon = r.first(where: { b[$0] == UInt8(ascii: ":") }),
              let port = number(b, colon + 1..<r.upperBound, radix: 16), port <= 0xFFFF else { return nil }
        func word(_ k: Int) -> UInt32? {
            number(b, r.lowerBound + 8 * k..<r.lowerBound + 8 * k + 8, radix: 16).map { UInt32(bigEndian: UInt32($0)) }
        }
        switch colon - r.lowerBound {
        case 8:
            guard let w = word(0) else { return nil }
            return (IPAddress(v4: w), UInt16(port))
        case 32:
            guard let w0 = word(0), let w1 = word(1), let w2 = word(2), let w3 = word(3) else { return nil }
            let high = UInt64(w0) << 32 | UInt64(w1)
            let low = UInt64(w2) << 32 | UInt64(w3)
            // ::ffff:a.b.c.d is what a dual-stack socket shows for IPv4 peers.
            if high == 0 && low >> 32 == 0xFFFF { return (IPAddress(v4: w3), UInt16(port)) }
            return (IPAddress(v6High: high, low: low), UInt16(port))
        default:
            return nil
        }
    }

    /// Reads and parses a whole table (e.g. "/proc/net/tcp"); nil when it cannot be read.
    public static func read(path: String, proto: UInt8) -> [SocketEntry]? {
        guard let bytes = ProcFile.readBytes(path) else { return nil }
        var out: [SocketEntry] = []
        bytes.withUnsafeBufferPointer { all in
            var start = 0
            while start < all.count {
                var end = start
                while end < all.count && all[end] != 0x0A { end += 1 }
                let line = UnsafeBufferPointer(rebasing: all[start..<end])
                if let e = parse(line: line, proto: proto) { out.append(e) }
                start = end + 1
            }
        }
        return out
    }
}
