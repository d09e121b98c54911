import Foundation
import NIOCore

/// The subjects of the JetStream API (requests under `$JS.API.`) and the decoding of its answers.
///
/// Consumers are created with `$JS.API.CONSUMER.DURABLE.CREATE.<stream>.<durable>`: Debian's
/// nats-server 2.9.10 has it, and so do later servers (which add `CONSUMER.CREATE.<stream>.<name>`).
public enum JetStreamAPI {
    public static let prefix = "$JS.API"

    public static func streamCreate(_ stream: String) throws(NATSWireError) -> String { "\(prefix).STREAM.CREATE.\(try name(stream))" }
    public static func streamUpdate(_ stream: String) throws(NATSWireError) -> String { "\(prefix).STREAM.UPDATE.\(try name(stream))" }
    public static func streamInfo(_ stream: String) throws(NATSWireError) -> String { "\(prefix).STREAM.INFO.\(try name(stream))" }
    public static func streamDelete(_ stream: String) throws(NATSWireError) -> String { "\(prefix).STREAM.DELETE.\(try name(stream))" }
    public static func durableConsumerCreate(stream: String, durable: String) throws(NATSWireError) -> String {
        "\(prefix).CONSUMER.DURABLE.CREATE.\(try name(stream)).\(try name(durable))"
    }
    public static func consumerInfo(stream: String, consumer: String) throws(NATSWireError) -> String {
        "\(prefix).CONSUMER.INFO.\(try name(stream)).\(try name(consumer))"
    }
    public static func consumerDelete(stream: String, consumer: String) throws(NATSWireError) -> String {
        "\(prefix).CONSUMER.DELETE.\(try name(stream)).\(try name(consumer))"
    }
    /// Where a pull request (``JetStreamPullRequest``) goes; the messages come to its reply subject.
    public static func consumerNext(stream: String, consumer: String) throws(NATSWireError) -> String {
        "\(prefix).CONSUMER.MSG.NEXT.\(try name(stream)).\(try name(consumer))"
    }

    /// A stream or consumer name: one subject token, printable, without `.`, `*`, `>`, at most 255 bytes.
    @discardableResult
    public static func name(_ name: String) throws(NATSWireError) -> String {
        guard !name.isEmpty, name.utf8.count <= 255,
            name.utf8.allSatisfy({ $0 > 32 && $0 != 127 && $0 != UInt8(ascii: ".") && $0 != UInt8(ascii: "*") && $0 != UInt8(ascii: ">") })
        else { throw NATSWireError(.invalidName, "\(String(name.prefix(64)).debugDescription) is not a JetStream name") }
        return name
    }

    /// JSON for a request body.
    public static func encode(_ value: some Encodable) throws(NATSWireError) -> ByteBuffer {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return ByteBuffer(bytes: try encoder.encode(value))
        } catch {
            throw NATSWireError(.invalidJSON, "a JetStream request does not encode: \(error)")
        }
    }

    /// An API answer: `T`, or the ``JetStreamError`` its `error` object holds.
    public static func decode<T: Decodable>(_ type: T.Type, from payload: ByteBuffer) throws(JetStreamError) -> T {
        let data = Data(payload.readableBytesView)
        let decoder = JSONDecoder()
        if let envelope = try? decoder.decode(ErrorEnvelope.self, from: data), let error = envelope.error {
            throw JetStreamError(code: error.code, errorCode: error.errCode ?? 0, description: error.description ?? "")
        }
        do {
            return try decoder.decode(T.self, from: data)
        } catch {
            throw JetStreamError(code: 0, errorCode: 0, description: "an answer that is not \(T.self): \(error)")
        }
    }

    struct ErrorEnvelope: Decodable {
        struct Body: Decodable {
            var code: Int
            var errCode: Int?
            var description: String?
            enum CodingKeys: String, CodingKey {
                case code
                case errCode = "err_code"
                case description
            }
        }
        var error: Body?
    }
}

/// An error the JetStream API answered with (`{"error":{"code":…,"err_code":…,"description":…}}`),
/// or an answer that did not decode (code 0).
public struct JetStreamError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The HTTP-like status (400, 404, 503 …).
    public var code: Int
    /// The server's precise error number (`err_code`), 0 when absent.
    public var errorCode: Int
    public var description: String

    public init(code: Int, errorCode: Int, description: String) {
        self.code = code
        self.errorCode = errorCode
        self.description = description
    }

    /// `stream not found`.
    public static let streamNotFound = 10059
    /// `stream name already in use with a different configuration`.
    public static let streamNameInUse = 10058
    /// `consumer not found`.
    public static let consumerNotFound = 10014
    /// A store refused a message (`maximum messages exceeded`, `maximum bytes exceeded` …).
    public static let storeFailed = 10077
    /// `maximum messages per subject exceeded`.
    public static let maximumMessagesPerSubjectExceeded = 10078

    /// Whether the stream refused the message because it is full (a limit with discard new).
    public var isStreamFull: Bool {
        errorCode == Self.storeFailed || errorCode == Self.maximumMessagesPerSubjectExceeded
            || description.contains("maximum messages") || description.contains("maximum bytes")
    }
}
