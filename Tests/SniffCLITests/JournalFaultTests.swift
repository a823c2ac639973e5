import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
import SniffTestSupport

/// A tmpfs of a given size mounted on a directory: a disk that really fills up.
enum SmallDisk {
    /// Why a small tmpfs cannot be mounted here (not root, or no CAP_SYS_ADMIN in this
    /// container); nil when it can.
    static let problem: String? = {
        guard getuid() == 0 else { return "mounting a small tmpfs for the journal needs root" }
        guard let dir = try? TestPaths.tempDir() else { return "no temporary directory" }
        defer { try? FileManager.default.removeItem(at: dir) }
        let dirPath = dir.path
        if let problem = mount(dirPath, size: "64k") { return "cannot mount a tmpfs (\(problem))" }
        unmount(dirPath)
        return nil
    }()

    static func mount(_ dir: String, size: String) -> String? {
        guard
            let r = try? Spawned.run(
                ["-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", dir], binary: "/usr/bin/mount", timeout: 20)
        else {
            return "mount did not start"
        }
        return r.status == 0
            ? nil : "mount exited \(r.status): \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
    }

    static func unmount(_ dir: String) {
        _ = try? Spawned.run([dir], binary: "/usr/bin/umount", timeout: 20)
    }
}

/// The journal's disk fills up while the database is unreachable: sniff must say so
/// (and where), keep capturing and writing its other outputs, count the rows it could
/// not keep, print them in the final line, leave a journal that replays, and exit 1.
/// The journal lives on a tmpfs of 256 KiB or 4 MiB mounted for the test, so the disk
/// is really full (ENOSPC from the kernel), not simulated.
@Suite(
    .serialized,
    .enabled(
        if: SmallDisk.problem == nil,
        "needs root and permission to mount a tmpfs (CAP_SYS_ADMIN); SmallDisk.problem says which is missing"))
struct JournalFaultTests {
    /// Nothing listens on port 1: connections are refused at once, as for a database
    /// that is down.
    static let deadDatabase = "postgres://sniff@127.0.0.1:1/sniff"

    /// `sniff: store: N packets captured, S stored, P pending, L lost`.
    struct FinalLine: Equatable {
        var captured: Int, stored: Int, pending: Int, lost: Int

        init?(_ stderr: String) {
            guard let line = stderr.split(separator: "\n").last(where: { $0.contains(" packets captured, ") }) else {
                return nil
            }
            let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            guard numbers.count >= 4 else { return nil }
            (captured, stored, pending, lost) = (numbers[0], numbers[1], numbers[2], numbers[3])
        }
    }

    /// Classic pcap of `count` small UDP frames over many flows: 10.0.x.y:sport → 10.1.0.1:53.
    static func udpCapture(count: Int) -> Data {
        var frames: [[UInt8]] = []
        frames.reserveCapacity(count)
        for i in 0..<count {
            let sport = UInt16(1024 + i % 5000)
            var f: [UInt8] = [2, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 0x08, 0x00]
            let payload = [UInt8](repeating: 0x78, count: 16)
            let udpLength = 8 + payload.count
            f += [0x45, 0, UInt8((20 + udpLength) >> 8), UInt8((20 + udpLength) & 0xFF),
                  UInt8((i >> 8) & 0xFF), UInt8(i & 0xFF), 0, 0, 64, 17, 0, 0,
                  10, 0, UInt8((i >> 8) & 0xFF), UInt8(i & 0xFF), 10, 1, 0, 1]
            f += [UInt8(sport >> 8), UInt8(sport & 0xFF), 0, 53, 0, UInt8(udpLength), 0, 0] + payload
            frames.append(f)
        }
        return CLI.pcap(linkType: 1, frames: frames)
    }

    /// Replays every journal file in `dir` into a fresh SQLite database; the packets it
    /// stored, or nil with the reason.
    static func replay(_ dir: URL, into db: String) throws -> (packets: Int, output: String) {
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sniffj") }
        guard !files.isEmpty else { return (0, "no journal") }
        let r = try Spawned.run(
            ["db", "replay", "--db", "sqlite:" + db] + files.map { dir.appendingPathComponent($0).path })
        #expect(r.signal == nil && r.status == 0, "sniff db replay: \(r.status) \(r.stderr)")
        // "FILE: N batches (P packets), D already stored"
        let packets = r.stdout.split(separator: "\n").compactMap { line -> Int? in
            guard let open = line.range(of: " batches ("), let close = line.range(of: " packets)") else { return nil }
            return Int(line[open.upperBound..<close.lowerBound])
        }.reduce(0, +)
        return (packets, r.stdout)
    }

