/// A TAXII/STIX timestamp (`2026-12-06T22:48:57.123Z`): UTC, with an optional fraction of a
/// second. Held as microseconds since the epoch, so versions and `date_added` values compare as
/// integers; a fraction finer than a microsecond is cut to the microsecond.
///
/// ```swift
/// let t = TAXIITimestamp("2026-12-06T22:48:57.123Z")!   // t.microseconds == 1_796_597_337_123_000
/// t.description                                        // "2026-12-06T22:48:57.123Z"
/// ```
public struct TAXIITimestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// The timestamp at `milliseconds` since the epoch.
    public init(milliseconds: Int64) { microseconds = milliseconds &* 1000 }

    public static func < (a: Self, b: Self) -> Bool { a.microseconds < b.microseconds }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (years 1000–9999, at most 9 fraction digits);
    /// nil for anything else. Total on any input; reads at most 40 bytes.
    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8.prefix(41))
        guard bytes.count >= 20, bytes.count <= 40, bytes.last == UInt8(ascii: "Z") else { return nil }
        func digits(_ from: Int, _ count: Int) -> Int? {
            var v = 0
            for i in from..<from + count {
                let b = bytes[i]
                guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
                v = v * 10 + Int(b - UInt8(ascii: "0"))
            }
            return v
        }
        guard bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2), let hour = digits(11, 2),
            let minute = digits(14, 2), let second = digits(17, 2),
            (1000...9999).contains(year), (1...12).contains(month), (1...Self.daysIn(month, year)).contains(day), hour < 24, minute < 60,
            second < 61
        else { return nil }
        var micro = 0
        if bytes.count > 20 {
            let count = bytes.count - 21
            guard bytes[19] == UInt8(ascii: "."), (1...9).contains(count), let f = digits(20, count) else { return nil }
            var scaled = f
            if count < 6 {
                for _ in count..<6 { scaled *= 10 }
            } else {
                for _ in 6..<count { scaled /= 10 }
            }
            micro = scaled
        }
        let days = Self.days(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        microseconds = seconds * 1_000_000 + Int64(micro)
    }

    /// RFC 3339 in UTC: three fraction digits when the time is a whole millisecond, six otherwise.
    public var description: String { text(alwaysMicroseconds: false) }

    /// RFC 3339 in UTC with six fraction digits: how `date_added` is written, so that the server's
    /// timestamps sort as text the way they sort as times.
    public var microsecondDescription: String { text(alwaysMicroseconds: true) }

    func text(alwaysMicroseconds: Bool) -> String {
        let seconds = microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000
        let micro = Int(microseconds - seconds * 1_000_000)
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let secondOfDay = Int(seconds - Int64(days) * 86_400)
        let (y, m, d) = Self.civil(days: days)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        let fraction = micro % 1000 == 0 && !alwaysMicroseconds ? pad(micro / 1000, 3) : pad(micro, 6)
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):"
            + "\(pad(secondOfDay % 60, 2)).\(fraction)Z"
    }

    static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
