import SniffCore
import SniffDecode
import SniffCapture
import SniffAnalysis
#if canImport(Glibc)
import Glibc
#endif

/// The fuzz targets: each takes arbitrary bytes and drives one reader, decoder or
/// writer the way Sniff does, then checks what the result promises (offsets inside the
/// frame, valid JSON, bounded tables). A trap or a failed check is a finding.
///
/// This file is compiled twice: into the libFuzzer binary by `scripts/fuzz.sh` (with
/// `Fuzz/Main.swift`), and into SniffAnalysisTests through a symlink, where
/// `RegressionTests` replays every file of `Tests/Regressions/` through the target its
/// name starts with. It uses only the modules' public API.
enum FuzzTargets {
    /// Every target, in the order `scripts/fuzz.sh all` runs them.
    static let all = ["pcap", "pcapng", "ethernet", "linux_sll", "linux_sll2", "null", "raw",
                      "ipv4", "ipv6", "ip_reassembly", "tcp_reassembly", "tcp", "dns", "tls", "quic_initial",
                      "tls_fingerprint", "http",
                      "x509", "detectors",
                      "flows", "transactions", "report"]

    /// Runs `target` on `data`; false when there is no such target. Broken promises
    /// are left in `failures` (the harness stops on them; the regression tests report
    /// them); a trap stops the process wherever it runs.
    @discardableResult
    static func run(_ target: String, _ data: UnsafeRawBufferPointer) -> Bool {
        failures.removeAll()
        switch target {
        case "pcap", "pcapng": captureFile(data)
        case "ethernet": frame(data, links: [.ethernet])
        case "linux_sll": frame(data, links: [.linuxSLL])
        case "linux_sll2": frame(data, links: [.linuxSLL2])
        case "null": frame(data, links: [.null, .loop])
        case "raw": frame(data, links: [.raw, .rawOpenBSD])
        case "ipv4": ipv4(data)
        case "ipv6": ipv6(data)
        case "ip_reassembly": ipReassembly(data)
        case "tcp_reassembly": tcpReassembly(data)
        case "tcp": tcp(data)
        case "dns": dns(data)
        case "tls": tls(data)
        case "quic_initial": quicInitial(data)
        case "tls_fingerprint": tlsFingerprint(data)
        case "http": http(data)
        case "x509": x509(data)
        case "detectors": detectors(data)
        case "flows": flows(data)
        case "transactions": transactions(data)
        case "report": report(data)
        default: return false
        }
        return true
    }

    /// The checks that failed in the last `run`, with where they are.
    nonisolated(unsafe) static var failures: [String] = []

    static func require(_ condition: Bool, _ what: @autoclosure () -> String,
                        file: StaticString = #fileID, line: UInt = #line) {
        if !condition, failures.count < 16 { failures.append("\(file):\(line): \(what())") }
    }

    // Reused between runs, as Sniff reuses them between packets.
    nonisolated(unsafe) static var json = PacketJSONWriter()
    nonisolated(unsafe) static var sink = ByteSink(capacity: 1 << 16)

    // MARK: capture files

    /// Whole-file bytes through CaptureFileReader, once mapped (a regular file) and once
    /// streamed (a pipe on standard input, as `sniff -r -` reads): both must return
    /// the same frames, warnings and outcome. Frames of the mapped pass are decoded.
    static func captureFile(_ data: UnsafeRawBufferPointer) {
        let mapped = readCapture(path: ScratchFile.shared.write(data), decode: true)
        guard let streamed = withStdinPipe(data, { readCapture(path: "-", decode: false) }) else { return }
        require(mapped == streamed, "mapped and streamed reads differ: \(mapped) vs \(streamed)")
    }

    struct ReadOutcome: Equatable, CustomStringConvertible {
        var opened = false
        var packets = 0
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var warnings: [String] = []
        var failed = false
        var description: String {
            "opened \(opened), \(packets) packets, hash \(hash), warnings \(warnings), failed \(failed)"
        }
    }

    static func readCapture(path: String, decode: Bool) -> ReadOutcome {
        var out = ReadOutcome()
        guard let reader = try? CaptureFileReader(path: path) else { return out }
        out.opened = true
        var p = DecodedPacket()
        do {
            // A 64 KiB input holds at most a few thousand records; the bound only
            // turns a reader that stops advancing into a finding instead of a hang.
            while let raw = try reader.next() {
                out.packets += 1
                if out.packets > 1 << 20 { require(false, "reader does not advance"); break }
                out.hash = fnv(raw.bytes, out.hash)
                out.hash = fnv(UInt64(bitPattern: raw.timestamp.seconds) ^ UInt64(raw.timestamp.nanoseconds) << 32,
                               out.hash)
                out.hash = fnv(UInt64(raw.wireLength) << 32 | UInt64(raw.interfaceID), out.hash)
                out.hash = fnv(UInt64(raw.link.rawValue), out.hash)
                require(raw.timestamp.nanoseconds < 1_000_000_000, "nanoseconds \(raw.timestamp.nanoseconds)")
                if decode {
                    p.reset()
                    p.number = UInt64(out.packets)
                    p.timestamp = raw.timestamp
                    p.wireLength = raw.wireLength
                    p.capturedLength = UInt32(raw.bytes.count)
                    p.interfaceID = raw.interfaceID
                    PacketDecoder.decode(raw.bytes, link: raw.link, into: &p)
                    checkDecoded(p, frame: raw.bytes)
                    writeAndValidateJSON(p, frame: raw.bytes)
                }
            }
        } catch {
            out.failed = true
        }
        out.warnings = reader.warnings
        return out
    }

    // MARK: frames

    /// One frame decoded as each link type, whole and as if cut by a snaplen.
    static func frame(_ data: UnsafeRawBufferPointer, links: [LinkType]) {
        for link in links {
            for wire in [data.count, data.count + 64] {
                var p = DecodedPacket()
                p.capturedLength = UInt32(data.count)
                p.wireLength = UInt32(wire)
                PacketDecoder.decode(data, link: link, into: &p)
                checkDecoded(p, frame: data)
                writeAndValidateJSON(p, frame: data)
            }
        }
    }

    static func ipv4(_ data: UnsafeRawBufferPointer) {
        frame(data, links: [.ipv4])
        if case .ok(let h) = IPv4Header.parse(ByteCursor(data), at: 0) {
            require(h.headerLength >= 20 && h.headerLength <= data.count, "IPv4 header length \(h.headerLength)")
            require(h.totalLength >= h.headerLength, "IPv4 total length below header")
        }
    }

    static func ipv6(_ data: UnsafeRawBufferPointer) {
        frame(data, links: [.ipv6])
        if case .ok(let h) = IPv6Header.parse(ByteCursor(data), at: 0) {
            require(h.upperOffset >= 40 && h.upperOffset <= data.count, "IPv6 upper offset \(h.upperOffset)")
        }
    }

