import Testing
import SniffCore
import SniffDecode
@testable import SniffAnalysis

/// How one HTTP connection collects header blocks: a block split anywhere (one byte per
/// segment) still makes its transaction, and a direction whose first bytes cannot start
/// an HTTP/1.x message is given up at once instead of being collected up to
/// `maximumHeaderBlock`.
struct HTTPConnectionTests {
    final class Collector: TransactionObserver {
        var http: [HTTPTransaction] = []
        func dnsTransaction(_ t: DNSTransaction) {}
        func httpTransaction(_ t: HTTPTransaction) { http.append(t) }
    }

    static let flow: Flow = {
        let key = FlowKey.canonical(src: IPAddress(v4: 0x0A00_0001), sport: 40000, dst: IPAddress(v4: 0x0A00_0002),
                                    dport: 80, proto: 6, vlan: 0, oneWay: false).key
        return Flow(key: key, origIsA: true, nanos: 1_000_000_000)
    }()

    /// Sends `bytes` on one direction in segments of `size` bytes, in order from
    /// sequence number 1 (the flow's start is 0).
    static func send(
        _ bytes: [UInt8], isOrig: Bool, size: Int, on c: inout HTTPConnection, _ tracker: TransactionTracker
    ) {
        var at = 0
        while at < bytes.count {
            let n = min(size, bytes.count - at)
            bytes[at ..< at + n].withUnsafeBytes {
                c.add(flow, isOrig: isOrig, seq: UInt32(1 + at), $0, nanos: 1_000_000_000 + Int64(at), tracker: tracker)
            }
            at += n
        }
    }

    @Test func blockSplitIntoSingleBytes() {
        let collector = Collector()
        let tracker = TransactionTracker(observer: collector)
        var c = HTTPConnection()
        let request = Array("\r\nGET /a/b?c=1 HTTP/1.1\r\nHost: example.org\r\nUser-Agent: t/1\r\n\r\n".utf8)
        let response = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello".utf8)
        Self.send(request, isOrig: true, size: 1, on: &c, tracker)
        Self.send(response, isOrig: false, size: 1, on: &c, tracker)
        #expect(collector.http.count == 1)
        let t = collector.http.first
        #expect(t?.method == "GET" && t?.uri == "/a/b?c=1" && t?.host == "example.org" && t?.userAgent == "t/1")
        #expect(t?.statusCode == 200 && t?.statusMessage == "OK" && t?.responseContentType == "text/plain")
        #expect(t?.responseBodyLength == 5)
        #expect(tracker.stats.httpLost == 0)
    }

    /// A download on port 80 that is not HTTP (as sniff-bench's mixed capture sends):
    /// both directions are given up with their first segment, holding no bytes.
    @Test func notHTTPGivenUpAtOnce() {
        let collector = Collector()
        let tracker = TransactionTracker(observer: collector)
        var c = HTTPConnection()
        Self.send([UInt8](repeating: 0x41, count: 40), isOrig: true, size: 40, on: &c, tracker)
        #expect(tracker.stats.httpLost == 1)
        Self.send([UInt8](repeating: 0x41, count: 1460), isOrig: false, size: 1460, on: &c, tracker)
        #expect(tracker.stats.httpLost == 2)
        #expect(c.origParser.phase == .lost && c.respParser.phase == .lost)
        #expect(c.origParser.buffer.isEmpty && c.respParser.buffer.isEmpty)
        Self.send([UInt8](repeating: 0x41, count: 64 * 1460), isOrig: false, size: 1460, on: &c, tracker)
        c.finish(Self.flow, tracker: tracker)
        #expect(collector.http.isEmpty && tracker.stats.httpLost == 2)
    }

    /// The early test rejects only what `HTTPMessageHead.parse` would reject once the
    /// block ended, and waits while the bytes so far could still start a message.
    @Test func startOfHead() {
        func may(_ s: String, _ isOrig: Bool) -> Bool { HTTPConnection.mayStartHead(Array(s.utf8), isOrig: isOrig) }
        #expect(may("G", true) && may("GET", true) && may("GET /", true) && may("M-SEARCH * HTTP/1.1", true))
        #expect(may(String(repeating: "A", count: 32), true) && may(String(repeating: "A", count: 32) + " /", true))
        #expect(!may(String(repeating: "A", count: 33), true))
        #expect(!may("get / HTTP/1.1", true) && !may(" GET", true) && !may("HTTP/1.1 200 OK", true))
        #expect(may("H", false) && may("HTTP/1.", false) && may("HTTP/1.1 200 OK", false))
        #expect(!may("GET / HTTP/1.1", false) && !may("HTTP/2 200", false) && !may("AAAA", false))
        // Each accepted start line parses; each rejected one does not, in its direction.
        for (line, isOrig) in [("GET / HTTP/1.1", true), ("HTTP/1.1 204 No Content", false)] {
            let block = Array((line + "\r\n\r\n").utf8)
            #expect(HTTPConnection.mayStartHead(block, isOrig: isOrig))
            #expect(block.withUnsafeBytes { HTTPMessageHead.parse($0) }?.isRequest == isOrig)
        }
        for (line, isOrig) in [(String(repeating: "A", count: 33) + " / HTTP/1.1", true), ("get / HTTP/1.1", true),
                               ("HTTP/2 200 OK", false)] {
            let block = Array((line + "\r\n\r\n").utf8)
            #expect(!HTTPConnection.mayStartHead(block, isOrig: isOrig))
            #expect(block.withUnsafeBytes { HTTPMessageHead.parse($0) }.map { $0.isRequest == isOrig } != true)
        }
    }
}
