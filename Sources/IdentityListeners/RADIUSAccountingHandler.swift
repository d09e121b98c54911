import FlowCodec
import IdentityCodec

/// The protocol side of a RADIUS accounting server (RFC 2866), without sockets: which client a
/// datagram is from, whether its authenticators hold, whether it repeats one already taken, whether
/// the client is over its rate, what it says, and the Accounting-Response to send. The checks, in
/// the order they are made:
///
/// 1. A datagram from an address no configured client covers is dropped (RFC 2865 §3: "MUST
///    silently discard") — `unknown_client`. Unreadable datagrams and other packet codes are
///    dropped too — `malformed`, `unsupported`.
/// 2. A bad Request Authenticator (wrong secret, altered packet) is dropped without an answer
///    (RFC 2866 §3, §4.1) — `bad_authenticator`.
/// 3. A Message-Authenticator (RFC 3579 §3.2; see ``IdentityCodec/RADIUSPacket/checkMessageAuthenticator(secret:)``
///    for how it is computed on an Accounting-Request) is verified whenever present: a wrong one is
///    dropped — `bad_message_authenticator`. Where the client (or ``Configuration/requireMessageAuthenticator``)
///    requires one, a request without it is dropped — `missing_message_authenticator` — as the
///    BlastRADIUS hardening (FreeRADIUS 3.2.5 `require_message_authenticator`,
///    draft-ietf-radext-deprecating-radius) advises.
/// 4. A retransmission — same client address and port, Identifier and Request Authenticator,
///    within ``Configuration/duplicateWindowMilliseconds`` (RFC 5080 §2.2.2) — gets the cached
///    response again and is not recorded twice — `duplicate`.
/// 5. A **replay**: the same client's Request Authenticator seen before (from any port), within
///    ``Configuration/replayWindowMilliseconds`` but past the duplicate window. The Request
///    Authenticator is a keyed MD5 over the whole packet, so an identical one is an identical
///    packet: it is dropped without an answer and not applied — `replay`. (A replayed Start after
///    its Stop would otherwise reopen a closed session and point the address at its old holder.)
/// 6. With ``Configuration/maximumEventAgeMilliseconds`` set, a request whose claimed sending time
///    — Event-Timestamp plus Acct-Delay-Time (RFC 2869 §5.3, RFC 2866 §5.2) — is further than that
///    from now is dropped — `stale`. This keeps out replays older than the replay window; it is off
///    by default because it needs the NAS's clock and Mamori's to agree (and the simulator's clock
///    is simulated). Requests without Event-Timestamp are not judged by it.
/// 7. Each client has a token bucket (``Configuration/rateLimit``): past it, requests are dropped
///    without an answer — `rate_limited` — so the NAS retransmits later (RADIUS' own backpressure).
///    The bucket is spent only by authentic, new requests: spoofed packets cannot use up a NAS's
///    budget, and retransmissions answered from the cache are free.
///
/// Every table that grows with traffic is bounded: the duplicate cache
/// (``Configuration/maximumRemembered``) and the replay memory (``Configuration/maximumReplayMemory``)
/// forget their oldest entries when full and count each in ``evictions``.
public struct RADIUSAccountingHandler: Sendable {
    /// RFC 2865 §3: the secret "SHOULD be at least as large and unguessable as a well-chosen
    /// password. It is preferred that the secret be at least 16 octets." After BlastRADIUS,
    /// FreeRADIUS 3.2.5 updated its advice towards long random secrets. Mamori refuses shorter
    /// ones (counted in UTF-8 octets).
    public static let minimumSecretLength = 16

    /// A NAS allowed to send accounting: the addresses it sends from and the shared secret.
    public struct Client: Sendable, Hashable {
        public var prefix: IPPrefix
        public var secret: [UInt8]
        /// Whether its requests must carry a Message-Authenticator (nil: the configuration's
        /// ``Configuration/requireMessageAuthenticator``).
        public var requireMessageAuthenticator: Bool?
        public init(prefix: IPPrefix, secret: [UInt8], requireMessageAuthenticator: Bool? = nil) {
            self.prefix = prefix
            self.secret = secret
            self.requireMessageAuthenticator = requireMessageAuthenticator
        }
    }

    /// A token bucket: `requestsPerSecond` sustained, up to `burst` at once.
    public struct RateLimit: Sendable, Hashable {
        public var requestsPerSecond: Double
        public var burst: Double
        public init(requestsPerSecond: Double, burst: Double) {
            self.requestsPerSecond = requestsPerSecond
            self.burst = burst
        }
    }

