import SniffCore
import SniffDecode

/// What inspection keeps between packets, owned by one flow table.
struct InspectionState {
    /// Reused for names rendered during payload inspection.
    var scratch = ByteSink(capacity: 256)
    /// The QUIC handshakes being read, by flow index; an entry leaves when both hellos
    /// were read, the datagram budget is spent, or the flow ends.
    var quic: [Int32: QUICHandshake] = [:]
    /// Handshakes read at once at most: each may hold a few KB of CRYPTO data, and a
    /// flood of Initials must not grow memory without bound (later flows go without SNI).
    static let maximumQUICHandshakes = 1024
    /// The start of each TCP direction, reassembled for the parsers.
    var streams = TCPStreams()
    /// Sequence holes of TCP flows (missed_bytes).
    var gaps = TCPGaps()
    /// Reused for a server's handshake messages, gathered from their records.
    var handshake: [UInt8] = []
    /// Server certificates that did not parse (`TLSCertificateState.malformed`).
    var malformedCertificates: UInt64 = 0
}

/// Looks at the first payload-carrying packets of a flow for TLS, HTTP, SSH, DNS and
/// QUIC (with their details), then for the protocols of `AppDetectors`. Reads the
/// borrowed frame; copies a string only when it is new to the flow.
enum PayloadInspector {
    /// Inspects one packet; returns true when the flow learned something.
    static func inspect(_ flow: inout Flow, index: Int32, isOrig: Bool, _ p: DecodedPacket,
                        frame: UnsafeRawBufferPointer, state: inout InspectionState) -> Bool {
        let c = ByteCursor(frame)
        let offset = p.payloadOffset
        let length = p.payloadCaptured
        if p.hasDNS && p.dns.hasQuestion {
            return sawDNS(&flow, c, messageOffset: p.dns.messageOffset, messageLength: p.dns.messageLength,
                          questionOffset: p.dns.questionOffset, scratch: &state.scratch)
        }
        guard length > 0, offset > 0 else { return false }
        if flow.isTCP {
            return inspectTCP(&flow, isOrig: isOrig, c, at: offset, length: length, state: &state)
        }
        if flow.isUDP {
            if let h = QUIC.parseLongHeader(c, at: offset, length: length) {
                let wasPayload = flow.appSource == .payload
                flow.setPayloadApp(.quic)
                var changed = !wasPayload
                if !h.isVersionNegotiation {
                    flow.updateDetails { d in
                        if d.quicVersion == nil { d.quicVersion = h.version; changed = true }
                    }
                }
                if h.isInitial && (h.version == QUIC.version1 || h.version == QUIC.version2) {
                    let before = flow.details
                    sawQUICInitial(&flow, index: index, isOrig: isOrig, c, at: offset, length: length, state: &state)
                    changed = changed || before != flow.details
                }
                return changed
            }
            // Before DNS: a NetBIOS name service message is also a valid DNS message.
            if detect(&flow, c, at: offset, length: length, udp: true) { return true }
            // DNS on a port the decoder did not try (any UDP port), strictly checked.
            if length >= DNS.headerLength + 5, let b = c.slice(at: offset, count: length),
               case .success(let d) = DNS.parse(ByteCursor(b), strict: true), d.hasQuestion {
                return sawDNS(&flow, c, messageOffset: offset, messageLength: length, questionOffset: d.questionOffset,
                              scratch: &state.scratch)
            }
        }
        return false
    }