    // MARK: IP reassembly

    /// Fragment sequences through the reassembler, as the pipeline feeds it: small caps
    /// and a timeout read from the input, then 8-byte records, each an IPv4 or IPv6
    /// fragment (one of four ids, so that fragments meet; any offset, length and More
    /// flag; data cut from a template at the start of the input, so that reassembled
    /// datagrams start with real-looking transport headers; sometimes cut by a snaplen).
    /// Checks: the caps hold after every fragment, a completed datagram is at most
    /// 65535 bytes of payload and its offsets lie inside it, its NDJSON is one valid
    /// line, and nothing is held after `finish`.
    static func ipReassembly(_ data: UnsafeRawBufferPointer) {
        var r = FuzzReader(data)
        let limits = IPReassembler.Limits(maxDatagrams: 1 + Int(r.u8() % 16),
                                          maxHeldBytes: (1 + Int(r.u8() % 8)) * 70_000,
                                          timeoutNanos: Int64(1 + r.u8() % 60) * 1_000_000_000)
        let reassembler = IPReassembler(limits: limits)
        let template = r.bytes(Int(r.u8()) + 8)
        var nanos: Int64 = 1_700_000_000_000_000_000
        var n: UInt64 = 0
        while !r.atEnd, n < 4096 {
            let flags = r.u8()
            let unit = Int(r.u16() & 0x1FFF)
            let length = Int(r.u16() % 2048)
            let dt = r.u8()
            let cut = r.u8()
            let v6 = flags & 1 != 0, more = flags & 2 != 0
            let id = UInt32((flags >> 2) & 3)
            let proto: UInt8 = [17, 6, 1, 58, 17, 47, 17, 132][Int((flags >> 4) & 7)]
            var body = [UInt8](repeating: 0, count: length)
            if !template.isEmpty {
                for i in 0..<length { body[i] = template[(unit * 8 + i) % template.count] }
            }
            if flags & 0x80 != 0 { body = r.bytes(length) }
            var frame: [UInt8]
            if v6 {
                let plen = min(65535, 8 + body.count)
                frame = [0x60, 0, 0, 0, UInt8(plen >> 8), UInt8(plen & 0xFF), 44, 64]
                frame += [0xfd, 0x78] + [UInt8](repeating: 0, count: 13) + [1]
                frame += [0xfd, 0x78] + [UInt8](repeating: 0, count: 13) + [2]
                let fo = UInt16(unit << 3) | (more ? 1 : 0)
                frame += [proto == 1 ? 58 : proto, 0, UInt8(fo >> 8), UInt8(fo & 0xFF), 0, 0, 0, UInt8(id)]
            } else {
                let total = min(65535, 20 + body.count)
                let fo = UInt16(unit) | (more ? 0x2000 : 0)
                frame = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, UInt8(id),
                         UInt8(fo >> 8), UInt8(fo & 0xFF),
                         64, proto == 58 ? 1 : proto, 0, 0, 10, 78, 0, 1, 10, 78, 0, 2]
            }
            frame += body
            let wire = frame.count
            if cut != 0 && cut < 128 { frame = Array(frame.prefix(20 + Int(cut) * 4)) }
            nanos += Int64(dt) * 125_000_000
            n += 1
            var p = DecodedPacket()
            p.number = n
            p.timestamp = Timestamp(totalNanoseconds: nanos)
            p.capturedLength = UInt32(frame.count)
            p.wireLength = UInt32(wire)
            frame.withUnsafeBytes { raw in
                PacketDecoder.decode(raw, link: v6 ? .ipv6 : .ipv4, into: &p, holdFragments: true)
                var bytes = raw
                if let whole = reassembler.process(&p, frame: raw) {
                    bytes = whole
                    require(p.reassembledFrames > 0, "a completed datagram without its frame count")
                    require(p.reassembledLength <= 65535, "reassembled \(p.reassembledLength) bytes")
                    require(whole.count <= 65535 + 40 + 64, "datagram buffer of \(whole.count) bytes")
                } else {
                    require(p.reassembledFrames == 0, "frame count on a frame that completed nothing")
                }
                checkDecoded(p, frame: bytes)
                writeAndValidateJSON(p, frame: bytes)
            }
            require(reassembler.heldBytes <= limits.maxHeldBytes,
                    "\(reassembler.heldBytes) bytes held above the cap \(limits.maxHeldBytes)")
            require(reassembler.inProgress <= limits.maxDatagrams,
                    "\(reassembler.inProgress) datagrams above the cap \(limits.maxDatagrams)")
        }
        reassembler.finish()
        require(reassembler.heldBytes == 0 && reassembler.inProgress == 0,
                "\(reassembler.heldBytes) bytes in \(reassembler.inProgress) datagrams after finish")
    }

    /// Segments of up to 8 flows, both directions, through the TCP stream reassembler:
    /// a budget and a memory cap read from the input, a stream start near the 2^32 wrap
    /// (also from the input), then 5-byte records (op, offset, length): any order,
    /// overlaps, retransmissions, sometimes with changed content, sometimes a release.
    /// Checks: the budget and the cap hold after every segment, `grew` is reported
    /// exactly when the prefix grew, the prefix holds the bytes sent at their offsets
    /// while no changed copy came, and nothing is held after every release.
    static func tcpReassembly(_ data: UnsafeRawBufferPointer) {
        var r = FuzzReader(data)
        let limits = TCPReassemblyLimits(budget: Int(r.u16() % 9000), memory: 1 + Int(r.u16()) * 2)
        var streams = TCPStreams(limits: limits)
        var template = r.bytes(Int(r.u8()) + 1)
        if template.isEmpty { template = [0x42] }
        let base = UInt32(0xFFFF_F000) &+ UInt32(r.u16())
        var n = 0
        // Streams that were given a changed copy: their bytes may differ from the
        // template even without a conflict (the changed copy may have come first).
        var changed = [Bool](repeating: false, count: 16)
        while !r.atEnd, n < 4096 {
            n += 1
            let op = r.u8()
            let off = Int(r.u16() % 12000)
            let len = Int(r.u16() % 3000)
            let flow = Int32(op & 7), isOrig = op & 8 != 0
            let slot = Int(op & 15)
            if op & 0xE0 == 0xE0 { streams.release(flow, isOrig: isOrig); changed[slot] = false; continue }
            var body = (0..<len).map { template[(off + $0) % template.count] }
            if op & 0x10 != 0 && !body.isEmpty { body[body.count / 2] ^= 0xFF; changed[slot] = true }
            // Offsets below 1024 lie before the stream's start.
            let seq = base &+ UInt32(truncatingIfNeeded: off &- 1024)
            let before = streams.prefixLength(flow, isOrig: isOrig)
            let result = body.withUnsafeBytes { streams.add(flow, isOrig: isOrig, seq: seq, start: base, payload: $0) }
            let after = streams.prefixLength(flow, isOrig: isOrig)
            require((result == .grew) == (after > before), "\(result) with prefix \(before) -> \(after)")
            require(after <= limits.budget, "prefix \(after) past the budget \(limits.budget)")
            require(streams.held <= limits.memory, "\(streams.held) bytes held above the cap \(limits.memory)")
            if !changed[slot] {
                streams.withPrefix(flow, isOrig: isOrig) { b in
                    for i in 0..<b.count where b[i] != template[(i + 1024) % template.count] {
                        require(false, "prefix byte \(i) is not the byte sent there")
                        break
                    }
                }
            }
        }
        for f in Int32(0)..<8 { streams.release(f) }
        require(streams.held == 0 && streams.count == 0,
                "\(streams.held) bytes in \(streams.count) streams after release")
    }

    /// A TCP segment (header, options, payload): decoded alone with the captured length
    /// and with a length taken from its last two bytes, then inside an IPv4 header so
    /// that the payload parsers (DNS on port 53, ...) run as they do on real traffic.
    static func tcp(_ data: UnsafeRawBufferPointer) {
        let c = ByteCursor(data)
        let claimed = data.count >= 2 ? Int(data[data.count - 2]) << 8 | Int(data[data.count - 1]) : 0
        for length in [data.count, claimed] {
            var p = DecodedPacket()
            p.capturedLength = UInt32(data.count)
            p.wireLength = UInt32(data.count)
            TCP.decode(c, at: 0, ipPayloadLength: length, into: &p)
            checkDecoded(p, frame: data)
            if p.hasTCP {
                require(Int(p.tcp.headerLength) % 4 == 0, "TCP header length \(p.tcp.headerLength)")
                require(p.tcp.sackBlocks <= 5, "\(p.tcp.sackBlocks) SACK blocks in 40 option bytes")
            }
        }
        var ip = [UInt8](repeating: 0, count: 20 + data.count)
        let total = min(ip.count, 65535)
        ip[0] = 0x45; ip[2] = UInt8(total >> 8); ip[3] = UInt8(total & 0xFF); ip[8] = 64; ip[9] = 6
        ip[12] = 10; ip[15] = 1; ip[16] = 10; ip[19] = 2
        for i in 0..<data.count { ip[20 + i] = data[i] }
        ip.withUnsafeBytes { frame($0, links: [.ipv4]) }
    }

    // MARK: application payloads

    /// A DNS message: parsed leniently and strictly, every name start walked and
    /// rendered, answers listed, and the message decoded as a UDP and a TCP payload.
    static func dns(_ data: UnsafeRawBufferPointer) {
        let msg = ByteCursor(data)
        _ = DNS.parse(msg, strict: true)
        if case .success(let d) = DNS.parse(msg, strict: false) {
            require(d.answersOffset <= data.count, "answers at \(d.answersOffset) of \(data.count)")
            var name = ByteSink(capacity: 300)
            if d.hasQuestion {
                if DNS.writeName(msg, at: d.questionOffset, into: &name) == nil {
                    require(name.count <= 255 + 64, "question name of \(name.count) bytes")
                }
            }
            var answers = 0
            DNS.forEachAnswer(msg, d) { a in
                answers += 1
                if case .cname(let off) = a {
                    name.removeAll()
                    _ = DNS.writeName(msg, at: off, into: &name)
                    require(name.count <= 255 + 64, "CNAME of \(name.count) bytes")
                }
            }
            require(answers <= 64, "\(answers) answers listed")
        }
        // Every offset as a name start: pointers must go strictly backwards, so each
        // walk ends, and a name that ends does so inside the message.
        for off in 0..<min(data.count, 512) {
            if case .success(let end) = DNS.skipName(msg, at: off) {
                require(end > off && end <= data.count, "name at \(off) ends at \(end) of \(data.count)")
            }
        }
        for overTCP in [false, true] {
            var p = DecodedPacket()
            p.capturedLength = UInt32(data.count)
            p.wireLength = UInt32(data.count)
            p.hasPorts = true
            p.sport = 53
            p.dport = 53
            p.transport = overTCP ? .tcp : .udp
            p.hasPayloadLength = true
            p.payloadLength = UInt32(data.count)
            p.payloadOffset = 0
            p.payloadCaptured = data.count
            _ = DNS.decode(msg, overTCP: overTCP, strict: false, into: &p)
            checkDecoded(p, frame: data)
            writeAndValidateJSON(p, frame: data)
        }
    }

    /// A TLS record with a ClientHello, from the start and from an offset inside the
    /// buffer; the same bytes as a QUIC long header (both are the first packet of an
    /// encrypted flow).
    static func tls(_ data: UnsafeRawBufferPointer) {
        let c = ByteCursor(data)
        let starts = [(0, data.count),
                      (data.count > 0 ? Int(data[0] & 0x0F) : 0, data.count > 1 ? Int(data[1]) << 4 : 0)]
        for (offset, length) in starts {
            if let h = TLS.parseClientHello(c, at: offset, length: length) {
                if h.hasSNI {
                    require(h.sniLength > 0 && h.sniOffset > offset && h.sniOffset + h.sniLength <= data.count,
                            "SNI \(h.sniOffset)+\(h.sniLength) of \(data.count)")
                }
                _ = TLS.versionName(h.version)
            }
            if let q = QUIC.parseLongHeader(c, at: offset, length: length) {
                require(q.dcidOffset + q.dcidLength <= data.count && q.scidOffset + q.scidLength <= data.count,
                        "QUIC connection IDs past the buffer")
                _ = QUIC.versionName(q.version)
            }
        }
    }

    /// A QUIC datagram through Initial packet protection (keys from its own header), the
    /// same bytes as the frames of a decrypted payload with their CRYPTO data reassembled
    /// into a ClientHello, and the connection tracker fed the bytes from both sides.
    static func quicInitial(_ data: UnsafeRawBufferPointer) {
        let c = ByteCursor(data)
        if let h = QUIC.parseLongHeader(c, at: 0, length: data.count),
           let dcid = c.slice(at: h.dcidOffset, count: h.dcidLength),
           let keys = QUICInitialKeys(version: h.version, dcid: dcid, server: false),
           let p = QUICInitial.open(c, at: 0, length: data.count, keys: keys) {
            require(p.end <= data.count && p.payload.count < data.count, "Initial packet past the datagram")
        }
        var stream = QUICCryptoStream(capacity: 2048)
        var frames = 0
        QUICInitial.forEachFrame(c, from: 0, to: data.count) { frame in
            frames += 1
            switch frame {
            case .crypto(let offset, let at, let n):
                require(at >= 0 && at + n <= data.count, "CRYPTO data past the buffer")
                if let b = c.slice(at: at, count: n) { stream.add(offset: offset, b) }
            case .connectionClose(_, _, let at, let n):
                require(at >= 0 && at + n <= data.count, "reason past the buffer")
            case .padding(let n):
                require(n >= 1 && n <= data.count, "padding run \(n)")
            case .ping, .ack:
                break
            }
            return true
        }
        require(frames <= data.count, "more frames than bytes")
        require(stream.contiguous <= stream.capacity && stream.bytes.count <= stream.capacity, "stream over capacity")
        if let (hello, bytes) = QUICInitial.clientHello(in: stream) {
            bytes.withUnsafeBytes { fingerprints(ByteCursor($0), hello, .quic) }
        }
        var conn = QUICHandshake()
        _ = conn.add(c, at: 0, length: data.count, fromClient: true)
        _ = conn.add(c, at: 0, length: data.count, fromClient: false)
    }

    /// ClientHello and ServerHello messages and records, and their fingerprints.
    static func tlsFingerprint(_ data: UnsafeRawBufferPointer) {
        let c = ByteCursor(data)
        for h in [TLS.parseClientHello(c, at: 0, length: data.count),
                  TLS.parseClientHelloMessage(c, at: 0, length: data.count)] {
            if let h { fingerprints(c, h, .tcp) }
        }
        for h in [TLS.parseServerHello(c, at: 0, length: data.count),
                  TLS.parseServerHelloMessage(c, at: 0, length: data.count)] {
            guard let h else { continue }
            if let ja3s = TLSFingerprint.ja3s(c, h) { require(ja3s.utf8.count == 32, "JA3S \(ja3s)") }
            if h.alpnOffset >= 0 { require(h.alpnOffset + h.alpnLength <= data.count, "ALPN past the buffer") }
        }
    }

    static func fingerprints(_ c: ByteCursor, _ h: TLSClientHello, _ transport: TLSFingerprint.Transport) {
        for (o, n) in [(h.cipherSuitesOffset, h.cipherSuitesLength), (h.extensionsOffset, h.extensionsLength),
                       (h.groupsOffset, h.groupsLength), (h.alpnOffset, h.alpnLength),
                       (h.signatureAlgorithmsOffset, h.signatureAlgorithmsLength)] where o >= 0 {
            require(n >= 0 && o + n <= c.count, "list \(o)+\(n) past the buffer of \(c.count)")
        }
        let ja3 = TLSFingerprint.ja3(c, h)
        let ja4 = TLSFingerprint.ja4(c, h, transport: transport)
        require((ja3 == nil) == !h.complete && (ja4 == nil) == !h.complete, "fingerprint of an incomplete hello")
        if let ja3 { require(ja3.utf8.count == 32, "JA3 \(ja3)") }
        if let ja4 {
            let parts = ja4.hash.split(separator: "_")
            require(parts.count == 3 && parts[0].utf8.count == 10 && parts[1].utf8.count == 12
                    && parts[2].utf8.count == 12, "JA4 \(ja4.hash)")
        }
        _ = TLSFingerprint.alpnNames(c, h)
    }

    /// The bytes as a DER certificate, as the start of a server's TLS stream (records,
    /// the leaf certificate found in their handshake messages and read), and as those
    /// messages without records.
    static func x509(_ data: UnsafeRawBufferPointer) {
        let c = ByteCursor(data)
        certificate(c, at: 0, length: data.count)
        var handshake: [UInt8] = []
        let ended = TLS.handshakeBytes(c, at: 0, length: data.count, into: &handshake)
        require(handshake.count <= data.count, "handshake bytes longer than the records")
        for (bytes, end) in [(handshake, ended), (Array(data), false), (Array(data), true)] {
            bytes.withUnsafeBytes { raw in
                let h = ByteCursor(raw)
                if case .found(let at, let n) = TLS.leafCertificate(h, ended: end) {
                    require(at > 0 && n > 0 && at + n <= raw.count, "certificate \(at)+\(n) past \(raw.count)")
                    certificate(h, at: at, length: n)
                }
            }
        }
    }

    static func certificate(_ c: ByteCursor, at offset: Int, length: Int) {
        guard let x = X509.parse(c, at: offset, length: length) else { return }
        for (o, n) in [(x.subjectOffset, x.subjectLength), (x.issuerOffset, x.issuerLength)] {
            require(o >= offset && n >= 0 && o + n <= offset + length, "Name \(o)+\(n) outside the certificate")
            require(X509.name(c, at: o, length: n) != nil, "a Name that parsed does not render")
        }
    }

    /// An HTTP request line and headers; the same bytes as an SSH banner.
    static func http(_ data: UnsafeRawBufferPointer) {
        let c = ByteCursor(data)
        if let r = HTTP.parseRequest(c, at: 0, length: data.count) {
            require(r.pathLength > 0 && r.pathOffset + r.pathLength <= data.count, "HTTP path past the buffer")
            if r.hasHost {
                require(r.hostLength >= 0 && r.hostOffset + r.hostLength <= min(data.count, HTTP.headerScanLimit),
                        "Host \(r.hostOffset)+\(r.hostLength) of \(data.count)")
            }
        }
        if let b = SSH.parseBanner(c, at: 0, length: data.count) {
            require(b.lineLength <= SSH.maximumLineLength && b.lineOffset + b.lineLength <= data.count,
                    "SSH line past the buffer")
            require(b.softwareOffset + b.softwareLength <= b.lineOffset + b.lineLength, "SSH software past the line")
        }
    }

    /// Every payload detector on the bytes, on both transports, and on every prefix
    /// of them (a payload cut by the snaplen); `detect` must return the first match.
    static func detectors(_ data: UnsafeRawBufferPointer) {
        for udp in [false, true] {
            let list = udp ? AppDetectors.udp : AppDetectors.tcp
            let first = list.first { $0.matches(ByteCursor(data)) }?.app
            require(AppDetectors.detect(ByteCursor(data), udp: udp) == (data.isEmpty ? nil : first),
                    "detect disagrees with the table's first match")
        }
        for n in stride(from: 0, to: min(data.count, 64), by: 1) {
            let prefix = UnsafeRawBufferPointer(rebasing: data[0..<n])
            for d in AppDetectors.all { _ = d.matches(ByteCursor(prefix)) }
        }
    }

    // MARK: flows

    /// Receives every flow event and writes each finished flow as NDJSON and as a
    /// conn.log row, checking both.
    final class FlowChecker: FlowObserver {
        let ndjson = FlowNDJSONWriter()
        let connLog = ZeekConnLogWriter()
        var sink = ByteSink(capacity: 4096)
        var ended = 0

        func flowStarted(_ flow: Flow) { _ = flow.details }
        func flowUpdated(_ flow: Flow) { _ = flow.details }

        func flowEnded(_ flow: Flow, reason: FlowEndReason) {
            ended += 1
            sink.removeAll()
            ndjson.write(flow, reason: reason, into: &sink)
            sink.bytes.withUnsafeBytes { FuzzTargets.requireJSONLine($0, "flow NDJSON") }
            sink.removeAll()
            connLog.write(flow, into: &sink)
            let tabs = sink.bytes.reduce(0) { $0 + ($1 == 0x09 ? 1 : 0) }
            let newlines = sink.bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            FuzzTargets.require(tabs == ZeekConnLogWriter.fields.count - 1 && newlines == 1 && sink.bytes.last == 0x0A,
                                "conn.log row with \(tabs) tabs and \(newlines) newlines: \(sink.string)")
        }
    }

    /// A random sequence of packets through a small FlowTable with short timers, so that
    /// creation, reuse, eviction at the cap, idle and active expiry all happen. Records
    /// are real frames (decoded) or packets built field by field (see `PacketRecords`).
    static func flows(_ data: UnsafeRawBufferPointer) {
        flows(data, transactions: nil)
    }

    static func flows(_ data: UnsafeRawBufferPointer, transactions: TransactionTracker?) {
        var r = FuzzReader(data)
        var config = FlowTableConfig()
        config.maxFlows = 1 + Int(r.u8() % 64)
        config.initialCapacity = 1 + Int(r.u8() % 32)
        config.tcpEstablishedTimeout = r.timeout()
        config.tcpClosedTimeout = r.timeout()
        config.udpTimeout = r.timeout()
        config.icmpTimeout = r.timeout()
        config.otherTimeout = r.timeout()
        config.activeTimeout = r.timeout()
        config.inspectPackets = Int(r.u8() % 8)
        let checker = FlowChecker()
        let table = FlowTable(config: config, observer: checker)
        table.transactions = transactions
        var records = PacketRecords()
        while let (p, frame) = records.next(&r) {
            _ = frame.withUnsafeBytes { f in table.process(p, frame: f, now: p.timestamp) }
            require(table.count <= config.maxFlows, "\(table.count) flows above the cap \(config.maxFlows)")
            if records.count % 16 == 0 { table.expire(now: p.timestamp) }
        }
        table.flush()
        let s = table.stats
        require(table.count == 0, "\(table.count) flows left after flush")
        require(s.flowsCreated == s.flowsEnded && Int(s.flowsEnded) == checker.ended,
                "created \(s.flowsCreated), ended \(s.flowsEnded), observed \(checker.ended)")
        require(s.peakFlows <= config.maxFlows, "peak \(s.peakFlows) above the cap")
    }

    // MARK: transactions

    /// Writes every DNS and HTTP transaction as dns.log/http.log rows in both formats
    /// and checks each row's shape.
    final class TransactionChecker: TransactionObserver {
        let dnsTSV = ZeekDNSLogWriter(), dnsJSON = ZeekDNSLogWriter(logFormat: .json)
        let httpTSV = ZeekHTTPLogWriter(), httpJSON = ZeekHTTPLogWriter(logFormat: .json)
        var sink = ByteSink(capacity: 4096)
        var seen: UInt64 = 0

        func dnsTransaction(_ t: DNSTransaction) {
            seen += 1
            FuzzTargets.require(t.answers.count == t.ttls.count && t.answers.count <= DNSMessage.maximumAnswers,
                                "\(t.answers.count) answers with \(t.ttls.count) TTLs")
            sink.removeAll(); dnsTSV.write(t, into: &sink); checkRow(ZeekDNSLogWriter.fields.count, "dns.log")
            sink.removeAll(); dnsJSON.write(t, into: &sink)
            sink.bytes.withUnsafeBytes { FuzzTargets.requireJSONLine($0, "dns.log JSON") }
        }

        func httpTransaction(_ t: HTTPTransaction) {
            seen += 1
            FuzzTargets.require(t.depth >= 1 && t.requestBodyLength >= 0 && t.responseBodyLength >= 0,
                                "depth \(t.depth), bodies \(t.requestBodyLength)/\(t.responseBodyLength)")
            sink.removeAll(); httpTSV.write(t, into: &sink); checkRow(ZeekHTTPLogWriter.fields.count, "http.log")
            sink.removeAll(); httpJSON.write(t, into: &sink)
            sink.bytes.withUnsafeBytes { FuzzTargets.requireJSONLine($0, "http.log JSON") }
        }

        /// One TSV row: a tab between each of `fields` columns and one final newline,
        /// whatever bytes the packets held.
        private func checkRow(_ fields: Int, _ what: String) {
            let tabs = sink.bytes.reduce(0) { $0 + ($1 == 0x09 ? 1 : 0) }
            let newlines = sink.bytes.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            FuzzTargets.require(tabs == fields - 1 && newlines == 1 && sink.bytes.last == 0x0A,
                                "\(what) row with \(tabs) tabs and \(newlines) newlines: \(sink.string)")
        }
    }

    /// The protocol logs' parsers on the bytes themselves (a DNS message, an HTTP head),
    /// then the flows target's packets with the DNS/HTTP transaction tracker on: every
    /// transaction writes well-formed rows, and no state is left once the flows end.
    static func transactions(_ data: UnsafeRawBufferPointer) {
        if let m = DNSMessage.read(ByteCursor(data)) {
            require(m.answers.count == m.ttls.count && m.answers.count <= DNSMessage.maximumAnswers,
                    "DNS message with \(m.answers.count) answers, \(m.ttls.count) TTLs")
        }
        if let h = HTTPMessageHead.parse(data) {
            require(h.isRequest == (h.method != nil), "HTTP head: request \(h.isRequest), method \(h.method ?? "nil")")
        }
        let checker = TransactionChecker()
        let tracker = TransactionTracker(observer: checker)
        flows(data, transactions: tracker)
        require(tracker.trackedFlows == 0, "\(tracker.trackedFlows) flows still tracked after the flush")
        let s = tracker.stats
        require(s.dns + s.http == checker.seen, "stats \(s.dns)+\(s.http), observed \(checker.seen)")
    }

    // MARK: report

    /// Random packets through the address:port table (small, so that it grows and hits
    /// its limit), each written as NDJSON, then the report with random filters and
    /// context.
    static func report(_ data: UnsafeRawBufferPointer) {
        var r = FuzzReader(data)
        let table = EndpointTable(expectedEndpoints: 1 + Int(r.u8() % 64), limit: 1 + Int(r.u16() % 512))
        var totals = CaptureTotals()
        var records = PacketRecords()
        var first: Timestamp? = nil, last = Timestamp.zero
        while let (p, frame) = records.next(&r) {
            totals.recordSeen(p)
            totals.recordMatched(p)
            table.record(p)
            frame.withUnsafeBytes { writeAndValidateJSON(p, frame: $0, includeInterface: records.count & 1 == 0) }
            if first == nil { first = p.timestamp }
            last = p.timestamp
        }
        require(table.count <= table.limit, "\(table.count) endpoints above the limit \(table.limit)")
        var filter = PacketFilter()
        if r.bool() { filter.ipVersion = r.bool() ? .ipv4 : .ipv6 }
        if r.bool() { filter.transport = TransportKind.allCases[Int(r.u8()) % TransportKind.allCases.count] }
        if r.bool() { filter.lowestPort = r.u16(); filter.highestPort = r.u16() }
        if r.bool() {
            filter.networks = [IPNetwork(address: r.address(v6: r.bool()), prefixLength: Int(r.u8()))]
        }
        let context = ReportContext(
            source: String(decoding: r.bytes(Int(r.u8() % 64)), as: UTF8.self),
            startedAt: first ?? .zero, lastUpdate: last, intervalSeconds: Int(Int16(bitPattern: r.u16())),
            updates: Int(r.u16()), status: ["Running", "Paused", "Finished"][Int(r.u8() % 3)],
            minPackets: UInt64(r.u8() % 4), filter: filter, bpf: r.bool() ? "tcp port 80" : nil)
        let limit: Int? = r.bool() ? Int(r.u8()) : nil
        var s = ByteSink(capacity: 1 << 14)
        ReportWriter.write(context: context, totals: totals, endpoints: table,
                           sections: [ReportSection(title: "Protocols", lines: ["TCP 1"])], limit: limit, into: &s)
        require(s.count > 0, "empty report")
    }

    // MARK: checks

    /// What every decoder result promises to the code that reads the frame afterwards
    /// (payload inspection, the JSON writer): offsets stay inside the captured bytes.
    static func checkDecoded(_ p: DecodedPacket, frame: UnsafeRawBufferPointer) {
        let n = frame.count
        require(p.payloadCaptured >= 0, "payload captured \(p.payloadCaptured)")
        if p.payloadCaptured > 0 {
            require(p.payloadOffset >= 0 && p.payloadOffset + p.payloadCaptured <= n,
                    "payload \(p.payloadOffset)+\(p.payloadCaptured) of \(n)")
            if p.hasPayloadLength {
                require(p.payloadCaptured <= Int(p.payloadLength),
                        "captured \(p.payloadCaptured) > stated \(p.payloadLength)")
            }
        }
        if p.hasDNS {
            require(p.dns.messageOffset >= 0 && p.dns.messageLength >= 0
                        && p.dns.messageOffset + p.dns.messageLength <= n,
                    "DNS message \(p.dns.messageOffset)+\(p.dns.messageLength) of \(n)")
        }
        require(p.vlans.count <= VLANStack.capacity, "\(p.vlans.count) VLAN tags")
        require(p.ipVersion == 0 || p.ipVersion == 4 || p.ipVersion == 6, "IP version \(p.ipVersion)")
    }

    static func writeAndValidateJSON(_ p: DecodedPacket, frame: UnsafeRawBufferPointer, includeInterface: Bool = true) {
        sink.removeAll()
        json.write(p, frame: frame, includeInterface: includeInterface, into: &sink)
        sink.bytes.withUnsafeBytes { requireJSONLine($0, "packet NDJSON") }
    }

    /// One JSON object followed by exactly one newline, in valid UTF-8.
    static func requireJSONLine(_ b: UnsafeRawBufferPointer, _ what: String) {
        var v = JSONValidator(b)
        let ok = v.object() && v.pos == b.count - 1 && b.last == 0x0A
        require(ok, "\(what) is not one JSON object line: \(String(decoding: b, as: UTF8.self))")
    }

    static func fnv(_ b: UnsafeRawBufferPointer, _ h0: UInt64) -> UInt64 {
        var h = h0
        for x in b { h = (h ^ UInt64(x)) &* 0x100_0000_01B3 }
        return h
    }

    static func fnv(_ v: UInt64, _ h0: UInt64) -> UInt64 {
        withUnsafeBytes(of: v) { fnv($0, h0) }
    }
}

