import SniffCore

/// Storage failures, with a sentence for the user and the library's detail for logs.
public enum StoreError: SniffError, Equatable {
    /// `--db` is not a URL Sniff understands.
    case badURL(String)
    /// The database cannot be reached or refused the login.
    case unreachable(String, detail: String)
    /// A statement failed (schema, constraint, syntax).
    case database(String, detail: String)
    /// The schema is newer than this build knows.
    case schemaTooNew(found: Int, known: Int)
    /// A query parameter is out of range (the server answers 400 with it).
    case badParameter(name: String, message: String)
    case journal(String)
    /// The backend cannot answer this yet (a read route ClickHouse does not serve).
    case unsupported(String)

    public var userMessage: String {
        switch self {
        case .badURL(let s): return s
        case .unreachable(let s, _): return s
        case .database(let s, _): return s
        case .schemaTooNew(let found, let known):
            return
                "the database schema is at version \(found) but this sniff knows versions up to \(known); upgrade sniff"
        case .badParameter(let name, let message): return "invalid \(name): \(message)"
        case .journal(let s): return s
        case .unsupported(let s): return s
        }
    }

    public var logMessage: String {
        switch self {
        case .unreachable(let s, let d), .database(let s, let d): return "\(s) (\(d))"
        default: return userMessage
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .badURL, .badParameter: return 64
        default: return 1
        }
    }

    /// True for failures worth retrying later (connection lost, server restarting).
    public var isTransient: Bool {
        if case .unreachable = self { return true }
        return false
    }
}
