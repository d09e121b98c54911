/// Why the PostgreSQL store could not be configured, reached, migrated or used.
///
/// The description says what went wrong and what to do, and never carries a password: errors
/// about a URL name the part that is wrong, not the URL.
public struct PostgresStorageError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure; equality of errors in tests compares codes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidURL = "invalid URL"
            case passwordInURL = "password in URL"
            case passwordFile = "password file"
            case tls = "TLS"
            case schemaTooNew = "schema too new"
            case migrationFailed = "migration failed"
            case invalidMigrations = "invalid migrations"
            case database = "database"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The URL is malformed or names something Mamori does not support.
        public static let invalidURL = Self(.invalidURL)
        /// The URL carries a password (it belongs in `password_file`).
        public static let passwordInURL = Self(.passwordInURL)
        /// The password file is missing, unreadable or empty.
        public static let passwordFile = Self(.passwordFile)
        /// The TLS settings cannot be used (a CA file that cannot be read).
        public static let tls = Self(.tls)
        /// The database's schema is newer than this build of Mamori knows.
        public static let schemaTooNew = Self(.schemaTooNew)
        /// A migration failed; nothing of it was applied.
        public static let migrationFailed = Self(.migrationFailed)
        /// The list of migrations is not numbered 1, 2, 3 … (a programming error).
        public static let invalidMigrations = Self(.invalidMigrations)
        /// The server refused a statement or could not be reached.
        public static let database = Self(.database)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What went wrong, for an operator (no secrets).
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "PostgreSQL store: \(message)" }
}
