import SniffCore
import SniffDecode

/// Follows DNS and HTTP/1.x conversations message by message for dns.log and http.log,
/// owned by one flow table (which calls it only when set, so a run without protocol
/// logs pays nothing).
///
/// DNS: every message of a DNS flow (UDP datagrams, or TCP streams split at their
/// two-byte lengths) is read whole; a query waits for the response with its
/// transaction id on the same flow. Queries still waiting when the flow ends (Zeek:
/// when the connection's state goes) are logged unanswered.
/// HTTP: each direction of a flow named HTTP is read in sequence order; header blocks
/// are collected up to `maximumHeaderBlock`, bodies are only counted (Content-Length,
/// chunked coding, or up to the connection's end). Requests queue until their
/// responses arrive, so pipelined requests pair in order.
///
/// Memory is bounded: `maximumDNSPending` queries in all, `maximumDNSPendingPerFlow`
/// per flow (past either the oldest is logged unanswered), `maximumHTTPConnections`
/// connections followed at once, `maximumPipelined` requests waiting per connection,
/// and per direction one header block plus `TCPOrderedSide.maximumHeld` held segments.
public final class TransactionTracker {
    public weak var observer: TransactionObserver?
    public private(set) var stats = TransactionStats()

    public static let maximumDNSPending = 16384
    public static let maximumDNSPendingPerFlow = 64
    public static let maximumHTTPConnections = 4096
    public static let maximumPipelined = 32
    public static let maximumHeaderBlock = 16 * 1024
    /// A DNS message over TCP is at most 65535 bytes after its length.
    static let maximumDNSStreamBuffer = 65537

    private var dnsPending: [Int32: [DNSTransaction]] = [:]
    private var dnsPendingCount = 0
    private var dnsStreams: [Int32: DNSStream] = [:]
    /// Boxed (one allocation per connection) so that a segment changes its connection
    /// in place: a dictionary of the structs moved the whole record (both directions,
    /// the pending requests, a flow) out and back in for every segment.
    private final class HTTPConnectionBox { var connection = HTTPConnection() }
    private var http: [Int32: HTTPConnectionBox] = [:]

    public init(observer: TransactionObserver? = nil) { self.observer = observer }

    /// Number of flows with state here (pending queries, streams, HTTP connections).
    public var trackedFlows: Int { dnsPending.count + dnsStreams.count + http.count }

    // MARK: packets

    /// One packet of flow `index`, after the flow table accounted it.
    func packet(_ flow: Flow, index: Int32, isOrig: Bool, _ p: DecodedPacket, frame: UnsafeRawBufferPointer) {
        let nanos = p.timestamp.totalNanoseconds
        if flow.isUDP {
            if p.hasDNS {
                guard let b = slice(frame, p.dns.messageOffset, p.dns.messageLength) else { return }
                dnsMessage(flow, index: index, b, nanos: nanos, isOrig: isOrig)
            } else if flow.app == .dns, flow.appSource == .payload,
                      let b = slice(frame, p.payloadOffset, p.payloadCaptured) {
                dnsMessage(flow, index: index, b, nanos: nanos, isOrig: isOrig)
            }
            return
        }
        guard flow.isTCP, p.hasTCP, p.payloadCaptured > 0,
              let payload = slice(frame, p.payloadOffset, p.payloadCaptured) else { return }
        if flow.app == .dns {
            dnsSegment(flow, index: index, isOrig: isOrig, seq: p.tcp.seq, payload, nanos: nanos)
        } else if flow.app == .http {
            httpSegment(flow, index: index, isOrig: isOrig, seq: p.tcp.seq, payload, nanos: nanos)
        }
    }

    /// The flow left the table: its unanswered queries and unfinished HTTP
    /// transactions are logged, and its state freed.
    func flowEnded(_ flow: Flow, index: Int32) {
        dnsStreams[index] = nil
        if let waiting = dnsPending.removeValue(forKey: index) {
            dnsPendingCount -= waiting.count
            for var t in waiting { t.flow = flow; emit(t) }
        }
        if let box = http.removeValue(forKey: index) {
            box.connection.finish(flow, tracker: self)
        }
    }

    private func slice(_ frame: UnsafeRawBufferPointer, _ offset: Int, _ count: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, count > 0, offset + count <= frame.count else { return nil }
        return UnsafeRawBufferPointer(rebasing: frame[offset ..< offset + count])
    }

