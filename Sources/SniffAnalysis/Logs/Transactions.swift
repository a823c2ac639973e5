import SniffCore
import SniffDecode

/// One DNS query with its response (dns.log's row): matched by flow and transaction id.
/// A query never answered has no response fields; a response whose query was not seen
/// has no rtt. Times are nanoseconds since the epoch.
public struct DNSTransaction: Sendable {
    /// The flow as it was when the record was made (its uid and addresses).
    public var flow: Flow
    /// The query's time, or the response's when the query was not seen.
    public var nanos: Int64
    public var transID: UInt16
    public var rttNanos: Int64?
    public var query: String?
    public var qclass: UInt16?
    public var qtype: UInt16?
    /// The response's header flags and rcode; nil without a response.
    public var responseFlags: UInt16?
    /// The query's flags (RD), or the response's when the query was not seen.
    public var queryFlags: UInt16
    public var answers: [String] = []
    public var ttls: [UInt32] = []

    public var rcode: UInt8? { responseFlags.map { UInt8($0 & 0xF) } }
    /// Zeek's AA, TC, RD, RA and Z: the response's bits (RD the query's; Z the
    /// query's when there was no response).
    public var authoritative: Bool { (responseFlags ?? 0) & 0x0400 != 0 }
    public var truncated: Bool { (responseFlags ?? 0) & 0x0200 != 0 }
    public var recursionDesired: Bool { queryFlags & 0x0100 != 0 }
    public var recursionAvailable: Bool { (responseFlags ?? 0) & 0x0080 != 0 }
    public var z: UInt16 { ((responseFlags ?? queryFlags) >> 6) & 1 }
    /// Zeek's `rejected`: the server answered with an error code and no question section.
    public var rejected: Bool = false
}

/// One HTTP request with its response (http.log's row). `nanos` is when the request
/// began; a response whose request was not seen starts the record itself.
public struct HTTPTransaction: Sendable {
    public var flow: Flow
    public var nanos: Int64
    /// The request's position on its connection, from 1 (Zeek's trans_depth).
    public var depth: Int
    public var method: String?
    public var host: String?
    public var uri: String?
    public var referrer: String?
    public var version: String?
    public var userAgent: String?
    public var origin: String?
    public var requestBodyLength: Int64 = 0
    public var responseBodyLength: Int64 = 0
    public var statusCode: UInt16?
    public var statusMessage: String?
    /// The last 1xx interim response before the final one (Zeek's info_code/info_msg).
    public var infoCode: UInt16?
    public var infoMessage: String?
    /// The response's Content-Type media type.
    public var responseContentType: String?
    public var requestContentType: String?
}

/// Receives DNS and HTTP transactions as they complete: on the flow table's thread, per
/// transaction (never per packet); must not block.
public protocol TransactionObserver: AnyObject {
    func dnsTransaction(_ t: DNSTransaction)
    func httpTransaction(_ t: HTTPTransaction)
}

/// Hands each transaction to several observers in order (the `--logs` files and
/// storage). Holds them strongly: the tracker holds its observer weakly, so whoever
/// sets the list as the observer keeps it.
public final class TransactionObserverList: TransactionObserver {
    public var observers: [TransactionObserver]
    public init(_ observers: [TransactionObserver] = []) { self.observers = observers }
    public func dnsTransaction(_ t: DNSTransaction) { for o in observers { o.dnsTransaction(t) } }
    public func httpTransaction(_ t: HTTPTransaction) { for o in observers { o.httpTransaction(t) } }
}

/// Counters of the transaction trackers, for the report and the tests.
public struct TransactionStats: Sendable, Equatable {
    public var dns: UInt64 = 0
    public var http: UInt64 = 0
    /// Queries logged without an answer because a pending limit was reached.
    public var dnsPendingDropped: UInt64 = 0
    /// HTTP connections not followed because `maximumHTTPConnections` were open.
    public var httpUntracked: UInt64 = 0
    /// HTTP directions given up (not HTTP/1.x, a gap in a header block, a header block
    /// longer than the limit, or an upgrade to another protocol).
    public var httpLost: UInt64 = 0

    public init() {}
}