// MARK: - input helpers

/// Reads fields from fuzz input; past the end every read is zero, so that any input is
/// a valid program.
struct FuzzReader {
    let data: UnsafeRawBufferPointer
    var pos = 0

    init(_ data: UnsafeRawBufferPointer) { self.data = data }

    var atEnd: Bool { pos >= data.count }

    mutating func u8() -> UInt8 {
        guard pos < data.count else { return 0 }
        defer { pos += 1 }
        return data[pos]
    }

    mutating func u16() -> UInt16 { UInt16(u8()) << 8 | UInt16(u8()) }
    mutating func u32() -> UInt32 { UInt32(u16()) << 16 | UInt32(u16()) }
    mutating func u64() -> UInt64 { UInt64(u32()) << 32 | UInt64(u32()) }
    mutating func bool() -> Bool { u8() & 1 != 0 }

    mutating func bytes(_ n: Int) -> [UInt8] {
        let k = max(0, min(n, data.count - pos))
        defer { pos += k }
        return Array(data[pos..<(pos + k)])
    }

    /// 0 means "never"; otherwise 1 to 255 seconds, so that timers fire within a run.
    mutating func timeout() -> Int64 {
        let v = u8()
        return v == 0 ? .max : Int64(v) * FlowTableConfig.nanosPerSecond
    }

