import SniffCore
import SniffDecode
import SniffCapture
#if canImport(Glibc)
import Glibc
#endif

// The libFuzzer entry points. One binary holds every target; FUZZ_TARGET picks one.
// Built and run by scripts/fuzz.sh, not by SwiftPM.

nonisolated(unsafe) var fuzzTarget = ""

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let target = getenv("FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard FuzzTargets.all.contains(target) else {
        let message = "sniff-fuzz: set FUZZ_TARGET to one of: \(FuzzTargets.all.joined(separator: " "))\n"
        _ = message.withCString { Glibc.write(2, $0, strlen($0)) }
        exit(2)
    }
    fuzzTarget = target
    // Seed mode: FUZZ_SEED_OUT=DIR FUZZ_SEED_FROM="file1\nfile2..." writes the target's
    // seeds into DIR and exits before fuzzing.
    if let out = getenv("FUZZ_SEED_OUT").map({ String(cString: $0) }) {
        let from = getenv("FUZZ_SEED_FROM").map { String(cString: $0) } ?? ""
        let files = from.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        let n = Seeds.write(target: target, from: files, into: out)
        print("sniff-fuzz: \(n) seeds for \(target) in \(out)")
        exit(0)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzTargets.run(fuzzTarget, UnsafeRawBufferPointer(start: data, count: size))
    if let first = FuzzTargets.failures.first {
        // A broken promise is a finding like a crash: stop so that libFuzzer keeps it.
        fatalError("fuzz check failed: \(first)")
    }
    return 0
}

/// Seeds for each target, cut from real captures: whole files for the readers,
/// frames by link type, IP packets, TCP segments, DNS messages and the first payloads
/// of TCP and UDP flows for the parsers, and packet records for flows and report.
enum Seeds {
    static func write(target: String, from files: [String], into dir: String) -> Int {
        var seeds: [[UInt8]] = []
        for file in files {
            guard let bytes = readFile(file) else { continue }
            if file.contains("/Regressions/") {
                // Kept findings seed the target they belong to, as they are.
                let name = file.split(separator: "/").last.map(String.init) ?? ""
                if name.hasPrefix(target + "-") { seeds.append(bytes) }
                continue
            }
            let magic = bytes.count >= 4 ? UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24 : 0
            let isPcapng = magic == 0x0A0D_0D0A
            switch target {
            case "pcap", "pcapng":
                guard isPcapng == (target == "pcapng") else { continue }
                // Small files whole; big ones cut (a cut file is a good seed too).
                seeds.append(Array(bytes.prefix(48 << 10)))
                if bytes.count > 4096 { seeds.append(Array(bytes.prefix(4096))) }
            default:
                seeds.append(contentsOf: fromFrames(target: target, path: file))
            }
        }
        if target == "ip_reassembly" {
            // Settings (16 datagrams, 140 kB, 30 s), a UDP header to port 53 as the
            // template, then a 4000-byte datagram in four fragments in order, and the
            // same out of order with a duplicate, for each IP version.
            let template: [UInt8] = [0x9d, 0x5d, 0x00, 0x35, 0x0f, 0xa8, 0, 0, 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0]
            var s: [UInt8] = [15, 1, 29, UInt8(template.count - 8)] + template
            for v6: UInt8 in [0, 1] {
                for (k, unit) in [0, 157, 314, 471, 314, 0, 471, 157, 157].enumerated() {
                    let last = unit == 471
                    let length = last ? 4008 - 471 * 8 : 1256
                    let flags: UInt8 = v6 | (last ? 0 : 2) | (k >= 4 ? 4 : 0)
                    s += [flags, UInt8(unit >> 8), UInt8(unit & 0xFF), UInt8(length >> 8), UInt8(length & 0xFF), 1, 0]
                }
            }
            seeds.append(s)
        }
        if target == "tcp_reassembly" {
            // Budget 4096, a roomy cap, a 200-byte template, then one stream in order
            // across the wrap, the same again out of order with a changed copy.
            var s: [UInt8] = [0x10, 0x00, 0x80, 0x00, 199]
            for i in 0..<200 { s.append(UInt8(truncatingIfNeeded: i &* 7)) }
            s += [0x0F, 0xF0]
            for (k, off) in [1024, 1524, 2024, 2524, 2024, 1024, 2524, 1524].enumerated() {
                s += [k >= 4 ? 0x10 | 1 : 0, UInt8(off >> 8), UInt8(off & 0xFF), 0x01, 0xF4]
                s += [k >= 4 ? 0x08 : 0x08 | 2, UInt8(off >> 8), UInt8(off & 0xFF), 0x01, 0xF4]
            }
            seeds.append(s)
        }
        if target == "flows" || target == "transactions" || target == "report" || target == "ip_reassembly" || target == "tcp_reassembly" {
            // Packets built from fields: a few fixed pseudo-random programs.
            var x: UInt64 = 0x9E37_79B9_7F4A_7C15
            for _ in 0..<16 {
                var s: [UInt8] = []
                for _ in 0..<512 {
                    x ^= x << 13; x ^= x >> 7; x ^= x << 17
                    s.append(UInt8(truncatingIfNeeded: x))
                }
                seeds.append(s)
            }
        }
        mkdir(dir, 0o755)
        var written = Set<UInt64>()
        for s in seeds where !s.isEmpty {
            let h = s.withUnsafeBytes { FuzzTargets.fnv($0, 0xCBF2_9CE4_8422_2325) }
            guard written.insert(h).inserted else { continue }
            writeFile("\(dir)/seed-\(String(h, radix: 16))", s)
        }
        return written.count
    }

