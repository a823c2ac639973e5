import SniffDecode

/// What payload inspection learned about a flow: strings copied once per flow, when
/// first seen (never per packet).
public struct FlowDetails: Sendable, Equatable {
    /// The first DNS question name seen in the flow.
    public var dnsQuery: String?
    /// TLS ClientHello server name and offered version.
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

    public init() {}
}

/// An immutable holder, so that a `Flow` stays a small value and a copy handed to an
/// observer never changes under it: an update allocates a new box (a few times per
/// flow at most).
final class FlowDetailsBox: Sendable {
    let value: FlowDetails
    init(_ value: FlowDetails) { self.value = value }
}
