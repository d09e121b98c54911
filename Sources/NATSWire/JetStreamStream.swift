/// How long JetStream keeps what a stream holds and which limit drops what.
public enum JetStreamRetention: String, Codable, Hashable, Sendable {
    /// Kept until a limit (count, bytes, age) removes the oldest (or refuses the newest).
    case limits
    /// Kept while a consumer has not acknowledged it.
    case interest
    /// Removed once any consumer acknowledges it; one consumer per subject.
    case workQueue = "workqueue"
}

public enum JetStreamStorage: String, Codable, Hashable, Sendable {
    case file
    case memory
}

/// What a full stream does: drop its oldest message, or refuse the new one.
public enum JetStreamDiscard: String, Codable, Hashable, Sendable {
    case old
    case new
}

/// A stream's configuration (`$JS.API.STREAM.CREATE.<name>`'s body). Durations are nanoseconds
/// on the wire; nil fields are left to the server's defaults.
public struct JetStreamStreamConfig: Codable, Hashable, Sendable {
    public var name: String
    public var subjects: [String]?
    public var retention: JetStreamRetention?
    public var storage: JetStreamStorage?
    public var replicas: Int?
    public var maxMessages: Int64?
    public var maxBytes: Int64?
    /// Nanoseconds.
    public var maxAge: Int64?
    public var maxMessageSize: Int32?
    public var discard: JetStreamDiscard?
    /// Nanoseconds during which a repeated `Nats-Msg-Id` is taken as a duplicate.
    public var duplicateWindow: Int64?

    public init(
        name: String, subjects: [String], retention: JetStreamRetention = .limits, storage: JetStreamStorage = .file, replicas: Int = 1,
        maxMessages: Int64? = nil, maxBytes: Int64? = nil, maxAge: Duration? = nil, maxMessageSize: Int32? = nil,
        discard: JetStreamDiscard = .old, duplicateWindow: Duration? = nil
    ) {
        self.name = name
        self.subjects = subjects
        self.retention = retention
        self.storage = storage
        self.replicas = replicas
        self.maxMessages = maxMessages
        self.maxBytes = maxBytes
        self.maxAge = maxAge.map(nanoseconds)
        self.maxMessageSize = maxMessageSize
        self.discard = discard
        self.duplicateWindow = duplicateWindow.map(nanoseconds)
    }

    enum CodingKeys: String, CodingKey {
        case name, subjects, retention, storage
        case replicas = "num_replicas"
        case maxMessages = "max_msgs"
        case maxBytes = "max_bytes"
        case maxAge = "max_age"
        case maxMessageSize = "max_msg_size"
        case discard
        case duplicateWindow = "duplicate_window"
    }
}

/// A stream's state and configuration (`$JS.API.STREAM.INFO.<name>`, and the answer to create).
public struct JetStreamStreamInfo: Decodable, Hashable, Sendable {
    public struct State: Decodable, Hashable, Sendable {
        public var messages: UInt64
        public var bytes: UInt64
        public var firstSequence: UInt64
        public var lastSequence: UInt64
        public var consumerCount: Int?
        enum CodingKeys: String, CodingKey {
            case messages
            case bytes
            case firstSequence = "first_seq"
            case lastSequence = "last_seq"
            case consumerCount = "consumer_count"
        }
    }
    /// Where the stream's replicas are (clustered servers only).
    public struct Cluster: Decodable, Hashable, Sendable {
        public struct Replica: Decodable, Hashable, Sendable {
            public var name: String
            public var current: Bool?
        }
        public var name: String?
        public var leader: String?
        public var replicas: [Replica]?
    }
    public var config: JetStreamStreamConfig
    public var state: State
    public var cluster: Cluster?
}

/// Nanoseconds of a duration, as the JetStream API counts them.
public func nanoseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
}
