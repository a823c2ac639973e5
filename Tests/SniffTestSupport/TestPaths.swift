import Foundation

/// Where the tests find the package, its fixtures and the shared captures, and where
/// they write: one answer for every test target.
public enum TestPaths {
    /// The package root, found from this file's path (the tests run from anywhere).
    public static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// The project's own recorded captures (Tests/Fixtures).
    public static var fixtures: URL { packageRoot.appendingPathComponent("Tests/Fixtures") }

    /// The sample the README's first command reads.
    public static var sample: URL { packageRoot.appendingPathComponent("samples/sample.pcapng") }

    /// ../shared/pcaps beside the checkout, or SNIFF_SHARED_PCAPS; nil when neither exists.
    public static var sharedPcaps: URL? {
        if let env = ProcessInfo.processInfo.environment["SNIFF_SHARED_PCAPS"] {
            return URL(fileURLWithPath: env)
        }
        let u = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/pcaps")
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }

    /// The capture files (pcap, pcapng) in a folder, sorted by name.
    public static func captureFiles(in dir: URL) -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// Capture files in a folder that have a tshark truth file (FILE.truth.tsv) beside them.
    public static func capturesWithTruth(in dir: URL) -> [URL] {
        captureFiles(in: dir).filter {
            FileManager.default.fileExists(atPath: $0.path + ".truth.tsv")
        }
    }

    /// A new, empty folder under the temporary directory; the caller removes it.
    public static func tempDir(_ prefix: String = "sniff-test") throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}
