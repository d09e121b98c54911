/// Why a datagram (or part of it) could not be decoded.
///
/// Equality compares only ``code``, so tests can build the expected error:
/// ```swift
/// #expect(report.error == FlowDecodingError(.truncated))
/// ```
public struct FlowDecodingError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind of error. A struct over a private enum so that adding a kind breaks no caller.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, CaseIterable {
            case truncated = "truncated"
            case unsupportedVersion = "unsupported_version"
            case badLength = "bad_length"
            case badSet = "bad_set"
            case badTemplate = "bad_template"
            case templateTooLarge = "template_too_large"
            case tooManyTemplates = "too_many_templates"
            case badRecord = "bad_record"
            case badSample = "bad_sample"
            case implausibleTime = "implausible_time"
        }
        fileprivate let base: Base

        /// The datagram ends before a header, set, template or record it announces.
        public static let truncated = Code(base: .truncated)
        /// The version field names no protocol this decoder knows.
        public static let unsupportedVersion = Code(base: .unsupportedVersion)
        /// A header's length or count disagrees with the bytes present.
        public static let badLength = Code(base: .badLength)
        /// A set / flowset header is invalid (length below its header, reserved ID).
        public static let badSet = Code(base: .badSet)
        /// A template or options template is malformed (zero-length record, bad scope).
        public static let badTemplate = Code(base: .badTemplate)
        /// A template declares more fields than the decoder accepts.
        public static let templateTooLarge = Code(base: .templateTooLarge)
        /// An exporter announced more templates than the per-session limit.
        public static let tooManyTemplates = Code(base: .tooManyTemplates)
        /// A data record is malformed (variable-length field past its set).
        public static let badRecord = Code(base: .badRecord)
        /// An sFlow sample or record is malformed.
        public static let badSample = Code(base: .badSample)
        /// A record's times were refused by the ``FlowTimeWindow`` (the record is dropped, the rest
        /// of the datagram kept). Not set as ``DecodeReport/error``: counted in the report's time fields.
        public static let implausibleTime = Code(base: .implausibleTime)

        /// Every code, for pre-registering metrics.
        public static let all: [Code] = Base.allCases.map { Code(base: $0) }

        /// Stable snake_case name, used as a metrics label.
        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What went wrong, without payload bytes (safe to log).
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
    public var debugDescription: String { "FlowDecodingError(\(code), \(reason), \(file):\(line))" }

    static func truncated(expected: Int, actual: Int, _ what: String, file: String = #fileID, line: Int = #line) -> Self {
        FlowDecodingError(.truncated, "\(what): expected \(expected) bytes, \(actual) left", file: file, line: line)
    }
}
