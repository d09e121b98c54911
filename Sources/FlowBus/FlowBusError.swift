/// Why a batch from the bus was refused.
public struct FlowBusError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case badMagic = "bad-magic"
        case truncated
        case tooLarge = "too-large"
        case badValue = "bad-value"
        case trailingBytes = "trailing-bytes"
    }

    public var kind: Kind
    /// The byte offset in the batch where it went wrong.
    public var offset: Int
    public var message: String

    public init(_ kind: Kind, at offset: Int, _ message: String) {
        self.kind = kind
        self.offset = offset
        self.message = message
    }

    public var description: String { "flow batch refused (\(kind.rawValue)) at byte \(offset): \(message)" }
}