    /// Mostly one of eight addresses, so that packets meet in flows and endpoints;
    /// sometimes any address.
    mutating func address(v6: Bool) -> IPAddress {
        let sel = u8()
        if sel & 0x80 != 0 {
            return v6 ? IPAddress(v6High: u64(), low: u64()) : IPAddress(v4: u32())
        }
        return v6 ? IPAddress(v6High: 0xFE80_0000_0000_0000, low: UInt64(sel & 7) + 1)
                  : IPAddress(v4: 0x0A00_0000 | UInt32(sel & 7) + 1)
    }
}

/// Turns fuzz input into packets, each with a timestamp from a running clock and the
/// frame it came from.
///
///     record: op(1) dt(2) len(2) frame(len) [fields, when op bit 7 is clear]
///
/// op bit 7: `frame` is a real frame, decoded with the link type in bits 0-2. Clear:
/// the packet is built from the fields that follow (addresses from a small pool,
/// protocols, ports, TCP flags and numbers ...), with its payload in `frame`.
/// op bit 6: the clock goes back by dt ms instead of forward; bit 5: the clock jumps to
/// a time from the input (extreme values included: pcapng can carry any 64-bit time).
struct PacketRecords {
    var clock: Int64 = 1_700_000_000 * FlowTableConfig.nanosPerSecond
    var count = 0
    static let links: [LinkType] = [.ethernet, .linuxSLL, .linuxSLL2, .null, .loop, .raw, .ipv4, .ipv6]
    static let protocols: [UInt8] = [6, 17, 1, 58, 47, 132, 50, 0]

