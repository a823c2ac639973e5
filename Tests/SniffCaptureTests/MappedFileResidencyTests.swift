import Foundation
import Testing
import SniffCore
import SniffCapture

/// Reading a large file through the mapping must not keep all of it resident: the pages
/// already read are given back, so peak memory does not grow with the file's size.
@Suite struct MappedFileResidencyTests {
    @Test("a 256 MB capture read to the end keeps under 100 MB of its mapping resident")
    func readPagesAreGivenBack() throws {
        // 128 k records of 2000 bytes: 256 MB, written in 8 MB pieces.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sniff-residency-\(getpid()).pcap")
            .path
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        var header = CaptureBytes()
        header.u32(0xA1B2_C3D4); header.u16(2); header.u16(4); header.u32(0); header.u32(0); header.u32(65535);
        header.u32(1)
        _ = header.data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var record = CaptureBytes()
        record.u32(1_700_000_000); record.u32(0); record.u32(1984); record.u32(1984)
        record.bytes([UInt8](repeating: 0xAB, count: 1984))
        let piece = Data([Data](repeating: record.data, count: 4096).joined())
        for _ in 0..<32 { _ = piece.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        close(fd)

        let r = try CaptureFileReader(path: path)
        var n = 0, peak = 0, sum = 0
        while let p = try r.next() {
            sum &+= Int(p.bytes[100])  // touch every record, as decoding would
            n += 1
            if n % 16384 == 0 { peak = max(peak, Self.residentKiB(of: path) ?? -1) }
        }
        let atEnd = Self.residentKiB(of: path)
        #expect(n == 131_072)
        #expect(sum == 131_072 * 0xAB)
        let resident = try #require(atEnd, "the file is still mapped while the reader lives")
        #expect(max(peak, resident) < 100 * 1024, "peak \(peak) KiB, at the end \(resident) KiB of a 262144 KiB file")
        withExtendedLifetime(r) {}
    }

    /// The resident size of this process's mapping of `path`, from /proc/self/smaps.
    static func residentKiB(of path: String) -> Int? {
        // Read with plain read(2): /proc files report a size of 0, which Foundation's
        // file readers may take at its word.
        let fd = open("/proc/self/smaps", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        let text = String(decoding: bytes, as: UTF8.self)
        var inMapping = false
        for line in text.split(separator: "\n") {
            if let first = line.first, first.isHexDigit, line.contains(" ") && line.split(separator: " ").count >= 5 {
                inMapping = line.hasSuffix(path)
            } else if inMapping && line.hasPrefix("Rss:") {
                return Int(line.split(separator: " ")[1])
            }
        }
        return nil
    }
}
