import Foundation
import Testing
import SniffTestSupport

/// `sniff serve` stopped by a signal: its service group shuts the server down
/// gracefully and the command closes the store before exiting 0.
@Suite(.serialized)
struct ServeSignalTests {
    @Test("serve: SIGTERM and SIGINT end it with status 0 after an answered request, and the SQLite store is closed (its -wal file removed)",
          arguments: [SIGTERM, SIGINT])
    func signalClosesTheStore(signal: Int32) throws {
        let dir = try TestPaths.tempDir()
        let db = dir.appendingPathComponent("serve.db").path
        let sniff = try BackgroundSniff(["serve", "--db", "sqlite:" + db, "--listen", "127.0.0.1:0"])
        let deadline = Date().addingTimeInterval(15)
        var port: Int? = nil
        while port == nil && Date() < deadline && sniff.process.isRunning {
            let err = (try? String(contentsOf: sniff.errURL, encoding: .utf8)) ?? ""
            if let r = err.range(of: "on http://127.0.0.1:") {
                port = Int(err[r.upperBound...].prefix { $0.isNumber })
            }
            usleep(50_000)
        }
        let listening = try #require(
            port, "no serving line: \((try? String(contentsOf: sniff.errURL, encoding: .utf8)) ?? "")")
        let fd = BlockingSocket.connect(listening)
        #expect(fd >= 0)
        BlockingSocket.send(fd, "GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        #expect(BlockingSocket.readLine(fd).hasPrefix("HTTP/1.1 200"))
        close(fd)
        // The open store keeps its write-ahead log; closing the last connection removes it.
        #expect(
            FileManager.default.fileExists(atPath: db + "-wal"),
            "the store is not open in WAL mode: the check below would prove nothing")
        let r = sniff.stop(signal: signal, seconds: 15)
        #expect(sniff.process.terminationReason == .exit && r.status == 0, "status \(r.status): \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: db + "-wal"), "the store was not closed")
    }
}