    mutating func next(_ r: inout FuzzReader) -> (DecodedPacket, [UInt8])? {
        guard !r.atEnd, count < 4096 else { return nil }
        count += 1
        let op = r.u8()
        let dt = Int64(r.u16()) * 1_000_000
        if op & 0x20 != 0 {
            clock = Int64(bitPattern: r.u64())
        } else if op & 0x40 != 0 {
            clock = clock &- dt
        } else {
            clock = clock &+ dt
        }
        let frame = r.bytes(Int(r.u16() % 2048))
        var p = DecodedPacket()
        p.number = UInt64(count)
        p.timestamp = Timestamp(totalNanoseconds: clock)
        if op & 0x80 != 0 {
            p.capturedLength = UInt32(frame.count)
            p.wireLength = UInt32(frame.count)
            frame.withUnsafeBytes { PacketDecoder.decode($0, link: PacketRecords.links[Int(op & 7)], into: &p) }
            return (p, frame)
        }
        build(&p, &r, frameCount: frame.count)
        return (p, frame)
    }

    /// A packet as the decoder could have produced it: offsets inside `frame`, any
    /// values elsewhere.
    func build(_ p: inout DecodedPacket, _ r: inout FuzzReader, frameCount: Int) {
        let kind = r.u8()
        p.link = PacketRecords.links[Int(kind >> 5)]
        p.capturedLength = UInt32(frameCount)
        p.wireLength = kind & 0x10 != 0 ? r.u32() : UInt32(frameCount)
        p.interfaceID = UInt32(r.u8() % 4)
        if kind & 0x08 != 0 {
            p.hasEthernet = true
            p.ethSrc = MACAddress(r.u64())
            p.ethDst = MACAddress(r.u64())
            for _ in 0..<Int(r.u8() % 10) { p.vlans.append(id: r.u16() & 0x0FFF, tpid: r.bool() ? 0x8100 : 0x88A8) }
        }
        if kind & 0x04 != 0 {  // not IP: ARP or nothing
            p.isARP = r.bool()
            p.arpOp = r.u16()
            p.transport = p.isARP ? .arp : .none
            return
        }
        let v6 = kind & 0x02 != 0
        p.ipVersion = v6 ? 6 : 4
        p.src = r.address(v6: v6)
        p.dst = r.address(v6: v6)
        p.ttl = r.u8()
        let protoSel = r.u8()
        p.ipProto = protoSel & 0x80 != 0 ? r.u8() : PacketRecords.protocols[Int(protoSel & 7)]
        p.isFragment = protoSel & 0x40 != 0
        p.ipHeaderLength = v6 ? 40 + UInt16(r.u8() & 0x3F) * 8 : 20 + UInt16(r.u8() & 0x0F) * 4
        p.ipTotalLength = UInt32(r.u16())
        switch p.ipProto {
        case 6: p.transport = .tcp
        case 17: p.transport = .udp
        case 1: p.transport = .icmp
        case 58: p.transport = .icmpv6
        case 47: p.transport = .gre
        default: p.transport = .other
        }
        let portSel = r.u8()
        if (p.ipProto == 6 || p.ipProto == 17) && portSel & 0x80 == 0 {
            p.hasPorts = true
            let common: [UInt16] = [53, 80, 443, 22, 5353, 123, 40000, 40001]
            p.sport = portSel & 0x40 != 0 ? r.u16() : common[Int(portSel & 7)]
            p.dport = portSel & 0x20 != 0 ? r.u16() : common[Int((portSel >> 3) & 3)]
        }
        if p.ipProto == 6 && p.hasPorts && portSel & 0x10 == 0 {
            p.hasTCP = true
            let small = r.u8()
            p.tcp.flags = small & 0x80 != 0
                ? r.u16() & 0x1FF : [0x002, 0x012, 0x010, 0x018, 0x011, 0x004, 0x014, 0x001][Int(small & 7)]
            p.tcp.seq = small & 0x40 != 0 ? r.u32() : UInt32(small & 0x38) * 100
            p.tcp.ack = small & 0x40 != 0 ? r.u32() : UInt32(small & 0x38) * 100 + 1
            p.tcp.window = r.u16()
            p.tcp.headerLength = 20
        }
        if p.hasPorts {
            p.hasPayloadLength = true
            p.payloadLength = UInt32(r.u16())
            // Payload offsets inside the frame (the decoders' promise), at least 1: the
            // inspector treats offset 0 as "no payload".
            if frameCount > 1 {
                p.payloadOffset = 1 + Int(r.u8()) % (frameCount - 1)
                p.payloadCaptured = min(frameCount - p.payloadOffset, Int(p.payloadLength))
            }
            p.app = AppProtocol.allCases[Int(r.u8()) % AppProtocol.allCases.count]
            let dnsSel = r.u8()
            if dnsSel & 0x80 != 0 && frameCount > 0 {
                p.hasDNS = true
                p.dns.id = r.u16()
                p.dns.flags = r.u16()
                p.dns.messageOffset = Int(r.u8()) % frameCount
                p.dns.messageLength = Int(r.u16()) % (frameCount - p.dns.messageOffset + 1)
                p.dns.questionOffset = dnsSel & 0x40 != 0 ? Int(r.u8()) : -1
                p.dns.qtype = r.u16()
                p.dns.answerCount = r.u16()
                p.dns.answersOffset = dnsSel & 0x20 != 0 ? Int(r.u16()) : -1
            }
        } else if p.ipProto == 1 || p.ipProto == 58 {
            p.hasICMP = portSel & 0x01 == 0
            p.icmpType = r.u8()
            p.icmpCode = r.u8()
        }
        if kind & 0x01 != 0 {
            p.hasInner = true
            let innerV6 = r.bool()
            p.inner = InnerTuple(src: r.address(v6: innerV6), dst: r.address(v6: innerV6), proto: r.u8(),
                                 sport: r.u16(), dport: r.u16(), hasPorts: r.bool())
        }
        let health = r.u8()
        p.truncated = health & 1 != 0
        p.undecoded = health & 2 != 0
        if health & 4 != 0 {
            p.malformed = Malformation(Malformation.Kind(rawValue: r.u8() % 16) ?? .short,
                                       Malformation.Layer(rawValue: r.u8() % 20) ?? .raw, r.u32(), r.u32())
        }
    }
}

