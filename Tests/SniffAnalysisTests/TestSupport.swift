import Foundation
import SniffCore
import SniffCapture
import SniffAnalysis
import SniffTestSupport

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
