import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// Writes a deterministic synthetic pcap of small packets for benchmarks.
///
/// The mix (per flow, chosen by a seeded generator):
/// - 50% DNS queries over UDP that get no answer (1 packet), fresh source port each;
/// - 35% DNS query + response over UDP (2 packets);
/// - 15% short TCP connections: SYN, SYN-ACK, ACK, request, response, FIN/ACK, FIN/ACK,
///   ACK (8 packets), with small payloads;
/// - 10% of all flows over IPv6.
/// Frames are 60 to ~200 bytes; about 2.4 packets per flow, so 3.6 M packets make
/// ~1.5 M flows. Up to 512 flows are open at once and their packets interleave.
///
/// The `mixed` profile adds bulk TCP transfers so that the size mix looks like a real
/// link rather than a DNS flood: 8% of flows are downloads of 10 to 90 full-size
/// segments (1514-byte frames, 1534 over IPv6) from the server, each second one
/// acknowledged by the client (60-byte frames), the rest split as above (46% / 32% /
/// 14%). Measured on the default 1.5 M packets: 730 bytes per frame on average, 55% of
/// the frames under 200 bytes, 94% of the bytes in full-size frames; 1.1 GB.
struct SyntheticCapture {
    enum Profile: String { case small, mixed }
    var rng: SplitMix64
    let packets: Int
    let profile: Profile

    init(packets: Int, profile: Profile = .small, seed: UInt64 = 0x5eed) {
        self.packets = packets
        self.profile = profile
        rng = SplitMix64(seed: seed)
    }

    struct FlowPlan {
        var kind: UInt8        // 0 dns-noanswer, 1 dns, 2 tcp
        var v6: Bool
        var client: UInt32
        var server: UInt32
        var sport: UInt16
        var dport: UInt16
        var step: Int
        var steps: Int
        var seqC: UInt32
        var seqS: UInt32
        var segments = 0       // bulk transfers: data segments sent so far
        var total = 0          // bulk transfers: data segments to send
    }

    mutating func newFlow() -> FlowPlan {
        let r = rng.next() % 100
        let kind: UInt8
        if profile == .mixed {
            kind = r < 8 ? 3 : (r < 54 ? 0 : (r < 86 ? 1 : 2))
        } else {
            kind = r < 50 ? 0 : (r < 85 ? 1 : 2)
        }
        let v6 = rng.next() % 10 == 0
        let client = UInt32(truncatingIfNeeded: rng.next())
        let server = UInt32(truncatingIfNeeded: rng.next() % 4096)
        let sport = UInt16(1024 + rng.next() % 64000)
        let ports: [UInt16] = [80, 443, 22, 8080, 5432]
        let dport: UInt16 = kind >= 2 ? ports[Int(rng.next() % 5)] : 53
        // A bulk transfer: handshake (3), request (1), `total` segments with an ACK after
        // each second one, FIN/ACK both ways and the last ACK (3).
        let total = kind == 3 ? 10 + Int(rng.next() % 81) : 0
        let steps = kind == 0 ? 1 : (kind == 1 ? 2 : (kind == 2 ? 8 : 4 + total + total / 2 + 3))
        return FlowPlan(kind: kind, v6: v6, client: client, server: server, sport: sport, dport: dport,
                        step: 0, steps: steps, seqC: UInt32(truncatingIfNeeded: rng.next()),
                        seqS: UInt32(truncatingIfNeeded: rng.next()), segments: 0, total: total)
    }

    /// Writes the capture; returns (packets, bytes of frames).
    mutating func write(to path: String) throws -> (Int, Int) {
        guard let f = fopen(path, "wb") else { throw RuntimeFailure("cannot create \(path)") }
        defer { fclose(f) }
        var out = ByteSink(capacity: 8 << 20)
        func u32le(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(bytes: $0) } }
        func u16le(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { out.append(bytes: $0) } }
        u32le(0xA1B2_C3D4); u16le(2); u16le(4); u32le(0); u32le(0); u32le(262_144); u32le(1)

