import Foundation
import Testing
import SniffCore
@testable import SniffCapture
#if canImport(Glibc)
import Glibc
#endif

/// Sockets opened by the test, read back from the kernel's own tables.
@Suite(.serialized)
struct ProcNetParsingTests {
    /// A socket of `type` bound to `address` (127.0.0.1 or ::1) on a free port.
    static func bound(_ family: Int32, _ type: Int32, listen: Bool) throws -> (fd: Int32, port: UInt16, inode: UInt64) {
        // Close-on-exec: tests running beside this one start processes, and a child that
        // inherited these sockets would share their inodes with another command, which
        // the table rightly reports as no single owner (CI placed 1708 of 2000).
        let fd = socket(family, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        if family == AF_INET {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            let rc = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            try #require(rc == 0)
        } else {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_addr = in6addr_loopback
            let rc = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
            try #require(rc == 0)
        }
        if listen { try #require(Glibc.listen(fd, 4) == 0) }
        var st = stat()
        try #require(fstat(fd, &st) == 0)
        return (fd, port(fd), UInt64(st.st_ino))
    }

    static func port(_ fd: Int32) -> UInt16 {
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &ss) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return withUnsafeBytes(of: ss) { b in UInt16(b[2]) << 8 | UInt16(b[3]) }
    }

    @Test func everyLineOfEveryTableParses() throws {
        var read = 0
        for t in ProcNet.tables {
            guard let text = try? String(contentsOfFile: "/proc/net/" + t.name, encoding: .utf8) else { continue }
            let lines = text.split(separator: "\n")
            read += 1
            #expect(ProcNet.parse(line: lines[0], proto: t.proto) == nil, "the header is not a socket")
            for l in lines.dropFirst() { #expect(ProcNet.parse(line: l, proto: t.proto) != nil, "\(t.name): \(l)") }
        }
        #expect(read >= 4)
    }

    @Test func tcpListenerOnIPv4Loopback() throws {
        let s = try Self.bound(AF_INET, streamType, listen: true)
        defer { close(s.fd) }
        let entries = try #require(ProcNet.read(path: "/proc/net/tcp", proto: 6))
        let e = try #require(entries.first { $0.inode == s.inode })
        #expect(e.local == IPAddress("127.0.0.1")!)
        #expect(e.localPort == s.port)
        #expect(e.state == 0x0A)
        #expect(e.isUnconnected)
        #expect(e.uid == getuid())
    }

    @Test func tcpListenerOnIPv6Loopback() throws {
        let s = try Self.bound(AF_INET6, streamType, listen: true)
        defer { close(s.fd) }
        let entries = try #require(ProcNet.read(path: "/proc/net/tcp6", proto: 6))
        let e = try #require(entries.first { $0.inode == s.inode })
        #expect(e.local == IPAddress("::1")!)
        #expect(e.localPort == s.port)
    }

    @Test func connectedUDPShowsBothEnds() throws {
        let a = try Self.bound(AF_INET, datagramType, listen: false)
        let b = try Self.bound(AF_INET, datagramType, listen: false)
        defer { close(a.fd); close(b.fd) }
        var peer = sockaddr_in()
        peer.sin_family = sa_family_t(AF_INET)
        peer.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        peer.sin_port = b.port.bigEndian
        let rc = withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(a.fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(rc == 0)
        let entries = try #require(ProcNet.read(path: "/proc/net/udp", proto: 17))
        let ea = try #require(entries.first { $0.inode == a.inode })
        #expect(ea.remotePort == b.port && ea.remote == IPAddress("127.0.0.1")! && !ea.isUnconnected)
        let eb = try #require(entries.first { $0.inode == b.inode })
        #expect(eb.isUnconnected && eb.localPort == b.port)
    }

    @Test func dualStackSocketShowsIPv4PeerAsIPv4() throws {
        let fd = socket(AF_INET6, datagramType | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var a = sockaddr_in6()
        a.sin6_family = sa_family_t(AF_INET6)
        // ::ffff:127.0.0.1 port 9 (discard): connecting a UDP socket sends nothing.
        withUnsafeMutableBytes(of: &a.sin6_addr) { b in
            b[10] = 0xFF; b[11] = 0xFF; b[12] = 127; b[15] = 1
        }
        a.sin6_port = UInt16(9).bigEndian
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        try #require(rc == 0)
        var st = stat()
        try #require(fstat(fd, &st) == 0)
        let entries = try #require(ProcNet.read(path: "/proc/net/udp6", proto: 17))
        let e = try #require(entries.first { $0.inode == UInt64(st.st_ino) })
        #expect(e.remote == IPAddress("127.0.0.1")!)
        #expect(e.local == IPAddress("127.0.0.1")!)
        #expect(e.remotePort == 9)
    }

    @Test func malformedLinesAreRejected() {
        for l in ["", "garbage", "  0: 0100007F:zz 00000000:0000 0A 0:0 00:0 0 0 0 1",
                  "  0: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 x 0 1",
                  "  0: 0100:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1"] {
            #expect(ProcNet.parse(line: Substring(l), proto: 6) == nil, "\(l)")
        }
    }
}

@Suite struct CgroupNameTests {
    @Test func containersAndUnits() {
        let id = String(repeating: "0123456789abcdef", count: 4)
        let cases: [(String, String?)] = [
            ("0::/system.slice/docker-\(id).scope\n", "docker:0123456789ab"),
            ("0::/machine.slice/libpod-\(id).scope/container\n", "podman:0123456789ab"),
            ("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-\(id).scope\n", "containerd:0123456789ab"),
            ("0::/kubepods.slice/kubepods-besteffort.slice/crio-\(id).scope\n", "cri-o:0123456789ab"),
            ("12:memory:/docker/\(id)\n1:name=systemd:/docker/\(id)\n", "docker:0123456789ab"),
            ("0::/kubepods/burstable/pod7/\(id)\n", "kubernetes:0123456789ab"),
            ("0::/system.slice/nginx.service\n", "nginx.service"),
            ("0::/user.slice/user-1000.slice/session-3.scope\n", "session-3.scope"),
            ("0::/\n", nil),
            ("", nil),
            ("garbage", nil),
        ]
        for (text, want) in cases { #expect(CgroupName.parse(cgroupFile: text) == want, "\(text)") }
    }

    @Test func thisProcessesCgroupReads() throws {
        let text = try String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)
        // Whatever this machine runs under, the answer is a unit, a container or none.
        if let n = CgroupName.parse(cgroupFile: text) {
            #expect(n.hasSuffix(".service") || n.hasSuffix(".scope") || n.contains(":"))
        }
    }
}

/// A process started by the test, holding a socket the test opened the other end of.
@Suite(
    .serialized,
    .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/env"), "needs /usr/bin/env and python3"))
struct ProcessTableTests {
    /// python3 connecting to `port` on 127.0.0.1 (TCP or UDP) and sleeping while holding the socket.
    static func client(port: UInt16, udp: Bool, seconds: Double = 5) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let kind = udp ? "SOCK_DGRAM" : "SOCK_STREAM"
        p.arguments = ["python3", "-c", """
            import socket,sys,time
            s=socket.socket(socket.AF_INET,socket.\(kind))
            s.connect(('127.0.0.1',\(port)))
            print(s.getsockname()[1],flush=True)
            time.sleep(\(seconds))
            """]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        return p
    }

    static func localPort(of p: Process) -> UInt16? {
        guard let out = p.standardOutput as? Pipe else { return nil }
        var line = Data()
        while true {
            let b = out.fileHandleForReading.readData(ofLength: 1)
            if b.isEmpty || b == Data([0x0A]) { break }
            line += b
        }
        return UInt16(String(decoding: line, as: UTF8.self))
    }

    @Test func tcpClientIsFoundByItsFiveTuple() throws {
        let server = try ProcNetParsingTests.bound(AF_INET, streamType, listen: true)
        defer { close(server.fd) }
        let p = try Self.client(port: server.port, udp: false)
        defer { p.terminate(); p.waitUntilExit() }
        let cport = try #require(Self.localPort(of: p))
        let accepted = accept(server.fd, nil, nil)
        try #require(accepted >= 0)
        defer { close(accepted) }
        let table = ProcessTable()
        let lo = IPAddress("127.0.0.1")!
        let now = Timestamp.now().totalNanoseconds
        table.scan(now: now)
        let o = try #require(table.owner(proto: 6, first: lo, firstPort: cport, second: lo, secondPort: server.port,
                                         startedAt: now - 1))
        #expect(o.process.pid == p.processIdentifier)
        #expect(o.process.command.hasPrefix("python3"))
        #expect(o.process.user == "root" || getuid() != 0)
        #expect(o.firstIsLocal)
        // Seen from the server's end first: this test's own accepted socket.
        let back = try #require(table.owner(proto: 6, first: lo, firstPort: server.port, second: lo, secondPort: cport,
                                            startedAt: now - 1))
        #expect(back.process.pid == getpid())
        #expect(table.currentStats.fdWalks == 1)

        // Once the client is gone, its socket is kept for flows that began before; a flow
        // that began after it went gets the end still open (this test's accepted socket).
        p.terminate(); p.waitUntilExit()
        usleep(100_000)
        let later = Timestamp.now().totalNanoseconds
        table.scan(now: later)
        #expect(table.owner(proto: 6, first: lo, firstPort: cport, second: lo, secondPort: server.port,
                            startedAt: now - 1)?.process.pid == p.processIdentifier)
        #expect(table.owner(proto: 6, first: lo, firstPort: cport, second: lo, secondPort: server.port,
                            startedAt: later + 1)?.process.pid == getpid())
    }

    @Test func unconnectedUDPReceiverIsFoundOnlyForLocalAddresses() throws {
        let receiver = try ProcNetParsingTests.bound(AF_INET, datagramType, listen: false)
        defer { close(receiver.fd) }
        let table = ProcessTable()
        let now = Timestamp.now().totalNanoseconds
        table.scan(now: now)
        let lo = IPAddress("127.0.0.1")!
        let o = try #require(table.owner(proto: 17, first: IPAddress("127.0.0.9")!, firstPort: 5555, second: lo,
                                         secondPort: receiver.port, startedAt: now - 1))
        #expect(o.process.pid == getpid() && !o.firstIsLocal)
        // The same port on an address that is not this host's is somebody else's.
        #expect(table.owner(proto: 17, first: IPAddress("127.0.0.9")!, firstPort: 5555, second: IPAddress("192.0.2.7")!,
                            secondPort: receiver.port, startedAt: now - 1) == nil)
    }

    /// Two thousand sockets of this process: each is placed, and the cost of a scan
    /// with and without a walk of /proc/PID/fd is printed (docs/FLOWS.md quotes it).
    @Test func manySocketsArePlacedAndTheCostIsMeasured() throws {
        var fds: [(fd: Int32, port: UInt16, inode: UInt64)] = []
        defer { for s in fds { close(s.fd) } }
        for _ in 0..<2000 { fds.append(try ProcNetParsingTests.bound(AF_INET, datagramType, listen: false)) }
        let table = ProcessTable()
        let now = Timestamp.now().totalNanoseconds
        table.scan(now: now)
        let first = table.currentStats
        let ours = Set(fds.map(\.inode))
        #expect(ours.isSubset(of: table.lastWanted), "a new table looks for every socket")
        table.scan(now: Timestamp.now().totalNanoseconds)
        let second = table.currentStats
        let lo = IPAddress("127.0.0.1")!
        let placed = fds.filter {
            table.owner(proto: 17, first: lo, firstPort: 40000, second: lo, secondPort: $0.port, startedAt: now - 1)?
                .process.pid == getpid()
        }
        #expect(placed.count == fds.count)
        // Other suites open sockets in this process while this one runs, so the second scan
        // may walk for theirs; it must not look for any socket the first scan placed.
        #expect(table.lastWanted.isDisjoint(with: ours), "a placed socket is not looked for again")
        #expect(second.fdWalks == first.fdWalks || !table.lastWanted.isEmpty)
        print("process table: \(first.sockets) sockets, first scan \(first.scanNanos / 1000) us "
              + "(fd walk \(first.walkNanos / 1000) us), next scan \(second.scanNanos / 1000) us")
    }

    @Test func backgroundThreadScansWhenAsked() throws {
        let server = try ProcNetParsingTests.bound(AF_INET, streamType, listen: true)
        defer { close(server.fd) }
        let table = ProcessTable(minInterval: 0.05, period: 30)
        table.start()
        defer { table.stop() }
        let start = Timestamp.now().totalNanoseconds
        while table.generation == 0 && Timestamp.now().totalNanoseconds - start < 5_000_000_000 { usleep(10_000) }
        let p = try Self.client(port: server.port, udp: true)
        defer { p.terminate(); p.waitUntilExit() }
        let cport = try #require(Self.localPort(of: p))
        let g = table.generation
        table.request()
        while table.generation == g && Timestamp.now().totalNanoseconds - start < 5_000_000_000 { usleep(10_000) }
        let lo = IPAddress("127.0.0.1")!
        let o = table.owner(proto: 17, first: lo, firstPort: cport, second: lo, secondPort: server.port,
                            startedAt: Timestamp.now().totalNanoseconds)
        #expect(o?.process.pid == p.processIdentifier, "a requested scan came within the 30 s period")
    }
}

let streamType = Int32(SOCK_STREAM.rawValue)
let datagramType = Int32(SOCK_DGRAM.rawValue)