    // MARK: DNS

    func dnsMessage(_ flow: Flow, index: Int32, _ bytes: UnsafeRawBufferPointer, nanos: Int64, isOrig: Bool) {
        guard let m = DNSMessage.read(ByteCursor(bytes)) else { return }
        if !m.isResponse {
            let t = DNSTransaction(flow: flow, nanos: nanos, begunBy: m)
            if dnsPendingCount >= TransactionTracker.maximumDNSPending {
                // Full: the oldest query of this flow (or this one) goes out unanswered.
                stats.dnsPendingDropped &+= 1
                if var list = dnsPending[index], !list.isEmpty {
                    emit(list.removeFirst())
                    list.append(t)
                    dnsPending[index] = list
                } else {
                    emit(t)
                }
                return
            }
            var list = dnsPending.removeValue(forKey: index) ?? []
            if list.count >= TransactionTracker.maximumDNSPendingPerFlow {
                stats.dnsPendingDropped &+= 1
                emit(list.removeFirst())
                dnsPendingCount -= 1
            }
            list.append(t)
            dnsPendingCount += 1
            dnsPending[index] = list
            return
        }
        var t: DNSTransaction
        if var list = dnsPending.removeValue(forKey: index),
           let i = list.firstIndex(where: { $0.transID == m.id }) {
            t = list.remove(at: i)
            dnsPendingCount -= 1
            if !list.isEmpty { dnsPending[index] = list }
            // Timestamps are whatever the capture file says; two that lie further apart
            // than Int64 nanoseconds hold (a corrupt or crafted file) give no rtt, not a trap.
            let (rtt, overflow) = nanos.subtractingReportingOverflow(t.nanos)
            t.rttNanos = overflow ? nil : rtt
            if t.query == nil, let q = m.query { t.query = q; t.qclass = m.qclass; t.qtype = m.qtype }
        } else {
            t = DNSTransaction(flow: flow, nanos: nanos, begunBy: m)
        }
        t.flow = flow
        t.responseFlags = m.flags
        t.answers = m.answers
        t.ttls = m.ttls
        t.rejected = m.rcode != 0 && m.query == nil
        emit(t)
    }

    private func dnsSegment(_ flow: Flow, index: Int32, isOrig: Bool, seq: UInt32, _ payload: UnsafeRawBufferPointer,
                            nanos: Int64) {
        var s = dnsStreams.removeValue(forKey: index) ?? DNSStream()
        let start = (isOrig ? flow.orig.startSeq : flow.resp.startSeq) &+ 1
        var messages: [[UInt8]] = []
        // Moved out of `s`, not copied (see HTTPConnection.add).
        var side = TCPOrderedSide(), framing = LengthPrefixed()
        if isOrig {
            swap(&side, &s.orig); swap(&framing, &s.origBuffer)
        } else {
            swap(&side, &s.resp); swap(&framing, &s.respBuffer)
        }
        side.add(seq: seq, start: start, payload) { chunk in framing.take(chunk, into: &messages) }
        if isOrig { s.orig = side; s.origBuffer = framing } else { s.resp = side; s.respBuffer = framing }
        dnsStreams[index] = s
        for m in messages {
            m.withUnsafeBytes { dnsMessage(flow, index: index, $0, nanos: nanos, isOrig: isOrig) }
        }
    }

    // MARK: HTTP

    private func httpSegment(_ flow: Flow, index: Int32, isOrig: Bool, seq: UInt32, _ payload: UnsafeRawBufferPointer,
                             nanos: Int64) {
        let box: HTTPConnectionBox
        if let existing = http[index] {
            box = existing
        } else {
            guard http.count < TransactionTracker.maximumHTTPConnections else { stats.httpUntracked &+= 1; return }
            box = HTTPConnectionBox()
            http[index] = box
        }
        box.connection.add(flow, isOrig: isOrig, seq: seq, payload, nanos: nanos, tracker: self)
    }

    func emit(_ t: DNSTransaction) {
        stats.dns &+= 1
        observer?.dnsTransaction(t)
    }

    func emit(_ t: HTTPTransaction) {
        stats.http &+= 1
        observer?.httpTransaction(t)
    }

    func lostHTTPDirection() { stats.httpLost &+= 1 }
}

