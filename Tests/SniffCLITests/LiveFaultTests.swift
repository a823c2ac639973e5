import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
import SniffTestSupport

/// Faults during live capture on loopback: SIGTERM at random moments while packets are
/// being written, and the `--user` privilege drop. (The interface going down is in
/// LiveTerminalAndNamespaceTests.) Needs root, as live capture does.
@Suite(.serialized, .enabled(if: getuid() == 0, "live capture needs root (CAP_NET_RAW)"))
struct LiveFaultTests {
    /// Sends UDP datagrams to 127.0.0.1:port from a background thread until stopped,
    /// at most `limit` of them (about 4000 a second): bounded, whatever happens.
    final class UDPFlood: @unchecked Sendable {
        private let lock = NSLock()
        private var stopped = false
        private var done = false
        private(set) var sent = 0

        init(port: UInt16, limit: Int = 40_000) {
            Thread.detachNewThread { [self] in
                let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
                var addr = LoopbackTraffic.address(port)
                let payload = [UInt8](repeating: 0x55, count: 200)
                var n = 0
                while n < limit && !isStopped {
                    _ = withUnsafePointer(to: &addr) { p in
                        p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(
                                fd, payload, payload.count - n % 150, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                        }
                    }
                    n += 1
                    usleep(250)
                }
                close(fd)
                lock.withLock { sent = n; done = true }
            }
        }

        var isStopped: Bool { lock.withLock { stopped } }

        func stop() {
            lock.withLock { stopped = true }
            while !lock.withLock({ done }) { usleep(1000) }
        }
    }

    /// `sniff -i lo -w FILE.pcapng` stopped by SIGTERM at random moments while
    /// datagrams flow (seeded, from right after start to well into the capture): every
    /// file it leaves is complete, for `sniff -r` and for tshark.
    @Test func sigtermAtRandomPointsLeavesValidPcapng() throws {
        var rng = SplitMix64(seed: 0x51_6E_7E)
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Before the capture is listening, just after, and later at random.
        var delays: [(afterListening: Bool, ms: Int)] = [(false, 0), (false, 30), (true, 0), (true, 5)]
        for _ in 0..<6 { delays.append((true, Int.random(in: 10...1500, using: &rng))) }
        var validated = 0
        for (i, d) in delays.enumerated() {
            let port = LoopbackTraffic.randomPort()
            let file = dir.appendingPathComponent("term-\(i).pcapng").path
            let flood = UDPFlood(port: port)
            let sniff = try BackgroundSniff(["-i", "lo", "--direction", "in", "-q", "-w", file, "udp port \(port)"])
            if d.afterListening { #expect(sniff.waitUntilListening(), "run \(i) did not start") }
            usleep(useconds_t(d.ms * 1000))
            let r = sniff.stop(signal: SIGTERM, seconds: 15)
            flood.stop()
            let reason = sniff.process.terminationReason
            // Once the handler is in place SIGTERM is a clean stop (exit 0); before it,
            // the default action may kill the process, which must then leave no file
            // or a valid one.
            if d.afterListening {
                #expect(
                    reason == .exit && r.status == 0, "run \(i) after \(d.ms) ms: \(reason) \(r.status) \(r.stderr)")
            } else {
                #expect((reason == .exit && r.status == 0) || (reason == .uncaughtSignal && r.status == SIGTERM),
                        "run \(i): \(reason) \(r.status) \(r.stderr)")
            }
            guard FileManager.default.fileExists(atPath: file) else {
                #expect(!d.afterListening, "run \(i): no file after listening")
                continue
            }
            let back = try CLI.run(["-r", file, "--json"])
            #expect(back.status == 0, "run \(i) after \(d.ms) ms: sniff -r: \(back.stderr)")
            #expect(!back.stderr.contains("ends inside"), "run \(i): file cut short: \(back.stderr)")
            if let tshark = Tshark.path {
                let t = try Spawned.run(["-n", "-r", file], binary: tshark)
                #expect(t.signal == nil && t.status == 0, "run \(i): tshark: \(t.stderr)")
                let lines = t.stdout.split(separator: "\n").count
                #expect(lines == back.stdout.split(separator: "\n").count, "run \(i): tshark read \(lines) packets")
            }
            validated += 1
        }
        #expect(validated >= 6)
    }


    /// `--user nobody`: once the capture is open, every thread of the process runs as
    /// nobody with no capabilities and no supplementary groups, and the capture works.
    @Test(.enabled(if: getpwnam("nobody") != nil, "no user named nobody on this machine"))
    func userOptionDropsPrivilegesDuringCapture() throws {
        let pw = try #require(getpwnam("nobody"))
        let uid = pw.pointee.pw_uid, gid = pw.pointee.pw_gid
        let port = LoopbackTraffic.randomPort()
        let sniff = try BackgroundSniff(["-i", "lo", "--direction", "in", "--user", "nobody", "-c", "1", "--json",
                                         "udp port \(port)"])
        #expect(sniff.waitUntilListening())
        let pid = sniff.process.processIdentifier
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        #expect(!tasks.isEmpty)
        for t in tasks {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/status", encoding: .utf8) else {
                continue
            }
            let fields = Dictionary(
                status.split(separator: "\n").compactMap { line -> (String, String)? in
                    let parts = line.split(separator: ":", maxSplits: 1)
                    return parts.count == 2 ? (String(parts[0]), parts[1].trimmingCharacters(in: .whitespaces)) : nil
                }, uniquingKeysWith: { a, _ in a })
            let uids = fields["Uid"]?.split(whereSeparator: { $0 == "\t" || $0 == " " }).map(String.init) ?? []
            let gids = fields["Gid"]?.split(whereSeparator: { $0 == "\t" || $0 == " " }).map(String.init) ?? []
            #expect(uids == Array(repeating: "\(uid)", count: 4), "thread \(t): Uid \(uids)")
            #expect(gids == Array(repeating: "\(gid)", count: 4), "thread \(t): Gid \(gids)")
            #expect(fields["CapEff"] == "0000000000000000" && fields["CapPrm"] == "0000000000000000",
                    "thread \(t): CapEff \(fields["CapEff"] ?? "?") CapPrm \(fields["CapPrm"] ?? "?")")
            #expect(fields["Groups"] ?? "" == "", "thread \(t): Groups \(fields["Groups"] ?? "")")
        }
        LoopbackTraffic.sendUDP(to: port, payloadLengths: [9])
        let r = sniff.wait(seconds: 10)
        #expect(sniff.process.terminationReason == .exit && r.status == 0, "\(r.stderr)")
        #expect(r.stdout.split(separator: "\n").count == 1 && r.stdout.contains("\"payload_len\":9"))
    }

    @Test func unknownUserIsAUsageError() throws {
        let r = try CLI.run(["-i", "lo", "--user", "no-such-user-sniff", "-c", "1"])
        #expect(r.status == 64, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("no such user"))
    }
}
