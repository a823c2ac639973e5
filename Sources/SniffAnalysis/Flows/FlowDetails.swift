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

/// An immutable holder, so that a `Flow` stays a small value and a copy handed to an
/// observer never changes under it: an update allocates a new box (a few times per
/// flow at most).
final class FlowDetailsBox: Sendable {
    let value: FlowDetails
    init(_ value: FlowDetails) { self.value = value }
}
