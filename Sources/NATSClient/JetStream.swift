import NATSWire
import NIOCore

/// JetStream over a ``NATSClient``: streams, durable pull consumers, publishing with the stream's
/// acknowledgement, fetching batches and acknowledging each message.
///
/// A publish waits for the stream's ack (``JetStreamPublishAck``). A full stream (a limit with
/// discard `new`) answers with an error: ``publish(_:to:messageID:headers:)`` throws that
/// ``NATSWire/JetStreamError`` (``NATSWire/JetStreamError/isStreamFull``) and counts it
/// (``NATSClient/Statistics/jetStreamPublishesRefusedFull``). A transient failure (no connection,
/// no reply in time, no responders while a cluster elects a leader) is tried again, at most
/// ``publishRetries`` times; give a `messageID` so that a retry of a message the stream did store
/// is recognised as a duplicate within the stream's duplicate window.
///
/// ```swift
/// let js = JetStream(client: client)
/// _ = try await js.ensureStream(JetStreamStreamConfig(name: "FLOWS", subjects: ["flows.>"]))
/// _ = try await js.ensurePullConsumer(stream: "FLOWS", config: JetStreamConsumerConfig(durableName: "detector-0"))
/// _ = try await js.publish(batch, to: "flows.3", messageID: "collector-1-42")
/// for message in try await js.fetch(stream: "FLOWS", consumer: "detector-0", batch: 100) {
///     try await js.acknowledge(message)
/// }
/// ```
public struct JetStream: Sendable {
    public let client: NATSClient
    /// How long an API request or a publish waits for its answer.
    public var timeout: Duration
    /// Transient failures of one publish tried again at most.
    public var publishRetries: Int
    /// The wait before a retry; it doubles each time.
    public var retryBackoff: Duration

    public init(client: NATSClient, timeout: Duration = .seconds(5), publishRetries: Int = 10, retryBackoff: Duration = .milliseconds(100))
    {
        self.client = client
        self.timeout = timeout
        self.publishRetries = publishRetries
        self.retryBackoff = retryBackoff
    }

    /// One API request: its JSON answer, or the API's error thrown.
    public func api<T: Decodable>(_ subject: String, _ body: ByteBuffer = ByteBuffer(), as type: T.Type) async throws -> T {
        let reply = try await client.request(body, to: subject, timeout: timeout)
        return try JetStreamAPI.decode(T.self, from: reply.payload)
    }

    /// Creates the stream, or updates it when one of that name exists with another configuration.
    public func ensureStream(_ config: JetStreamStreamConfig) async throws -> JetStreamStreamInfo {
        let body = try JetStreamAPI.encode(config)
        do {
            return try await api(try JetStreamAPI.streamCreate(config.name), body, as: JetStreamStreamInfo.self)
        } catch let error as JetStreamError where error.errorCode == JetStreamError.streamNameInUse {
            return try await api(try JetStreamAPI.streamUpdate(config.name), body, as: JetStreamStreamInfo.self)
        }
    }

    public func streamInfo(_ name: String) async throws -> JetStreamStreamInfo {
        try await api(try JetStreamAPI.streamInfo(name), as: JetStreamStreamInfo.self)
    }

    /// Creates a durable pull consumer on `stream` (the same configuration again is no change).
    public func ensurePullConsumer(stream: String, config: JetStreamConsumerConfig) async throws -> JetStreamConsumerInfo {
        guard let durable = config.durableName else { throw NATSWireError(.invalidName, "a durable consumer needs a durable_name") }
        let body = try JetStreamAPI.encode(JetStreamConsumerCreateRequest(streamName: stream, config: config))
        return try await api(try JetStreamAPI.durableConsumerCreate(stream: stream, durable: durable), body, as: JetStreamConsumerInfo.self)
    }

