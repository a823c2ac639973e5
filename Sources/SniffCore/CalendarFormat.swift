extension Timestamp {
    /// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm), so that
    /// formatting needs neither Foundation nor the time zone database.
    @usableFromInline
    static func civil(fromDays z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// "2026-11-21 23:57:25.123456789 UTC" (or with `fractionDigits` 0, 3 or 6).
    public func writeUTC(into s: inout ByteSink, fractionDigits: Int = 9, suffix: Bool = true) {
        var days = seconds / 86_400
        var rem = seconds % 86_400
        if rem < 0 { rem += 86_400; days -= 1 }
        let (y, mo, d) = Timestamp.civil(fromDays: days)
        s.append(decimal: UInt64(max(0, y)), width: 4); s.append(UInt8(ascii: "-"))
        s.append(decimal: UInt64(mo), width: 2); s.append(UInt8(ascii: "-"))
        s.append(decimal: UInt64(d), width: 2); s.append(UInt8(ascii: " "))
        s.append(decimal: UInt64(rem / 3600), width: 2); s.append(UInt8(ascii: ":"))
        s.append(decimal: UInt64((rem / 60) % 60), width: 2); s.append(UInt8(ascii: ":"))
        s.append(decimal: UInt64(rem % 60), width: 2)
        if fractionDigits > 0 {
            s.append(UInt8(ascii: "."))
            var ns = UInt64(nanoseconds)
            for _ in 0..<(9 - min(9, fractionDigits)) { ns /= 10 }
            s.append(decimal: ns, width: min(9, fractionDigits))
        }
        if suffix { s.append(" UTC" as StaticString) }
    }

    public func utcString(fractionDigits: Int = 9) -> String {
        var s = ByteSink(capacity: 40)
        writeUTC(into: &s, fractionDigits: fractionDigits)
        return s.string
    }

    /// The wall clock now (CLOCK_REALTIME).
    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(seconds: Int64(ts.tv_sec), nanoseconds: UInt32(ts.tv_nsec))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
