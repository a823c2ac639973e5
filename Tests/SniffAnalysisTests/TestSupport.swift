import Foundation
import SniffCore
import SniffCapture
import SniffAnalysis

/// Paths and helpers shared by the analysis tests.
enum TestPaths {
    /// The package root, found from this file's path.
    static let packageRoot: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// ../shared/pcaps beside the checkout, or SNIFF_SHARED_PCAPS.
    static var sharedPcaps: URL? {
        if let env = ProcessInfo.processInfo.environment["SNIFF_SHARED_PCAPS"] {
            return URL(fileURLWithPath: env)
        }
        let u = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/pcaps")
        return FileManager.default.fileExists(atPath: u.path) ? u : nil
    }

    static var fixtures: URL { packageRoot.appendingPathComponent("Tests/Fixtures") }

    /// Capture files (pcap/pcapng) in a folder that have a tshark truth file beside them.
    static func capturesWithTruth(in dir: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { ($0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng")) && names.contains($0 + ".truth.tsv") }
            .sorted().map { dir.appendingPathComponent($0) }
    }
}

/// Runs a capture through the same pipeline and writer as `sniff -r FILE --json`.
func ndjsonLines(of file: URL) throws -> (lines: [String], warnings: [String], totals: CaptureTotals) {
    let reader = try CaptureFileReader(path: file.path)
    let pipeline = PacketPipeline()
    var writer = PacketJSONWriter()
    var sink = ByteSink(capacity: 1 << 16)
    var lines: [String] = []
    while let raw = try reader.next() {
        guard pipeline.process(raw) else { continue }
        sink.removeAll()
        writer.write(pipeline.packet, frame: pipeline.frame, includeInterface: reader.format == .pcapng, into: &sink)
        lines.append(String(decoding: sink.bytes.dropLast(), as: UTF8.self))
    }
    return (lines, reader.warnings, pipeline.totals)
}

/// The raw text of a top-level scalar field in one NDJSON line (numbers stay exact).
func rawJSONField(_ line: String, _ key: String) -> String? {
    guard let r = line.range(of: "\"\(key)\":") else { return nil }
    var out = ""
    var i = r.upperBound
    if line[i] == "\"" {
        i = line.index(after: i)
        while i < line.endIndex, line[i] != "\"" {
            if line[i] == "\\" { out.append(line[i]); i = line.index(after: i) }
            out.append(line[i]); i = line.index(after: i)
        }
        return out
    }
    while i < line.endIndex, line[i] != ",", line[i] != "}" {
        out.append(line[i]); i = line.index(after: i)
    }
    return out
}
