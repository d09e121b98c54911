import FlowCodec
import IdentityCodec

/// The protocol side of a RADIUS accounting server (RFC 2866), without sockets: which client a
/// datagram is from, whether its Request Authenticator holds, whether it repeats one already
/// answered, what it says, and the Accounting-Response to send.
///
/// - A datagram from an address no configured client covers is dropped (RFC 2865 §3: "MUST
///   silently discard").
/// - A bad Request Authenticator (wrong secret, altered packet) is dropped without an answer
///   (RFC 2866 §3, §4.1).
/// - A retransmission — same client address and port, Identifier and Request Authenticator,
///   within ``Configuration/duplicateWindowMilliseconds`` (RFC 5080 §2.2.2) — gets the cached
///   response again and is not recorded twice.
/// - Anything that is not an Accounting-Request, or whose attributes cannot be read, is dropped.
public struct RADIUSAccountingHandler: Sendable {
    /// A NAS allowed to send accounting: the addresses it sends from and the shared secret.
    public struct Client: Sendable, Hashable {
        public var prefix: IPPrefix
        public var secret: [UInt8]
        public init(prefix: IPPrefix, secret: [UInt8]) {
            self.prefix = prefix
            self.secret = secret
        }
    }

    public struct Configuration: Sendable, Hashable {
        /// Clients, most specific first is not required: the longest matching prefix wins.
        public var clients: [Client] = []
        public var duplicateWindowMilliseconds: Int64 = 30_000
        /// Requests remembered for duplicate detection at most (oldest forgotten first).
        public var maximumRemembered = 65_536
        public init() {}
    }

    /// What became of one datagram.
    public enum Result: String, Sendable, Hashable, CaseIterable {
        case accepted
        case duplicate
        case badAuthenticator = "bad_authenticator"
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

    public let configuration: Configuration
    private var remembered: [RequestKey: Remembered] = [:]

    struct RequestKey: Hashable {
        var address: IPAddress
        var port: Int
        var identifier: UInt8
    }

    struct Remembered {
        var authenticator: [UInt8]
        var response: [UInt8]
        var at: Int64
    }

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The client whose prefix covers `address` (the longest match).
    public func client(for address: IPAddress) -> Client? {
        configuration.clients.filter { $0.prefix.contains(address) }.max { $0.prefix.storedLength < $1.prefix.storedLength }
    }

    /// Handles one datagram from `address`:`port` received at `now` (ms).
    public mutating func handle(_ datagram: [UInt8], from address: IPAddress, port: Int, now: Int64) -> Outcome {
        guard let client = client(for: address) else {
            return Outcome(result: .unknownClient, reason: "no RADIUS client is configured for \(address)")
        }
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
            return Outcome(result: .badAuthenticator, reason: "Request Authenticator does not match the shared secret (wrong secret or altered packet)")
        }
        let key = RequestKey(address: address, port: port, identifier: packet.identifier)
        if let r = remembered[key], r.authenticator == packet.authenticator, now - r.at <= configuration.duplicateWindowMilliseconds {
            return Outcome(result: .duplicate, response: r.response, reason: "retransmission of identifier \(packet.identifier)")
        }
        let record: AccountingRecord
        let response: [UInt8]
        do {
            record = try AccountingRecord(packet: packet)
            response = try packet.accountingResponse(secret: client.secret).encoded()
        } catch {
            return Outcome(result: .malformed, reason: "unreadable accounting attributes: \(error)")
        }
        remember(key, Remembered(authenticator: packet.authenticator, response: response, at: now), now: now)
        return Outcome(result: .accepted, record: record, response: response, reason: "")
    }

    private mutating func remember(_ key: RequestKey, _ value: Remembered, now: Int64) {
        if remembered.count >= configuration.maximumRemembered {
            let window = configuration.duplicateWindowMilliseconds
            remembered = remembered.filter { now - $0.value.at <= window }
            if remembered.count >= configuration.maximumRemembered {
                // Still full inside the window: forget the older half.
                let cutoff = remembered.values.map(\.at).sorted()[remembered.count / 2]
                remembered = remembered.filter { $0.value.at > cutoff }
            }
        }
        remembered[key] = value
    }

    /// Requests remembered for duplicate detection now.
    public var rememberedCount: Int { remembered.count }
}