extension DNSTransaction {
    /// The record a message begins: a query, or a response whose query was not seen.
    /// The question's class and type are kept only when it has a question.
    init(flow: Flow, nanos: Int64, begunBy m: DNSMessage) {
        self.init(flow: flow, nanos: nanos, transID: m.id, query: m.query,
                  qclass: m.query == nil ? nil : m.qclass, qtype: m.query == nil ? nil : m.qtype,
                  queryFlags: m.flags)
    }
}

/// Both directions of a DNS-over-TCP flow: bytes in order, cut into messages at their
/// two-byte length (RFC 1035 section 4.2.2).
struct DNSStream {
    var orig = TCPOrderedSide()
    var resp = TCPOrderedSide()
    var origBuffer = LengthPrefixed()
    var respBuffer = LengthPrefixed()
}

/// Collects length-prefixed messages from in-order bytes. After a gap the framing is
/// lost, and the direction is read no further.
struct LengthPrefixed {
    var buffer: [UInt8] = []
    var lost = false

    mutating func take(_ chunk: TCPOrderedSide.Chunk, into out: inout [[UInt8]]) {
        guard !lost else { return }
        guard case .bytes(let b) = chunk else { lost = true; buffer = []; return }
        buffer.append(contentsOf: b)
        while buffer.count >= 2 {
            let n = Int(buffer[0]) << 8 | Int(buffer[1])
            guard buffer.count >= 2 + n else { break }
            out.append(Array(buffer[2 ..< 2 + n]))
            buffer.removeFirst(2 + n)
        }
        if buffer.count > TransactionTracker.maximumDNSStreamBuffer { lost = true; buffer = [] }
    }
}

/// One direction of a TCP connection delivered in sequence order: segments ahead of
/// the next expected byte wait (at most `maximumHeld`, `maximumHeldBytes` in all);
/// retransmitted bytes are delivered once. When the waiting room is full the hole is
/// given up: the consumer is told how many bytes it missed, and reading goes on.
struct TCPOrderedSide {
    enum Chunk {
        case bytes(UnsafeRawBufferPointer)
        case gap(Int)
    }

    static let maximumHeld = 16
    static let maximumHeldBytes = 64 * 1024

    /// The next byte expected; set from `start` by the first segment.
    var next: UInt32 = 0
    var started = false
    var held: [(seq: UInt32, bytes: [UInt8])] = []
    var heldBytes = 0

    /// `start` is the direction's first sequence number (after its SYN, or the first
    /// segment's when the connection was seen midstream).
    mutating func add(seq: UInt32, start: UInt32, _ payload: UnsafeRawBufferPointer, _ deliver: (Chunk) -> Void) {
        if !started { next = start; started = true }
        let ahead = Int(Int32(bitPattern: seq &- next))
        if ahead > 0 {
            if held.count < TCPOrderedSide.maximumHeld && heldBytes + payload.count <= TCPOrderedSide.maximumHeldBytes {
                held.append((seq, Array(payload)))
                heldBytes += payload.count
                return
            }
            deliver(.gap(ahead))
            next = seq
        }
        deliverInOrder(seq: seq, payload, deliver)
        drain(deliver)
    }

    /// Gives up the holes before held segments (the connection ended), in order.
    mutating func flush(_ deliver: (Chunk) -> Void) {
        while !held.isEmpty {
            let i = held.indices.min { Int32(bitPattern: held[$0].seq &- held[$1].seq) < 0 }!
            let gap = Int(Int32(bitPattern: held[i].seq &- next))
            if gap > 0 { deliver(.gap(gap)); next = held[i].seq }
            drain(deliver)
        }
    }

    private mutating func deliverInOrder(seq: UInt32, _ payload: UnsafeRawBufferPointer, _ deliver: (Chunk) -> Void) {
        let skip = Int(Int32(bitPattern: next &- seq))
        guard skip < payload.count else { return }
        deliver(.bytes(UnsafeRawBufferPointer(rebasing: payload[Swift.max(0, skip)...])))
        next = seq &+ UInt32(payload.count)
    }

    private mutating func drain(_ deliver: (Chunk) -> Void) {
        var progress = true
        while progress && !held.isEmpty {
            progress = false
            if let i = held.firstIndex(where: { Int32(bitPattern: $0.seq &- next) <= 0 }) {
                let h = held.remove(at: i)
                heldBytes -= h.bytes.count
                h.bytes.withUnsafeBytes { deliverInOrder(seq: h.seq, $0, deliver) }
                progress = true
            }
        }
    }
}