        var open: [FlowPlan] = []
        open.reserveCapacity(512)
        var frame = [UInt8](repeating: 0, count: 1600)
        var written = 0
        var bytes = 0
        var tsUsec: UInt64 = 1_700_000_000_000_000
        while written < packets {
            if open.count < 512 { open.append(newFlow()) }
            let i = Int(rng.next() % UInt64(open.count))
            let len = build(&open[i], into: &frame)
            open[i].step += 1
            if open[i].step >= open[i].steps { open.swapAt(i, open.count - 1); open.removeLast() }
            tsUsec += 1 + rng.next() % 3
            u32le(UInt32(tsUsec / 1_000_000)); u32le(UInt32(tsUsec % 1_000_000))
            u32le(UInt32(len)); u32le(UInt32(len))
            frame.withUnsafeBytes { out.append(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<len])) }
            written += 1
            bytes += len
            if out.count > 4 << 20 {
                out.bytes.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, f) }
                out.removeAll()
            }
        }
        out.bytes.withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, f) }
        return (written, bytes)
    }

    /// Builds the next frame of a flow into `buf`; returns its length.
    mutating func build(_ fl: inout FlowPlan, into buf: inout [UInt8]) -> Int {
        var fromClient = true
        var tcpFlags: UInt8 = 0
        var payload = 0
        switch fl.kind {
        case 0:
            fromClient = true; payload = 28 + Int(rng.next() % 20)
        case 1:
            fromClient = fl.step == 0; payload = fl.step == 0 ? 28 + Int(rng.next() % 20) : 60 + Int(rng.next() % 80)
        case 3:
            let bulkStart = 4, bulkEnd = fl.steps - 3
            if fl.step < bulkStart {
                let plan: [(Bool, UInt8, Int)] = [
                    (true, 0x02, 0), (false, 0x12, 0), (true, 0x10, 0), (true, 0x18, 60 + Int(rng.next() % 60))
                ]
                (fromClient, tcpFlags, payload) = plan[fl.step]
            } else if fl.step < bulkEnd {
                // Two segments, then an ACK from the client.
                if (fl.step - bulkStart) % 3 == 2 {
                    fromClient = true; tcpFlags = 0x10
                } else {
                    fromClient = false; tcpFlags = 0x10; payload = fl.v6 ? 1440 : 1460; fl.segments += 1
                }
            } else {
                let plan: [(Bool, UInt8, Int)] = [(false, 0x11, 0), (true, 0x11, 0), (false, 0x10, 0)]
                (fromClient, tcpFlags, payload) = plan[fl.step - bulkEnd]
            }
        default:
            let plan: [(Bool, UInt8, Int)] = [
                (true, 0x02, 0), (false, 0x12, 0), (true, 0x10, 0), (true, 0x18, 40 + Int(rng.next() % 60)),
                (false, 0x18, 60 + Int(rng.next() % 80)), (true, 0x11, 0), (false, 0x11, 0), (true, 0x10, 0)
            ]
            let s = plan[fl.step]
            fromClient = s.0; tcpFlags = s.1; payload = s.2
        }
        let isTCP = fl.kind >= 2
        let l4 = isTCP ? 20 : 8
        let ipLen = (fl.v6 ? 40 : 20)
        let total = 14 + ipLen + l4 + payload
        var o = 0
        func put8(_ v: UInt8) { buf[o] = v; o += 1 }
        func put16(_ v: UInt16) { buf[o] = UInt8(v >> 8); buf[o + 1] = UInt8(v & 0xFF); o += 2 }
        func put32(_ v: UInt32) { put16(UInt16(v >> 16)); put16(UInt16(v & 0xFFFF)) }
        // Ethernet
        for b: UInt8 in [0x02, 0, 0, 0, 0, fromClient ? 2 : 1, 0x02, 0, 0, 0, 0, fromClient ? 1 : 2] { put8(b) }
        put16(fl.v6 ? 0x86DD : 0x0800)
        // Clients live in 10.0.0.0/8 (2001:db8::/96), servers in 192.168.0.0/16 (2001:db8::1:0:0/96).
        let clientV4 = 0x0A00_0000 | (fl.client & 0x00FF_FFFF)
        let serverV4 = 0xC0A8_0000 | (fl.server & 0xFFFF)
        let src4 = fromClient ? clientV4 : serverV4, dst4 = fromClient ? serverV4 : clientV4
        let src6 = fromClient ? fl.client : fl.server, dst6 = fromClient ? fl.server : fl.client
        let srcNet: UInt32 = fromClient ? 0 : 1, dstNet: UInt32 = fromClient ? 1 : 0
        if fl.v6 {
            put32(0x6000_0000); put16(UInt16(l4 + payload)); put8(isTCP ? 6 : 17); put8(64)
            put32(0x2001_0db8); put32(0); put32(srcNet); put32(src6)
            put32(0x2001_0db8); put32(0); put32(dstNet); put32(dst6)
        } else {
            put8(0x45); put8(0); put16(UInt16(20 + l4 + payload)); put16(0); put16(0x4000); put8(64);
            put8(isTCP ? 6 : 17); put16(0)
            put32(src4); put32(dst4)
        }
        let sp = fromClient ? fl.sport : fl.dport
        let dp = fromClient ? fl.dport : fl.sport
        put16(sp); put16(dp)
        if isTCP {
            put32(fromClient ? fl.seqC : fl.seqS); put32(fromClient ? fl.seqS : fl.seqC)
            put8(0x50); put8(tcpFlags); put16(64240); put16(0); put16(0)
            if fromClient {
                fl.seqC &+= UInt32(payload) + (tcpFlags & 0x03 != 0 ? 1 : 0)
            } else {
                fl.seqS &+= UInt32(payload) + (tcpFlags & 0x03 != 0 ? 1 : 0)
            }
        } else {
            put16(UInt16(8 + payload)); put16(0)
        }
        if fl.dport == 53 && payload >= 17 {
            // A DNS header and a question "bench<n>.example." so DNS decoding is exercised.
            put16(UInt16(truncatingIfNeeded: fl.sport)); put16(fromClient ? 0x0100 : 0x8180); put16(1);
            put16(fromClient ? 0 : 1); put16(0); put16(0)
            var left = payload - 12
            let name: [UInt8] = [5, 98, 101, 110, 99, 104, 7, 101, 120, 97, 109, 112, 108, 101, 0, 0, 1, 0, 1]
            for b in name where left > 0 { put8(b); left -= 1 }
            while left > 0 { put8(0); left -= 1 }
        } else {
            for _ in 0..<payload { put8(0x41) }
        }
        return total
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
