/// Zeek's `conn_state` values (base/protocols/conn/main.zeek).
public enum ConnState: UInt8, Sendable, CaseIterable {
    /// Connection attempt seen, no reply.
    case s0
    /// Connection established, not terminated.
    case s1
    /// Normal establishment and termination (UDP: traffic both ways).
    case sf
    /// Connection attempt rejected.
    case rej
    /// Established, close attempt by the originator seen, no reply from the responder.
    case s2
    /// Established, close attempt by the responder seen, no reply from the originator.
    case s3
    /// Established, the originator aborted (sent a RST).
    case rsto
    /// The responder sent a RST.
    case rstr
    /// The originator sent a SYN then a RST; no SYN-ACK seen.
    case rstos0
    /// The responder sent a SYN-ACK then a RST; no SYN seen from the originator.
    case rstrh
    /// The originator sent a SYN then a FIN; no SYN-ACK seen ("half" open).
    case sh
    /// The responder sent a SYN-ACK then a FIN; no SYN seen from the originator.
    case shr
    /// No SYN seen, just midstream traffic (and anything not above).
    case oth

    public var name: StaticString {
        switch self {
        case .s0: return "S0"
        case .s1: return "S1"
        case .sf: return "SF"
        case .rej: return "REJ"
        case .s2: return "S2"
        case .s3: return "S3"
        case .rsto: return "RSTO"
        case .rstr: return "RSTR"
        case .rstos0: return "RSTOS0"
        case .rstrh: return "RSTRH"
        case .sh: return "SH"
        case .shr: return "SHR"
        case .oth: return "OTH"
        }
    }

    /// The names as Strings, made once (this runs for every flow stored).
    private static let strings: [String] = allCases.map { "\($0.name)" }

    public var string: String { Self.strings[Int(rawValue)] }

    public init?(name: String) {
        guard let s = ConnState.allCases.first(where: { "\($0.name)" == name }) else { return nil }
        self = s
    }
}
