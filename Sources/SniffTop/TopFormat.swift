import SniffCore
import SniffDecode

/// Number, time and sparkline formatting for the terminal UI: short enough for
/// 80 columns, exact where the width allows.
public enum TopFormat {
    /// 1234 → "1234", 12345 → "12.3k", 1234567 → "1.23M": counts that fit 6 cells.
    public static func count(_ n: UInt64) -> String {
        if n < 10_000 { return String(n) }
        return scaled(Double(n), units: ["", "k", "M", "G", "T", "P"], base: 1000)
    }

    /// Bytes with SI units: "999 B", "12.3 kB", "1.23 MB".
    public static func bytes(_ n: UInt64) -> String {
        if n < 1000 { return "\(n) B" }
        return scaled(Double(n), units: ["B", "kB", "MB", "GB", "TB", "PB"], base: 1000, space: true)
    }

    public static func rate(_ perSecond: Double, unit: String) -> String {
        if perSecond < 1000 {
            let v = perSecond < 10 ? (perSecond * 10).rounded() / 10 : perSecond.rounded()
            return (v == v.rounded() ? String(Int(v)) : String(v)) + " " + unit
        }
        return scaled(perSecond, units: ["", "k", "M", "G", "T"], base: 1000) + " " + unit
    }

    static func scaled(_ v: Double, units: [String], base: Double, space: Bool = false) -> String {
        var x = v
        var i = 0
        while x >= base && i < units.count - 1 { x /= base; i += 1 }
        let digits = x >= 100 ? 0 : (x >= 10 ? 1 : 2)
        var text = fixed(x, digits)
        // Rounding can reach the base (999.96 k → "1000"): move to the next unit.
        if text.hasPrefix("1000"), i < units.count - 1 { i += 1; text = fixed(x / base, 2) }
        return text + (space ? " " : "") + units[i]
    }

    static func fixed(_ v: Double, _ digits: Int) -> String {
        var p = 1.0
        for _ in 0..<digits { p *= 10 }
        let r = (v * p).rounded() / p
        var s = String(r)
        if digits == 0 { if let dot = s.firstIndex(of: ".") { s = String(s[..<dot]) }; return s }
        if let dot = s.firstIndex(of: ".") {
            let have = s.distance(from: dot, to: s.endIndex) - 1
            if have < digits { s += String(repeating: "0", count: digits - have) }
        }
        return s
    }

    /// A duration in seconds: "0.42 s", "12.3 s", "5m03s", "2h05m".
    public static func duration(nanos: Int64) -> String {
        let s = Double(nanos) / 1e9
        if s < 60 { return fixed(s, s < 10 ? 3 : 1) + " s" }
        let total = Int(s)
        if total < 3600 { return "\(total / 60)m" + pad2(total % 60) + "s" }
        return "\(total / 3600)h" + pad2((total % 3600) / 60) + "m"
    }

    /// Time of day (UTC) with milliseconds: "22:13:20.123".
    public static func clock(nanos: Int64) -> String {
        let full = Timestamp(totalNanoseconds: nanos).utcString(fractionDigits: 3)
        let parts = full.split(separator: " ")
        return parts.count >= 2 ? String(parts[1]) : full
    }

    /// Seconds since `origin` with microseconds, as Wireshark's packet list shows time.
    public static func relative(nanos: Int64, origin: Int64) -> String {
        let d = nanos - origin
        let sign = d < 0 ? "-" : ""
        let a = d < 0 ? -d : d
        let micros = (a % 1_000_000_000) / 1000
        var frac = String(micros)
        while frac.count < 6 { frac = "0" + frac }
        return sign + String(a / 1_000_000_000) + "." + frac
    }

    static func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// Address and port as the report writes them ("[v6]:port" for IPv6).
    public static func endpoint(_ a: IPAddress, _ port: UInt16?) -> String {
        guard let port else { return a.description }
        return a.isIPv6 ? "[\(a.description)]:\(port)" : "\(a.description):\(port)"
    }

    /// One cell per value, scaled to the largest: eight block heights, or ASCII
    /// levels when the terminal's character set is not UTF-8. Zero is a blank.
    public static func sparkline(_ values: ArraySlice<UInt64>, unicode: Bool) -> String {
        let maxV = values.max() ?? 0
        let levels: [Character] =
            unicode ? ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"] : ["_", ".", "-", "~", "=", "+", "*", "#"]
        var s = ""
        for v in values {
            if v == 0 || maxV == 0 { s.append(" "); continue }
            let i = Int((Double(v) / Double(maxV) * Double(levels.count - 1)).rounded(.up))
            s.append(levels[max(0, min(levels.count - 1, i))])
        }
        return s
    }

    /// Pads or cuts `s` to exactly `width` cells; numbers go right.
    public static func fit(_ s: String, _ width: Int, right: Bool = false) -> String {
        let n = s.unicodeScalars.count
        if n == width { return s }
        if n > width {
            guard width > 1 else { return String(String.UnicodeScalarView(s.unicodeScalars.prefix(width))) }
            return String(String.UnicodeScalarView(s.unicodeScalars.prefix(width - 1))) + "~"
        }
        let pad = String(repeating: " ", count: width - n)
        return right ? pad + s : s + pad
    }
}
