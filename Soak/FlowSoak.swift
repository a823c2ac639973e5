import SniffCore
import SniffDecode
import SniffAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// A day of traffic in packet time through a FlowTable, with flows that come and go,
/// sampling the resident memory at the end of every simulated hour.
///
/// Each simulated minute brings `flowsPerMinute` new flows, spread evenly: 70% short
/// TCP connections (handshake, a TLS ClientHello with SNI, FIN both ways), 25% DNS
/// over UDP (query and answer), 5% TCP connections that are established and then go
/// quiet until the one-hour idle timeout takes them. Every finished flow is written as
/// NDJSON, as `sniff --flows` does. After the first hour the table holds a steady
/// population, so memory must stop growing.
///
/// Shared by SoakTests (a scaled-down day in the debug suite, through a symlink) and
/// scripts/soak.sh (the full rate, release build).
enum FlowSoak {
    struct Sample: Sendable {
        var hour: Int
        var rssKiB: Int
        var openFlows: Int
        var flowsEnded: UInt64
        var packets: UInt64

        var line: String {
            "soak hour \(hour) rss_kib \(rssKiB) open_flows \(openFlows) flows_ended \(flowsEnded) packets \(packets)"
        }
    }

    /// VmRSS of this process, in KiB (0 when /proc is not there).
    static func rssKiB() -> Int {
        let fd = open("/proc/self/status", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &buf, buf.count)
        guard n > 0 else { return 0 }
        let text = String(decoding: buf[0..<n], as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.dropFirst(6).filter { $0.isNumber }) ?? 0
        }
        return 0
    }

    /// Writes finished flows as NDJSON into a buffer that is emptied as a file
    /// writer would empty it.
    final class Sink: FlowObserver {
        let writer = FlowNDJSONWriter()
        var buffer = ByteSink(capacity: 1 << 16)
        var ended: UInt64 = 0

        func flowEnded(_ flow: Flow, reason: FlowEndReason) {
            ended &+= 1
            writer.write(flow, reason: reason, into: &buffer)
            if buffer.count > 60_000 { buffer.removeAll() }
        }
    }

    static let nanosPerSecond: Int64 = 1_000_000_000

    /// Runs `hours` simulated hours; calls `sample` at the end of each.
    static func run(hours: Int, flowsPerMinute: Int, sample: (Sample) -> Void) {
        let sink = Sink()
        let table = FlowTable(config: FlowTableConfig(), observer: sink)
        let tls = clientHelloFrame(sni: "soak.example.test")
        let dns = dnsQueryFrame(name: "soak.example.test")
        var packets: UInt64 = 0
        let start: Int64 = 1_700_000_000 * nanosPerSecond
        let spacing = 60 * nanosPerSecond / Int64(flowsPerMinute)
        var flow = 0
        for hour in 1...hours {
            for minute in 0..<60 {
                let minuteStart = start + Int64((hour - 1) * 3600 + minute * 60) * nanosPerSecond
                for j in 0..<flowsPerMinute {
                    let t = minuteStart + Int64(j) * spacing
                    packets &+= emit(flow: flow, at: t, table: table, tls: tls, dns: dns)
                    flow += 1
                }
            }
            table.expire(now: Timestamp(totalNanoseconds: start + Int64(hour * 3600) * nanosPerSecond))
            sample(Sample(hour: hour, rssKiB: rssKiB(), openFlows: table.count, flowsEnded: sink.ended,
                          packets: packets))
        }
        table.flush()
    }

    /// The packets of flow number `i`, 20 µs apart from `t`; returns how many.
    static func emit(flow i: Int, at t: Int64, table: FlowTable, tls: [UInt8], dns: [UInt8]) -> UInt64 {
        let client = IPAddress(v4: 0x0A00_0000 | UInt32(truncatingIfNeeded: i) & 0x00FF_FFFF)
        let server = IPAddress(v4: 0xC0A8_0000 | UInt32(i % 4) << 8 | UInt32(i % 250 + 1))
        let cport = UInt16(1024 + i % 60_000)
        let kind = i % 20
        var n: UInt64 = 0
        var p = DecodedPacket()
        func send(_ fromClient: Bool, proto: UInt8, sport: UInt16, dport: UInt16, flags: UInt16 = 0,
                  seq: UInt32 = 0, ack: UInt32 = 0, payload: Int = 0, frame: [UInt8] = [], payloadOffset: Int = 0,
                  isDNS: Bool = false) {
            p.reset()
            p.timestamp = Timestamp(totalNanoseconds: t + Int64(n) * 20_000)
            p.ipVersion = 4
            p.src = fromClient ? client : server
            p.dst = fromClient ? server : client
            p.ipProto = proto
            p.transport = proto == 6 ? .tcp : .udp
            p.hasPorts = true
            p.sport = fromClient ? sport : dport
            p.dport = fromClient ? dport : sport
            p.ipHeaderLength = 20
            p.ipTotalLength = UInt32(20 + (proto == 6 ? 20 : 8) + payload)
            p.wireLength = p.ipTotalLength + 14
            p.capturedLength = UInt32(max(frame.count, Int(p.wireLength)))
            if proto == 6 {
                p.hasTCP = true
                p.tcp.flags = flags
                p.tcp.seq = seq
                p.tcp.ack = ack
                p.tcp.window = 65535
                p.tcp.headerLength = 20
            }
            p.hasPayloadLength = true
            p.payloadLength = UInt32(payload)
            if !frame.isEmpty {
                p.payloadOffset = payloadOffset
                p.payloadCaptured = frame.count - payloadOffset
            }
            if isDNS {
                p.hasDNS = true
                p.dns.id = UInt16(truncatingIfNeeded: i)
                p.dns.flags = fromClient ? 0x0100 : 0x8180
                p.dns.messageOffset = payloadOffset
                p.dns.messageLength = frame.count - payloadOffset
                p.dns.questionOffset = 12
                p.dns.questionCount = 1
                p.dns.qtype = 1
            }
            _ = frame.withUnsafeBytes { table.process(p, frame: $0, now: p.timestamp) }
            n += 1
        }
        let s: UInt32 = 1000, r: UInt32 = 5000
        switch kind {
        case 0..<14:  // a short TLS connection
            send(true, proto: 6, sport: cport, dport: 443, flags: TCP.syn, seq: s)
            send(false, proto: 6, sport: cport, dport: 443, flags: TCP.syn | TCP.ack, seq: r, ack: s + 1)
            let hello = tls.count - 54
            send(true, proto: 6, sport: cport, dport: 443, flags: TCP.ack | TCP.psh, seq: s + 1, ack: r + 1,
                 payload: hello, frame: tls, payloadOffset: 54)
            send(true, proto: 6, sport: cport, dport: 443, flags: TCP.fin | TCP.ack, seq: s + 1 + UInt32(hello),
                 ack: r + 1)
            send(false, proto: 6, sport: cport, dport: 443, flags: TCP.fin | TCP.ack, seq: r + 1,
                 ack: s + 2 + UInt32(hello))
            send(true, proto: 6, sport: cport, dport: 443, flags: TCP.ack, seq: s + 2 + UInt32(hello), ack: r + 2)
        case 14..<19:  // DNS over UDP
            let len = dns.count - 42
            send(true, proto: 17, sport: cport, dport: 53, payload: len, frame: dns, payloadOffset: 42, isDNS: true)
            send(false, proto: 17, sport: cport, dport: 53, payload: len, frame: dns, payloadOffset: 42, isDNS: true)
        default:  // established, then idle
            send(true, proto: 6, sport: cport, dport: 22, flags: TCP.syn, seq: s)
            send(false, proto: 6, sport: cport, dport: 22, flags: TCP.syn | TCP.ack, seq: r, ack: s + 1)
            send(true, proto: 6, sport: cport, dport: 22, flags: TCP.ack, seq: s + 1, ack: r + 1)
        }
        return n
    }

    /// 54 bytes standing for Ethernet, IPv4 and TCP headers, then a TLS record with a
    /// ClientHello naming `sni`.
    static func clientHelloFrame(sni: String) -> [UInt8] {
        let name = Array(sni.utf8)
        var ext: [UInt8] = [0, 0]  // server_name
        let list = [UInt8(0)] + be16(name.count) + name
        ext += be16(list.count + 2) + be16(list.count) + list
        var body: [UInt8] = [3, 3] + [UInt8](repeating: 7, count: 32) + [0]  // version, random, no session id
        body += be16(2) + [0x13, 0x01] + [1, 0]                              // one suite, null compression
        body += be16(ext.count) + ext
        let handshake: [UInt8] = [1, 0] + be16(body.count) + body
        let record: [UInt8] = [22, 3, 1] + be16(handshake.count) + handshake
        return [UInt8](repeating: 0, count: 54) + record
    }

    /// 42 bytes standing for Ethernet, IPv4 and UDP headers, then a DNS query for `name`.
    static func dnsQueryFrame(name: String) -> [UInt8] {
        var msg: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") { msg.append(UInt8(label.utf8.count)); msg += Array(label.utf8) }
        msg += [0, 0, 1, 0, 1]
        return [UInt8](repeating: 0, count: 42) + msg
    }

    static func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
}