    public func consumerInfo(stream: String, consumer: String) async throws -> JetStreamConsumerInfo {
        try await api(try JetStreamAPI.consumerInfo(stream: stream, consumer: consumer), as: JetStreamConsumerInfo.self)
    }

    /// Publishes to a stream's subject and waits for the stream's ack (see the type's notes on
    /// retries and full streams). `messageID` becomes the `Nats-Msg-Id` header.
    public func publish(_ payload: ByteBuffer, to subject: String, messageID: String? = nil, headers: NATSHeaders? = nil) async throws
        -> JetStreamPublishAck
    {
        var headers = headers
        if let messageID {
            headers = headers ?? NATSHeaders()
            headers?.append("Nats-Msg-Id", messageID)
        }
        var attempt = 0
        while true {
            do {
                let reply = try await client.request(payload, to: subject, headers: headers, timeout: timeout)
                let answer = Result { () throws(JetStreamError) in try JetStreamAPI.decode(JetStreamPublishAck.self, from: reply.payload) }
                switch answer {
                case .success(let ack):
                    return ack
                case .failure(let error) where error.isStreamFull:
                    await client.count(.jetStreamPublishRefusedFull)
                    throw error
                case .failure(let error) where error.code == 503 && attempt < publishRetries:
                    // No quorum for the stream yet (a cluster electing its leader): as transient as a timeout.
                    throw NATSClientError(.noResponders, "the stream answered: \(error.description)")
                case .failure(let error):
                    throw error
                }
            } catch let error as NATSClientError where error.isTransient && attempt < publishRetries {
                attempt += 1
                await client.count(.jetStreamPublishRetry)
                try await Task.sleep(for: min(retryBackoff * (1 << min(attempt - 1, 10)), .seconds(2)))
            }
        }
    }

    /// Asks a pull consumer for up to `batch` messages, waiting at most `expires` for them
    /// (`noWait`: not at all). Returns what came; the rest of the batch is not waited for after
    /// the server's 404 (nothing there) or 408 (the request expired).
    public func fetch(stream: String, consumer: String, batch: Int, expires: Duration = .seconds(1), noWait: Bool = false) async throws
        -> [JetStreamMessage]
    {
        guard batch > 0 else { return [] }
        let request = JetStreamPullRequest(batch: batch, expires: noWait ? nil : expires, noWait: noWait)
        let replies = try await client.collect(
            try JetStreamAPI.encode(request), to: try JetStreamAPI.consumerNext(stream: stream, consumer: consumer), limit: batch,
            timeout: (noWait ? timeout : expires) + .milliseconds(500),
            isLast: { $0.status != nil && $0.status != 100 })
        var messages: [JetStreamMessage] = []
        for reply in replies {
            switch reply.status {
            case nil:
                guard let replyTo = reply.replyTo else {
                    throw NATSClientError(.unexpectedReply, "a pulled message without a reply subject")
                }
                messages.append(JetStreamMessage(message: reply, metadata: try JetStreamAckMetadata(parsing: replyTo)))
            case 100?, 404?, 408?:
                continue
            case 409? where !messages.isEmpty:
                continue
            case let status?:
                let description = reply.headers?.statusDescription ?? ""
                throw NATSClientError(.unexpectedReply, "the pull request was answered with status \(status) \(description)")
            }
        }
        return messages
    }

    /// Acknowledges a message: `.ack` (done), `.nak` (deliver again), `.inProgress`, `.term` (never again).
    public func acknowledge(_ message: JetStreamMessage, _ kind: JetStreamAckKind = .ack) async throws {
        guard let replyTo = message.message.replyTo else { return }
        try await client.publish(kind.payload, to: replyTo)
    }
}

/// A message pulled from a consumer, with what its reply subject says about it.
public struct JetStreamMessage: Hashable, Sendable {
    public var message: NATSMessage
    public var metadata: JetStreamAckMetadata

    public var subject: String { message.subject }
    public var payload: ByteBuffer { message.payload }
}
