import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a finished command printed and returned.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }
}

/// Runs tools (sniff, tshark, sqlite3, python3, perl …) the way a user does.
public enum Command {
    /// Runs `executable` with `arguments` to its end, or kills it after `timeout` seconds.
    /// Output goes to files rather than pipes: nothing to drain concurrently, and a large
    /// output can never block the child. `stdin` nil reads /dev/null.
    public static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                           environment: [String: String]? = nil, currentDirectory: URL? = nil,
                           timeout: TimeInterval = 120) throws -> CommandResult {
        let dir = try TestPaths.tempDir("sniff-command")
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: outURL)
        let errHandle = try FileHandle(forWritingTo: errURL)
        defer { try? outHandle.close(); try? errHandle.close() }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment { p.environment = environment }
        if let currentDirectory { p.currentDirectoryURL = currentDirectory }
        p.standardOutput = outHandle
        p.standardError = errHandle
        if let stdin {
            let inURL = dir.appendingPathComponent("stdin")
            try stdin.write(to: inURL)
            p.standardInput = try FileHandle(forReadingFrom: inURL)
        } else {
            p.standardInput = FileHandle.nullDevice
        }
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        if p.isRunning { p.terminate() }
        p.waitUntilExit()
        return CommandResult(status: p.terminationStatus,
                             stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }

    /// Whether `path` is an executable file (a tool a test needs is installed).
    public static func exists(_ path: String) -> Bool { FileManager.default.isExecutableFile(atPath: path) }
}

/// The built `sniff` executable, run as a user runs it.
public enum CLI {
    /// The `sniff` executable built beside this test bundle.
    public static var binary: URL {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let u = candidate.appendingPathComponent("sniff")
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        return TestPaths.packageRoot.appendingPathComponent(".build/debug/sniff")
    }

    /// `sniff ARGS`. `launcher`: a command that runs sniff for the test (e.g. `unshare …
    /// sh script`), given the binary's path and `args` after its own arguments.
    public static func run(_ args: [String], stdin: Data? = nil, environment: [String: String]? = nil,
                           currentDirectory: URL? = nil, timeout: TimeInterval = 120,
                           launcher: [String] = []) throws -> CommandResult {
        if let program = launcher.first {
            return try Command.run(program, Array(launcher.dropFirst()) + [binary.path] + args, stdin: stdin,
                                   environment: environment, currentDirectory: currentDirectory, timeout: timeout)
        }
        return try Command.run(binary.path, args, stdin: stdin, environment: environment,
                               currentDirectory: currentDirectory, timeout: timeout)
    }

    /// A minimal classic pcap (little-endian, microseconds) holding the given frames, one
    /// second apart from 1 700 000 000.
    public static func pcap(linkType: UInt32, frames: [[UInt8]], snaplen: UInt32 = 65535) -> Data {
        var d = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        u32(0xA1B2C3D4); u16(2); u16(4); u32(0); u32(0); u32(snaplen); u32(linkType)
        for (i, f) in frames.enumerated() {
            u32(1_700_000_000 + UInt32(i)); u32(0); u32(UInt32(f.count)); u32(UInt32(f.count))
            d.append(contentsOf: f)
        }
        return d
    }
}

/// tshark, the reference the decoders and flows are checked against.
public enum Tshark {
    /// Where it is installed, or nil.
    public static let path: String? = ["/usr/bin/tshark", "/usr/local/bin/tshark"].first(where: Command.exists)

    public static var installed: Bool { path != nil }

    /// `tshark ARGS` with an empty configuration folder, so that a user's preferences
    /// (columns, disabled protocols) never change what a test compares against.
    public static func run(_ arguments: [String]) throws -> CommandResult {
        guard let path else { throw TestSupportError("tshark is not installed") }
        var env = ProcessInfo.processInfo.environment
        env["WIRESHARK_CONFIG_DIR"] = NSTemporaryDirectory()
        return try Command.run(path, arguments, environment: env)
    }
}
