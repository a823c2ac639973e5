import SniffDecode

/// What payload inspection learned about a flow: strings copied once per flow, when
/// first seen (never per packet).
public struct FlowDetails: Sendable, Equatable {
    /// The first DNS question name seen in the flow.
    public var dnsQuery: String?
    /// The server name of the ClientHello (over TCP, or in QUIC's decrypted Initials) and
    /// the highest version it offers.
    public var tlsSNI: String?
    public var tlsVersion: UInt16 = 0
    /// The client's supported_versions list (GREASE left out) and ALPN names, in its order.
    public var tlsOfferedVersions: [UInt16] = []
    public var tlsALPNOffered: [String] = []
    /// From the ServerHello: the version and cipher suite chosen (0 before one was seen),
    /// and the ALPN protocol chosen when the server sends it in the clear (TLS 1.2).
    public var tlsChosenVersion: UInt16 = 0
    public var tlsCipher: UInt16 = 0
    public var tlsALPNChosen: String?
    /// Fingerprints of the hellos (made only when a hello was read to its end).
    public var ja3: String?
    public var ja3s: String?
    public var ja4: String?
    /// The server's leaf certificate (TLS 1.2 and older send it in the clear), and
    /// whether it was read.
    public var certificate: TLSServerCertificate?
    public var tlsCertificate: TLSCertificateState = .unknown
    public var tlsSubject: String? { certificate?.subject }
    public var tlsIssuer: String? { certificate?.issuer }
    public var tlsNotBefore: Int64? { certificate?.notBefore }
    public var tlsNotAfter: Int64? { certificate?.notAfter }
    /// The first HTTP request: method, Host header and path.
    public var httpMethod: HTTPMethod?
    public var httpHost: String?
    public var httpPath: String?
    /// SSH identification lines ("SSH-2.0-OpenSSH_9.2") from each side.
    public var sshClient: String?
    public var sshServer: String?
    /// The QUIC version from a long header.
    public var quicVersion: UInt32?
    /// For a flow carried in a tunnel: the tunnel and the flow that carried it.
    public var tunnel: FlowTunnel?

    public init() {}
}

/// A server certificate's subject and issuer as RFC 4514 strings and its validity in
/// seconds since 1970. A class, so that `FlowDetails` (whose box every flow with a
/// payload finding holds) grows by one pointer rather than by these 48 bytes.
public final class TLSServerCertificate: Sendable, Equatable {
    public let subject: String
    public let issuer: String
    public let notBefore: Int64
    public let notAfter: Int64

    public init(subject: String, issuer: String, notBefore: Int64, notAfter: Int64) {
        self.subject = subject; self.issuer = issuer; self.notBefore = notBefore; self.notAfter = notAfter
    }

    public static func == (a: TLSServerCertificate, b: TLSServerCertificate) -> Bool {
        a.subject == b.subject && a.issuer == b.issuer && a.notBefore == b.notBefore && a.notAfter == b.notAfter
    }
}

/// What became of a TLS flow's server certificate.
public enum TLSCertificateState: UInt8, Sendable {
    /// Not known yet (or the flow is not TLS, or its handshake was not seen).
    case unknown
    /// Read: the details hold its fields.
    case read
    /// None in the clear: TLS 1.3 or QUIC (encrypted), a resumed session, no certificate.
    case absent
    /// A Certificate message or certificate that does not parse (counted in the flow
    /// table's `malformedCertificates`).
    case malformed
}

/// An immutable holder, so that a `Flow` stays a small value and a copy handed to an
/// observer never changes under it: an update allocates a new box (a few times per
/// flow at most).
final class FlowDetailsBox: Sendable {
    let value: FlowDetails
    init(_ value: FlowDetails) { self.value = value }
}
