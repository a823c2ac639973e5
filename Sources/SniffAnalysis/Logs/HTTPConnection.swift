import SniffCore
import SniffDecode

/// Where one direction of an HTTP/1.x connection is: in a header block, a body of known
/// length, a chunked body (size line, data, the CRLF after it, the trailer), a body
/// that lasts until the connection closes, or given up.
struct HTTPParser {
    enum Phase { case head, body, chunkSize, chunkData, chunkEnd, trailer, untilClose, lost }

    var phase = Phase.head
    /// The header block, or the chunk-size or trailer line, being collected.
    var buffer: [UInt8] = []
    var remaining: Int64 = 0
    /// When the message being read began.
    var startNanos: Int64 = 0

    static let maximumLine = 1024
}

/// Both directions of one HTTP connection and the requests waiting for responses.
struct HTTPConnection {
    var origOrder = TCPOrderedSide()
    var respOrder = TCPOrderedSide()
    var origParser = HTTPParser()
    var respParser = HTTPParser()
    /// Requests whose responses have not begun, oldest first (pipelining).
    var pending: [HTTPTransaction] = []
    /// The transaction whose response body is being read.
    var answering: HTTPTransaction?
    var depth = 0
    /// The depth of the request whose body the client is sending.
    var requestBodyDepth = 0
    /// The flow as of the latest segment, for the records.
    var flow: Flow?

    mutating func add(_ flow: Flow, isOrig: Bool, seq: UInt32, _ payload: UnsafeRawBufferPointer, nanos: Int64,
                      tracker: TransactionTracker) {
        self.flow = flow
        let start = (isOrig ? flow.orig.startSeq : flow.resp.startSeq) &+ 1
        // Moved out, not copied: a copy would share the held segments and the header
        // buffer with the field, and the first append would copy them whole.
        var order = TCPOrderedSide(), parser = HTTPParser()
        if isOrig {
            swap(&order, &origOrder); swap(&parser, &origParser)
        } else {
            swap(&order, &respOrder); swap(&parser, &respParser)
        }
        order.add(seq: seq, start: start, payload) { chunk in
            consume(chunk, isOrig: isOrig, parser: &parser, nanos: nanos, tracker: tracker)
        }
        if isOrig { origOrder = order; origParser = parser } else { respOrder = order; respParser = parser }
    }

    /// The connection ended: held segments are read past their holes, a body read to
    /// the close ends, and requests left without a response are logged as they are.
    mutating func finish(_ flow: Flow, tracker: TransactionTracker) {
        self.flow = flow
        let nanos = flow.lastNanos
        for isOrig in [true, false] {
            var order = isOrig ? origOrder : respOrder
            var parser = isOrig ? origParser : respParser
            order.flush { consume($0, isOrig: isOrig, parser: &parser, nanos: nanos, tracker: tracker) }
            if isOrig { origParser = parser } else { respParser = parser }
        }
        if let t = answering { emit(t, tracker) }
        answering = nil
        for t in pending { emit(t, tracker) }
        pending = []
    }

    private func emit(_ t: HTTPTransaction, _ tracker: TransactionTracker) {
        var t = t
        if let flow { t.flow = flow }
        tracker.emit(t)
    }

