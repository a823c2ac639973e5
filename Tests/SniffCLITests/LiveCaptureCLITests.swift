import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
import SniffTestSupport

/// Live capture with real traffic on loopback and in a network namespace the test
/// creates. These need root (CI runs as root); elsewhere they are skipped.
@Suite(.serialized, .enabled(if: getuid() == 0, "live capture needs root (CAP_NET_RAW)"))
struct LiveCaptureCLITests {
    func jsonObjects(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    @Test func loopbackUDPAndTCPExactCounts() throws {
        // Both ends held for the test: a random port alone can be another test's
        // ephemeral port, and a stray segment on it once broke the exact counts.
        let udp = try #require(LoopbackTraffic.UDPPair())
        defer { udp.close() }
        let listener = try #require(LoopbackTraffic.TCPListener())
        defer { listener.close() }
        let sniff = try BackgroundSniff(["-i", "lo", "--direction", "in", "--json",
                                         "(\(udp.filter)) or (\(listener.filter))"])
        #expect(sniff.waitUntilListening())
        udp.send(payloadLengths: [10, 20, 30, 40, 50])
        #expect(listener.exchange(request: 100, response: 200))
        // Both FINs are the last packets sent; wait for them rather than a fixed time
        // (under load a 500 ms sleep once stopped sniff before the second was read).
        let sawEnd = sniff.waitForOutput { out in
            self.jsonObjects(out).filter { ($0["flags"] as? String ?? "").contains("F") }.count >= 2
        }
        #expect(sawEnd, "both FINs printed within 10 s")
        let r = sniff.stop()
        #expect(r.status == 0, "\(r.stderr)")
        let objs = jsonObjects(r.stdout)
        let datagrams = objs.filter { $0["transport"] as? String == "UDP" }
        #expect(datagrams.count == 5, "each datagram once with --direction in")
        #expect(datagrams.compactMap { $0["payload_len"] as? Int } == [10, 20, 30, 40, 50])
        #expect(
            datagrams.allSatisfy {
                $0["dport"] as? Int == Int(udp.destinationPort) && $0["src"] as? String == "127.0.0.1"
            })
        let tcp = objs.filter { $0["transport"] as? String == "TCP" }
        // Handshake (3), request, response and their ACKs, FINs and ACKs: the flags and
        // payloads are what matter.
        #expect(tcp.filter { $0["flags"] as? String == "S" }.count == 1)
        #expect(tcp.filter { $0["flags"] as? String == "S." }.count == 1)
        #expect(tcp.compactMap { $0["payload_len"] as? Int }.filter { $0 > 0 }.sorted() == [100, 200])
        #expect(tcp.filter { ($0["flags"] as? String ?? "").contains("F") }.count == 2)
        #expect(r.stderr.contains("packets captured") && r.stderr.contains("packets dropped by kernel"))
    }

    /// The kernel hands every loopback packet to a packet socket twice (out and in),
    /// and pcap_stats counts both; libpcap 1.10 discards the outgoing copy on lo, and
    /// `--direction in` makes "once" hold whatever libpcap does.
    /// The filter names both ports of a socket pair held open for the test, so once it is
    /// set the kernel's count (which `--direction` does not narrow) includes no other
    /// traffic. Before it is set the socket takes everything, and the kernel counts that
    /// too: loopback traffic of tests running beside this one can add to it (CI saw 10),
    /// so the count is at least two per packet sent.
    @Test func loopbackPacketsReachTheKernelFilterTwiceAndSniffOnce() throws {
        let pair = try #require(LoopbackTraffic.UDPPair())
        defer { pair.close() }
        let sniff = try BackgroundSniff(["-i", "lo", "--direction", "in", "--json", pair.filter])
        #expect(sniff.waitUntilListening())
        pair.send(payloadLengths: [7, 8, 9])
        usleep(500_000)
        let r = sniff.stop()
        #expect(jsonObjects(r.stdout).compactMap { $0["payload_len"] as? Int } == [7, 8, 9])
        #expect(r.stderr.contains("3 packets captured"))
        let received = r.stderr.split(separator: "\n").first { $0.hasSuffix(" packets received by filter") }
            .flatMap { Int($0.prefix { $0.isNumber }) }
        #expect(received.map { $0 >= 6 } == true, "\(r.stderr)")
    }

    /// Also the direction in capitals: it was accepted but not applied, and every packet
    /// on lo came twice (1, 1, 2).
    @Test(arguments: ["in", "IN"])
    func countStopsTheCapture(direction: String) throws {
        let port = LoopbackTraffic.randomPort()
        let sniff = try BackgroundSniff(["-i", "lo", "--direction", direction, "--json", "-c", "3", "udp port \(port)"])
        #expect(sniff.waitUntilListening())
        LoopbackTraffic.sendUDP(to: port, payloadLengths: [1, 2, 3, 4, 5, 6])
        let r = sniff.wait(seconds: 10)
        #expect(r.status == 0)
        #expect(jsonObjects(r.stdout).compactMap { $0["payload_len"] as? Int } == [1, 2, 3])
    }