/// A strict JSON syntax check (RFC 8259) over bytes, with UTF-8 validation of strings:
/// enough to prove that the writers escape whatever the packets contain.
struct JSONValidator {
    let b: UnsafeRawBufferPointer
    var pos = 0
    var depth = 0

    init(_ b: UnsafeRawBufferPointer) { self.b = b }

    func peek() -> UInt8? { pos < b.count ? b[pos] : nil }

    mutating func ws() { while let c = peek(), c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { pos += 1 } }

    mutating func expect(_ c: UInt8) -> Bool {
        guard peek() == c else { return false }
        pos += 1
        return true
    }

    mutating func object() -> Bool {
        guard expect(0x7B) else { return false }
        depth += 1
        defer { depth -= 1 }
        guard depth < 64 else { return false }
        ws()
        if expect(0x7D) { return true }
        while true {
            ws()
            guard string() else { return false }
            ws()
            guard expect(0x3A) else { return false }
            ws()
            guard value() else { return false }
            ws()
            if expect(0x7D) { return true }
            guard expect(0x2C) else { return false }
        }
    }

    mutating func array() -> Bool {
        guard expect(0x5B) else { return false }
        depth += 1
        defer { depth -= 1 }
        guard depth < 64 else { return false }
        ws()
        if expect(0x5D) { return true }
        while true {
            ws()
            guard value() else { return false }
            ws()
            if expect(0x5D) { return true }
            guard expect(0x2C) else { return false }
        }
    }

