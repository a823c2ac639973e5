import SniffCore
#if canImport(Glibc)
import Glibc
#endif

/// Who made a network card: the IEEE registry of MAC address blocks, as Debian's
/// ieee-data package ships it (MA-L 24-bit, MA-M 28-bit and MA-S/IAB 36-bit prefixes).
/// The longest matching prefix wins, since MA-M and MA-S blocks are carved out of
/// MA-L blocks registered to the IEEE itself.
///
/// Built once; lookups are three dictionary probes and allocate nothing.
public final class MACVendors: Sendable {
    private let l24: [UInt64: String]
    private let m28: [UInt64: String]
    private let s36: [UInt64: String]

    /// Where ieee-data puts its CSV files.
    public static let standardFolder = "/usr/share/ieee-data"

    public var count: Int { l24.count + m28.count + s36.count }

    /// Reads `oui.csv`, `mam.csv`, `oui36.csv` and `iab.csv` from `folder`; nil when
    /// none of them can be read (ieee-data not installed).
    public static func load(folder: String = standardFolder) -> MACVendors? {
        var tables: [Int: [UInt64: String]] = [24: [:], 28: [:], 36: [:]]
        var any = false
        for file in ["oui.csv", "mam.csv", "oui36.csv", "iab.csv"] {
            guard let text = readFile(folder + "/" + file) else { continue }
            any = true
            parse(text) { bits, prefix, name in
                if tables[bits]?[prefix] == nil { tables[bits]?[prefix] = name }
            }
        }
        guard any else { return nil }
        return MACVendors(l24: tables[24]!, m28: tables[28]!, s36: tables[36]!)
    }

    init(l24: [UInt64: String], m28: [UInt64: String], s36: [UInt64: String]) {
        self.l24 = l24
        self.m28 = m28
        self.s36 = s36
    }

    /// The organisation the address's block is registered to. Locally administered
    /// addresses (random MACs of phones, virtual interfaces), group addresses
    /// (multicast, broadcast) and the all-zero address of loopback captures belong to
    /// nobody, whatever block their bits fall in.
    public func vendor(_ mac: MACAddress) -> String? {
        let v = mac.value
        if v == 0 || (v >> 40) & 0x03 != 0 { return nil }
        return s36[v >> 12] ?? m28[v >> 20] ?? l24[v >> 24]
    }

    /// Lines `Registry,Assignment,Organization Name,Organization Address`, the name
    /// possibly quoted with `""` for a quote. The assignment is 6, 7 or 9 hex digits.
    static func parse(_ text: [UInt8], _ body: (_ bits: Int, _ prefix: UInt64, _ name: String) -> Void) {
        var lineStart = 0
        let n = text.count
        while lineStart < n {
            var lineEnd = lineStart
            var quoted = false
            while lineEnd < n && (quoted || text[lineEnd] != 0x0A) {
                if text[lineEnd] == 0x22 { quoted.toggle() }
                lineEnd += 1
            }
            defer { lineStart = lineEnd + 1 }
            let fields = csvFields(text[lineStart..<lineEnd], limit: 3)
            guard fields.count == 3 else { continue }
            let hex = fields[1]
            guard [6, 7, 9].contains(hex.count) else { continue }
            var prefix: UInt64 = 0
            var ok = true
            for b in hex {
                guard let d = hexValue(b) else { ok = false; break }
                prefix = prefix << 4 | UInt64(d)
            }
            let name = String(
                decoding: fields[2].map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: " ") : $0 }, as: UTF8.self
            )
            .trimmingSpaces
            guard ok, !name.isEmpty else { continue }
            body(hex.count * 4, prefix, name)
        }
    }

    /// The first `limit` comma-separated fields of a line, unquoted.
    static func csvFields(_ line: ArraySlice<UInt8>, limit: Int) -> [[UInt8]] {
        var fields: [[UInt8]] = []
        var cur: [UInt8] = []
        var quoted = false
        var i = line.startIndex
        while i < line.endIndex && fields.count < limit {
            let b = line[i]
            if quoted {
                if b == 0x22 {
                    if i + 1 < line.endIndex && line[i + 1] == 0x22 { cur.append(0x22); i += 1 } else { quoted = false }
                } else {
                    cur.append(b)
                }
            } else if b == 0x22 {
                quoted = true
            } else if b == 0x2C {
                fields.append(cur)
                cur = []
            } else if b != 0x0D {
                cur.append(b)
            }
            i += 1
        }
        if fields.count < limit && i >= line.endIndex { fields.append(cur) }
        return fields
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    private static func readFile(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
