/// Why STIX or MISP input could not be read, or a pattern could not be used.
///
/// Equality compares only ``code``, so tests can build the expected error:
/// ```swift
/// #expect(throws: STIXError(.notEvaluable)) { try STIXPattern.evaluate("[file:name = 'x']") }
/// ```
/// ``description`` names the kind and says why without quoting the input at length; peers'
/// input is hostile, so nothing read is echoed past a short excerpt.
public struct STIXError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind of error. A struct over a private enum so that adding a kind breaks no caller.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, CaseIterable {
            case malformedJSON = "malformed_json"
            case limitExceeded = "limit_exceeded"
            case malformedObject = "malformed_object"
            case malformedBundle = "malformed_bundle"
            case patternSyntax = "pattern_syntax"
            case notEvaluable = "not_evaluable"
            case malformedFeed = "malformed_feed"
        }
        fileprivate let base: Base

        /// The bytes are not JSON (RFC 8259): a syntax error, invalid UTF-8, a duplicate member name.
        public static let malformedJSON = Code(base: .malformedJSON)
        /// The input is larger or deeper than the bounds (``JSONValue/Limits``, ``STIXPattern/Limits``).
        public static let limitExceeded = Code(base: .limitExceeded)
        /// A STIX object lacks a property it must have, or has one of the wrong form (an id that is
        /// not `type--UUID`, a timestamp that is not RFC 3339 UTC).
        public static let malformedObject = Code(base: .malformedObject)
        /// The document is not a STIX 2.1 bundle (`type` is not `bundle`, `objects` not an array).
        public static let malformedBundle = Code(base: .malformedBundle)
        /// A pattern does not follow the STIX 2.1 patterning grammar.
        public static let patternSyntax = Code(base: .patternSyntax)
        /// A valid pattern that the importer cannot turn into a match: file hashes, qualifiers,
        /// FOLLOWEDBY, LIKE/MATCHES, properties other than addresses, names, ports and protocols,
        /// or a pattern that would match any address.
        public static let notEvaluable = Code(base: .notEvaluable)
        /// A MISP feed's manifest or event is not of the feed format.
        public static let malformedFeed = Code(base: .malformedFeed)

        /// Every code, for pre-registering metrics.
        public static let all: [Code] = Base.allCases.map { Code(base: $0) }

        /// Stable snake_case name, used as a metrics label.
        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What went wrong.
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String = "", file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { reason.isEmpty ? "\(code)" : "\(code): \(reason)" }
    public var debugDescription: String { "STIXError(\(code), \(reason), \(file):\(line))" }

    /// At most 40 characters of `text`, for a reason that names what it could not read.
    static func excerpt(_ text: some StringProtocol) -> String {
        text.count <= 40 ? String(text) : String(text.prefix(40)) + "…"
    }
}