    /// The TCP parsers on `length` bytes at `offset`: one segment, or the reassembled
    /// start of one direction.
    static func inspectTCP(_ flow: inout Flow, isOrig: Bool, _ c: ByteCursor, at offset: Int, length: Int,
                           state: inout InspectionState) -> Bool {
        if let hello = TLS.parseClientHello(c, at: offset, length: length) {
            let before = flow.details
            let wasPayload = flow.appSource == .payload
            flow.setPayloadApp(.tls)
            sawClientHello(&flow, c, hello, transport: .tcp)
            return before != flow.details || !wasPayload
        }
        if let hello = TLS.parseServerHello(c, at: offset, length: length) {
            let before = flow.details
            let wasPayload = flow.appSource == .payload
            flow.setPayloadApp(.tls)
            sawServerHello(&flow, c, hello)
            if flow.details.tlsCertificate == .unknown {
                sawServerHandshake(&flow, c, at: offset, length: length, state: &state)
            }
            return before != flow.details || !wasPayload
        }
        if let req = HTTP.parseRequest(c, at: offset, length: length) {
            let wasPayload = flow.appSource == .payload
            flow.setPayloadApp(.http)
            var changed = !wasPayload
            flow.updateDetails { d in
                if d.httpMethod == nil {
                    changed = true
                    d.httpMethod = req.method
                    if let b = c.slice(at: req.pathOffset, count: Swift.min(req.pathLength, 512)) {
                        d.httpPath = String(decoding: b, as: UTF8.self)
                    }
                }
                // A reassembled header block read again may now reach the Host line.
                if d.httpHost == nil, req.hasHost,
                   let b = c.slice(at: req.hostOffset, count: Swift.min(req.hostLength, 255)) {
                    d.httpHost = String(decoding: b, as: UTF8.self)
                    changed = true
                }
            }
            return changed
        }
        if let banner = SSH.parseBanner(c, at: offset, length: length) {
            flow.setPayloadApp(.ssh)
            var changed = false
            flow.updateDetails { d in
                guard let b = c.slice(at: banner.lineOffset, count: banner.lineLength) else { return }
                if isOrig, d.sshClient == nil { d.sshClient = String(decoding: b, as: UTF8.self); changed = true }
                if !isOrig, d.sshServer == nil { d.sshServer = String(decoding: b, as: UTF8.self); changed = true }
            }
            return changed
        }
        return detect(&flow, c, at: offset, length: length, udp: false)
    }

    /// Inspects the reassembled start of one TCP direction (from its first byte): DNS
    /// messages with their two-byte length when the flow is DNS by port or payload, else
    /// the TCP parsers.
    static func inspectStream(_ flow: inout Flow, isOrig: Bool, _ bytes: UnsafeRawBufferPointer,
                              state: inout InspectionState) -> Bool {
        let c = ByteCursor(bytes)
        if flow.app == .dns {
            // The first message that holds a question names the flow (RFC 7766: a
            // connection may carry several; each is preceded by its length).
            var at = 0
            while let n = c.getUInt16(at: at), Int(n) >= DNS.headerLength, at + 2 + Int(n) <= bytes.count {
                if let msg = c.slice(at: at + 2, count: Int(n)),
                   case .success(let d) = DNS.parse(ByteCursor(msg), strict: false), d.hasQuestion {
                    return sawDNS(&flow, c, messageOffset: at + 2, messageLength: Int(n),
                                  questionOffset: d.questionOffset, scratch: &state.scratch)
                }
                at += 2 + Int(n)
            }
            return false
        }
        return inspectTCP(&flow, isOrig: isOrig, c, at: 0, length: bytes.count, state: &state)
    }

    /// Whether a direction is worth buffering, given its first bytes: the parsers still
    /// want something (`wantsMore`), and, while the application is not known from the
    /// payload, those bytes begin a message a stream parser reads that is not complete
    /// yet. The payload detectors need only a message's first bytes, so a direction
    /// that begins with anything else is read one segment at a time: buffering it
    /// would copy a bulk transfer (up to the inspection allowance) and parse the
    /// growing prefix again at every segment, for nothing.
    static func wantsStream(_ flow: Flow, isOrig: Bool, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard wantsMore(flow, isOrig: isOrig) else { return false }
        return flow.appSource == .payload || beginsPartialMessage(flow, bytes)
    }

    /// A TLS handshake record, a DNS message over TCP (on a flow that is DNS by port),
    /// an SSH banner or an HTTP request or status line, cut before its end. Two bytes
    /// or fewer cannot tell, and are kept.
    static func beginsPartialMessage(_ flow: Flow, _ b: UnsafeRawBufferPointer) -> Bool {
        let n = b.count
        guard n > 2 else { return n > 0 }
        if flow.app == .dns { return 2 + (Int(b[0]) << 8 | Int(b[1])) > n }
        if b[0] == 0x16 && b[1] == 0x03 {
            guard n >= 5 else { return true }
            return 5 + (Int(b[3]) << 8 | Int(b[4])) > n
        }
        if n >= 4 && b[0] == 0x53 && b[1] == 0x53 && b[2] == 0x48 && b[3] == 0x2D {  // "SSH-"
            return !b.contains(0x0A)
        }
        return beginsHTTP(b) && !endsHeaderBlock(b)
    }