    static func fromFrames(target: String, path: String) -> [[UInt8]] {
        guard let reader = try? CaptureFileReader(path: path) else { return [] }
        var out: [[UInt8]] = []
        var record: [UInt8] = []
        var lastTime: Timestamp? = nil
        var perFile = 0
        while let raw = try? reader.next(), perFile < 400 {
            let frame = Array(raw.bytes)
            let link = raw.link
            var p = DecodedPacket()
            p.capturedLength = UInt32(frame.count)
            p.wireLength = raw.wireLength
            PacketDecoder.decode(raw.bytes, link: link, into: &p)
            let before = out.count
            switch target {
            case "ethernet": if link == .ethernet { out.append(frame) }
            case "linux_sll": if link == .linuxSLL { out.append(frame) }
            case "linux_sll2": if link == .linuxSLL2 { out.append(frame) }
            case "null": if link == .null || link == .loop { out.append(frame) }
            case "raw": if [LinkType.raw, .rawOpenBSD, .rawBSDOS, .ipv4, .ipv6].contains(link) { out.append(frame) }
            case "ipv4", "ipv6":
                if let ip = ipPacket(frame, link: link), ip.first.map({ $0 >> 4 }) == (target == "ipv4" ? 4 : 6) { out.append(ip) }
            case "tcp":
                if p.hasTCP, p.payloadOffset >= Int(p.tcp.headerLength), p.tcp.headerLength >= 20 {
                    let start = p.payloadOffset - Int(p.tcp.headerLength)
                    out.append(Array(frame[start..<(p.payloadOffset + p.payloadCaptured)]))
                }
            case "dns":
                if p.hasDNS { out.append(Array(frame[p.dns.messageOffset..<(p.dns.messageOffset + p.dns.messageLength)])) }
            case "detectors":
                if p.payloadCaptured > 0 { out.append(Array(frame[p.payloadOffset..<(p.payloadOffset + p.payloadCaptured)])) }
            case "x509":
                // TLS records as they start a segment, and the DER of the certificates
                // of a Certificate message that starts one.
                guard p.payloadCaptured > 6, frame[p.payloadOffset] == 0x16 else { break }
                let payload = Array(frame[p.payloadOffset..<(p.payloadOffset + p.payloadCaptured)])
                out.append(payload)
                if payload[5] == 11, payload.count > 15 {
                    let n = Int(payload[12]) << 16 | Int(payload[13]) << 8 | Int(payload[14])
                    if n > 0, 15 + n <= payload.count { out.append(Array(payload[15..<(15 + n)])) }
                }
            case "tls", "http", "quic_initial", "tls_fingerprint":
                if p.payloadCaptured > 0 {
                    let payload = Array(frame[p.payloadOffset..<(p.payloadOffset + p.payloadCaptured)])
                    let first = payload[0]
                    let wanted: Bool
                    switch target {
                    case "tls": wanted = first == 0x16 || first & 0xC0 == 0xC0
                    case "quic_initial": wanted = first & 0xC0 == 0xC0
                    case "tls_fingerprint": wanted = first == 0x16
                    default: wanted = first >= 0x41 && first <= 0x5A
                    }
                    if wanted { out.append(payload) }
                    // The decrypted frames too: random bytes never authenticate, so the
                    // frame and CRYPTO code is reached through seeds like these.
                    if target == "quic_initial", wanted, let opened = payload.withUnsafeBytes({ b -> [UInt8]? in
                        let c = ByteCursor(b)
                        guard let h = QUIC.parseLongHeader(c, at: 0, length: b.count),
                              let id = c.slice(at: h.dcidOffset, count: h.dcidLength),
                              let keys = QUICInitialKeys(version: h.version, dcid: id, server: false) else { return nil }
                        return QUICInitial.open(c, at: 0, length: b.count, keys: keys)?.payload
                    }) { out.append(opened) }
                }
            case "flows", "transactions", "report":
                // One record per frame (op bit 7: a real frame), 200 per seed.
                guard let code = PacketRecords.links.firstIndex(of: link) else { break }
                let dtMs = lastTime.map { min(0xFFFF, max(0, raw.timestamp.nanoseconds(since: $0) / 1_000_000)) } ?? 0
                lastTime = raw.timestamp
                let f = frame.prefix(2047)
                record.append(0x80 | UInt8(code))
                record.append(UInt8(dtMs >> 8)); record.append(UInt8(dtMs & 0xFF))
                record.append(UInt8(f.count >> 8)); record.append(UInt8(f.count & 0xFF))
                record.append(contentsOf: f)
                perFile += 1
                if perFile % 200 == 0 { out.append(record); record = [] }
            default:
                break
            }
            if out.count > before && target != "flows" && target != "transactions" && target != "report" { perFile += 1 }
        }
        if !record.isEmpty { out.append(record) }
        if target == "flows" || target == "transactions" || target == "report" {
            // The targets read their settings first: for flows a cap of 64 flows, no
            // established or active timeout, 10 s for closed TCP, 60 s for the rest,
            // 6 packets inspected; for report 64 expected endpoints and a limit of 512.
            let header: [UInt8] = target != "report" ? [63, 16, 0, 10, 60, 60, 60, 0, 6] : [63, 0x01, 0xFF]
            out = out.map { header + $0 }
        }
        return out
    }

    /// The IP packet inside a frame: after the link header and any VLAN tags.
    static func ipPacket(_ f: [UInt8], link: LinkType) -> [UInt8]? {
        var off: Int
        switch link.rawValue {
        case 1:
            off = 12
            while off + 2 <= f.count, f[off] == 0x81 || f[off] == 0x88, f[off + 1] == 0x00 || f[off + 1] == 0xA8 { off += 4 }
            off += 2
        case 113: off = 16
        case 276: off = 20
        case 0, 108: off = 4
        default: off = 0
        }
        guard off < f.count else { return nil }
        return Array(f[off...])
    }

    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
