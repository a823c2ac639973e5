import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
import SniffTestSupport

/// JA3, JA3S and SNI from TCP handshakes and from decrypted QUIC Initials, against tshark
/// (FILE.tls.tsv, written by scripts/make-tls-truth.sh) on every capture of ours and of
/// ../shared/pcaps that has handshakes. A hello is compared in the frame where tshark
/// shows it (where its bytes are complete).
struct TLSTsharkTests {
    struct Seen: Equatable {
        var sni = ""
        var alpn = ""
        var ja3 = ""
        var ja3s = ""
        var quicVersion = ""
    }

    /// Every hello Sniff's decoders find in a capture, by frame number.
    static func hellos(in file: URL) throws -> [Int: Seen] {
        let reader = try CaptureFileReader(path: file.path)
        var out: [Int: Seen] = [:]
        var quic: [String: (client: String, handshake: QUICHandshake)] = [:]
        var p = DecodedPacket()
        var frame = 0
        while let raw = try reader.next() {
            frame += 1
            p.reset()
            PacketDecoder.decode(raw.bytes, link: raw.link, into: &p)
            guard p.hasPorts, p.payloadCaptured > 0, p.payloadOffset > 0 else { continue }
            let c = ByteCursor(raw.bytes)
            var seen = Seen()
            if p.ipProto == 6 {
                if let h = TLS.parseClientHello(c, at: p.payloadOffset, length: p.payloadCaptured),
                    let ja3 = TLSFingerprint.ja3(c, h)
                {
                    seen.ja3 = ja3
                    if h.hasSNI, let b = c.slice(at: h.sniOffset, count: h.sniLength) {
                        seen.sni = String(decoding: b, as: UTF8.self)
                    }
                    seen.alpn = TLSFingerprint.alpnNames(c, h).joined(separator: ",")
                    out[frame] = seen
                } else if let h = TLS.parseServerHello(c, at: p.payloadOffset, length: p.payloadCaptured),
                          let ja3s = TLSFingerprint.ja3s(c, h) {
                    seen.ja3s = ja3s
                    out[frame] = seen
                }
            } else if p.ipProto == 17 {
                let src = "\(p.src):\(p.sport)", dst = "\(p.dst):\(p.dport)"
                let key = min(src, dst) + " " + max(src, dst)
                var conn = quic[key] ?? (src, QUICHandshake())
                let event = conn.handshake.add(
                    c, at: p.payloadOffset, length: p.payloadCaptured, fromClient: conn.client == src)
                quic[key] = conn
                let version = "0x" + String(conn.handshake.version, radix: 16).leftPadded(8)
                switch event {
                case .clientHello:
                    let (h, bytes) = conn.handshake.clientHello!
                    bytes.withUnsafeBytes { b in
                        let hc = ByteCursor(b)
                        seen.ja3 = TLSFingerprint.ja3(hc, h) ?? ""
                        if h.hasSNI, let s = hc.slice(at: h.sniOffset, count: h.sniLength) {
                            seen.sni = String(decoding: s, as: UTF8.self)
                        }
                        seen.alpn = TLSFingerprint.alpnNames(hc, h).joined(separator: ",")
                    }
                    seen.quicVersion = version
                    out[frame] = seen
                case .serverHello:
                    let (h, bytes) = conn.handshake.serverHello!
                    seen.ja3s = bytes.withUnsafeBytes { TLSFingerprint.ja3s(ByteCursor($0), h) } ?? ""
                    seen.quicVersion = version
                    out[frame] = seen
                case .none:
                    break
                }
            }
        }
        return out
    }

    /// tshark's rows: frame number → what it saw.
    static func truth(_ file: URL) throws -> [Int: Seen] {
        var out: [Int: Seen] = [:]
        for line in try String(contentsOf: file, encoding: .utf8).split(separator: "\n").dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 7, let n = Int(f[0]) else { continue }
            // A datagram of coalesced packets lists the version once per packet.
            let version = f[6].split(separator: ",").first.map(String.init) ?? ""
            out[n] = Seen(sni: f[2], alpn: f[3], ja3: f[4], ja3s: f[5], quicVersion: version)
        }
        return out
    }

    /// Each capture with a truth file, and where the truth is.
    static var cases: [(capture: URL, truth: URL)] {
        var out: [(URL, URL)] = []
        for dir in [TestPaths.fixtures, TestPaths.packageRoot.appendingPathComponent("samples")] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            where name.hasSuffix(".tls.tsv") {
                out.append((dir.appendingPathComponent(String(name.dropLast(8))), dir.appendingPathComponent(name)))
            }
        }
        if let shared = TestPaths.sharedPcaps {
            let dir = TestPaths.fixtures.appendingPathComponent("shared")
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            where name.hasSuffix(".tls.tsv") {
                out.append((shared.appendingPathComponent(String(name.dropLast(8))), dir.appendingPathComponent(name)))
            }
        }
        return out.sorted { $0.0.path < $1.0.path }
    }

    @Test(.enabled(if: TestPaths.sharedPcaps != nil, "needs ../shared/pcaps"))
    func fingerprintsAgreeWithTshark() throws {
        var tally: [String: (agree: Int, total: Int)] = [:]
        func count(_ what: String, _ ok: Bool) {
            var t = tally[what] ?? (0, 0)
            t.total += 1
            if ok { t.agree += 1 }
            tally[what] = t
        }
        let cases = Self.cases
        #expect(cases.count >= 6)
        for (capture, truthFile) in cases {
            let truth = try Self.truth(truthFile)
            let ours = try Self.hellos(in: capture)
            for (frame, t) in truth.sorted(by: { $0.key < $1.key }) {
                let o = ours[frame] ?? Seen()
                let isQUIC = !t.quicVersion.isEmpty
                let at = "\(capture.lastPathComponent) frame \(frame)"
                if !t.ja3.isEmpty {
                    count(isQUIC ? "QUIC JA3" : "TLS JA3", o.ja3 == t.ja3)
                    count(isQUIC ? "QUIC SNI" : "TLS SNI", o.sni == t.sni)
                    count(isQUIC ? "QUIC ALPN" : "TLS ALPN", o.alpn == t.alpn)
                    #expect(o.ja3 == t.ja3, "\(at): JA3")
                    #expect(o.sni == t.sni, "\(at): SNI")
                    #expect(o.alpn == t.alpn, "\(at): ALPN")
                }
                if !t.ja3s.isEmpty {
                    count(isQUIC ? "QUIC JA3S" : "TLS JA3S", o.ja3s == t.ja3s)
                    #expect(o.ja3s == t.ja3s, "\(at): JA3S")
                }
                if isQUIC {
                    count("QUIC version", o.quicVersion == t.quicVersion)
                    #expect(o.quicVersion == t.quicVersion, "\(at): QUIC version")
                }
            }
            // Nothing found where tshark saw no hello.
            for frame in ours.keys where truth[frame] == nil {
                Issue.record("\(capture.lastPathComponent) frame \(frame): a hello tshark does not show")
            }
        }
        for (what, t) in tally.sorted(by: { $0.key < $1.key }) {
            print("agreement with tshark: \(what) \(t.agree) of \(t.total)")
        }
        #expect(tally["TLS JA3"]?.total ?? 0 >= 8)
        #expect(tally["TLS JA3S"]?.total ?? 0 >= 8)
        #expect(tally["QUIC SNI"]?.total ?? 0 >= 7)
        #expect(tally["QUIC JA3S"]?.total ?? 0 >= 4)
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
