import FlowCodec
import IdentityCodec
import MamoriCore

/// A line the carrier assigns by hand (business lines, leased lines): a prefix held by a
/// subscriber, optionally from / until a time.
public struct StaticAssignment: Sendable, Hashable {
    public var prefix: IPPrefix
    public var subscriber: String
    /// ms since the Unix epoch; nil: since ever / still.
    public var validFrom: Int64?
    public var validUntil: Int64?

    public init(prefix: IPPrefix, subscriber: String, validFrom: Int64? = nil, validUntil: Int64? = nil) {
        self.prefix = prefix
        self.subscriber = subscriber
        self.validFrom = validFrom
        self.validUntil = validUntil
    }

    /// The header of the CSV file the carrier exports.
    public static let header = "prefix,subscriber,valid_from,valid_until"

    /// An error in a static assignments file, with its line.
    public struct ParseError: Error, Hashable, CustomStringConvertible {
        public let line: Int
        public let reason: String
        public var description: String { "line \(line): \(reason)" }
    }

    /// Parses the CSV: a header naming at least `prefix` and `subscriber` (`valid_from`,
    /// `valid_until` optional, RFC 3339 times or empty), then one assignment per line; `#` starts a
    /// comment line. Values may not contain commas (customer ids and prefixes don't). The first bad
    /// line is an error: a carrier's static list is configuration, and configuration is refused
    /// whole rather than half-applied.
    public static func parse(_ text: Substring) throws(ParseError) -> [StaticAssignment] {
        var columns: [String: Int] = [:]
        var out: [StaticAssignment] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            let trimmed = line.drop { $0 == " " }
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
            if columns.isEmpty {
                for (i, name) in fields.enumerated() { columns[name.lowercased()] = i }
                guard columns["prefix"] != nil, columns["subscriber"] != nil else {
                    throw ParseError(line: n + 1, reason: "the header must name the columns prefix and subscriber (\(header))")
                }
                continue
            }
            func field(_ name: String) -> Substring? {
                guard let i = columns[name], i < fields.count, !fields[i].isEmpty else { return nil }
                return fields[i]
            }
            guard let p = field("prefix"), let prefix = IPPrefix(p) else {
                throw ParseError(line: n + 1, reason: "'\(field("prefix") ?? "")' is not an address or prefix")
            }
            guard let subscriber = field("subscriber") else { throw ParseError(line: n + 1, reason: "no subscriber") }
            var times: [Int64?] = []
            for name in ["valid_from", "valid_until"] {
                guard let t = field(name) else {
                    times.append(nil)
                    continue
                }
                guard let ms = UTCTime.milliseconds(rfc3339: t) else {
                    throw ParseError(line: n + 1, reason: "\(name) '\(t)' is not an RFC 3339 time such as 2026-04-01T00:00:00Z")
                }
                times.append(ms)
            }
            if let from = times[0], let until = times[1], until <= from {
                throw ParseError(line: n + 1, reason: "valid_until is not after valid_from")
            }
            out.append(StaticAssignment(prefix: prefix, subscriber: String(subscriber), validFrom: times[0], validUntil: times[1]))
        }
        return out
    }
}
