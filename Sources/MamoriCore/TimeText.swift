/// The time formats reports and call records are written in, read to ms since the epoch (UTC). No Foundation date
/// formatter: each format is a few fields, and a formatter's locale and lenience would accept
/// what a report should not.
public enum TimeText {
    /// ISO 8601 / RFC 3339 (`2026-12-01T03:04:05Z`, `…+09:00`, `….123Z`), the same with a space
    /// (`2026-12-01 03:04:05`, as Shadowserver writes), Unix time in seconds (10 digits or fewer)
    /// or milliseconds (13), and RFC 5322 dates (`Tue, 19 Jan 2016 15:14:53 +0000`). A time
    /// without a zone is read at `defaultOffsetMinutes` east of UTC (a Japanese feed in JST: 540).
    public static func parse(_ text: String, defaultOffsetMinutes: Int = 0) -> Int64? {
        if defaultOffsetMinutes == 0, let fast = common(text) { return fast }
        let t = text.trimmedSpaces
        guard !t.isEmpty, t.utf8.count <= 64 else { return nil }
        if t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard let n = Int64(t) else { return nil }
            switch t.utf8.count {
            case ...10: return n * 1000
            case 13: return n
            default: return nil
            }
        }
        return iso8601(t, defaultOffsetMinutes: defaultOffsetMinutes) ?? rfc5322(t)
    }

    /// `2026-12-01 03:04:05` (or with `T`), read by position: the form of nearly every row of
    /// a big report, so it skips the general parser's splitting.
    static func common(_ text: String) -> Int64? {
        text.utf8.withContiguousStorageIfAvailable { b -> Int64? in
            guard b.count == 19, b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x20 || b[10] == 0x54, b[13] == 0x3A, b[16] == 0x3A else {
                return nil
            }
            func n(_ from: Int, _ count: Int) -> Int? {
                var v = 0
                for i in from..<(from + count) {
                    guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                    v = v * 10 + Int(b[i] - 0x30)
                }
                return v
            }
            guard let y = n(0, 4), let m = n(5, 2), let d = n(8, 2), let h = n(11, 2), let mi = n(14, 2), let s = n(17, 2) else {
                return nil
            }
            return utc(y, m, d, h, mi, s, 0, offsetMinutes: 0)
        } ?? nil
    }

    static func iso8601(_ text: String, defaultOffsetMinutes: Int) -> Int64? {
        var s = Substring(text)
        // The zone: Z, ±HH:MM, ±HHMM or ±HH after the clock.
        var offset = defaultOffsetMinutes
        if s.hasSuffix("Z") || s.hasSuffix("z") {
            offset = 0
            s = s.dropLast()
        } else if let sign = s.lastIndex(where: { $0 == "+" || $0 == "-" }), s[..<sign].contains(":") {
            let zone = s[s.index(after: sign)...].filter { $0 != ":" }
            guard zone.count == 2 || zone.count == 4, let hh = Int(zone.prefix(2)),
                let mm = Int(zone.dropFirst(2).isEmpty ? "0" : zone.dropFirst(2)),
                hh <= 14, mm < 60
            else { return nil }
            offset = (hh * 60 + mm) * (s[sign] == "-" ? -1 : 1)
            s = s[..<sign]
        }
        let parts = s.split(whereSeparator: { $0 == " " || $0 == "T" || $0 == "t" })
        guard parts.count == 2 else { return nil }
        let date = parts[0].split(omittingEmptySubsequences: false, whereSeparator: { $0 == "-" || $0 == "/" })
        let clock = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        guard date.count == 3, clock.count == 3 || clock.count == 2 else { return nil }
        var secondText = clock.count == 3 ? clock[2] : "0"
        var millisecond = 0
        if let dot = secondText.firstIndex(where: { $0 == "." || $0 == "," }) {
            let fraction = secondText[secondText.index(after: dot)...]
            guard !fraction.isEmpty, fraction.count <= 9, fraction.allSatisfy(\.isASCIIDigit) else { return nil }
            millisecond = Int((fraction + "00").prefix(3)) ?? 0
            secondText = secondText[..<dot]
        }
        guard let y = number(date[0], 4), let m = number(date[1], 2), let d = number(date[2], 2), let h = number(clock[0], 2),
            let mi = number(clock[1], 2), let sec = number(secondText, 2)
        else { return nil }
        return utc(y, m, d, h, mi, sec, millisecond, offsetMinutes: offset)
    }

    static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    /// RFC 5322 §4.3's obsolete zone names, which feedback loops still send.
    static let zoneNames: [String: Int] = [
        "ut": 0, "utc": 0, "gmt": 0, "z": 0, "est": -300, "edt": -240, "cst": -360, "cdt": -300, "mst": -420, "mdt": -360,
        "pst": -480, "pdt": -420, "jst": 540, "cet": 60, "cest": 120,
    ]

    /// `[Day, ]DD Mon YYYY HH:MM[:SS] zone` (RFC 5322 §3.3), with a trailing comment ignored.
    static func rfc5322(_ text: String) -> Int64? {
        var s = Substring(text)
        if let paren = s.firstIndex(of: "(") { s = s[..<paren] }
        if let comma = s.firstIndex(of: ",") { s = s[s.index(after: comma)...] }
        let words = s.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count == 5 || words.count == 4 else { return nil }
        guard let d = number(words[0], 2, exact: false), let m = months.firstIndex(of: words[1].lowercased()),
            let y = number(words[2], 4)
        else { return nil }
        let clock = words[3].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 2 || clock.count == 3, let h = number(clock[0], 2), let mi = number(clock[1], 2),
            let sec = clock.count == 3 ? number(clock[2], 2) : 0
        else { return nil }
        var offset = 0
        if words.count == 5 {
            let zone = words[4]
            if let named = zoneNames[zone.lowercased()] {
                offset = named
            } else if zone.count == 5, zone.first == "+" || zone.first == "-", let hh = number(zone.dropFirst().prefix(2), 2),
                let mm = number(zone.suffix(2), 2), hh <= 14, mm < 60
            {
                offset = (hh * 60 + mm) * (zone.first == "-" ? -1 : 1)
            } else {
                return nil
            }
        }
        return utc(y, m + 1, d, h, mi, sec, 0, offsetMinutes: offset)
    }

    private static func number(_ text: Substring, _ digits: Int, exact: Bool = true) -> Int? {
        guard !text.isEmpty, exact ? text.count == digits : text.count <= digits, text.allSatisfy(\.isASCIIDigit) else { return nil }
        return Int(text)
    }

    private static func utc(_ y: Int, _ m: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int, _ ms: Int, offsetMinutes: Int) -> Int64? {
        guard (1970...9999).contains(y), (1...12).contains(m), (1...31).contains(d), h < 24, mi < 60, s <= 60 else { return nil }
        let days = [31, (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard d <= days[m - 1] else { return nil }
        guard let local = UTCTime(year: y, month: m, day: d, hour: h, minute: mi, second: min(s, 59), millisecond: ms).milliseconds
        else { return nil }
        return local - Int64(offsetMinutes) * 60_000
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs and CRs (no Foundation needed).
    public var trimmedSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
