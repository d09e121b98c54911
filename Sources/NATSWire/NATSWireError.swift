/// What went wrong while reading or writing the NATS protocol: a malformed operation from the
/// server, a frame over a bound, a name the protocol cannot carry.
///
/// Equality compares only the ``code``, so a test can build the error it expects.
public struct NATSWireError: Error, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// Which rule was broken. A struct over a private enum, so adding a case breaks no caller.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Base: String, Hashable, Sendable {
            case malformedOperation = "malformed operation"
            case unknownOperation = "unknown operation"
            case controlLineTooLong = "control line too long"
            case payloadTooLarge = "payload too large"
            case headersTooLarge = "header block too large"
            case malformedHeaders = "malformed headers"
            case invalidSubject = "invalid subject"
            case invalidName = "invalid name"
            case invalidJSON = "invalid JSON"
            case malformedAckSubject = "malformed JetStream ack subject"
            case invalidURL = "invalid server URL"
        }
        let base: Base
        init(_ base: Base) { self.base = base }

        /// A line the protocol does not allow: bad arguments, a number that is not one, a frame
        /// without its CRLF.
        public static let malformedOperation = Code(.malformedOperation)
        /// An operation name the client protocol does not have.
        public static let unknownOperation = Code(.unknownOperation)
        /// No CRLF within the longest control line allowed.
        public static let controlLineTooLong = Code(.controlLineTooLong)
        /// A message's payload over the server's `max_payload` (or the client's bound).
        public static let payloadTooLarge = Code(.payloadTooLarge)
        /// A message's header block over the client's bound.
        public static let headersTooLarge = Code(.headersTooLarge)
        /// A header block that is not `NATS/1.0` lines ending with an empty line.
        public static let malformedHeaders = Code(.malformedHeaders)
        /// A subject that is empty or holds whitespace or control characters.
        public static let invalidSubject = Code(.invalidSubject)
        /// A stream or consumer name the JetStream API cannot carry (empty, `.`, `*`, `>`, whitespace).
        public static let invalidName = Code(.invalidName)
        /// JSON that does not have the expected shape.
        public static let invalidJSON = Code(.invalidJSON)
        /// A reply subject that is not a `$JS.ACK.` subject of a known layout.
        public static let malformedAckSubject = Code(.malformedAckSubject)
        /// A server address that is not `nats://host[:port]` or `host[:port]`.
        public static let invalidURL = Code(.invalidURL)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// Why, in words; never holds payload bytes.
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public var description: String { "NATS \(code): \(reason)" }
    public var debugDescription: String { "NATS \(code): \(reason) (\(file):\(line))" }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
