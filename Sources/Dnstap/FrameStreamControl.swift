/// A Frame Streams control frame (fstrm, <https://farsightsec.github.io/fstrm/>): the handshake
/// of a connection between a writer (the resolver) and a reader (Mamori).
///
/// On the wire: an escape (four zero bytes), the frame's length (32-bit big-endian), the control
/// type (32-bit), then fields — each a type, a length and that many bytes. The only field type is
/// CONTENT_TYPE (1). The bidirectional exchange is READY → ACCEPT, START, data frames, STOP → FINISH.
///
/// ```swift
/// let reply = FrameStreamControl.accept(contentType: FrameStreamControl.dnstapContentType)
/// channel.write(reply.encoded())
/// ```
public struct FrameStreamControl: Sendable, Hashable, CustomStringConvertible {
    /// The control frame types of fstrm.
    public enum Kind: UInt32, Sendable, Hashable, CaseIterable {
        /// Reader → writer: the content type the reader takes, in answer to READY.
        case accept = 0x01
        /// Writer → reader: data frames of (at most) one content type follow.
        case start = 0x02
        /// Writer → reader: no more data frames.
        case stop = 0x03
        /// Writer → reader: opens a bidirectional connection, offering content types.
        case ready = 0x04
        /// Reader → writer: the reader saw STOP; the writer may close.
        case finish = 0x05
    }

    /// The content type of dnstap payloads.
    public static let dnstapContentType = "protobuf:dnstap.Dnstap"
    /// fstrm's limit on a control frame's length (`FSTRM_CONTROL_FRAME_LENGTH_MAX`).
    public static let maximumLength = 512
    /// fstrm's limit on one content type (`FSTRM_CONTROL_FIELD_CONTENT_TYPE_LENGTH_MAX`).
    public static let maximumContentTypeLength = 256
    /// The field type of a content type.
    static let contentTypeField: UInt32 = 0x01

    public var kind: Kind
    /// The CONTENT_TYPE fields, in order (raw bytes; dnstap's are ASCII).
    public var contentTypes: [[UInt8]]

    public init(_ kind: Kind, contentTypes: [[UInt8]] = []) {
        self.kind = kind
        self.contentTypes = contentTypes
    }

    /// ACCEPT for one content type (a reader answers READY with the type it takes).
    public static func accept(contentType: String = dnstapContentType) -> FrameStreamControl {
        FrameStreamControl(.accept, contentTypes: [Array(contentType.utf8)])
    }

    /// FINISH, the reader's answer to STOP.
    public static let finish = FrameStreamControl(.finish)

    /// Whether `contentType` is among ``contentTypes``.
    public func offers(_ contentType: String) -> Bool { contentTypes.contains(Array(contentType.utf8)) }

    /// The frame on the wire, escape and length included.
    public func encoded() -> [UInt8] {
        var body: [UInt8] = []
        Self.append(kind.rawValue, to: &body)
        for type in contentTypes {
            Self.append(Self.contentTypeField, to: &body)
            Self.append(UInt32(type.count), to: &body)
            body += type
        }
        var out: [UInt8] = [0, 0, 0, 0]
        Self.append(UInt32(body.count), to: &out)
        return out + body
    }

    /// Parses a control frame's body (after the escape and the length): the type, then fields.
    public static func decode(body: some Collection<UInt8>) throws(DnstapError) -> FrameStreamControl {
        let bytes = Array(body)
        guard bytes.count >= 4 else {
            throw DnstapError(.badControlFrame, "control frame of \(bytes.count) bytes has no type")
        }
        let raw = read32(bytes, at: 0)
        guard let kind = Kind(rawValue: raw) else {
            throw DnstapError(.badControlFrame, "unknown control frame type \(raw)")
        }
        var control = FrameStreamControl(kind)
        var i = 4
        while i < bytes.count {
            guard bytes.count - i >= 8 else {
                throw DnstapError(.badControlFrame, "control field header truncated (\(bytes.count - i) bytes left)")
            }
            let fieldType = read32(bytes, at: i)
            let length = Int(read32(bytes, at: i + 4))
            i += 8
            guard length <= bytes.count - i else {
                throw DnstapError(.badControlFrame, "control field of \(length) bytes, \(bytes.count - i) left")
            }
            guard fieldType == contentTypeField else {
                throw DnstapError(.badControlFrame, "unknown control field type \(fieldType)")
            }
            guard length <= maximumContentTypeLength else {
                throw DnstapError(.badControlFrame, "content type of \(length) bytes (at most \(maximumContentTypeLength))")
            }
            control.contentTypes.append(Array(bytes[i..<(i + length)]))
            i += length
        }
        guard kind == .ready || kind == .accept || control.contentTypes.count <= 1 else {
            throw DnstapError(.badControlFrame, "\(kind) frame with \(control.contentTypes.count) content types (at most one)")
        }
        return control
    }

    public var description: String {
        let types = contentTypes.map { String(decoding: $0, as: UTF8.self) }
        return types.isEmpty ? "\(kind)" : "\(kind)(\(types.joined(separator: ", ")))"
    }

    static func append(_ value: UInt32, to bytes: inout [UInt8]) {
        bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    static func read32(_ bytes: [UInt8], at i: Int) -> UInt32 {
        UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
    }
}
