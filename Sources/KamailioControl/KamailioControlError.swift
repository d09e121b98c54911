/// Why a publish to Kamailio did not happen, or did not take effect.
///
/// Equality and hashing compare only the ``code``, so a test can build the error it expects:
/// `#expect(throws: KamailioControlError(.refused))`.
public struct KamailioControlError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; the raw value is the metric label (`outcome`).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidList = "invalid_list"
            case tableWrite = "table_write"
            case unreachable
            case refused
            case malformedAnswer = "malformed_answer"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The list breaks a rule (a prefix that is not digits, a bad rule id, too many entries):
        /// nothing was written.
        public static let invalidList = Code(.invalidList)
        /// A table file could not be written: nothing was reloaded.
        public static let tableWrite = Code(.tableWrite)
        /// Kamailio's JSON-RPC did not answer (refused connection, time out). Kamailio keeps the
        /// list it had; the tables on disk were put back as they were.
        public static let unreachable = Code(.unreachable)
        /// Kamailio answered a reload with an error (a file it cannot read, an unknown tree):
        /// it keeps the list it had loaded; the tables on disk were put back as they were.
        public static let refused = Code(.refused)
        /// Kamailio answered with something that is not the JSON-RPC answer expected.
        public static let malformedAnswer = Code(.malformedAnswer)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What happened, for logs and the operator: names the entry, the file or the RPC answer.
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String = "", file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public static func == (a: KamailioControlError, b: KamailioControlError) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { reason.isEmpty ? "kamailio: \(code)" : "kamailio: \(code): \(reason)" }
}
