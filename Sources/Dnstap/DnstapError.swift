/// Why a Frame Streams connection or a dnstap frame could not be read.
///
/// Equality compares only ``code``, so tests can build the expected error:
/// ```swift
/// #expect(throws: DnstapError(.frameTooLarge)) { try decoder.next() }
/// ```
/// Errors of the framing (``Code/frameTooLarge``, ``Code/badControlFrame``, ``Code/protocolViolation``,
/// ``Code/unsupportedContentType``) leave the byte stream unreadable: the caller closes the
/// connection. Errors of one data frame (``Code/badProtobuf``, ``Code/badEvent``, ``Code/badDNSMessage``)
/// drop that frame only.
public struct DnstapError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind of error. A struct over a private enum so that adding a kind breaks no caller.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate enum Base: String, Sendable, CaseIterable {
            case frameTooLarge = "frame_too_large"
            case badControlFrame = "bad_control_frame"
            case protocolViolation = "protocol_violation"
            case unsupportedContentType = "unsupported_content_type"
            case badProtobuf = "bad_protobuf"
            case badEvent = "bad_event"
            case badDNSMessage = "bad_dns_message"
        }
        fileprivate let base: Base

        /// A data frame or control frame announces more bytes than the configured maximum.
        public static let frameTooLarge = Code(base: .frameTooLarge)
        /// A control frame is malformed: unknown type, a field past its end, a content type too long.
        public static let badControlFrame = Code(base: .badControlFrame)
        /// A frame arrived out of order (data before START, a second READY, anything after STOP).
        public static let protocolViolation = Code(base: .protocolViolation)
        /// The writer offers or starts a content type other than `protobuf:dnstap.Dnstap`.
        public static let unsupportedContentType = Code(base: .unsupportedContentType)
        /// A data frame is not a dnstap protobuf message.
        public static let badProtobuf = Code(base: .badProtobuf)
        /// A dnstap message lacks what an event needs, or holds an address of the wrong length.
        public static let badEvent = Code(base: .badEvent)
        /// The DNS message inside the event is malformed (truncated, bad label, pointer loop).
        public static let badDNSMessage = Code(base: .badDNSMessage)

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
    public var debugDescription: String { "DnstapError(\(code), \(reason), \(file):\(line))" }
}