    public struct Configuration: Sendable, Hashable {
        /// Clients, most specific first is not required: the longest matching prefix wins.
        public var clients: [Client] = []
        public var duplicateWindowMilliseconds: Int64 = 30_000
        /// Requests remembered for duplicate detection at most (oldest forgotten first, counted).
        public var maximumRemembered = 65_536
        /// Whether every client's requests must carry a Message-Authenticator (a client may say
        /// otherwise). Off by default: many NASes send none on accounting, whose Request
        /// Authenticator already covers the whole packet; turn it on for NASes that send it.
        public var requireMessageAuthenticator = false
        /// How long a Request Authenticator is remembered to refuse replays (10 minutes).
        public var replayWindowMilliseconds: Int64 = 600_000
        /// Request Authenticators remembered at most (about 60 bytes each; oldest forgotten first, counted).
        public var maximumReplayMemory = 262_144
        /// How far a request's Event-Timestamp (+ Acct-Delay-Time) may be from now; 0: not checked.
        public var maximumEventAgeMilliseconds: Int64 = 0
        /// Per client; nil: no limit. The default allows a BNG's burst of Starts after a reboot
        /// (50,000 at once) and 5,000 requests a second after that.
        public var rateLimit: RateLimit? = RateLimit(requestsPerSecond: 5000, burst: 50_000)
        public init() {}

        /// Why this configuration cannot be served, if it cannot: a secret shorter than
        /// ``RADIUSAccountingHandler/minimumSecretLength`` octets.
        public var problem: String? {
            for c in clients where c.secret.count < RADIUSAccountingHandler.minimumSecretLength {
                return "the RADIUS secret of client \(c.prefix) has \(c.secret.count) characters; "
                    + "shared secrets must have at least \(RADIUSAccountingHandler.minimumSecretLength) (use a long random one, e.g. openssl rand -base64 24)"
            }
            return nil
        }
    }

    /// What became of one datagram.
    public enum Result: String, Sendable, Hashable, CaseIterable {
        case accepted
        case duplicate
        case badAuthenticator = "bad_authenticator"
        case badMessageAuthenticator = "bad_message_authenticator"
        case missingMessageAuthenticator = "missing_message_authenticator"
        case replay
        case stale
        case rateLimited = "rate_limited"
        case unknownClient = "unknown_client"
        case malformed
        case unsupported
    }

    public struct Outcome: Sendable {
        public var result: Result
        /// The accounting record to apply (accepted requests only).
        public var record: AccountingRecord?
        /// The datagram to send back (accepted and duplicate requests only).
        public var response: [UInt8]?
        /// Why, for the log.
        public var reason: String
    }

    /// Entries dropped from a full table before their window ended.
    public struct Evictions: Sendable, Hashable {
        public var duplicate = 0
        public var replay = 0
    }

    public let configuration: Configuration
    private var remembered: ExpiringMemory<RequestKey, [UInt8]>
    private var seen: ExpiringMemory<ReplayKey, Bool>
    private var buckets: [Bucket]

    struct RequestKey: Hashable, Sendable {
        var address: IPAddress
        var port: Int
        var identifier: UInt8
        var authenticator: [UInt8]
    }

