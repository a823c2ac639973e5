import Foundation
import Testing
import SniffCore
import SniffDecode
import SniffCapture
@testable import SniffAnalysis
import SniffTestSupport

/// The server certificate each TLS 1.2 flow carries (subject, issuer, validity, read
/// from its reassembled stream) against tshark's dissection of the same Certificate
/// messages (FILE.x509.tsv, scripts/make-cert-truth.sh): every attribute's type and
/// value in order, and both times to the second.
struct CertificateTsharkTests {
    struct Row {
        var frame: Int
        var serverPort: UInt16
        var clientPort: UInt16
        /// RDNs in the certificate's order, each a list of (OID, value).
        var subject: [[[String]]]
        var issuer: [[[String]]]
        var notBefore: Int64
        var notAfter: Int64

        init?(_ line: Substring) {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 7, let frame = Int(f[0]), let s = UInt16(f[1]), let c = UInt16(f[2]),
                  let subject = try? JSONDecoder().decode([[[String]]].self, from: Data(f[3].utf8)),
                  let issuer = try? JSONDecoder().decode([[[String]]].self, from: Data(f[4].utf8)),
                  let before = Int64(f[5]), let after = Int64(f[6]) else { return nil }
            (self.frame, serverPort, clientPort) = (frame, s, c)
            (self.subject, self.issuer, notBefore, notAfter) = (subject, issuer, before, after)
        }
    }

    /// The short names RFC 4514 and OpenSSL give the types in the fixtures.
    static let shortNames = [
        "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
        "2.5.4.11": "OU", "0.9.2342.19200300.100.1.1": "UID", "1.2.840.113549.1.9.1": "emailAddress"
    ]

