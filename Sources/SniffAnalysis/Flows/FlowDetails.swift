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
    /// The rest of what the TLS handshake says, in a box of its own made at its first
    /// field. Inline, these fields made the details box that every flow with a finding
    /// holds (on bench.sh's small-packet capture, about a million DNS flows) about 100
    /// bytes larger (that run's peak fell from 538 to 461 MiB when they moved out).
    var handshake = TLSHandshakeRef()

    public init() {}

    /// The client's supported_versions list (GREASE left out) and ALPN names, in its order.
    public var tlsOfferedVersions: [UInt16] {
        get { handshake[\.offeredVersions] }
        set { handshake[\.offeredVersions] = newValue }
    }
    public var tlsALPNOffered: [String] {
        get { handshake[\.alpnOffered] }
        set { handshake[\.alpnOffered] = newValue }
    }
    /// From the ServerHello: the version and cipher suite chosen (0 before one was seen),
    /// and the ALPN protocol chosen when the server sends it in the clear (TLS 1.2).
    public var tlsChosenVersion: UInt16 {
        get { handshake[\.chosenVersion] }
        set { handshake[\.chosenVersion] = newValue }
    }
    public var tlsCipher: UInt16 {
        get { handshake[\.cipher] }
        set { handshake[\.cipher] = newValue }
    }
    public var tlsALPNChosen: String? {
        get { handshake[\.alpnChosen] }
        set { handshake[\.alpnChosen] = newValue }
    }
    /// Fingerprints of the hellos (made only when a hello was read to its end).
    public var ja3: String? {
        get { handshake[\.ja3] }
        set { handshake[\.ja3] = newValue }
    }
    public var ja3s: String? {
        get { handshake[\.ja3s] }
        set { handshake[\.ja3s] = newValue }
    }
    public var ja4: String? {
        get { handshake[\.ja4] }
        set { handshake[\.ja4] = newValue }
    }
    /// The server's leaf certificate (TLS 1.2 and older send it in the clear), and
    /// whether it was read.
    public var certificate: TLSServerCertificate? {
        get { handshake[\.certificate] }
        set { handshake[\.certificate] = newValue }
    }
    public var tlsCertificate: TLSCertificateState {
        get { handshake[\.certificateState] }
        set { handshake[\.certificateState] = newValue }
    }
    public var tlsSubject: String? { certificate?.subject }
    public var tlsIssuer: String? { certificate?.issuer }
    public var tlsNotBefore: Int64? { certificate?.notBefore }
    public var tlsNotAfter: Int64? { certificate?.notAfter }
}

/// The TLS handshake's findings beyond the server name and version (see
/// `FlowDetails.handshake`).
struct TLSHandshake: Sendable, Equatable {
    var offeredVersions: [UInt16] = []
    var alpnOffered: [String] = []
    var chosenVersion: UInt16 = 0
    var cipher: UInt16 = 0
    var alpnChosen: String?
    var ja3: String?
    var ja3s: String?
    var ja4: String?
    var certificate: TLSServerCertificate?
    var certificateState: TLSCertificateState = .unknown
}

/// `FlowDetails`' handshake box with value semantics: copy on write, and no box equal
/// to an empty one, so that details compare as they did with the fields inline.
struct TLSHandshakeRef: Sendable, Equatable {
    var box: TLSHandshakeBox?

    static func == (a: TLSHandshakeRef, b: TLSHandshakeRef) -> Bool {
        if a.box === b.box { return true }
        return (a.box?.value ?? empty) == (b.box?.value ?? empty)
    }

    /// A field, or its default (`TLSHandshake()`'s) while no box was made; setting one
    /// makes the box, or writes in place when only this value holds it.
    subscript<T>(_ field: WritableKeyPath<TLSHandshake, T>) -> T {
        get { (box?.value ?? TLSHandshakeRef.empty)[keyPath: field] }
        set { update { $0[keyPath: field] = newValue } }
    }

    private static let empty = TLSHandshake()

    private mutating func update(_ body: (inout TLSHandshake) -> Void) {
        if box != nil && isKnownUniquelyReferenced(&box) {
            body(&box.unsafelyUnwrapped.value)
            return
        }
        var h = box?.value ?? TLSHandshake()
        body(&h)
        box = TLSHandshakeBox(h)
    }
}

/// Written only while uniquely referenced (`TLSHandshakeRef.update`), hence
/// `@unchecked Sendable`.
final class TLSHandshakeBox: @unchecked Sendable {
    var value: TLSHandshake
    init(_ value: TLSHandshake) { self.value = value }
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

/// The holder of a flow's details, so that a `Flow` stays a small value. Copy on
/// write: `Flow.updateDetails` changes `value` only while the box is uniquely
/// referenced, so a copy of the flow handed to an observer (which shares the box)
/// never changes under it; otherwise the update allocates a new box. Hence
/// `@unchecked Sendable`: a box reachable from more than one place is never written.
final class FlowDetailsBox: @unchecked Sendable {
    var value: FlowDetails
    init(_ value: FlowDetails) { self.value = value }
}
