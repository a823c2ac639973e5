import Foundation
import Testing
import SniffTestSupport

/// Memory under captures built to make a reassembler hoard: a fragment flood (datagrams
/// whose last fragment never comes), TCP streams that open with a hole (every later
/// segment must be held until the hole fills, which it never does) and a SYN flood whose
/// SYNs carry data. Without the caps each of them holds everything it is sent; with
/// them, the whole process's peak RSS stays under a stated bound.
@Suite(.serialized)
struct HostileMemoryTests {
    static let fragmentDatagrams = 8000
    static let fragmentsEach = 8
    static let fragmentBytes = 1480
    static let holedFlows = 600
    static let segmentsEach = 44
    static let segmentBytes = 1400
    static let synFlood = 20000
    static let synBytes = 1000
    /// --tcp-reassembly-memory for the run: small, so that the floods pass it many times.
    static let tcpMemory = 4 << 20
    /// IPReassembler.Limits' default cap on bytes held by datagrams in progress.
    static let ipHeldCap = 32 << 20

    /// What the capture would make a reassembler hold if nothing capped it.
    static var uncappedBytes: Int {
        fragmentDatagrams * fragmentsEach * fragmentBytes + holedFlows * segmentsEach * segmentBytes
            + synFlood * synBytes
    }

    @Test(
        "a fragment flood, TCP streams with a hole and a SYN flood with data: RSS stays bounded",
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: "/usr/bin/time"), "needs GNU time (.ci/run installs it)"))
    func hoardingCaptureStaysBounded() throws {
        let dir = try TestPaths.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("hoard.pcap")
        try Self.hoardingCapture().write(to: file)

        // Read from stdin: a file is mapped, and up to 80 MiB of its read pages count in
        // the resident set until they are given back, which would hide what is measured.
        let args = ["-r", "-", "--tcp-reassembly-memory", String(Self.tcpMemory)]
        let base = try Spawned.measured(args, stdinFile: TestPaths.sample.path)
        let (r, rss) = try Spawned.measured(args, stdinFile: file.path)
        #expect(
            r.signal == nil && r.status == 0, "exit \(r.status) signal \(String(describing: r.signal)): \(r.stderr)")

        // The caps were reached: fragments were dropped over the caps, streams were not
        // buffered, and the streams never held more than the cap (plus the one buffer a
        // stream that started just under it may take).
        let report = r.stdout
        let fragments = Self.number(before: " fragments, ", in: report)
        let overCaps = Self.number(before: " over the caps", in: report)
        let notBuffered = Self.number(after: "not buffered (memory cap) ", in: report)
        let peakHeld = Self.number(after: "peak held ", in: report)
        #expect(fragments == Self.fragmentDatagrams * Self.fragmentsEach, "\(report)")
        #expect((overCaps ?? 0) > 0, "no datagram was dropped over the caps: \(report)")
        #expect((notBuffered ?? 0) > 0, "no stream was refused by the memory cap: \(report)")
        #expect((peakHeld ?? .max) <= Self.tcpMemory + 64 * 1024, "\(report)")

        // The bound: what the same run holds on the small sample, plus both caps, plus
        // 48 MiB for the flow table's 20 k flows and the allocator. Holding everything
        // would add the capture's `uncappedBytes` (about 155 MB) instead of the caps.
        let boundKiB = base.peakRSSKiB + (Self.ipHeldCap + Self.tcpMemory) / 1024 + 48 * 1024
        print("hostile memory: peak RSS \(rss) KiB, sample \(base.peakRSSKiB) KiB, bound \(boundKiB) KiB, "
              + "uncapped would hold \(Self.uncappedBytes / 1024) KiB more")
        #expect(rss <= boundKiB, "peak RSS \(rss) KiB over the bound \(boundKiB) KiB")
        #expect(boundKiB < base.peakRSSKiB + Self.uncappedBytes / 1024, "the bound must be below holding everything")
    }

    static func number(before suffix: String, in text: String) -> Int? {
        guard let r = text.range(of: suffix) else { return nil }
        let digits = text[..<r.lowerBound].reversed().prefix { $0.isNumber }
        return Int(String(digits.reversed()))
    }

    static func number(after prefix: String, in text: String) -> Int? {
        guard let r = text.range(of: prefix) else { return nil }
        return Int(String(text[r.upperBound...].prefix { $0.isNumber }))
    }

    // MARK: the capture

    /// An Ethernet pcap of the three floods, one microsecond apart (well inside every
    /// timeout, so nothing leaves by age).
    static func hoardingCapture() -> Data {
        var pcap = PcapBytes()
        let victim: [UInt32] = [0xC000_0201, 0xC000_0202, 0xC000_0203]  // 192.0.2.1-3
        let filler = [UInt8](repeating: 0x5A, count: 1500)

        // Datagrams of 8 fragments, More Fragments set on each: the last never comes.
        for i in 0..<fragmentDatagrams {
            let src = 0x0A01_0000 | UInt32(i)
            for k in 0..<fragmentsEach {
                let offsetUnits = UInt16(k * fragmentBytes / 8)
                pcap.add(ipv4(src: src, dst: victim[0], proto: 17, id: UInt16(i & 0xFFFF),
                              flagsOffset: 0x2000 | offsetUnits, payload: filler[0..<fragmentBytes]))
            }
        }
        // Streams whose first 1400 bytes never arrive; the rest does, segment by segment,
        // all flows at once.
        for k in 0...segmentsEach {
            for f in 0..<holedFlows {
                let src = 0x0A02_0000 | UInt32(f)
                let sport = UInt16(40000 + f % 20000)
                if k == 0 {
                    pcap.add(ipv4(src: src, dst: victim[1], proto: 6, id: 1, flagsOffset: 0x4000,
                                  payload: tcp(sport: sport, dport: 80, seq: 1000, flags: 0x02, payload: [])[...]))
                } else {
                    let seq = UInt32(1001 + k * segmentBytes)
                    let segment = tcp(sport: sport, dport: 80, seq: seq, flags: 0x18, payload: filler[0..<segmentBytes])
                    pcap.add(ipv4(src: src, dst: victim[1], proto: 6, id: UInt16(k), flagsOffset: 0x4000,
                                  payload: segment[...]))
                }
            }
        }
        // SYNs with data, each from a new client.
        for i in 0..<synFlood {
            let src = 0x0A03_0000 | UInt32(i)
            let segment = tcp(sport: UInt16(1024 + i % 60000), dport: 443, seq: UInt32(i), flags: 0x02,
                              payload: filler[0..<synBytes])
            pcap.add(ipv4(src: src, dst: victim[2], proto: 6, id: 1, flagsOffset: 0x4000, payload: segment[...]))
        }
        return pcap.data
    }

    struct PcapBytes {
        var data = Data()
        var micros: UInt32 = 0

        init() {
            // Magic, version 2.4, zone 0, sigfigs 0, snaplen 65535, LINKTYPE_ETHERNET.
            for v: UInt32 in [0xA1B2_C3D4] { data.append(le32(v)) }
            data.append(contentsOf: [2, 0, 4, 0])
            for v: UInt32 in [0, 0, 65535, 1] { data.append(le32(v)) }
        }

        mutating func add(_ frame: [UInt8]) {
            micros += 1
            let seconds: UInt32 = 1_700_000_000 + micros / 1_000_000
            for v in [seconds, micros % 1_000_000, UInt32(frame.count), UInt32(frame.count)] { data.append(le32(v)) }
            data.append(contentsOf: frame)
        }

        func le32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    }

    /// Ethernet II + IPv4 (no options, header checksum filled in).
    static func ipv4(src: UInt32, dst: UInt32, proto: UInt8, id: UInt16, flagsOffset: UInt16,
                     payload: ArraySlice<UInt8>) -> [UInt8] {
        var f: [UInt8] = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00]
        let total = UInt16(20 + payload.count)
        var ip: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), UInt8(id >> 8), UInt8(id & 0xFF),
                           UInt8(flagsOffset >> 8), UInt8(flagsOffset & 0xFF), 64, proto, 0, 0]
        for a in [src, dst] { ip += [UInt8(a >> 24), UInt8((a >> 16) & 0xFF), UInt8((a >> 8) & 0xFF), UInt8(a & 0xFF)] }
        var sum: UInt32 = 0
        for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(ip[i]) << 8 | UInt32(ip[i + 1]) }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        ip[10] = UInt8(checksum >> 8)
        ip[11] = UInt8(checksum & 0xFF)
        f += ip
        f += payload
        return f
    }

    /// A TCP header without options (checksum left 0: Sniff, like tcpdump, does not
    /// verify it) and its payload.
    static func tcp(sport: UInt16, dport: UInt16, seq: UInt32, flags: UInt8, payload: ArraySlice<UInt8>) -> [UInt8] {
        var t: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF)]
        t += [UInt8(seq >> 24), UInt8((seq >> 16) & 0xFF), UInt8((seq >> 8) & 0xFF), UInt8(seq & 0xFF)]
        t += [0, 0, 0, 0, 0x50, flags, 0xFF, 0xFF, 0, 0, 0, 0]
        t += payload
        return t
    }
}