    private mutating func consume(_ chunk: TCPOrderedSide.Chunk, isOrig: Bool, parser p: inout HTTPParser, nanos: Int64,
                                  tracker: TransactionTracker) {
        guard p.phase != .lost else { return }
        guard case .bytes(let b) = chunk else {
            if case .gap(let n) = chunk { gap(Int64(n), isOrig: isOrig, parser: &p, tracker: tracker) }
            return
        }
        var i = 0
        while i < b.count {
            switch p.phase {
            case .lost:
                return
            case .head:
                if p.buffer.isEmpty {
                    // Line ends between messages (after a POST body, say) are not a message.
                    while i < b.count && (b[i] == 0x0D || b[i] == 0x0A) { i += 1 }
                    guard i < b.count else { return }
                    p.startNanos = nanos
                }
                // A line at a time: the block can only end at a line feed, and a direction
                // that is not HTTP (a download on port 80) costs one copy per segment
                // instead of one append per byte.
                while i < b.count {
                    var lf = i
                    while lf < b.count && b[lf] != 0x0A { lf += 1 }
                    let end = Swift.min(lf + 1, b.count)
                    p.buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[i ..< end]))
                    i = end
                    if lf < b.count && HTTPConnection.endsBlock(p.buffer) { break }
                }
                guard HTTPConnection.endsBlock(p.buffer) else {
                    if p.buffer.count > TransactionTracker.maximumHeaderBlock
                        || !HTTPConnection.mayStartHead(p.buffer, isOrig: isOrig) {
                        lose(&p, tracker)
                    }
                    return
                }
                let head = p.buffer.withUnsafeBytes { HTTPMessageHead.parse($0) }
                p.buffer.removeAll(keepingCapacity: true)
                guard let head, head.isRequest == isOrig else { lose(&p, tracker); return }
                begin(head, isOrig: isOrig, parser: &p, tracker: tracker)
            case .body, .chunkData:
                let n = Int(Swift.min(p.remaining, Int64(b.count - i)))
                i += n
                p.remaining -= Int64(n)
                countBody(Int64(n), isOrig: isOrig)
                if p.remaining == 0 { bodyDone(isOrig: isOrig, parser: &p, tracker: tracker) }
            case .untilClose:
                countBody(Int64(b.count - i), isOrig: isOrig)
                i = b.count
            case .chunkSize, .chunkEnd, .trailer:
                guard let line = HTTPConnection.line(b, &i, &p) else {
                    if p.buffer.count > HTTPParser.maximumLine { lose(&p, tracker) }
                    return
                }
                switch p.phase {
                case .chunkEnd:
                    p.phase = .chunkSize
                case .trailer:
                    if line == 0 { end(isOrig: isOrig, parser: &p, tracker: tracker) }
                default:
                    guard let size = HTTPConnection.chunkSize(p.buffer) else { lose(&p, tracker); return }
                    if size == 0 { p.phase = .trailer } else { p.remaining = size; p.phase = .chunkData }
                }
                p.buffer.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Bytes the capture missed: skipped inside a body of known length or one read to
    /// the close (counted, as Zeek counts a body's length past gaps), else the
    /// direction is given up.
    private mutating func gap(_ n: Int64, isOrig: Bool, parser p: inout HTTPParser, tracker: TransactionTracker) {
        switch p.phase {
        case .body where n <= p.remaining, .chunkData where n <= p.remaining:
            p.remaining -= n
            countBody(n, isOrig: isOrig)
            if p.remaining == 0 { bodyDone(isOrig: isOrig, parser: &p, tracker: tracker) }
        case .untilClose:
            countBody(n, isOrig: isOrig)
        case .lost:
            break
        default:
            lose(&p, tracker)
        }
    }

    /// A body of known length ends the message; a chunk's data is followed by CRLF.
    private mutating func bodyDone(isOrig: Bool, parser p: inout HTTPParser, tracker: TransactionTracker) {
        if p.phase == .body { end(isOrig: isOrig, parser: &p, tracker: tracker) } else { p.phase = .chunkEnd }
    }

    private mutating func lose(_ p: inout HTTPParser, _ tracker: TransactionTracker) {
        p.phase = .lost
        p.buffer = []
        tracker.lostHTTPDirection()
    }

    /// A complete header block: a request joins the queue, a response takes the oldest
    /// request; then the body's framing (RFC 9112 section 6.3).
    private mutating func begin(_ h: HTTPMessageHead, isOrig: Bool, parser p: inout HTTPParser,
                                tracker: TransactionTracker) {
        guard let flow else { return }
        if isOrig {
            depth += 1
            var t = HTTPTransaction(flow: flow, nanos: p.startNanos, depth: depth)
            t.method = h.method
            t.host = h.host
            t.uri = h.uri
            t.referrer = h.referrer
            t.version = h.version
            t.userAgent = h.userAgent
            t.origin = h.origin
            t.requestContentType = h.contentType
            if pending.count >= TransactionTracker.maximumPipelined { emit(pending.removeFirst(), tracker) }
            pending.append(t)
            requestBodyDepth = depth
            if h.chunked {
                p.phase = .chunkSize
            } else if let n = h.contentLength, n > 0 {
                p.remaining = n
                p.phase = .body
            } else {
                p.phase = .head
            }
            return
        }
        let code = h.statusCode
        if code >= 100 && code < 200 && code != 101 {
            // An interim response: the final one follows for the same request.
            if !pending.isEmpty { pending[0].infoCode = code; pending[0].infoMessage = h.statusMessage }
            p.phase = .head
            return
        }
        var t: HTTPTransaction
        if pending.isEmpty {
            depth += 1
            t = HTTPTransaction(flow: flow, nanos: p.startNanos, depth: depth)
            t.version = h.version
        } else {
            t = pending.removeFirst()
        }
        t.statusCode = code
        t.statusMessage = h.statusMessage
        t.responseContentType = h.contentType
        let method = t.method ?? ""
        if code == 101 || (method == "CONNECT" && code >= 200 && code < 300) {
            // The connection now carries another protocol.
            emit(t, tracker)
            p.phase = .lost
            p.buffer = []
            return
        }
        if method == "HEAD" || code == 204 || code == 304 {
            emit(t, tracker)
            p.phase = .head
        } else if h.chunked {
            answering = t
            p.phase = .chunkSize
        } else if let n = h.contentLength {
            if n == 0 {
                emit(t, tracker)
                p.phase = .head
            } else {
                answering = t
                p.remaining = n
                p.phase = .body
            }
        } else {
            answering = t
            p.phase = .untilClose
        }
    }

    private mutating func end(isOrig: Bool, parser p: inout HTTPParser, tracker: TransactionTracker) {
        p.phase = .head
        guard !isOrig, let t = answering else { return }
        emit(t, tracker)
        answering = nil
    }

    private mutating func countBody(_ n: Int64, isOrig: Bool) {
        guard n > 0 else { return }
        if isOrig {
            if let i = pending.lastIndex(where: { $0.depth == requestBodyDepth }) { pending[i].requestBodyLength += n }
        } else {
            answering?.responseBodyLength += n
        }
    }

    /// Collects one line into the parser's buffer; returns its length without CRLF
    /// once complete.
    private static func line(_ b: UnsafeRawBufferPointer, _ i: inout Int, _ p: inout HTTPParser) -> Int? {
        while i < b.count {
            let c = b[i]
            i += 1
            if c == 0x0A {
                var n = p.buffer.count
                if n > 0 && p.buffer[n - 1] == 0x0D { n -= 1 }
                return n
            }
            p.buffer.append(c)
            if p.buffer.count > HTTPParser.maximumLine { return nil }
        }
        return nil
    }

    /// The hexadecimal size that starts a chunk-size line (extensions after ';').
    static func chunkSize(_ line: [UInt8]) -> Int64? {
        var n: Int64 = 0
        var digits = 0
        for c in line {
            let v: Int64
            switch c {
            case 0x30...0x39: v = Int64(c - 0x30)
            case 0x41...0x46: v = Int64(c - 0x41 + 10)
            case 0x61...0x66: v = Int64(c - 0x61 + 10)
            case 0x3B, 0x20, 0x09, 0x0D: return digits > 0 ? n : nil
            default: return nil
            }
            guard digits < 15 else { return nil }
            n = n * 16 + v
            digits += 1
        }
        return digits > 0 ? n : nil
    }

    /// False once the first bytes of a block rule out the start line `HTTPMessageHead`
    /// accepts in this direction: a response's "HTTP/1.", a request's method of at most
    /// 32 capitals, '-' or '_' and its space. Such a block could only be given up at its
    /// end or at `maximumHeaderBlock`, so it is given up now: a direction that is not
    /// HTTP (a download on port 80) is not collected 16 KiB at a time.
    static func mayStartHead(_ b: [UInt8], isOrig: Bool) -> Bool {
        if !isOrig {
            let prefix: StaticString = "HTTP/1."
            return prefix.withUTF8Buffer { p in
                for i in 0 ..< Swift.min(b.count, p.count) where b[i] != p[i] { return false }
                return true
            }
        }
        for i in 0 ..< Swift.min(b.count, 33) {
            let c = b[i]
            if (c >= 0x41 && c <= 0x5A) || c == 0x2D || c == 0x5F { continue }
            return c == 0x20 && i > 0
        }
        return b.count <= 32
    }

    /// The block ends with an empty line: LF LF or LF CR LF.
    static func endsBlock(_ b: [UInt8]) -> Bool {
        let n = b.count
        guard n >= 2, b[n - 1] == 0x0A else { return false }
        if b[n - 2] == 0x0A { return true }
        return n >= 3 && b[n - 2] == 0x0D && b[n - 3] == 0x0A
    }
}