    mutating func value() -> Bool {
        switch peek() {
        case 0x7B: return object()
        case 0x5B: return array()
        case 0x22: return string()
        case 0x74: return literal("true")
        case 0x66: return literal("false")
        case 0x6E: return literal("null")
        default: return number()
        }
    }

    mutating func literal(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard pos + n <= b.count else { return false }
        for i in 0..<n where b[pos + i] != s.utf8Start[i] { return false }
        pos += n
        return true
    }

    mutating func number() -> Bool {
        let start = pos
        _ = expect(0x2D)
        guard let d = peek(), d >= 0x30 && d <= 0x39 else { return false }
        if d == 0x30 { pos += 1 } else { digits() }
        if expect(0x2E) {
            guard let f = peek(), f >= 0x30 && f <= 0x39 else { return false }
            digits()
        }
        if let e = peek(), e == 0x65 || e == 0x45 {
            pos += 1
            if let s = peek(), s == 0x2B || s == 0x2D { pos += 1 }
            guard let x = peek(), x >= 0x30 && x <= 0x39 else { return false }
            digits()
        }
        return pos > start
    }

    mutating func digits() { while let c = peek(), c >= 0x30 && c <= 0x39 { pos += 1 } }

    mutating func string() -> Bool {
        guard expect(0x22) else { return false }
        while let c = peek() {
            switch c {
            case 0x22:
                pos += 1
                return true
            case 0x5C:
                pos += 1
                guard let e = peek() else { return false }
                pos += 1
                switch e {
                case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: break
                case 0x75:
                    for _ in 0..<4 {
                        guard let h = peek(), (h >= 0x30 && h <= 0x39) || (h | 0x20 >= 0x61 && h | 0x20 <= 0x66) else {
                            return false
                        }
                        pos += 1
                    }
                default: return false
                }
            case 0x00..<0x20:
                return false
            case 0x80...:
                guard utf8() else { return false }
            default:
                pos += 1
            }
        }
        return false
    }

