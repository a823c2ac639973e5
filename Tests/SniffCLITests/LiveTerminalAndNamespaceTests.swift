import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
import SniffTestSupport

/// Keys through a pseudo-terminal, and capture on a veth pair in a namespace.
@Suite(.serialized, .enabled(if: getuid() == 0, "live capture needs root (CAP_NET_RAW)"))
struct LiveTerminalAndNamespaceTests {
    @Test func pauseAndResumeKeysThroughAPseudoTerminal() throws {
        var master: Int32 = -1, slave: Int32 = -1
        var ws = winsize(ws_row: 60, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0)
        try #require(openpty(&master, &slave, nil, nil, &ws) == 0)
        let dir = try TestPaths.tempDir()
        let report = dir.appendingPathComponent("report.txt").path
        let port = LoopbackTraffic.randomPort()
        let tty = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        let sniff = try BackgroundSniff(
            ["-i", "lo", "--direction", "in", "--report", report, "--interval", "1", "udp port \(port)"],
            stdin: tty, stdout: tty)
        // Drain the terminal so that redraws never block sniff.
        let masterFD = master
        let drain = Thread {
            var buf = [UInt8](repeating: 0, count: 65536)
            while read(masterFD, &buf, buf.count) > 0 {}
        }
        drain.start()
        defer { close(master) }
        #expect(sniff.waitUntilListening())
        usleep(500_000)
        LoopbackTraffic.sendUDP(to: port, payloadLengths: [1, 2, 3])
        usleep(700_000)
        _ = write(master, "p", 1)
        usleep(700_000)
        LoopbackTraffic.sendUDP(to: port, payloadLengths: [4, 5, 6, 7])
        usleep(1_500_000)
        let paused = (try? String(contentsOfFile: report, encoding: .utf8)) ?? ""
        _ = write(master, "r", 1)
        usleep(700_000)
        LoopbackTraffic.sendUDP(to: port, payloadLengths: [8, 9])
        usleep(700_000)
        _ = write(master, "s", 1)
        let r = sniff.wait(seconds: 10)
        close(slave)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(paused.contains("Status:               Paused"), "report while paused:\n\(paused)")
        let final = try String(contentsOfFile: report, encoding: .utf8)
        #expect(final.range(of: #"Packets matching:\s+5\n"#, options: .regularExpression) != nil, "\(final)")
        #expect(final.range(of: #"Skipped \(paused\):\s+4\n"#, options: .regularExpression) != nil, "\(final)")
        #expect(r.stderr.contains("4 packets skipped while paused"))
    }

    /// Sends UDP datagrams from inside the namespace (python3 runs the sender there).
    func sendFromNamespace(_ v: VethPair, port: UInt16, lengths: [Int]) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let code = "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\nfor n in \(lengths):\n    s.sendto(b'z'*n,('\(v.outsideAddress)',\(port)))\n    time.sleep(0.01)\n"
        p.arguments = v.inNamespace + ["timeout", "10", "python3", "-c", code]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }

    @Test func captureOnAVethPairInANamespace() throws {
        let v = try VethPair.make(tag: "t")
        defer { v.remove() }
        let port = LoopbackTraffic.randomPort()
        let sniff = try BackgroundSniff(["-i", v.outside, "--json", "udp port \(port)"])
        #expect(sniff.waitUntilListening())
        #expect(sendFromNamespace(v, port: port, lengths: [100, 200, 300]))
        usleep(500_000)
        let r = sniff.stop()
        #expect(r.status == 0, "\(r.stderr)")
        let objs = r.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objs.compactMap { $0["payload_len"] as? Int } == [100, 200, 300])
        #expect(objs.allSatisfy { $0["src"] as? String == v.insideAddress && $0["dst"] as? String == v.outsideAddress })
        #expect(objs.allSatisfy { $0["eth_src"] as? String != "00:00:00:00:00:00" }, "a veth has real MAC addresses")
    }

    @Test func interfaceGoingDownIsReportedAndOutputsAreFlushed() throws {
        let v = try VethPair.make(tag: "t")
        defer { v.remove() }
        let port = LoopbackTraffic.randomPort()
        let dir = try TestPaths.tempDir()
        let file = dir.appendingPathComponent("down.pcapng").path
        let sniff = try BackgroundSniff(["-i", v.outside, "-q", "-w", file, "udp port \(port)"])
        #expect(sniff.waitUntilListening())
        #expect(sendFromNamespace(v, port: port, lengths: [10, 20]))
        usleep(400_000)
        VethPair.ip(["link", "set", "dev", v.outside, "down"])
        let r = sniff.wait(seconds: 10)
        if r.status == 0 && !r.stderr.contains("stopped") {
            // Some kernels keep the socket open on a downed veth; then stop it ourselves.
            Issue.record("capture did not notice the interface going down: \(r.stderr)")
        } else {
            #expect(r.status == 1)
            #expect(r.stderr.contains("capture on \(v.outside) stopped"))
        }
        let back = try CLI.run(["-r", file, "--json"])
        #expect(back.status == 0)
        #expect(back.stdout.split(separator: "\n").count == 2, "packets before the failure were written")
    }
}
