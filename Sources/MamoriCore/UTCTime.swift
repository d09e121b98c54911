/// Calendar arithmetic in UTC for the text timestamps of identity formats (FreeRADIUS detail
/// headers and Event-Timestamp values, RFC 5424 syslog), consent imports and notices. Pure integer math on the proleptic
/// Gregorian calendar, so the codecs need no Foundation and no time-zone database.
public struct UTCTime: Sendable, Hashable {
    public var year: Int
    /// 1–12.
    public var month: Int
    /// 1–31.
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int
    /// 0–999.
    public var millisecond: Int

    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    static let weekdayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]

    /// The calendar time of `milliseconds` since the Unix epoch.
    public init(milliseconds: Int64) {
        let ms = Int(milliseconds)
        var days = ms / 86_400_000
        var rest = ms % 86_400_000
        if rest < 0 {
            rest += 86_400_000
            days -= 1
        }
        // Days → civil date (era-based algorithm over 400-year cycles of 146,097 days).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        hour = rest / 3_600_000
        minute = rest / 60_000 % 60
        second = rest / 1000 % 60
        millisecond = rest % 1000
    }

    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.millisecond = millisecond
    }

    /// Milliseconds since the Unix epoch; nil when a field is out of range.
    public var milliseconds: Int64? {
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(hour), (0...59).contains(minute),
            (0...60).contains(second), (0...999).contains(millisecond), (-100_000...100_000).contains(year)
        else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Int64(days) * 86_400_000 + Int64(hour * 3_600_000 + minute * 60_000 + second * 1000 + millisecond)
    }

    /// 0 = Sunday.
    var weekday: Int {
        let ms = milliseconds ?? 0
        var days = ms / 86_400_000
        if ms % 86_400_000 < 0 { days -= 1 }
        return Int(((days % 7) + 11) % 7) // 1970-01-01 was a Thursday (4)
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// `2026-01-01T00:00:00.000Z` (RFC 3339, as RFC 5424 §6.2.3 uses it).
    public var rfc3339: String {
        "\(Self.pad(year, 4))-\(Self.pad(month, 2))-\(Self.pad(day, 2))T\(Self.pad(hour, 2)):\(Self.pad(minute, 2)):\(Self.pad(second, 2)).\(Self.pad(millisecond, 3))Z"
    }

    /// `Thu Jan  1 00:00:00 2026`: C `ctime(3)` layout, which FreeRADIUS writes as a detail record's header.
    public var ctime: String {
        let d = day < 10 ? " \(day)" : "\(day)"
        return
            "\(Self.weekdayNames[weekday]) \(Self.monthNames[month - 1]) \(d) \(Self.pad(hour, 2)):\(Self.pad(minute, 2)):\(Self.pad(second, 2)) \(year)"
    }

    /// `Jan  1 2026 00:00:00 UTC`: how FreeRADIUS 3 prints a `date` attribute such as Event-Timestamp.
    public var freeRADIUSDate: String {
        let d = day < 10 ? " \(day)" : "\(day)"
        return "\(Self.monthNames[month - 1]) \(d) \(year) \(Self.pad(hour, 2)):\(Self.pad(minute, 2)):\(Self.pad(second, 2)) UTC"
    }

    /// Parses `2026-01-01T00:00:00Z`, `…00.123Z` or `…00.123456+09:00` (RFC 3339 with any offset).
    public static func milliseconds(rfc3339 text: Substring) -> Int64? {
        let b = Array(text.utf8)
        guard b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116, b[13] == 58, b[16] == 58 else { return nil }
        func num(_ r: Range<Int>) -> Int? {
            var v = 0
            for i in r {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13), let mi = num(14..<16),
            let s = num(17..<19)
        else { return nil }
        var i = 19
        var ms = 0
        if b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 3 { ms = ms * 10 + Int(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 3) { ms *= 10 }
        }
        guard i < b.count else { return nil }
        var offset = 0
        if b[i] == 90 || b[i] == 122 {
            guard i + 1 == b.count else { return nil }
        } else if b[i] == 43 || b[i] == 45, i + 6 == b.count, b[i + 3] == 58, let oh = num(i + 1..<i + 3), let om = num(i + 4..<i + 6) {
            offset = (oh * 60 + om) * 60_000 * (b[i] == 43 ? 1 : -1)
        } else {
            return nil
        }
        guard let t = UTCTime(year: y, month: mo, day: d, hour: h, minute: mi, second: s, millisecond: ms).milliseconds else { return nil }
        return t - Int64(offset)
    }

    /// Parses `Jan  1 2026 00:00:00 UTC` (FreeRADIUS date) or `Thu Jan  1 00:00:00 2026` (ctime), both read as UTC.
    public static func milliseconds(freeRADIUSText text: Substring) -> Int64? {
        let parts = text.split(separator: " ")
        func month(_ s: Substring) -> Int? { monthNames.firstIndex(of: String(s)).map { $0 + 1 } }
        func clock(_ s: Substring) -> (Int, Int, Int)? {
            let c = s.split(separator: ":")
            guard c.count == 3, let h = Int(c[0]), let m = Int(c[1]), let sec = Int(c[2]) else { return nil }
            return (h, m, sec)
        }
        if parts.count == 5, let mo = month(parts[0]), let d = Int(parts[1]), let y = Int(parts[2]), let (h, m, s) = clock(parts[3]),
            parts[4] == "UTC" || parts[4] == "GMT"
        {
            return UTCTime(year: y, month: mo, day: d, hour: h, minute: m, second: s).milliseconds
        }
        if parts.count == 5, weekdayNames.contains(String(parts[0])), let mo = month(parts[1]), let d = Int(parts[2]),
            let (h, m, s) = clock(parts[3]), let y = Int(parts[4])
        {
            return UTCTime(year: y, month: mo, day: d, hour: h, minute: m, second: s).milliseconds
        }
        return nil
    }
}
