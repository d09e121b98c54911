/// Why an account operation was refused. Equality compares only the ``code``, so a test can build
/// the error it expects. The ``reason`` never holds a password, a token secret or a session id.
public struct AccountError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of refusal: a struct over a private enum, so adding one does not break callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable, Hashable {
            case invalidName = "invalid name"
            case nameTaken = "name taken"
            case passwordTooShort = "password too short"
            case passwordTooLong = "password too long"
            case passwordBlank = "password blank"
            case wrongPassword = "wrong current password"
            case notPermitted = "not permitted"
            case scopeTooWide = "scope wider than the creator's role"
            case emptyScope = "empty scope"
            case invalidExpiry = "invalid expiry"
            case alreadyRevoked = "already revoked"
            case lastAdmin = "last admin"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        public static let invalidName = Code(.invalidName)
        public static let nameTaken = Code(.nameTaken)
        public static let passwordTooShort = Code(.passwordTooShort)
        public static let passwordTooLong = Code(.passwordTooLong)
        public static let passwordBlank = Code(.passwordBlank)
        public static let wrongPassword = Code(.wrongPassword)
        public static let notPermitted = Code(.notPermitted)
        public static let scopeTooWide = Code(.scopeTooWide)
        public static let emptyScope = Code(.emptyScope)
        public static let invalidExpiry = Code(.invalidExpiry)
        public static let alreadyRevoked = Code(.alreadyRevoked)
        public static let lastAdmin = Code(.lastAdmin)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public static func == (a: AccountError, b: AccountError) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { "\(code): \(reason)" }
}