    /// One well-formed UTF-8 sequence (no overlongs, no surrogates, at most U+10FFFF).
    mutating func utf8() -> Bool {
        let b0 = b[pos]
        var need = 0, value: UInt32 = 0, minimum: UInt32 = 0
        switch b0 {
        case 0xC2...0xDF: need = 1; value = UInt32(b0 & 0x1F); minimum = 0x80
        case 0xE0...0xEF: need = 2; value = UInt32(b0 & 0x0F); minimum = 0x800
        case 0xF0...0xF4: need = 3; value = UInt32(b0 & 0x07); minimum = 0x10000
        default: return false
        }
        guard pos + need < b.count else { return false }
        for k in 1...need {
            let c = b[pos + k]
            guard c & 0xC0 == 0x80 else { return false }
            value = value << 6 | UInt32(c & 0x3F)
        }
        guard value >= minimum, value <= 0x10FFFF, !(0xD800...0xDFFF).contains(value) else { return false }
        pos += need + 1
        return true
    }
}

// MARK: - files for the readers

/// A file with no name (created, then unlinked) that the reader opens by its
/// /proc/self/fd path: the mapped path of `sniff -r FILE`, with nothing left behind.
final class ScratchFile: @unchecked Sendable {
    static let shared = ScratchFile()
    let fd: Int32
    let path: String

    init() {
        // tmpfs when there is one: truncating a file on a disk file system can wait
        // for the journal, which made each run ten times slower.
        let dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        var template = Array("\(dir)/sniff-fuzz-XXXXXX".utf8CString)
        let f = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        precondition(f >= 0, "cannot create a scratch file in \(dir)")
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        fd = f
        path = "/proc/self/fd/\(f)"
    }

    /// Replaces the file's contents with `data`; returns the path to open.
    func write(_ data: UnsafeRawBufferPointer) -> String {
        _ = ftruncate(fd, 0)
        var done = 0
        while done < data.count {
            let n = pwrite(fd, data.baseAddress! + done, data.count - done, off_t(done))
            precondition(n > 0, "cannot write the scratch file")
            done += n
        }
        return path
    }
}

/// Runs `body` with standard input replaced by a pipe holding `data` (then end of
/// file), as `sniff -r -` reads it; restores standard input afterwards. Nil when the
/// data does not fit in a pipe's buffer (nothing would read it while we write).
func withStdinPipe<T>(_ data: UnsafeRawBufferPointer, _ body: () -> T) -> T? {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { return nil }
    // F_SETPIPE_SZ, F_GETPIPE_SZ (Linux): room for a whole fuzz input.
    _ = fcntl(fds[1], 1031, Int32(1 << 20))
    let capacity = Int(fcntl(fds[1], 1032))
    guard data.count <= capacity else { close(fds[0]); close(fds[1]); return nil }
    var done = 0
    while done < data.count {
        let n = Glibc.write(fds[1], data.baseAddress! + done, data.count - done)
        if n <= 0 { close(fds[0]); close(fds[1]); return nil }
        done += n
    }
    close(fds[1])
    let saved = dup(0)
    dup2(fds[0], 0)
    close(fds[0])
    defer {
        dup2(saved, 0)
        close(saved)
    }
    return body()
}