    /// A client (by its index in the configuration) and a Request Authenticator.
    struct ReplayKey: Hashable, Sendable {
        var client: Int
        var high: UInt64
        var low: UInt64
        init(client: Int, authenticator a: [UInt8]) {
            self.client = client
            high = a.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
            low = a.dropFirst(8).prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    struct Bucket: Sendable {
        var tokens: Double
        var at: Int64?
    }

    public init(configuration: Configuration) {
        self.configuration = configuration
        remembered = ExpiringMemory(window: configuration.duplicateWindowMilliseconds, capacity: configuration.maximumRemembered)
        seen = ExpiringMemory(window: configuration.replayWindowMilliseconds, capacity: configuration.maximumReplayMemory)
        buckets = Array(repeating: Bucket(tokens: configuration.rateLimit?.burst ?? 0, at: nil), count: configuration.clients.count)
    }

    /// The client whose prefix covers `address` (the longest match).
    public func client(for address: IPAddress) -> Client? {
        clientIndex(for: address).map { configuration.clients[$0] }
    }

    func clientIndex(for address: IPAddress) -> Int? {
        configuration.clients.indices.filter { configuration.clients[$0].prefix.contains(address) }
            .max { configuration.clients[$0].prefix.storedLength < configuration.clients[$1].prefix.storedLength }
    }

    /// Handles one datagram from `address`:`port` received at `now` (ms since the epoch).
    public mutating func handle(_ datagram: [UInt8], from address: IPAddress, port: Int, now: Int64) -> Outcome {
        guard let index = clientIndex(for: address) else {
            return Outcome(result: .unknownClient, reason: "no RADIUS client is configured for \(address)")
        }
        let client = configuration.clients[index]
        let packet: RADIUSPacket
        do {
            packet = try RADIUSPacket.decode(datagram)
        } catch {
            return Outcome(result: .malformed, reason: "not a RADIUS packet: \(error)")
        }
        guard packet.code == .accountingRequest else {
            return Outcome(result: .unsupported, reason: "only Accounting-Request is served here; got code \(packet.code.rawValue)")
        }
        guard packet.isValidAccountingRequest(secret: client.secret) else {
            return Outcome(
                result: .badAuthenticator, reason: "Request Authenticator does not match the shared secret (wrong secret or altered packet)"
            )
        }
        switch packet.checkMessageAuthenticator(secret: client.secret) {
        case .valid:
            break
        case .invalid:
            return Outcome(
                result: .badMessageAuthenticator,
                reason: "Message-Authenticator does not match the shared secret (or is not one attribute of 16 octets)")
        case .absent:
            if client.requireMessageAuthenticator ?? configuration.requireMessageAuthenticator {
                return Outcome(
                    result: .missingMessageAuthenticator,
                    reason: "a Message-Authenticator is required from this client and the request has none")
            }
        }
        let key = RequestKey(address: address, port: port, identifier: packet.identifier, authenticator: packet.authenticator)
        if let response = remembered.value(for: key, now: now) {
            return Outcome(result: .duplicate, response: response, reason: "retransmission of identifier \(packet.identifier)")
        }
        let replayKey = ReplayKey(client: index, authenticator: packet.authenticator)
        if seen.value(for: replayKey, now: now) != nil {
            return Outcome(
                result: .replay, reason: "the same request (Request Authenticator) was accepted before, outside the duplicate window")
        }
        let record: AccountingRecord
        let response: [UInt8]
        do {
            record = try AccountingRecord(packet: packet)
            response = try packet.accountingResponse(secret: client.secret).encoded()
        } catch {
            return Outcome(result: .malformed, reason: "unreadable accounting attributes: \(error)")
        }
        if configuration.maximumEventAgeMilliseconds > 0, let event = record.eventTime {
            let sent = (event + Int64(record.delayTime ?? 0)) * 1000
            if abs(now - sent) > configuration.maximumEventAgeMilliseconds {
                return Outcome(
                    result: .stale,
                    reason:
                        "Event-Timestamp + Acct-Delay-Time is \((now - sent) / 1000) s from now (at most \(configuration.maximumEventAgeMilliseconds / 1000) s allowed)"
                )
            }
        }
        if let limit = configuration.rateLimit, !take(from: index, limit: limit, now: now) {
            return Outcome(
                result: .rateLimited, reason: "over \(Int(limit.requestsPerSecond)) requests a second (burst \(Int(limit.burst)))")
        }
        remembered.insert(key, response, now: now)
        seen.insert(replayKey, true, now: now)
        return Outcome(result: .accepted, record: record, response: response, reason: "")
    }

    /// Takes a token from client `index`'s bucket, refilled for the time since it was last used.
    private mutating func take(from index: Int, limit: RateLimit, now: Int64) -> Bool {
        var b = buckets[index]
        if let at = b.at, now > at {
            b.tokens = min(limit.burst, b.tokens + Double(now - at) * limit.requestsPerSecond / 1000)
        }
        b.at = max(b.at ?? now, now)
        let ok = b.tokens >= 1
        if ok { b.tokens -= 1 }
        buckets[index] = b
        return ok
    }

    /// Requests remembered for duplicate detection now.
    public var rememberedCount: Int { remembered.count }
    /// Request Authenticators remembered for replay detection now.
    public var replayMemoryCount: Int { seen.count }
    /// Entries forgotten early so far (tables full).
    public var evictions: Evictions { Evictions(duplicate: remembered.evictions, replay: seen.evictions) }
}