    /// An RFC 4514 string read back (section 3): RDNs split at unescaped commas, their
    /// attributes at unescaped '+', type and value at the first '=', escapes undone (a
    /// backslash and a special character, or two hex digits for a byte). Written here
    /// independently of the writer, so that the comparison checks its escaping too.
    static func rdns(_ s: String) -> [[[String]]] {
        var out: [[[String]]] = [[]]
        var type: [UInt8] = [], value: [UInt8] = []
        var inValue = false
        let b = Array(s.utf8)
        func endAttribute() {
            out[out.count - 1].append([String(decoding: type, as: UTF8.self), String(decoding: value, as: UTF8.self)])
            (type, value, inValue) = ([], [], false)
        }
        var i = 0
        while i < b.count {
            let ch = b[i]
            if ch == UInt8(ascii: "\\"), i + 1 < b.count {
                let next = b[i + 1]
                if i + 2 < b.count, let byte = UInt8(String(decoding: b[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                    value.append(byte)
                    i += 3
                } else {
                    value.append(next)
                    i += 2
                }
                continue
            }
            if !inValue && ch == UInt8(ascii: "=") { inValue = true }
            else if ch == UInt8(ascii: ",") { endAttribute(); out.append([]) }
            else if ch == UInt8(ascii: "+") { endAttribute() }
            else if inValue { value.append(ch) } else { type.append(ch) }
            i += 1
        }
        endAttribute()
        return out
    }

    /// tshark's RDNs as RFC 4514 orders them (the last first), types by short name.
    static func expected(_ tshark: [[[String]]]) -> [[[String]]] {
        tshark.reversed().map { rdn in rdn.map { [shortNames[$0[0]] ?? $0[0], $0[1]] } }
    }

    static var cases: [(capture: URL, truth: URL)] {
        ((try? FileManager.default.contentsOfDirectory(atPath: TestPaths.fixtures.path)) ?? [])
            .filter { $0.hasSuffix(".x509.tsv") }.sorted()
            .map {
                (
                    TestPaths.fixtures.appendingPathComponent(String($0.dropLast(9))),
                    TestPaths.fixtures.appendingPathComponent($0)
                )
            }
    }

    @Test func flowsAgreeWithTshark() throws {
        var agree = 0, total = 0
        for (capture, truthFile) in Self.cases {
            let rows = try String(contentsOf: truthFile, encoding: .utf8).split(separator: "\n").dropFirst()
                .compactMap(Row.init)
            let all = try flows(of: capture)
            for r in rows {
                let at = "\(capture.lastPathComponent) frame \(r.frame)"
                let flow = try #require(
                    all.first { $0.respPort == r.serverPort && $0.origPort == r.clientPort }, "\(at): no flow")
                let d = flow.details
                total += 1
                let ok = d.tlsCertificate == .read
                    && Self.rdns(d.tlsSubject ?? "") == Self.expected(r.subject)
                    && Self.rdns(d.tlsIssuer ?? "") == Self.expected(r.issuer)
                    && d.tlsNotBefore == r.notBefore && d.tlsNotAfter == r.notAfter
                if ok { agree += 1 }
                #expect(d.tlsCertificate == .read, "\(at)")
                #expect(
                    Self.rdns(d.tlsSubject ?? "") == Self.expected(r.subject), "\(at): subject \(d.tlsSubject ?? "-")")
                #expect(Self.rdns(d.tlsIssuer ?? "") == Self.expected(r.issuer), "\(at): issuer \(d.tlsIssuer ?? "-")")
                #expect(d.tlsNotBefore == r.notBefore && d.tlsNotAfter == r.notAfter, "\(at): validity")
            }
            // Every other TLS flow of the capture has no certificate in the clear.
            let keyed = Set(rows.map { "\($0.serverPort) \($0.clientPort)" })
            for f in all where f.details.tlsChosenVersion != 0 && !keyed.contains("\(f.respPort) \(f.origPort)") {
                #expect(f.details.tlsSubject == nil && f.details.tlsCertificate == .absent,
                        "\(capture.lastPathComponent) \(f.origPort)->\(f.respPort): \(f.details.tlsSubject ?? "-")")
            }
        }
        print("certificates agree with tshark: \(agree) of \(total)")
        #expect(total >= 4 && agree == total)
    }

    /// The fixture's certificates as ssl.log strings: the escapes RFC 4514 asks for
    /// (comma, plus, quotes), UTF-8 kept, a two-valued RDN, and a GeneralizedTime.
    @Test func fixtureStrings() throws {
        let all = try flows(of: TestPaths.fixtures.appendingPathComponent("tls-cert.pcap"))
        let rsa = try #require(all.first { $0.origPort == 40700 }).details
        #expect(rsa.tlsSubject == #"CN=cert.sniff.test,OU=Tests+UID=42,O=Sniff\+Partner\, Inc.,"#
                    + #"L=Zürich\, Süd,ST=Baden-Württemberg,C=DE"#)
        #expect(rsa.tlsIssuer == #"CN=Sniff Root \"R1\",O=Sniff Test CA,C=US"#)
        let ec = try #require(all.first { $0.origPort == 40701 }).details
        #expect(
            ec.tlsSubject == "CN=ecdsa.sniff.test,O=Sniff,emailAddress=ops@sniff.test" && ec.tlsIssuer == ec.tlsSubject)
        #expect(try #require(ec.tlsNotAfter) - (ec.tlsNotBefore ?? 0) == 36500 * 86_400)
        let tls13 = try #require(all.first { $0.origPort == 40702 }).details
        #expect(tls13.tlsChosenVersion == 0x0304 && tls13.tlsCertificate == .absent && tls13.tlsSubject == nil)
    }

    /// Without stream reassembly only a certificate inside the ServerHello's segment is
    /// read: the RSA chain spans segments, the ECDSA certificate does not.
    @Test func reassemblyNeededForSplitCertificates() throws {
        var config = FlowTableConfig.noTimeouts
        config.tcpReassembly.budget = 0
        let all = try flows(of: TestPaths.fixtures.appendingPathComponent("tls-cert.pcap"), config: config)
        #expect(try #require(all.first { $0.origPort == 40700 }).details.tlsSubject == nil)
        #expect(
            try #require(all.first { $0.origPort == 40701 }).details.tlsSubject
                == "CN=ecdsa.sniff.test,O=Sniff,emailAddress=ops@sniff.test")
    }
}
