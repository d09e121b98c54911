import MamoriCore

/// STIX timestamps (STIX 2.1 §3.2): RFC 3339 in UTC with `Z`. Mamori writes millisecond
/// precision (`2026-12-06T10:00:00.000Z`) and reads any precision (seconds to nanoseconds),
/// keeping milliseconds since the Unix epoch.
public enum STIXTimestamp {
    /// `2026-12-06T10:00:00.000Z`.
    public static func format(milliseconds: Int64) -> String { UTCTime(milliseconds: milliseconds).rfc3339 }

    /// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fraction]Z`; nil for anything else
    /// (another offset, a lowercase `t`/`z`, a field out of range). Digits past the
    /// millisecond are dropped.
    public static func parse(_ text: some StringProtocol) -> Int64? {
        let u = Array(text.utf8)
        guard u.count >= 20, u.count <= 40, u[10] == UInt8(ascii: "T"), u.last == UInt8(ascii: "Z") else { return nil }
        return UTCTime.milliseconds(rfc3339: Substring(text))
    }
}