    @Test func writeProducesAReadablePcapng() throws {
        let port = LoopbackTraffic.randomPort()
        let dir = try TestPaths.tempDir()
        let file = dir.appendingPathComponent("live.pcapng").path
        let sniff = try BackgroundSniff(["-i", "lo", "--direction", "in", "-q", "-w", file, "udp port \(port)"])
        #expect(sniff.waitUntilListening())
        LoopbackTraffic.sendUDP(to: port, payloadLengths: [11, 22, 33, 44])
        usleep(400_000)
        let r = sniff.stop(signal: SIGTERM)
        #expect(r.status == 0, "\(r.stderr)")
        let back = try CLI.run(["-r", file, "--json"])
        #expect(back.status == 0)
        let objs = jsonObjects(back.stdout)
        #expect(objs.compactMap { $0["payload_len"] as? Int } == [11, 22, 33, 44])
        let head = try Data(contentsOf: URL(fileURLWithPath: file)).prefix(4)
        #expect(Array(head) == [0x0A, 0x0D, 0x0D, 0x0A], "pcapng section header")
        if Tshark.installed {
            let t = try Tshark.run(["-r", file, "-T", "fields", "-e", "udp.length"])
            #expect(t.status == 0)
            #expect(t.stdout.split(separator: "\n") == ["19", "30", "41", "52"])
        }
    }

    @Test func writePcapWhenTheNameSaysSo() throws {
        let port = LoopbackTraffic.randomPort()
        let dir = try TestPaths.tempDir()
        let file = dir.appendingPathComponent("live.pcap").path
        let sniff = try BackgroundSniff(["-i", "lo", "--direction", "in", "-q", "-w", file, "udp port \(port)"])
        #expect(sniff.waitUntilListening())
        LoopbackTraffic.sendUDP(to: port, payloadLengths: [5, 6])
        usleep(400_000)
        _ = sniff.stop()
        let head = try Data(contentsOf: URL(fileURLWithPath: file)).prefix(4)
        #expect(Array(head) == [0x4D, 0x3C, 0xB2, 0xA1], "nanosecond pcap magic, little-endian")
        #expect(jsonObjects(try CLI.run(["-r", file, "--json"]).stdout).count == 2)
    }

    @Test func rotationBySizeKeepsARing() throws {
        let port = LoopbackTraffic.randomPort()
        let dir = try TestPaths.tempDir()
        let base = dir.appendingPathComponent("ring.pcap").path
        let sniff = try BackgroundSniff([
            "-i", "lo", "--direction", "in", "-q", "-w", base, "-C", "1", "-W", "3", "udp port \(port)"
        ])
        #expect(sniff.waitUntilListening())
        // About 3 MB in 1400-byte datagrams: the ring of 1 MB files wraps around.
        for _ in 0..<30 { LoopbackTraffic.sendUDP(to: port, payloadLengths: Array(repeating: 1400, count: 80)) }
        usleep(500_000)
        let r = sniff.stop()
        #expect(r.status == 0, "\(r.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names == ["ring.pcap0", "ring.pcap1", "ring.pcap2"])
        for n in names {
            #expect(try CLI.run(["-r", dir.appendingPathComponent(n).path, "-q"]).status == 0)
        }
    }

    @Test func unknownInterfaceNamesItAndListsOthers() throws {
        let r = try CLI.run(["-i", "nosuch0", "-q"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("no such interface 'nosuch0'"))
        #expect(r.stderr.contains("lo"))
    }

    @Test func invalidFilterIsAUsageError() throws {
        let r = try CLI.run(["-i", "lo", "-q", "udp", "port", "nope"])
        #expect(r.status == 64)
        #expect(r.stderr.contains("invalid filter expression 'udp port nope'"))
    }

    @Test(arguments: [
        ["-B", "0"], ["-B", "999999"], ["-s", "-5"], ["-s", "300000"], ["-c", "0"], ["--direction", "sideways"]
    ])
    func badCaptureOptionsExit64(args: [String]) throws {
        let r = try CLI.run(["-i", "lo", "-q"] + args)
        #expect(r.status == 64, "\(args): \(r.stderr)")
    }

    /// sniff started as an unprivileged user: capture is refused with the fix in the
    /// message. (Dropping to that user after opening the capture is LiveFaultTests'.)
    @Test(.enabled(if: getpwnam("nobody") != nil && FileManager.default.isExecutableFile(atPath: "/usr/sbin/runuser"),
                   "needs a user named nobody and runuser"))
    func permissionDeniedSaysTheFix() throws {
        let su = Process()
        su.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
        su.arguments = ["-u", "nobody", "--", CLI.binary.path, "-i", "lo", "-q", "-c", "1"]
        let err = Pipe()
        su.standardError = err
        su.standardOutput = FileHandle.nullDevice
        try su.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        su.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(su.terminationStatus == 1, "\(text)")
        #expect(text.contains("permission denied") && text.contains("setcap cap_net_raw,cap_net_admin=eip"))
    }

    @Test func listsInterfaces() throws {
        let r = try CLI.run(["-D"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("lo") && r.stdout.contains("loopback") && r.stdout.contains("127.0.0.1"))
        let d = try CLI.run(["devices"])
        #expect(d.stdout == r.stdout)
    }

    @Test func reportFileIsRewrittenLive() throws {
        let port = LoopbackTraffic.randomPort()
        let dir = try TestPaths.tempDir()
        let report = dir.appendingPathComponent("live.txt").path
        let sniff = try BackgroundSniff([
            "-i", "lo", "--direction", "in", "-q", "--report", report, "--interval", "1", "udp port \(port)"
        ])
        #expect(sniff.waitUntilListening())
        LoopbackTraffic.sendUDP(to: port, payloadLengths: [3, 4])
        usleep(2_500_000)
        let during = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
        #expect(during.contains("Status:               Running"))
        #expect(during.contains("127.0.0.1:\(port)"))
        let r = sniff.stop()
        #expect(r.status == 0)
        let after = try String(contentsOfFile: report, encoding: .utf8)
        #expect(after.contains("Status:               Finished"))
    }
}
