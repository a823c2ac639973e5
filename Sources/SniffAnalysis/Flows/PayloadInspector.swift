import SniffCore
import SniffDecode

/// Looks at the first payload-carrying packets of a flow for TLS, HTTP, SSH, DNS and
/// QUIC. Reads the borrowed frame; copies a string only when it is new to the flow.
enum PayloadInspector {
    /// Inspects one packet; returns true when the flow learned something.
    static func inspect(_ flow: inout Flow, isOrig: Bool, _ p: DecodedPacket, frame: UnsafeRawBufferPointer,
                        scratch: inout ByteSink) -> Bool {
        let c = ByteCursor(frame)
        let offset = p.payloadOffset
        let length = p.payloadCaptured
        if p.hasDNS && p.dns.hasQuestion {
            return sawDNS(&flow, c, messageOffset: p.dns.messageOffset, messageLength: p.dns.messageLength,
                          questionOffset: p.dns.questionOffset, scratch: &scratch)
        }
        guard length > 0, offset > 0 else { return false }
        if flow.isTCP {
            if let hello = TLS.parseClientHello(c, at: offset, length: length) {
                let before = flow.details
                let wasPayload = flow.appSource == .payload
                flow.setPayloadApp(.tls)
                flow.updateDetails { d in
                    if d.tlsSNI == nil, hello.hasSNI, let b = c.slice(at: hello.sniOffset, count: hello.sniLength) {
                        d.tlsSNI = String(decoding: b, as: UTF8.self)
                    }
                    if d.tlsVersion == 0 { d.tlsVersion = hello.version }
                }
                return before != flow.details || !wasPayload
            }
            if let req = HTTP.parseRequest(c, at: offset, length: length) {
                let wasPayload = flow.appSource == .payload
                flow.setPayloadApp(.http)
                var changed = !wasPayload
                flow.updateDetails { d in
                    guard d.httpMethod == nil else { return }
                    changed = true
                    d.httpMethod = req.method
                    if let b = c.slice(at: req.pathOffset, count: Swift.min(req.pathLength, 512)) {
                        d.httpPath = String(decoding: b, as: UTF8.self)
                    }
                    if req.hasHost, let b = c.slice(at: req.hostOffset, count: Swift.min(req.hostLength, 255)) {
                        d.httpHost = String(decoding: b, as: UTF8.self)
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
            return false
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
                return changed
            }
            // DNS on a port the decoder did not try (any UDP port), strictly checked.
            if length >= DNS.headerLength + 5, let b = c.slice(at: offset, count: length),
               case .success(let d) = DNS.parse(ByteCursor(b), strict: true), d.hasQuestion {
                return sawDNS(&flow, c, messageOffset: offset, messageLength: length, questionOffset: d.questionOffset,
                              scratch: &scratch)
            }
        }
        return false
    }

    /// The name is rendered into the table's reusable `scratch` buffer: a short name
    /// then becomes a String without any allocation.
    static func sawDNS(_ flow: inout Flow, _ c: ByteCursor, messageOffset: Int, messageLength: Int, questionOffset: Int,
                       scratch: inout ByteSink) -> Bool {
        let wasPayload = flow.appSource == .payload
        flow.setPayloadApp(.dns)
        var changed = !wasPayload
        guard flow.details.dnsQuery == nil, let msgBytes = c.slice(at: messageOffset, count: messageLength) else { return changed }
        scratch.removeAll()
        if DNS.writeName(ByteCursor(msgBytes), at: questionOffset, into: &scratch) == nil {
            let name = scratch.bytes.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
            flow.updateDetails { $0.dnsQuery = name }
            changed = true
        }
        return changed
    }
}
