import Testing
import SniffCore
import SniffDecode

struct HTTPTests {
    static func parse(_ text: String) -> (HTTPRequest?, path: String?, host: String?) {
        let b = Array(text.utf8)
        return b.withUnsafeBytes { raw in
            let c = ByteCursor(raw)
            guard let r = HTTP.parseRequest(c, at: 0, length: raw.count) else { return (nil, nil, nil) }
            let path = c.slice(at: r.pathOffset, count: r.pathLength).map { String(decoding: $0, as: UTF8.self) }
            let host =
                r.hasHost
                ? c.slice(at: r.hostOffset, count: r.hostLength).map { String(decoding: $0, as: UTF8.self) } : nil
            return (r, path, host)
        }
    }

    @Test func recordedRequest() throws {
        // Tests/Fixtures/app.pcap frame 16 (curl to a local server).
        let (r, path, host) = HTTPTests.parse(
            "GET / HTTP/1.1\r\nHost: www.sniff.test\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n")
        #expect(r?.method == .get)
        #expect(r?.minorVersion == 1)
        #expect(path == "/")
        #expect(host == "www.sniff.test")
    }

    @Test func variants() {
        #expect(HTTPTests.parse("POST /api/v1?x=1 HTTP/1.0\r\nhOsT:   a.example  \r\n\r\n").host == "a.example")
        #expect(HTTPTests.parse("DELETE /x HTTP/1.1\nHost: b\n\n").host == "b")
        #expect(HTTPTests.parse("GET /x HTTP/1.1\r\nAccept: */*\r\n\r\nHost: late\r\n").host == nil)
        #expect(HTTPTests.parse("OPTIONS * HTTP/1.1\r\n").0?.method == .options)
        // Not requests: a response, HTTP/2 preface, lower-case method, no version.
        #expect(HTTPTests.parse("HTTP/1.1 200 OK\r\n\r\n").0 == nil)
        #expect(HTTPTests.parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").0 == nil)
        // The HTTP/2 preface is named by the payload detectors instead, whole only.
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0x12, 4, 0, 0, 0, 0, 0]
        #expect(preface.withUnsafeBytes { AppDetectors.detect(ByteCursor($0), udp: false) } == .http)
        #expect(preface.prefix(20).withUnsafeBytes { AppDetectors.detect(ByteCursor($0), udp: false) } == nil)
        #expect(preface.withUnsafeBytes { AppDetectors.detect(ByteCursor($0), udp: true) } == nil)
        #expect(HTTPTests.parse("get / HTTP/1.1\r\n\r\n").0 == nil)
        #expect(HTTPTests.parse("GET /index.html\r\n\r\n").0 == nil)
    }

    @Test func everyPrefixIsSafe() {
        let text = "GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:48080\r\n\r\n"
        for n in 0...text.utf8.count {
            let (r, _, host) = HTTPTests.parse(String(decoding: Array(text.utf8).prefix(n), as: UTF8.self))
            if let host { #expect(host == "127.0.0.1:48080") }
            if n >= 26 { #expect(r != nil) }
        }
    }
}
