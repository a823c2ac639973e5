import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Real traffic on 127.0.0.1 for live-capture tests, bounded in count and time.
public enum LoopbackTraffic {
    /// A random port that is free on 127.0.0.1 for both TCP and UDP when chosen, so that
    /// concurrent runs do not collide. Chosen below the kernel's ephemeral range
    /// (ip_local_port_range, 32768 by default): a port inside it can be any outgoing
    /// socket's source port at the moment a peer binds it, and the peer's bind fails (a
    /// CI run lost a test so: its Python server never said "ready"). Ports `p` and `p + 1`
    /// are both checked, since tests use the pair. 27017 is skipped: a port the app
    /// table names (MongoDB) would change the flows' `app`; no other named port lies in
    /// 12000-32767.
    public static func randomPort() -> UInt16 {
        let low = ephemeralLow()
        let range: ClosedRange<UInt16> = low > 14_000 ? 12_000...(low - 2) : 40_000...59_999
        for _ in 0..<64 {
            let p = UInt16.random(in: range)
            if p != 27_017 && p &+ 1 != 27_017 && isFree(p) && isFree(p &+ 1) { return p }
        }
        return UInt16.random(in: range)
    }

    /// The first port of the kernel's ephemeral range.
    static func ephemeralLow() -> UInt16 {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first
            .flatMap { UInt16($0) } ?? 32_768
    }

    /// Whether TCP and UDP sockets can bind 127.0.0.1:port right now.
    static func isFree(_ port: UInt16) -> Bool {
        for type in [Int32(SOCK_STREAM.rawValue), Int32(SOCK_DGRAM.rawValue)] {
            let fd = socket(AF_INET, type, 0)
            guard fd >= 0 else { return false }
            defer { Glibc.close(fd) }
            var a = address(port)
            let ok = withUnsafePointer(to: &a) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            if !ok { return false }
        }
        return true
    }

    public static func address(_ port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }

    /// Sends one UDP datagram of each given payload length to 127.0.0.1:port.
    public static func sendUDP(to port: UInt16, payloadLengths: [Int]) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        sendDatagrams(from: fd, to: port, payloadLengths: payloadLengths)
    }

    /// One datagram of each payload length from socket `fd` to 127.0.0.1:port, 2 ms apart.
    public static func sendDatagrams(from fd: Int32, to port: UInt16, payloadLengths: [Int]) {
        var addr = address(port)
        for n in payloadLengths {
            let payload = [UInt8](repeating: 0x61, count: n)
            _ = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    sendto(fd, payload, payload.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            usleep(2000)
        }
    }

    /// A socket of `type` bound to 127.0.0.1 on a port the kernel picked, and that port.
    public static func boundSocket(_ type: Int32) -> (fd: Int32, port: UInt16)? {
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { return nil }
        var a = address(0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard ok else { Glibc.close(fd); return nil }
        return (fd, UInt16(bigEndian: a.sin_port))
    }

    /// A UDP sender and receiver on 127.0.0.1, both bound to ports the kernel picked and
    /// held until `close()`: while open, no other socket can send from `sourcePort` or
    /// be bound to `destinationPort`, so the filter `udp src port S and dst port D`
    /// matches this pair's datagrams and nothing else on lo (a random port alone can be
    /// another socket's ephemeral source port).
    public final class UDPPair {
        public let sender: Int32
        public let receiver: Int32
        public let sourcePort: UInt16
        public let destinationPort: UInt16

        public init?() {
            let udp = Int32(SOCK_DGRAM.rawValue)
            guard let s = LoopbackTraffic.boundSocket(udp) else { return nil }
            guard let r = LoopbackTraffic.boundSocket(udp) else { Glibc.close(s.fd); return nil }
            sender = s.fd; sourcePort = s.port; receiver = r.fd; destinationPort = r.port
        }

        /// The BPF expression for this pair's datagrams only.
        public var filter: String {
            "udp and host 127.0.0.1 and src port \(sourcePort) and dst port \(destinationPort)"
        }

        /// Sends one datagram of each payload length, 2 ms apart.
        public func send(payloadLengths: [Int]) {
            LoopbackTraffic.sendDatagrams(from: sender, to: destinationPort, payloadLengths: payloadLengths)
        }

        public func close() { Glibc.close(sender); Glibc.close(receiver) }
    }

    /// A TCP listener on 127.0.0.1, on a port the kernel picked, held until `close()`.
    /// While it listens the kernel gives that port to no other socket (not even as an
    /// outgoing connection's ephemeral port), so `tcp port P` matches this listener's
    /// connections and nothing else on lo, as `UDPPair` does for UDP.
    public final class TCPListener {
        public let fd: Int32
        public let port: UInt16

        public init?() {
            guard let b = LoopbackTraffic.boundSocket(Int32(SOCK_STREAM.rawValue)) else { return nil }
            guard listen(b.fd, 1) == 0 else { Glibc.close(b.fd); return nil }
            fd = b.fd; port = b.port
        }

        /// The BPF expression for this listener's connections only.
        public var filter: String { "tcp and host 127.0.0.1 and port \(port)" }

        /// One exchange: connect, send `request` bytes, the server answers `response`
        /// bytes, both close. Returns false if it could not run.
        public func exchange(request: Int, response: Int) -> Bool {
            var addr = LoopbackTraffic.address(port)
            let cfd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard cfd >= 0 else { return false }
            let connected = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(cfd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else { Glibc.close(cfd); return false }
            let sfd = accept(fd, nil, nil)
            guard sfd >= 0 else { Glibc.close(cfd); return false }
            func transfer(_ count: Int, _ byte: UInt8, from: Int32, to: Int32) {
                let data = [UInt8](repeating: byte, count: count)
                _ = send(from, data, data.count, 0)
                var buf = [UInt8](repeating: 0, count: 65536)
                var got = 0
                while got < count {
                    let n = recv(to, &buf, buf.count, 0)
                    if n <= 0 { break }
                    got += n
                }
            }
            transfer(request, 0x71, from: cfd, to: sfd)
            transfer(response, 0x72, from: sfd, to: cfd)
            Glibc.close(cfd)
            usleep(20_000)
            Glibc.close(sfd)
            usleep(20_000)
            return true
        }

        public func close() { Glibc.close(fd) }
    }
}
