import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
@testable import SniffAnalysis

/// The TLS facts each flow carries (from its first handshake packets, as `--flows` writes
/// them) against tshark's view of the same hellos (FILE.tls.tsv): SNI, JA3, JA3S, ALPN,
/// the chosen cipher suite and version, and JA4, which tshark 4.0 does not print, built
/// here from the cipher suites, extensions and signature algorithms tshark decoded.
struct FlowTLSTsharkTests {
    /// One hello row of a truth file.
    struct Row {
        var frame: Int
        var types: [String]
        var sni, alpn, ja3, ja3s, quic: String
        var ciphers, extensions, sigAlgs, supportedVersions: [String]
        var legacyVersion: String

        init?(_ line: Substring) {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 12, let n = Int(f[0]) else { return nil }
            func list(_ s: String) -> [String] { s.split(separator: ",").map(String.init) }
            frame = n
            types = list(f[1])
            (sni, alpn, ja3, ja3s, quic) = (f[2], f[3], f[4], f[5], f[6])
            (ciphers, extensions, sigAlgs, supportedVersions) = (list(f[7]), list(f[8]), list(f[9]), list(f[10]))
            legacyVersion = list(f[11]).first ?? ""
        }

        var isClientHello: Bool { types.contains("1") }
        var isServerHello: Bool { types.contains("2") }
    }

    static func hex16(_ s: String) -> UInt16? { UInt16(s.dropFirst(2), radix: 16) }

    /// JA4 from tshark's decoded lists, following FoxIO's specification.
    static func ja4(_ r: Row) -> String {
        let ciphers = r.ciphers.compactMap(hex16).filter { !TLS.isGREASE($0) }
        let extensions = r.extensions.compactMap { UInt16($0) }.filter { !TLS.isGREASE($0) }
        let algorithms = r.sigAlgs.compactMap(hex16).filter { !TLS.isGREASE($0) }
        let versions = r.supportedVersions.compactMap(hex16).filter { !TLS.isGREASE($0) }
        let version: String
        switch versions.max() ?? hex16(r.legacyVersion) ?? 0 {
        case 0x0304: version = "13"
        case 0x0303: version = "12"
        case 0x0302: version = "11"
        case 0x0301: version = "10"
        default: version = "00"
        }
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : String(min(n, 99)) }
        var alpn = "00"
        if let first = r.alpn.split(separator: ",").first, let a = first.first, let b = first.last {
            alpn = a.isASCII && (a.isLetter || a.isNumber) && b.isASCII && (b.isLetter || b.isNumber)
                ? "\(a)\(b)" : "??"
        }
        func hex4(_ v: [UInt16]) -> String {
            v.map { String($0, radix: 16).leftPadded(4) }.joined(separator: ",")
        }
        let prefix = (r.quic.isEmpty ? "t" : "q") + version + (r.sni.isEmpty ? "i" : "d")
            + two(ciphers.count) + two(extensions.count) + alpn
        let sortedExtensions = hex4(extensions.filter { $0 != 0 && $0 != 16 }.sorted())
        let extensionPart = algorithms.isEmpty ? sortedExtensions : sortedExtensions + "_" + hex4(algorithms)
        return prefix + "_" + TLSFingerprint.truncatedSHA256(hex4(ciphers.sorted())) + "_"
            + TLSFingerprint.truncatedSHA256(extensionPart)
    }

    /// The conversation of every frame, both directions the same, as Sniff's decoder sees it.
    static func conversations(in file: URL) throws -> [Int: String] {
        let reader = try CaptureFileReader(path: file.path)
        var out: [Int: String] = [:]
        var p = DecodedPacket()
        var frame = 0
        while let raw = try reader.next() {
            frame += 1
            p.reset()
            PacketDecoder.decode(raw.bytes, link: raw.link, into: &p)
            guard p.hasPorts else { continue }
            out[frame] = key(p.ipProto, "\(p.src):\(p.sport)", "\(p.dst):\(p.dport)")
        }
        return out
    }

    static func key(_ proto: UInt8, _ a: String, _ b: String) -> String { "\(proto) \(min(a, b)) \(max(a, b))" }

    @Test func flowsAgreeWithTshark() throws {
        var tally: [String: (agree: Int, total: Int)] = [:]
        func check(_ what: String, _ ours: String, _ theirs: String, _ at: String) {
            var t = tally[what] ?? (0, 0)
            t.total += 1
            if ours == theirs { t.agree += 1 }
            tally[what] = t
            #expect(ours == theirs, "\(at): \(what)")
        }
        let cases = TLSTsharkTests.cases
        #expect(cases.count >= 5)
        for (capture, truthFile) in cases {
            let rows = try String(contentsOf: truthFile, encoding: .utf8).split(separator: "\n").dropFirst()
                .compactMap(Row.init)
            let frames = try Self.conversations(in: capture)
            var byKey: [String: Flow] = [:]
            for f in try flows(of: capture) {
                byKey[Self.key(f.proto, "\(f.origAddress):\(f.origPort)", "\(f.respAddress):\(f.respPort)")] = f
            }
            // A flow takes its facts from its first hellos; later ones (retransmissions,
            // a second Initial) say the same or are not what the flow shows.
            var clientSeen = Set<String>(), serverSeen = Set<String>()
            for r in rows {
                let at = "\(capture.lastPathComponent) frame \(r.frame)"
                guard let k = frames[r.frame], let flow = byKey[k] else {
                    Issue.record("\(at): no flow")
                    continue
                }
                let d = flow.details
                let kind = r.quic.isEmpty ? "TLS" : "QUIC"
                if r.isClientHello, !r.ja3.isEmpty, clientSeen.insert(k).inserted {
                    check("\(kind) SNI", d.tlsSNI ?? "", r.sni, at)
                    check("\(kind) JA3", d.ja3 ?? "", r.ja3, at)
                    check("\(kind) JA4", d.ja4 ?? "", Self.ja4(r), at)
                    check("\(kind) ALPN offered", d.tlsALPNOffered.joined(separator: ","), r.alpn, at)
                }
                if r.isServerHello, !r.ja3s.isEmpty, serverSeen.insert(k).inserted {
                    check("\(kind) JA3S", d.ja3s ?? "", r.ja3s, at)
                    check("\(kind) cipher", String(format: "0x%04x", d.tlsCipher), r.ciphers.first ?? "", at)
                    check("\(kind) ALPN chosen", d.tlsALPNChosen ?? "", r.alpn, at)
                    let chosen = r.supportedVersions.first ?? r.legacyVersion
                    check("\(kind) version", String(format: "0x%04x", d.tlsChosenVersion), chosen, at)
                }
            }
        }
        for (what, t) in tally.sorted(by: { $0.key < $1.key }) {
            print("flows agree with tshark: \(what) \(t.agree) of \(t.total)")
        }
        #expect(tally["TLS JA3"]?.total ?? 0 >= 7)
        #expect(tally["TLS JA3S"]?.total ?? 0 >= 6)
        #expect(tally["QUIC SNI"]?.total ?? 0 >= 4)
        #expect(tally["QUIC JA3S"]?.total ?? 0 >= 3)
    }
}
