import Logging
import NATSWire
import NIOCore
import NIOPosix

/// A NATS client: one connection at a time to one of a list of servers, kept up by ``run()``.
///
/// ``run()`` connects (INFO → CONNECT → PING/PONG), answers the server's PINGs, delivers messages
/// to subscriptions and replies to requests, and when the connection drops connects again, to
/// the next server of the list (the configured ones, then those the cluster announced), with
/// back-off, until ``Configuration/maxReconnectAttempts`` attempts in a row have failed.
/// Subscriptions survive a reconnect: they are sent again. Operations called while no connection
/// is up wait for one, at most ``Configuration/connectionWait``.
///
/// Every queue is bounded: a subscription buffers at most ``Configuration/subscriptionCapacity``
/// messages and drops (and counts) the newest beyond; pending requests and subscriptions are capped.
///
/// ```swift
/// let client = NATSClient(configuration: .init(servers: [try NATSServerAddress(parsing: "nats://127.0.0.1:4222")]))
/// try await withThrowingDiscardingTaskGroup { group in
///     group.addTask { try await client.run() }
///     let answer = try await client.request(ByteBuffer(string: "hi"), to: "service")
///     await client.close()
/// }
/// ```
public actor NATSClient {
    public struct Configuration: Sendable {
        public var servers: [NATSServerAddress]
        /// The name the server shows for this connection.
        public var name: String
        public var user: String?
        public var password: String?
        public var token: String?
        /// Time for TCP connect and the INFO/CONNECT/PONG handshake.
        public var connectTimeout: Duration = .seconds(5)
        /// Default time a request waits for its reply.
        public var requestTimeout: Duration = .seconds(5)
        /// Failed connection attempts in a row after which ``NATSClient/run()`` gives up.
        public var maxReconnectAttempts: Int = 30
        /// The first wait after a failed attempt; it doubles up to ``maxReconnectBackoff``.
        public var reconnectBackoff: Duration = .milliseconds(50)
        public var maxReconnectBackoff: Duration = .seconds(2)
        /// How long an operation waits for a connection before it fails with `notConnected`.
        public var connectionWait: Duration = .seconds(15)
        public var subscriptionCapacity: Int = 4096
        public var maxSubscriptions: Int = 4096
        public var maxPendingRequests: Int = 4096
        /// Servers learnt from INFO's `connect_urls` kept at most.
        public var maxDiscoveredServers: Int = 32
        /// Bounds of the frames read (``NATSParser/Limits/maxPayload`` is then lowered to the server's `max_payload`).
        public var parserLimits = NATSParser.Limits(maxPayload: 64 * 1024 * 1024)

        public init(servers: [NATSServerAddress], name: String = "mamori") {
            self.servers = servers
            self.name = name
        }
    }

    /// What the client has counted since it was made.
    public struct Statistics: Hashable, Sendable {
        /// Handshakes completed (the first connection and every reconnect).
        public var connections = 0
        /// Connection attempts that failed.
        public var failedConnectionAttempts = 0
        public var messagesReceived = 0
        public var messagesPublished = 0
        /// Messages dropped because a subscription's buffer was full.
        public var messagesDropped = 0
        /// Replies that came for no waiting request (late after a timeout).
        public var repliesUnclaimed = 0
        public var requestTimeouts = 0
        /// `-ERR` lines from servers.
        public var serverErrors = 0
        /// JetStream publishes a full stream refused.
        public var jetStreamPublishesRefusedFull = 0
        /// JetStream publishes tried again after a transient failure.
        public var jetStreamPublishRetries = 0
    }

    public let configuration: Configuration
    let logger: Logger
    private let group: any EventLoopGroup

    private var servers: [NATSServerAddress]
    private var running = false
    private var closed = false
    private var outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>?
    private var channel: (any Channel)?
    /// The INFO of the server connected to now.
    public private(set) var serverInfo: NATSServerInfo?
    public private(set) var statistics = Statistics()

    struct Subscription {
        var subject: String
        var queueGroup: String?
        var continuation: AsyncThrowingStream<NATSMessage, any Error>.Continuation
    }
    private var subscriptions: [String: Subscription] = [:]
    private var nextSid: UInt64 = 0

    /// Requests wait on `<inboxPrefix>.<token>`, one subscription (sid 0) for all of them.
    let inboxPrefix: String
    private static let inboxSid = "0"
    struct PendingReply {
        var continuation: AsyncThrowingStream<NATSMessage, any Error>.Continuation
        /// Ends after the first message (a request) or when its owner ends it (a fetch).
        var single: Bool
    }
    private var replies: [String: PendingReply] = [:]
    /// Collections (JetStream fetches) wait on a subscription of their own, keyed by its sid: a
    /// pulled message keeps its stream subject, so only the sid tells whose it is.
    private var collections: [String: PendingReply] = [:]
    private var nextToken: UInt64 = 0
    private var pongWaiters: [AsyncThrowingStream<Void, any Error>.Continuation] = []

    public init(
        configuration: Configuration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "mamori.nats", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.configuration = configuration
        self.logger = logger
        group = eventLoopGroup
        servers = configuration.servers
        var random = SystemRandomNumberGenerator()
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        inboxPrefix = "_INBOX." + String((0..<22).map { _ in letters[Int(random.next() % UInt64(letters.count))] })
    }

    // MARK: - Running

    /// Keeps a connection up until ``close()`` is called or the task is cancelled (then it
    /// returns), or until ``Configuration/maxReconnectAttempts`` attempts in a row fail (then it
    /// throws `noServerReachable`). Everything waiting fails with `closed` when it ends.
    public func run() async throws {
        guard !running else { throw NATSClientError(.alreadyRunning, "run() is already running") }
        guard !servers.isEmpty else { throw NATSClientError(.noServerReachable, "no servers configured") }
        running = true
        defer {
            running = false
            closed = true
            failWaiters(NATSClientError(.closed, "the client is closed"), subscriptionsToo: true)
        }
        var failures = 0
        var index = 0
        var lastError: any Error = NATSClientError(.noServerReachable, "no attempt made")
        while !closed && !Task.isCancelled {
            let address = servers[index % servers.count]
            do {
                try await serve(address)
                failures = 0
            } catch {
                if closed || Task.isCancelled { return }
                failures += 1
                statistics.failedConnectionAttempts += 1
                lastError = error
                logger.info("nats connection failed", metadata: ["nats.server": "\(address)", "nats.error": "\(error)"])
                if failures >= configuration.maxReconnectAttempts {
                    throw NATSClientError(.noServerReachable, "\(failures) connection attempts failed; the last: \(lastError)")
                }
            }
            if closed || Task.isCancelled { return }
            index += 1
            // Back off only once every server was tried in this outage.
            if failures > 0 && failures % max(1, servers.count) == 0 {
                let rounds = failures / max(1, servers.count)
                let wait = min(configuration.reconnectBackoff * (1 << min(rounds - 1, 16)), configuration.maxReconnectBackoff)
                try? await Task.sleep(for: wait)
            }
        }
    }

    /// Closes the connection; ``run()`` returns and waiting operations fail with `closed`.
    public func close() {
        closed = true
        channel?.close(promise: nil)
    }

    /// Closes the current connection without closing the client (``run()`` reconnects): for
    /// tests and for an operator's "reconnect now".
    public func dropConnection() {
        channel?.close(promise: nil)
    }

    /// Whether a connection is up now.
    public var isConnected: Bool { outbound != nil }

    /// One connection: handshake, then the read loop until the connection closes.
    private func serve(_ address: NATSServerAddress) async throws {
        let timeout = configuration.connectTimeout
        let asyncChannel = try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.nanoseconds(NATSWire.nanoseconds(timeout)))
            .connect(host: address.host, port: address.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let rawChannel = asyncChannel.channel
        channel = rawChannel
        if closed { rawChannel.close(promise: nil) }
        // The handshake must finish in time: the connection is closed otherwise.
        let handshakeTimer = rawChannel.eventLoop.scheduleTask(in: .nanoseconds(NATSWire.nanoseconds(timeout))) {
            rawChannel.close(promise: nil)
        }
        defer {
            handshakeTimer.cancel()
            channel = nil
            outbound = nil
            serverInfo = nil
            failWaiters(NATSClientError(.connectionLost, "the connection to \(address) closed"), subscriptionsToo: false)
        }
        try await asyncChannel.executeThenClose { inbound, writer in
            var reader = Reader(iterator: inbound.makeAsyncIterator(), parser: NATSParser(limits: configuration.parserLimits))
            guard case .info(let info)? = try await reader.next() else {
                throw NATSClientError(.handshakeFailed, "\(address) did not begin with INFO")
            }
            guard info.tlsRequired != true else {
                throw NATSClientError(.handshakeFailed, "\(address) requires TLS, which this client lacks")
            }
            reader.parser.limits.maxPayload = min(reader.parser.limits.maxPayload, max(0, info.maxPayload))
            let options = NATSConnectOptions(
                name: configuration.name, user: configuration.user, pass: configuration.password, authToken: configuration.token)
            var hello = try NATSClientOperation.connect(options).encoded()
            try NATSClientOperation.ping.write(into: &hello)
            try await writer.write(hello)
            handshake: while true {
                switch try await reader.next() {
                case .pong?: break handshake
                case .ping?: try await writer.write(try NATSClientOperation.pong.encoded())
                case .error(let text)?: throw NATSClientError(.handshakeFailed, "\(address) refused CONNECT: \(text)")
                case .info?, .ok?, .message?: continue
                case nil: throw NATSClientError(.handshakeFailed, "\(address) closed the connection during the handshake")
                }
            }
            // Subscriptions, sent again until none was added meanwhile (each write may suspend).
            var sent = Set<String>()
            try await writer.write(
                try NATSClientOperation.subscribe(subject: inboxPrefix + ".*", queueGroup: nil, sid: Self.inboxSid).encoded())
            while let unsent = subscriptions.first(where: { !sent.contains($0.key) }) {
                sent.insert(unsent.key)
                let subscription = unsent.value
                try await writer.write(
                    try NATSClientOperation.subscribe(subject: subscription.subject, queueGroup: subscription.queueGroup, sid: unsent.key)
                        .encoded())
            }
            handshakeTimer.cancel()
            serverInfo = info
            learn(info)
            outbound = writer
            statistics.connections += 1
            logger.info(
                "nats connected", metadata: ["nats.server": "\(address)", "nats.server_name": "\(info.serverName ?? info.serverID)"])
            while let operation = try await reader.next() {
                switch operation {
                case .message(let message): deliver(message)
                case .ping: try await writer.write(try NATSClientOperation.pong.encoded())
                case .pong: if !pongWaiters.isEmpty { pongWaiters.removeFirst().finish() }
                case .ok: continue
                case .info(let update):
                    learn(update)
                    if update.lameDuckMode == true {
                        logger.info("nats server entering lame duck mode", metadata: ["nats.server": "\(address)"])
                    }
                case .error(let text):
                    statistics.serverErrors += 1
                    logger.info("nats server error", metadata: ["nats.server": "\(address)", "nats.error": "\(text)"])
                }
            }
        }
    }

    /// Bytes → operations for one connection; the accumulated bytes stay within the parser's bounds.
    struct Reader {
        var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        var parser: NATSParser
        var buffer = ByteBuffer()

        mutating func next() async throws -> NATSServerOperation? {
            while true {
                if let operation = try parser.next(from: &buffer) {
                    if buffer.readerIndex > 65_536 { buffer.discardReadBytes() }
                    return operation
                }
                guard var chunk = try await iterator.next() else { return nil }
                buffer.writeBuffer(&chunk)
            }
        }
    }

    /// Adds the servers an INFO announces to the list (bounded).
    private func learn(_ info: NATSServerInfo) {
        for url in info.connectURLs ?? [] {
            guard servers.count < configuration.servers.count + configuration.maxDiscoveredServers,
                let address = try? NATSServerAddress(parsing: url), !servers.contains(address)
            else { continue }
            servers.append(address)
        }
    }

    private func deliver(_ message: NATSMessage) {
        statistics.messagesReceived += 1
        if let pending = collections[message.sid] {
            if case .dropped = pending.continuation.yield(message) { statistics.messagesDropped += 1 }
            return
        }
        if message.sid == Self.inboxSid {
            let prefix = inboxPrefix + "."
            guard message.subject.hasPrefix(prefix) else { return }
            let token = String(message.subject.dropFirst(prefix.count))
            guard let pending = replies[token] else {
                statistics.repliesUnclaimed += 1
                return
            }
            if case .dropped = pending.continuation.yield(message) { statistics.messagesDropped += 1 }
            if pending.single {
                pending.continuation.finish()
                replies[token] = nil
            }
            return
        }
        guard let subscription = subscriptions[message.sid] else { return }
        if case .dropped = subscription.continuation.yield(message) { statistics.messagesDropped += 1 }
    }

    private func failWaiters(_ error: NATSClientError, subscriptionsToo: Bool) {
        for (_, pending) in replies { pending.continuation.finish(throwing: error) }
        replies = [:]
        for (_, pending) in collections { pending.continuation.finish(throwing: error) }
        collections = [:]
        for waiter in pongWaiters { waiter.finish(throwing: error) }
        pongWaiters = []
        if subscriptionsToo {
            for (_, subscription) in subscriptions { subscription.continuation.finish() }
            subscriptions = [:]
        }
    }

    // MARK: - Operations

    /// The writer of the connection, waiting for one to come up (bounded).
    private func connectedWriter() async throws -> NIOAsyncChannelOutboundWriter<ByteBuffer> {
        let deadline = ContinuousClock.now + configuration.connectionWait
        while true {
            if closed { throw NATSClientError(.closed, "the client is closed") }
            if let outbound { return outbound }
            guard ContinuousClock.now < deadline else {
                throw NATSClientError(.notConnected, "no connection within \(configuration.connectionWait)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Publishes `payload` on `subject` (PUB, or HPUB with headers).
    public func publish(_ payload: ByteBuffer, to subject: String, replyTo: String? = nil, headers: NATSHeaders? = nil) async throws {
        let writer = try await connectedWriter()
        let size = payload.readableBytes + (try headers?.encodedCount() ?? 0)
        if let limit = serverInfo?.maxPayload, size > limit {
            throw NATSClientError(.payloadTooLarge, "a message of \(size) bytes, over the server's max_payload \(limit)")
        }
        let bytes = try NATSClientOperation.publish(subject: subject, replyTo: replyTo, headers: headers, payload: payload).encoded()
        do {
            try await writer.write(bytes)
        } catch {
            // The connection closed after its writer was taken (a server killed mid-publish): a
            // lost connection, which callers such as JetStream's publish treat as transient.
            throw NATSClientError(.connectionLost, "the connection closed while publishing on \(subject): \(error)")
        }
        statistics.messagesPublished += 1
    }

    /// Subscribes to `subject` (wildcards allowed), in `queueGroup` if given. The messages come
    /// through the returned sequence, which ends when the subscription is ended or the client closes.
    public func subscribe(to subject: String, queueGroup: String? = nil) async throws -> NATSSubscription {
        if closed { throw NATSClientError(.closed, "the client is closed") }
        guard subscriptions.count < configuration.maxSubscriptions else {
            throw NATSClientError(.tooManySubscriptions, "\(subscriptions.count) subscriptions, the most allowed")
        }
        let operation = NATSClientOperation.subscribe(subject: subject, queueGroup: queueGroup, sid: "1")
        _ = try operation.encoded() // validates subject and group before anything is registered
        nextSid += 1
        let sid = String(nextSid)
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: NATSMessage.self, bufferingPolicy: .bufferingOldest(configuration.subscriptionCapacity))
        subscriptions[sid] = Subscription(subject: subject, queueGroup: queueGroup, continuation: continuation)
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(sid: sid) }
        }
        if let outbound {
            try await outbound.write(try NATSClientOperation.subscribe(subject: subject, queueGroup: queueGroup, sid: sid).encoded())
        }
        return NATSSubscription(sid: sid, subject: subject, messages: stream, client: self)
    }

    /// Ends a subscription (UNSUB); its sequence ends.
    func unsubscribe(sid: String) async {
        guard let subscription = subscriptions.removeValue(forKey: sid) else { return }
        subscription.continuation.finish()
        if let outbound, let bytes = try? NATSClientOperation.unsubscribe(sid: sid, maxMessages: nil).encoded() {
            try? await outbound.write(bytes)
        }
    }

    /// Sends a request on `subject` with a reply subject of this client's inbox and waits for the
    /// first reply, at most `timeout` (the configuration's request timeout by default). Throws
    /// `noResponders` when the server says nobody listens.
    public func request(_ payload: ByteBuffer, to subject: String, headers: NATSHeaders? = nil, timeout: Duration? = nil) async throws
        -> NATSMessage
    {
        let (token, stream) = try registerReply(single: true, capacity: 1)
        let timer = expire(token, after: timeout ?? configuration.requestTimeout)
        defer {
            timer.cancel()
            endReply(token)
        }
        try await publish(payload, to: subject, replyTo: inboxPrefix + "." + token, headers: headers)
        for try await reply in stream {
            if reply.status == 503 { throw NATSClientError(.noResponders, "nobody answers on \(subject)") }
            return reply
        }
        try Task.checkCancellation()
        throw NATSClientError(.connectionLost, "no reply on \(subject)")
    }

    /// Sends a request whose replies come to a subscription of their own and collects them until
    /// `isLast` says the one it got was the last, `limit` came, or `timeout` passes (then what
    /// came is returned). The subscription ends with it.
    public func collect(
        _ payload: ByteBuffer, to subject: String, limit: Int, timeout: Duration, isLast: @Sendable (NATSMessage) -> Bool
    ) async throws -> [NATSMessage] {
        let writer = try await connectedWriter()
        guard replies.count + collections.count < configuration.maxPendingRequests else {
            throw NATSClientError(
                .tooManyPendingRequests, "\(replies.count + collections.count) requests wait for replies, the most allowed")
        }
        nextSid += 1
        let sid = String(nextSid)
        // Not under the shared inbox's wildcard, so the shared subscription does not get these too.
        let inbox = inboxPrefix + "_F." + sid
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: NATSMessage.self, throwing: (any Error).self, bufferingPolicy: .bufferingOldest(limit + 8))
        collections[sid] = PendingReply(continuation: continuation, single: false)
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            await self?.endCollection(sid)
        }
        defer {
            timer.cancel()
            endCollection(sid)
            if outbound != nil, let unsubscribe = try? NATSClientOperation.unsubscribe(sid: sid, maxMessages: nil).encoded() {
                let current = outbound
                Task { try? await current?.write(unsubscribe) }
            }
        }
        var request = try NATSClientOperation.subscribe(subject: inbox, queueGroup: nil, sid: sid).encoded()
        try NATSClientOperation.publish(subject: subject, replyTo: inbox, headers: nil, payload: payload).write(into: &request)
        try await writer.write(request)
        statistics.messagesPublished += 1
        var replies: [NATSMessage] = []
        for try await reply in stream {
            replies.append(reply)
            if isLast(reply) || replies.count >= limit { break }
        }
        return replies
    }

    private func endCollection(_ sid: String) {
        collections.removeValue(forKey: sid)?.continuation.finish()
    }

    /// Sends PING and waits for the server's PONG: everything sent before has been processed.
    public func flush(timeout: Duration = .seconds(5)) async throws {
        let writer = try await connectedWriter()
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: Void.self, throwing: (any Error).self)
        pongWaiters.append(continuation)
        let timer = Task { [weak self] in
            try await Task.sleep(for: timeout)
            await self?.count(.requestTimeout)
            continuation.finish(throwing: NATSClientError(.timeout, "no PONG within \(timeout)"))
        }
        defer { timer.cancel() }
        try await writer.write(try NATSClientOperation.ping.encoded())
        for try await _ in stream {}
    }

    private func registerReply(single: Bool, capacity: Int) throws -> (String, AsyncThrowingStream<NATSMessage, any Error>) {
        if closed { throw NATSClientError(.closed, "the client is closed") }
        guard replies.count < configuration.maxPendingRequests else {
            throw NATSClientError(.tooManyPendingRequests, "\(replies.count) requests wait for replies, the most allowed")
        }
        nextToken += 1
        let token = String(nextToken)
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: NATSMessage.self, throwing: (any Error).self, bufferingPolicy: .bufferingOldest(capacity))
        replies[token] = PendingReply(continuation: continuation, single: single)
        return (token, stream)
    }

    /// Ends a waiting request after `timeout` with a timeout error.
    private func expire(_ token: String, after timeout: Duration) -> Task<Void, Never> {
        Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            await self?.timeOut(token, after: timeout)
        }
    }

    private func timeOut(_ token: String, after timeout: Duration) {
        guard let pending = replies.removeValue(forKey: token) else { return }
        statistics.requestTimeouts += 1
        pending.continuation.finish(throwing: NATSClientError(.timeout, "no reply within \(timeout)"))
    }

    private func endReply(_ token: String) {
        replies.removeValue(forKey: token)?.continuation.finish()
    }

    /// Counters the JetStream layer keeps here.
    enum Counter: Sendable {
        case requestTimeout
        case jetStreamPublishRefusedFull
        case jetStreamPublishRetry
    }

    func count(_ counter: Counter) {
        switch counter {
        case .requestTimeout: statistics.requestTimeouts += 1
        case .jetStreamPublishRefusedFull: statistics.jetStreamPublishesRefusedFull += 1
        case .jetStreamPublishRetry: statistics.jetStreamPublishRetries += 1
        }
    }

    /// The servers the client may connect to now: the configured ones and those learnt from INFO.
    public var knownServers: [NATSServerAddress] { servers }
}

/// The messages of one subscription. Ending the iteration (or ``unsubscribe()``) sends UNSUB.
public struct NATSSubscription: AsyncSequence, Sendable {
    public typealias Element = NATSMessage
    public let sid: String
    public let subject: String
    let messages: AsyncThrowingStream<NATSMessage, any Error>
    let client: NATSClient

    public func makeAsyncIterator() -> AsyncThrowingStream<NATSMessage, any Error>.AsyncIterator { messages.makeAsyncIterator() }

    /// Ends the subscription.
    public func unsubscribe() async { await client.unsubscribe(sid: sid) }
}