    /// What every disk-full run must show on stderr and in its counts.
    static func expectLossReported(
        _ r: Spawned, journal: URL, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> FinalLine {
        #expect(r.signal == nil, "killed by signal \(r.signal ?? 0)", sourceLocation: sourceLocation)
        #expect(
            r.status == 1, "exit \(r.status) instead of 1 for lost rows\n\(r.stderr.suffix(3000))",
            sourceLocation: sourceLocation)
        let diskFull = r.stderr.split(separator: "\n").filter { $0.contains("the journal's disk is full") }
        #expect(!diskFull.isEmpty, "no disk-full error:\n\(r.stderr.suffix(3000))", sourceLocation: sourceLocation)
        #expect(diskFull.allSatisfy { $0.contains(journal.path) && $0.contains("No space left on device") },
                "the error does not say where: \(diskFull)", sourceLocation: sourceLocation)
        // The first error goes out when it happens, not only at the end.
        let lines = r.stderr.split(separator: "\n").map(String.init)
        let firstError = lines.firstIndex { $0.contains("the journal's disk is full") }
        let finalIndex = lines.firstIndex { $0.contains(" packets captured, ") }
        #expect(firstError != nil && finalIndex != nil && firstError! < finalIndex!, sourceLocation: sourceLocation)
        let final = try #require(
            FinalLine(r.stderr), "no final line:\n\(r.stderr.suffix(3000))", sourceLocation: sourceLocation)
        #expect(final.stored == 0, sourceLocation: sourceLocation)
        #expect(final.lost > 0, "nothing counted as lost: \(final)", sourceLocation: sourceLocation)
        #expect(final.stored + final.pending + final.lost == final.captured,
                "every packet is stored, pending or lost: \(final)", sourceLocation: sourceLocation)
        let lossLine = lines.first { $0.contains(" were lost") }
        #expect(
            lossLine?.contains("\(final.lost) packets") == true && lossLine?.contains(journal.path) == true,
            "the loss line names neither the count nor the journal: \(lossLine ?? "none")",
            sourceLocation: sourceLocation)
        return final
    }

    /// A 4 MiB journal disk: one packet batch (8192 rows, about 2.4 MB in the journal)
    /// fits, the next ones do not, so the run ends with rows both kept and lost. The
    /// NDJSON on stdout is complete, and the journal replays exactly the pending rows.
    @Test func fileRunWithFullJournalDiskCountsAndReportsTheLoss() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let capture = dir.appendingPathComponent("udp.pcap")
        let count = 40_000
        try Self.udpCapture(count: count).write(to: capture)
        let journal = dir.appendingPathComponent("journal")
        try FileManager.default.createDirectory(at: journal, withIntermediateDirectories: true)
        if let problem = SmallDisk.mount(journal.path, size: "4m") { Issue.record("mount: \(problem)"); return }
        defer { SmallDisk.unmount(journal.path) }

        let r = try Spawned.run(["-r", capture.path, "--json", "--db", Self.deadDatabase, "--journal", journal.path,
                                 "--store-memory", "10000", "--store-timeout", "1"], timeout: 120)
        let final = try Self.expectLossReported(r, journal: journal)
        #expect(final.captured == count)
        #expect(final.pending > 0, "one packet batch should fit in 4 MiB: \(final)")

        // Capture and decoding went on: every packet is in the NDJSON, in order.
        let rows = r.stdout.split(separator: "\n")
        #expect(rows.count == count)
        #expect(rows.last?.hasPrefix("{\"n\":\(count),") == true, "last row: \(rows.last?.prefix(80) ?? "")")

        // The journal is whole (a torn record was cut off) and holds exactly the rows
        // reported as pending; its path was printed with the replay command.
        let files = try FileManager.default.contentsOfDirectory(atPath: journal.path).filter { $0.hasSuffix(".sniffj") }
        #expect(files.count == 1)
        for f in files { #expect(r.stderr.contains("kept in \(journal.appendingPathComponent(f).path)")) }
        let replayed = try Self.replay(journal, into: dir.appendingPathComponent("replay.db").path)
        #expect(replayed.packets == final.pending, "replayed \(replayed.output), final line \(final)")
    }

    /// The same on a 256 KiB disk during live capture on lo: batches leave every second,
    /// so the first ones fit and the later ones are lost while the capture goes on.
    @Test func liveCaptureWithFullJournalDiskKeepsCapturing() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let journal = dir.appendingPathComponent("journal")
        try FileManager.default.createDirectory(at: journal, withIntermediateDirectories: true)
        if let problem = SmallDisk.mount(journal.path, size: "256k") { Issue.record("mount: \(problem)"); return }
        defer { SmallDisk.unmount(journal.path) }

        let port = LoopbackTraffic.randomPort()
        let out = dir.appendingPathComponent("out.ndjson")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: out)
        defer { try? outHandle.close() }
        let sniff = try BackgroundSniff(["-i", "lo", "--direction", "in", "--json", "--db", Self.deadDatabase,
                                         "--journal", journal.path, "--store-memory", "2000", "--store-timeout", "1",
                                         "udp port \(port)"], stdout: outHandle)
        #expect(sniff.waitUntilListening(), "the live capture did not start")
        // About 4000 datagrams a second for 4 s (bounded by count as well).
        let flood = LiveFaultTests.UDPFlood(port: port, limit: 16_000)
        var errText = ""
        let deadline = Date().addingTimeInterval(4)
        while Date() < deadline {
            usleep(200_000)
            errText = (try? String(contentsOf: sniff.errURL, encoding: .utf8)) ?? ""
        }
        flood.stop()
        usleep(300_000)
        #expect(errText.contains("the journal's disk is full"), "no error while capturing:\n\(errText)")
        let result = sniff.stop(signal: SIGINT, seconds: 30)
        let r = Spawned(status: sniff.process.terminationReason == .exit ? result.status : -1,
                        signal: sniff.process.terminationReason == .uncaughtSignal ? result.status : nil,
                        maxRSSKiB: 0, stdout: "", stderr: result.stderr)
        let final = try Self.expectLossReported(r, journal: journal)
        // The capture went on after the disk filled: it saw (nearly) every datagram.
        #expect(final.captured >= flood.sent * 9 / 10, "captured \(final.captured) of \(flood.sent) sent")
        try? outHandle.synchronize()
        let rows = ((try? String(contentsOf: out, encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(rows.count == final.captured, "NDJSON rows \(rows.count), captured \(final.captured)")
        let replayed = try Self.replay(journal, into: dir.appendingPathComponent("replay.db").path)
        #expect(replayed.packets == final.pending, "replayed \(replayed.output), final line \(final)")
    }
}