    /// "HTTP/" or an upper-case token of 3 to 16 letters and a space (a request line).
    private static func beginsHTTP(_ b: UnsafeRawBufferPointer) -> Bool {
        if b.count >= 5 && b[0] == 0x48 && b[1] == 0x54 && b[2] == 0x54 && b[3] == 0x50 && b[4] == 0x2F { return true }
        var i = 0
        while i < b.count && i <= 16 {
            let c = b[i]
            if c == 0x20 { return i >= 3 }
            guard c >= 0x41 && c <= 0x5A else { return false }
            i += 1
        }
        return i == b.count
    }

    private static func endsHeaderBlock(_ b: UnsafeRawBufferPointer) -> Bool {
        guard b.count >= 4 else { return false }
        for i in 0 ... b.count - 4 where b[i] == 0x0D && b[i + 1] == 0x0A && b[i + 2] == 0x0D && b[i + 3] == 0x0A {
            return true
        }
        return false
    }

    /// True while the parsers could still learn something from this direction: the
    /// application is not known from the payload yet, or its handshake fields are not
    /// all read. Once false, the direction's stream is no longer buffered.
    static func wantsMore(_ flow: Flow, isOrig: Bool) -> Bool {
        guard flow.appSource == .payload else { return true }
        let d = flow.details
        switch flow.app {
        case .tls, .ldaps, .ftps, .dot, .smtps, .imaps, .pop3s:
            return isOrig ? d.ja3 == nil : d.tlsChosenVersion == 0 || d.tlsCertificate == .unknown
        case .http, .prometheus, .elasticsearch: return isOrig && (d.httpMethod == nil || d.httpHost == nil)
        case .ssh: return isOrig ? d.sshClient == nil : d.sshServer == nil
        case .dns: return d.dnsQuery == nil
        default: return false
        }
    }

    /// Names a flow not yet named from its payload with the first of `AppDetectors`
    /// that recognises this packet (a few byte comparisons each; only the flow's first
    /// `inspectPackets` payloads get here).
    static func detect(_ flow: inout Flow, _ c: ByteCursor, at offset: Int, length: Int, udp: Bool) -> Bool {
        guard flow.appSource == .port, let bytes = c.slice(at: offset, count: length),
              let app = AppDetectors.detect(ByteCursor(bytes), udp: udp) else { return false }
        flow.setPayloadApp(app)
        return true
    }

    /// Records what a complete or partial ClientHello says, once per flow: SNI, offered
    /// versions and ALPN, and the fingerprints when the hello was read to its end.
    static func sawClientHello(_ flow: inout Flow, _ c: ByteCursor, _ hello: TLSClientHello,
                               transport: TLSFingerprint.Transport) {
        guard flow.details.ja3 == nil else { return }
        flow.updateDetails { d in
            if d.tlsSNI == nil, hello.hasSNI, let b = c.slice(at: hello.sniOffset, count: hello.sniLength) {
                d.tlsSNI = String(decoding: b, as: UTF8.self)
            }
            if d.tlsVersion == 0 { d.tlsVersion = hello.version }
            if d.tlsOfferedVersions.isEmpty { d.tlsOfferedVersions = TLSFingerprint.offeredVersions(c, hello) }
            if d.tlsALPNOffered.isEmpty { d.tlsALPNOffered = TLSFingerprint.alpnNames(c, hello) }
            d.ja3 = TLSFingerprint.ja3(c, hello)
            d.ja4 = TLSFingerprint.ja4(c, hello, transport: transport)?.hash
        }
    }

    /// Records the ServerHello's choices and JA3S, once per flow.
    static func sawServerHello(_ flow: inout Flow, _ c: ByteCursor, _ hello: TLSServerHello) {
        guard flow.details.tlsChosenVersion == 0 else { return }
        flow.updateDetails { d in
            d.tlsChosenVersion = hello.version
            // TLS 1.3 (and QUIC) encrypt the Certificate message.
            if hello.version > 0x0303 { d.tlsCertificate = .absent }
            d.tlsCipher = hello.cipherSuite
            d.tlsALPNChosen = TLSFingerprint.alpnChosen(c, hello)
            d.ja3s = TLSFingerprint.ja3s(c, hello)
        }
    }

