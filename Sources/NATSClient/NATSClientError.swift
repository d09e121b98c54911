/// Why a NATS client operation failed (codec errors are ``NATSWire/NATSWireError``, JetStream API
/// answers ``NATSWire/JetStreamError``).
public struct NATSClientError: Error, Hashable, CustomStringConvertible {
    /// What failed. A struct over a private enum, so adding a case breaks no caller.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Hashable, Sendable {
            case closed = "client closed"
            case notConnected = "not connected"
            case alreadyRunning = "already running"
            case timeout = "timed out"
            case noResponders = "no responders"
            case connectionLost = "connection lost"
            case noServerReachable = "no server reachable"
            case handshakeFailed = "handshake failed"
            case serverError = "server error"
            case tooManySubscriptions = "too many subscriptions"
            case tooManyPendingRequests = "too many pending requests"
            case payloadTooLarge = "payload too large"
            case unexpectedReply = "unexpected reply"
        }
        let base: Base
        init(_ base: Base) { self.base = base }

        /// ``NATSClient/close()`` was called, or ``NATSClient/run()`` ended.
        public static let closed = Code(.closed)
        /// No connection came up within the configured wait.
        public static let notConnected = Code(.notConnected)
        /// ``NATSClient/run()`` was called twice.
        public static let alreadyRunning = Code(.alreadyRunning)
        /// No reply (or PONG) within the time allowed.
        public static let timeout = Code(.timeout)
        /// The server said nobody subscribes to the request's subject (status 503).
        public static let noResponders = Code(.noResponders)
        /// The connection closed while the operation waited for its answer.
        public static let connectionLost = Code(.connectionLost)
        /// ``NATSClient/run()`` gave up after the configured number of failed connection attempts.
        public static let noServerReachable = Code(.noServerReachable)
        /// The server did not send INFO, refused CONNECT (`-ERR 'Authorization Violation'`) or asked for TLS.
        public static let handshakeFailed = Code(.handshakeFailed)
        /// The server sent `-ERR`.
        public static let serverError = Code(.serverError)
        public static let tooManySubscriptions = Code(.tooManySubscriptions)
        public static let tooManyPendingRequests = Code(.tooManyPendingRequests)
        /// The message is over the server's `max_payload`.
        public static let payloadTooLarge = Code(.payloadTooLarge)
        /// A reply of another shape than the operation expects (a pull status it does not know).
        public static let unexpectedReply = Code(.unexpectedReply)

        public var description: String { base.rawValue }
    }

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "NATS client: \(code): \(reason)" }

    /// Whether trying again later may succeed: the connection was down or the cluster was
    /// electing a leader.
    public var isTransient: Bool {
        [.notConnected, .timeout, .noResponders, .connectionLost].contains(code)
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
