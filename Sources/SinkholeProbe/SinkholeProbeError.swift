/// Why a connection's first bytes were malformed: a ``Code`` (what counts and compares) and a
/// reason for people. Two errors are equal when their codes are, so tests can build the expected one.
public struct SinkholeProbeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem; its `description` is a snake_case label fit for a metric.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case tooLarge = "too_large"
            case requestLine = "bad_request_line"
            case header = "bad_header"
            case host = "bad_host"
            case record = "bad_record"
            case handshake = "bad_handshake"
            case clientHello = "bad_client_hello"
            case serverName = "bad_server_name"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The request or ClientHello does not end within the bytes examined.
        public static let tooLarge = Code(.tooLarge)
        /// An HTTP request line that is not `method target [version]`.
        public static let requestLine = Code(.requestLine)
        /// An HTTP header line that breaks the syntax, or too many of them.
        public static let header = Code(.header)
        /// A Host header (or absolute target) that is neither a valid DNS name nor an address, or more than one Host.
        public static let host = Code(.host)
        /// A TLS record header that is not a handshake record of TLS's versions and lengths.
        public static let record = Code(.record)
        /// A handshake message that is not a ClientHello, or of an impossible length.
        public static let handshake = Code(.handshake)
        /// A ClientHello whose fields or extensions do not add up.
        public static let clientHello = Code(.clientHello)
        /// A server_name extension that is malformed or names no valid DNS name.
        public static let serverName = Code(.serverName)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What was wrong, for logs; it may quote a few bytes of the input.
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { "\(code): \(reason)" }
}
