/// Why identity data (a RADIUS packet, a detail file, a Kea lease file, a CGNAT syslog line)
/// could not be decoded or encoded.
///
/// Equality compares only ``code``, so tests can build the expected error:
/// ```swift
/// #expect(throws: IdentityCodecError(.truncated)) { try RADIUSPacket.decode([1, 2]) }
/// ```
/// ``description`` names the problem only; ``debugDescription`` adds the reason, which may quote
/// input (subscriber data), and where it was raised.
public struct IdentityCodecError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong. A struct over a private enum, so adding a case breaks no caller.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case truncated, lengthMismatch, badAttributeLength, tooLong, badAttributeValue
            case badAuthenticator, unexpectedPacketCode, malformedLine, missingField, badFieldValue
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// Fewer bytes than the format needs (RADIUS header, attribute header).
        public static let truncated = Code(.truncated)
        /// The RADIUS Length field disagrees with the datagram (RFC 2865 §3).
        public static let lengthMismatch = Code(.lengthMismatch)
        /// An attribute's Length is below 2 or runs past the packet (RFC 2865 §5).
        public static let badAttributeLength = Code(.badAttributeLength)
        /// Over a format's maximum: a RADIUS packet over 4096 octets, an attribute value over 253.
        public static let tooLong = Code(.tooLong)
        /// An attribute value of the wrong size or form for its type (an address of 3 octets …).
        public static let badAttributeValue = Code(.badAttributeValue)
        /// The authenticator does not match the shared secret (RFC 2866 §3).
        public static let badAuthenticator = Code(.badAuthenticator)
        /// A packet of a code the caller did not expect (an Access-Request where accounting was expected).
        // swift-format-ignore: DontRepeatTypeInStaticProperties
        // (RADIUS's own word: the packet's Code field is what was unexpected)
        public static let unexpectedPacketCode = Code(.unexpectedPacketCode)
        /// A text line that does not have the format's shape.
        public static let malformedLine = Code(.malformedLine)
        /// A required field, column or attribute is absent.
        public static let missingField = Code(.missingField)
        /// A field is present but its value does not parse (a number, an address, a time).
        public static let badFieldValue = Code(.badFieldValue)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// Details; may quote the input.
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

    public var description: String { "IdentityCodecError.\(code)" }
    public var debugDescription: String { "IdentityCodecError.\(code): \(reason) (\(file):\(line))" }
}
