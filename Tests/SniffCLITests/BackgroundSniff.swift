import Foundation
import SniffTestSupport

/// A `sniff` process running in the background, stopped by signal.
final class BackgroundSniff: @unchecked Sendable {
    let process = Process()
    let dir: URL
    let outURL: URL
    let errURL: URL

    init(_ args: [String], stdin: FileHandle? = nil, stdout: FileHandle? = nil) throws {
        dir = try TestPaths.tempDir()
        outURL = dir.appendingPathComponent("stdout")
        errURL = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.executableURL = CLI.binary
        process.arguments = args
        process.standardOutput = try stdout ?? FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        process.standardInput = stdin ?? FileHandle.nullDevice
        try process.run()
    }

    /// Waits until sniff reports it is listening (its first stderr line), at most `seconds`.
    func waitUntilListening(seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let s = try? String(contentsOf: errURL, encoding: .utf8), s.contains("listening on") {
                usleep(300_000)  // the capture thread starts right after the message
                return true
            }
            if !process.isRunning { return false }
            usleep(50_000)
        }
        return false
    }

    /// Waits until what sniff has written on stdout so far satisfies `done`, at most
    /// `seconds`; false when the deadline passed or sniff ended first. Live output is
    /// flushed every interval, so a test can wait for the packets it expects instead of
    /// sleeping a fixed time that a loaded machine may overrun.
    func waitForOutput(seconds: Double = 10, until done: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let s = try? String(contentsOf: outURL, encoding: .utf8), done(s) { return true }
            if !process.isRunning { return false }
            usleep(50_000)
        }
        return false
    }

    /// Sends `signal` and waits for exit, at most `seconds` (then SIGKILL).
    func stop(signal: Int32 = SIGINT, seconds: Double = 10) -> CommandResult {
        if process.isRunning { kill(process.processIdentifier, signal) }
        return wait(seconds: seconds)
    }

    func wait(seconds: Double = 10) -> CommandResult {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                         stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}
