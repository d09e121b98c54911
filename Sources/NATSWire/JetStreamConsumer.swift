/// How a consumer's messages must be acknowledged. Only explicit acknowledgement gives
/// redelivery of each unacknowledged message after its ack wait, which the detectors rely on.
public enum JetStreamAckPolicy: String, Codable, Hashable, Sendable {
    case none
    case all
    case explicit
}

public enum JetStreamDeliverPolicy: String, Codable, Hashable, Sendable {
    case all
    case last
    case new
}

/// A durable pull consumer's configuration (the `config` of a consumer create request).
public struct JetStreamConsumerConfig: Codable, Hashable, Sendable {
    public var durableName: String?
    public var deliverPolicy: JetStreamDeliverPolicy?
    public var ackPolicy: JetStreamAckPolicy
    /// Nanoseconds a delivered message waits for its ack before it is delivered again.
    public var ackWait: Int64?
    /// Deliveries of one message at most (-1: unbounded).
    public var maxDeliver: Int?
    public var filterSubject: String?
    public var maxAckPending: Int?
    public var replayPolicy: String?
    /// Pull requests waiting at once at most.
    public var maxWaiting: Int?

    public init(
        durableName: String, ackPolicy: JetStreamAckPolicy = .explicit, ackWait: Duration = .seconds(30), maxDeliver: Int = -1,
        filterSubject: String? = nil, maxAckPending: Int = 1000, deliverPolicy: JetStreamDeliverPolicy = .all
    ) {
        self.durableName = durableName
        self.deliverPolicy = deliverPolicy
        self.ackPolicy = ackPolicy
        self.ackWait = nanoseconds(ackWait)
        self.maxDeliver = maxDeliver
        self.filterSubject = filterSubject
        self.maxAckPending = maxAckPending
        replayPolicy = "instant"
    }

    enum CodingKeys: String, CodingKey {
        case durableName = "durable_name"
        case deliverPolicy = "deliver_policy"
        case ackPolicy = "ack_policy"
        case ackWait = "ack_wait"
        case maxDeliver = "max_deliver"
        case filterSubject = "filter_subject"
        case maxAckPending = "max_ack_pending"
        case replayPolicy = "replay_policy"
        case maxWaiting = "max_waiting"
    }
}

/// The body of a consumer create request.
public struct JetStreamConsumerCreateRequest: Codable, Hashable, Sendable {
    public var streamName: String
    public var config: JetStreamConsumerConfig

    public init(streamName: String, config: JetStreamConsumerConfig) {
        self.streamName = streamName
        self.config = config
    }

    enum CodingKeys: String, CodingKey {
        case streamName = "stream_name"
        case config
    }
}

/// A consumer's state (the answer to create and to `$JS.API.CONSUMER.INFO.<stream>.<consumer>`).
public struct JetStreamConsumerInfo: Decodable, Hashable, Sendable {
    public struct SequenceInfo: Decodable, Hashable, Sendable {
        public var consumerSequence: UInt64
        public var streamSequence: UInt64
        enum CodingKeys: String, CodingKey {
            case consumerSequence = "consumer_seq"
            case streamSequence = "stream_seq"
        }
    }
    public var streamName: String
    public var name: String
    public var config: JetStreamConsumerConfig
    public var delivered: SequenceInfo?
    public var ackFloor: SequenceInfo?
    /// Messages delivered and not acknowledged yet.
    public var ackPending: Int
    public var redelivered: Int
    /// Messages of the stream not delivered yet.
    public var pending: UInt64

    enum CodingKeys: String, CodingKey {
        case streamName = "stream_name"
        case name, config, delivered
        case ackFloor = "ack_floor"
        case ackPending = "num_ack_pending"
        case redelivered = "num_redelivered"
        case pending = "num_pending"
    }
}

/// A pull request (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`'s body): up to `batch`
/// messages, waiting at most `expires` nanoseconds (408 then), or not at all with `noWait` (404
/// when nothing is there).
public struct JetStreamPullRequest: Codable, Hashable, Sendable {
    public var batch: Int
    public var expires: Int64?
    public var noWait: Bool?

    public init(batch: Int, expires: Duration?, noWait: Bool = false) {
        self.batch = batch
        self.expires = expires.map(nanoseconds)
        self.noWait = noWait ? true : nil
    }

    enum CodingKeys: String, CodingKey {
        case batch, expires
        case noWait = "no_wait"
    }
}
