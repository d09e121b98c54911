/// Durations as written on the command line: `90s`, `10m`, `1h`, `1h30m`, `2d`, or a bare number of seconds.
public enum SimulatedDuration {
    /// The duration in milliseconds, or nil when `text` is not a positive duration.
    ///
    /// ```swift
    /// SimulatedDuration.milliseconds(parsing: "1h30m")  // 5_400_000
    /// ```
    public static func milliseconds(parsing text: String) -> Int64? {
        if let seconds = Int64(text) { return seconds > 0 ? seconds * 1000 : nil }
        var total: Int64 = 0
        var number = ""
        for ch in text {
            if ch.isASCII && ch.isNumber {
                number.append(ch)
                continue
            }
            guard let n = Int64(number), n < 1_000_000 else { return nil }
            switch ch {
            case "s": total += n * 1000
            case "m": total += n * 60_000
            case "h": total += n * 3_600_000
            case "d": total += n * 86_400_000
            default: return nil
            }
            number = ""
        }
        return number.isEmpty && total > 0 ? total : nil
    }
}
