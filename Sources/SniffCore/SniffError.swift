/// An error with two faces: one sentence for the user that says what happened and
/// what to do, and a detailed one for logs.
public protocol SniffError: Error, CustomStringConvertible {
    /// What the user sees on stderr: the problem and, where there is one, the fix.
    var userMessage: String { get }
    /// Extra detail for logs (errno values, offsets, library messages).
    var logMessage: String { get }
    /// The process exit status: 64 for usage errors, 1 for run-time failures.
    var exitCode: Int32 { get }
}

extension SniffError {
    public var logMessage: String { userMessage }
    public var exitCode: Int32 { 1 }
    public var description: String { userMessage }
}

/// A plain run-time failure carrying its own two faces.
public struct RuntimeFailure: SniffError {
    public let userMessage: String
    public let logMessage: String
    public let exitCode: Int32

    public init(_ userMessage: String, log: String? = nil, exitCode: Int32 = 1) {
        self.userMessage = userMessage
        self.logMessage = log ?? userMessage
        self.exitCode = exitCode
    }
}
