/// `--retention 7d`: a duration in s, m, h, d or w.
public enum RetentionText {
    public static func nanoseconds(_ text: String) -> Int64? {
        guard let unit = text.last, let n = Int64(text.dropLast()), n > 0 else { return nil }
        let seconds: Int64
        switch unit {
        case "s": seconds = 1
        case "m": seconds = 60
        case "h": seconds = 3600
        case "d": seconds = 86_400
        case "w": seconds = 604_800
        default: return nil
        }
        let (v, o) = n.multipliedReportingOverflow(by: seconds * 1_000_000_000)
        return o ? nil : v
    }
}
