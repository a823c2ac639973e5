import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Real traffic on 127.0.0.1 for live-capture tests, bounded in count and time.
enum LoopbackTraffic {
    /// A random port in the dynamic range, so that concurrent runs do not collide.
    static func randomPort() -> UInt16 { UInt16.random(in: 40000...59999) }

    static func address(_ port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return a
    }

    /// Sends one UDP datagram of each given payload length to 127.0.0.1:port.
    static func sendUDP(to port: UInt16, payloadLengths: [Int]) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        sendDatagrams(from: fd, to: port, payloadLengths: payloadLengths)
    }

    /// One datagram of each payload length from socket `fd` to 127.0.0.1:port, 2 ms apart.
    static func sendDatagrams(from fd: Int32, to port: UInt16, payloadLengths: [Int]) {
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
    static func boundSocket(_ type: Int32) -> (fd: Int32, port: UInt16)? {
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
    final class UDPPair {
        let sender: Int32
        let receiver: Int32
        let sourcePort: UInt16
        let destinationPort: UInt16

        init?() {
            let udp = Int32(SOCK_DGRAM.rawValue)
            guard let s = LoopbackTraffic.boundSocket(udp) else { return nil }
            guard let r = LoopbackTraffic.boundSocket(udp) else { Glibc.close(s.fd); return nil }
            sender = s.fd; sourcePort = s.port; receiver = r.fd; destinationPort = r.port
        }

        /// The BPF expression for this pair's datagrams only.
        var filter: String { "udp and host 127.0.0.1 and src port \(sourcePort) and dst port \(destinationPort)" }

        /// Sends one datagram of each payload length, 2 ms apart.
        func send(payloadLengths: [Int]) {
            LoopbackTraffic.sendDatagrams(from: sender, to: destinationPort, payloadLengths: payloadLengths)
        }

        func close() { Glibc.close(sender); Glibc.close(receiver) }
    }

    /// A TCP listener on 127.0.0.1, on a port the kernel picked, held until `close()`.
    /// While it listens the kernel gives that port to no other socket (not even as an
    /// outgoing connection's ephemeral port), so `tcp port P` matches this listener's
    /// connections and nothing else on lo, as `UDPPair` does for UDP.
    final class TCPListener {
        let fd: Int32
        let port: UInt16

        init?() {
            guard let b = LoopbackTraffic.boundSocket(Int32(SOCK_STREAM.rawValue)) else { return nil }
            guard listen(b.fd, 1) == 0 else { Glibc.close(b.fd); return nil }
            fd = b.fd; port = b.port
        }

        /// The BPF expression for this listener's connections only.
        var filter: String { "tcp and host 127.0.0.1 and port \(port)" }

        /// One exchange: connect, send `request` bytes, the server answers `response`
        /// bytes, both close. Returns false if it could not run.
        func exchange(request: Int, response: Int) -> Bool {
            var addr = LoopbackTraffic.address(port)
            let cfd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard cfd >= 0 else { return false }
            let connected = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(cfd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
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

        func close() { Glibc.close(fd) }
    }
}

/// A `sniff` process running in the background, stopped by signal.
final class BackgroundSniff: @unchecked Sendable {
    let process = Process()
    let dir: URL
    let outURL: URL
    let errURL: URL

    init(_ args: [String], stdin: FileHandle? = nil, stdout: FileHandle? = nil) throws {
        dir = try CLI.tempDir()
        outURL = dir.appendingPathComponent("stdout")
        errURL = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.executableURL = CLI.binary
        process.arguments = args
        process.standardOutput = try stdout ?? FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = stdin ?? FileHandle.nullDevice
        try process.run()
    }

    /// Waits until sniff reports it is listening (its first stderr line), at most `seconds`.
    func waitUntilListening(seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let s = try? String(contentsOf: errURL, encoding: .utf8), s.contains("listening on") {
                usleep(300_000)  // the capture thread starts right after the message
                return true
            }
            if !process.isRunning { return false }
            usleep(50_000)
        }
        return false
    }

    /// Waits until what sniff has written on stdout so far satisfies `done`, at most
    /// `seconds`; false when the deadline passed or sniff ended first. Live output is
    /// flushed every interval, so a test can wait for the packets it expects instead of
    /// sleeping a fixed time that a loaded machine may overrun.
    func waitForOutput(seconds: Double = 10, until done: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let s = try? String(contentsOf: outURL, encoding: .utf8), done(s) { return true }
            if !process.isRunning { return false }
            usleep(50_000)
        }
        return false
    }

    /// Sends `signal` and waits for exit, at most `seconds` (then SIGKILL).
    func stop(signal: Int32 = SIGINT, seconds: Double = 10) -> CLIResult {
        if process.isRunning { kill(process.processIdentifier, signal) }
        return wait(seconds: seconds)
    }

    func wait(seconds: Double = 10) -> CLIResult {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return CLIResult(status: process.terminationStatus,
                         stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}
