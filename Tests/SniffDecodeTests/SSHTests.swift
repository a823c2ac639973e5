import Testing
import SniffCore
import SniffDecode

struct SSHTests {
    static func parse(_ text: String) -> (proto: String, software: String, line: String)? {
        let b = Array(text.utf8)
        return b.withUnsafeBytes { raw in
            let c = ByteCursor(raw)
            guard let s = SSH.parseBanner(c, at: 0, length: raw.count) else { return nil }
            func str(_ o: Int, _ n: Int) -> String { String(decoding: c.slice(at: o, count: n)!, as: UTF8.self) }
            return (
                str(s.protocolOffset, s.protocolLength), str(s.softwareOffset, s.softwareLength),
                str(s.lineOffset, s.lineLength)
            )
        }
    }

    @Test func banners() {
        // Tests/Fixtures/app.pcap frame 56 (OpenSSH on Debian 12).
        let s = SSHTests.parse("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
        #expect(s?.proto == "2.0")
        #expect(s?.software == "OpenSSH_9.2p1")
        #expect(s?.line == "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
        #expect(SSHTests.parse("SSH-1.99-Cisco-1.25\r\n")?.proto == "1.99")
        #expect(SSHTests.parse("SSH-2.0-\r\n") == nil)
        #expect(SSHTests.parse("SSH 2.0 x\r\n") == nil)
        #expect(SSHTests.parse("GET / HTTP/1.1\r\n") == nil)
        #expect(SSHTests.parse("SSH-2.0-a\u{01}b\r\n") == nil)
    }

    @Test func everyPrefixIsSafe() {
        let text = Array("SSH-2.0-SniffFixture_1.0\r\n".utf8)
        for n in 0...text.count {
            let r = SSHTests.parse(String(decoding: text.prefix(n), as: UTF8.self))
            if n >= 9 { #expect(r?.proto == "2.0") } else { #expect(r == nil) }
        }
    }
}