    /// Reads the leaf certificate from the handshake records that start a server's
    /// stream (`length` bytes at `offset`, the ServerHello first), once they hold it.
    /// Until then the state stays unknown, which keeps the direction buffered.
    static func sawServerHandshake(_ flow: inout Flow, _ c: ByteCursor, at offset: Int, length: Int,
                                   state: inout InspectionState) {
        let ended = TLS.handshakeBytes(c, at: offset, length: length, into: &state.handshake)
        let search = state.handshake.withUnsafeBytes { TLS.leafCertificate(ByteCursor($0), ended: ended) }
        switch search {
        case .pending:
            return
        case .absent:
            flow.updateDetails { $0.tlsCertificate = .absent }
        case .malformed:
            state.malformedCertificates &+= 1
            flow.updateDetails { $0.tlsCertificate = .malformed }
        case .found(let at, let n):
            let read: (X509Certificate, String, String)? = state.handshake.withUnsafeBytes { raw in
                let h = ByteCursor(raw)
                guard let x = X509.parse(h, at: at, length: n),
                      let subject = X509.name(h, at: x.subjectOffset, length: x.subjectLength),
                      let issuer = X509.name(h, at: x.issuerOffset, length: x.issuerLength) else { return nil }
                return (x, subject, issuer)
            }
            guard let (x, subject, issuer) = read else {
                state.malformedCertificates &+= 1
                flow.updateDetails { $0.tlsCertificate = .malformed }
                return
            }
            flow.updateDetails { d in
                d.tlsCertificate = .read
                d.certificate = TLSServerCertificate(subject: subject, issuer: issuer, notBefore: x.notBefore,
                                                     notAfter: x.notAfter)
            }
        }
    }

    /// Feeds a v1/v2 Initial to the flow's handshake reader while the flow still lacks a
    /// hello (the decryption costs a few microseconds, so only Initials of flows not yet
    /// identified pay it), and records the hellos it completes.
    static func sawQUICInitial(_ flow: inout Flow, index: Int32, isOrig: Bool, _ c: ByteCursor, at offset: Int,
                               length: Int, state: inout InspectionState) {
        let d = flow.details
        guard d.ja3 == nil || d.tlsChosenVersion == 0 else { return }
        var hs: QUICHandshake
        if let existing = state.quic.removeValue(forKey: index) {
            hs = existing
        } else {
            // Only a client's first Initial starts a handshake: its DCID makes the keys.
            guard isOrig, d.ja3 == nil, state.quic.count < InspectionState.maximumQUICHandshakes else { return }
            hs = QUICHandshake()
        }
        switch hs.add(c, at: offset, length: length, fromClient: isOrig) {
        case .clientHello:
            if let (hello, bytes) = hs.clientHello {
                bytes.withUnsafeBytes { sawClientHello(&flow, ByteCursor($0), hello, transport: .quic) }
            }
        case .serverHello:
            if let (hello, bytes) = hs.serverHello {
                bytes.withUnsafeBytes { sawServerHello(&flow, ByteCursor($0), hello) }
            }
        case .none:
            break
        }
        if !hs.isDone { state.quic[index] = hs }
    }

    /// The name is rendered into the table's reusable `scratch` buffer: a short name
    /// then becomes a String without any allocation.
    static func sawDNS(_ flow: inout Flow, _ c: ByteCursor, messageOffset: Int, messageLength: Int, questionOffset: Int,
                       scratch: inout ByteSink) -> Bool {
        let wasPayload = flow.appSource == .payload
        flow.setPayloadApp(.dns)
        var changed = !wasPayload
        // Read in place: `details` copies the whole record (a retain and a release of
        // each of its references), and every DNS packet with a question comes here.
        guard flow.detailsBox?.value.dnsQuery == nil,
              let msgBytes = c.slice(at: messageOffset, count: messageLength) else { return changed }
        scratch.removeAll()
        if DNS.writeName(ByteCursor(msgBytes), at: questionOffset, into: &scratch) == nil {
            let name = scratch.bytes.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
            flow.updateDetails { $0.dnsQuery = name }
            changed = true
        }
        return changed
    }
}
