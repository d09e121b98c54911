import DNSWire
import FlowCodec

/// A resolver allowed to transfer the zones: the addresses it asks from and, if set, the TSIG
/// key its requests must be signed with.
public struct SecondaryPolicy: Hashable, Sendable {
    /// The addresses the secondary's requests come from.
    public var prefix: IPPrefix
    /// The key required on its requests; nil allows unsigned requests from `prefix`.
    public var tsigKey: TSIGKey?

    public init(prefix: IPPrefix, tsigKey: TSIGKey?) {
        self.prefix = prefix
        self.tsigKey = tsigKey
    }
}

/// What the responder did with one request, for the adapter's metrics and logs.
public struct TransferOutcome: Sendable {
    /// The kind of answer.
    public enum Kind: Hashable, Sendable {
        /// A full zone transfer.
        case axfr
        /// An incremental transfer from the journal.
        case ixfr
        /// An IXFR answered with the whole zone (the journal does not reach the client's serial).
        case ixfrFullZone
        /// An IXFR from a client that is up to date: the current SOA only.
        case ixfrUpToDate
        /// A plain SOA query.
        case soa
        /// REFUSED: a client not on the allowlist, without the key its entry requires, or a
        /// query other than SOA, AXFR and IXFR, or a SOA query for a zone not served.
        case refused
        /// NOTAUTH: a transfer of a zone not served here (as BIND answers).
        case notAuthoritative
        /// FORMERR: a malformed request.
        case formatError
        /// NOTIMP: an opcode other than QUERY.
        case notImplemented
        /// The request's TSIG failed (BADKEY, BADSIG, BADTIME, or FORMERR for a bad MAC length).
        case tsigRejected(DNSRCode)
        /// No answer at all: fewer than 12 octets, or a response (QR set).
        case dropped
        /// SERVFAIL: an answer could not be written (a record over the size limit).
        case serverFailure
    }

    public var kind: Kind
    /// The response messages, in order; each at most 65535 octets, signed when the request was.
    public var messages: [[UInt8]]
    /// The answer records sent (SOAs included, TSIG records not).
    public var records: Int
    /// The zone asked for, when the question could be read.
    public var zone: DNSName?
    /// Whether the answer is TSIG-signed.
    public var signed: Bool
}

/// Answers zone transfer requests for the RPZ zones: pure, bytes in and messages out; the
/// adapter owns the sockets, the clock and the counters.
///
/// - **Who**: a request is answered only for a client inside a `SecondaryPolicy` prefix, and when
///   that entry names a key, only if the request is signed with that key; otherwise REFUSED. The
///   allowlist is checked before the zone, so unlisted clients learn nothing about the zones.
/// - **TSIG**: the request's TSIG is checked first (RFC 8945 §5.2); a failure is answered as
///   `TSIGRejection.response` prescribes (NOTAUTH with BADKEY/BADSIG/BADTIME). Every message of
///   the answer to a signed request is signed.
/// - **What**: SOA queries are answered authoritatively (secondaries ask before IXFR); AXFR
///   (RFC 5936) is the SOA, every record, the SOA again, over as many messages as it takes, the
///   question in the first; IXFR (RFC 1995) is the new SOA, then per journal step the old SOA,
///   the deletions, the step's SOA and the additions, then the new SOA; a client whose serial
///   is current (or ahead) gets the single SOA; one the journal does not reach gets the whole
///   zone, AXFR-style, inside the IXFR answer (RFC 1995 §4). A transfer of a zone not served is
///   NOTAUTH, as BIND answers ("non-authoritative zone"); other query types REFUSED: this is a
///   transfer endpoint, not a name server.
/// - **UDP**: AXFR is FORMERR over UDP (it needs TCP, RFC 5936 §4.2); an IXFR answer that does
///   not fit one 512-octet message is replaced by the single SOA, and the client retries over TCP
///   (RFC 1995 §2).
public struct ZoneTransferResponder: Sendable {
    /// The zones served, by apex.
    public var zones: [DNSName: RPZZoneHistory]
    /// The allowlist.
    public var secondaries: [SecondaryPolicy]
    /// The largest UDP answer.
    public static let udpSize = 512

    public init(zones: [RPZZoneHistory], secondaries: [SecondaryPolicy]) {
        self.zones = Dictionary(zones.map { ($0.zone.apex, $0) }, uniquingKeysWith: { $1 })
        self.secondaries = secondaries
    }

    /// Serves a zone's new version (after `RPZPublication.publish`), replacing the one of the same apex.
    public mutating func update(_ history: RPZZoneHistory) {
        zones[history.zone.apex] = history
    }

    /// The keys of the allowlist, by name.
    var keys: [DNSName: TSIGKey] {
        var keys: [DNSName: TSIGKey] = [:]
        for case let key? in secondaries.map(\.tsigKey) { keys[key.name] = key }
        return keys
    }

    /// The answer to one request.
    /// - Parameters:
    ///   - request: the request's octets (over TCP, without the 2-octet length).
    ///   - client: the address it came from.
    ///   - now: seconds since 1970, for TSIG.
    ///   - overTCP: whether it came over TCP (false: UDP).
    public func respond(to request: [UInt8], from client: IPAddress, now: Int64, overTCP: Bool = true) -> TransferOutcome {
        guard request.count >= 12, request[2] & 0x80 == 0 else {
            return TransferOutcome(kind: .dropped, messages: [], records: 0, zone: nil, signed: false)
        }
        let message: DNSMessage
        let check: TSIGCheck
        do {
            message = try DNSMessage.parse(request)
            check = try DNSMessage.checkTSIG(request, keys: keys, now: now)
        } catch {
            // Only the header is trusted: answer FORMERR with its ID and opcode, no question.
            let id = UInt16(request[0]) << 8 | UInt16(request[1])
            let header = DNSHeader(id: id, qr: true, opcode: DNSOpcode(rawValue: request[2] >> 3), rcode: .formErr)
            let bytes = (try? DNSMessageBuilder(header: header).finish()) ?? []
            return TransferOutcome(kind: .formatError, messages: [bytes], records: 0, zone: nil, signed: false)
        }
        let zoneName = message.questions.first?.name
        var signer: TSIGSigner?
        var verifiedKey: TSIGKey?
        switch check {
        case .unsigned: break
        case .verified(let key, let mac):
            verifiedKey = key
            signer = TSIGSigner(key: key, requestMAC: mac)
        case .rejected(let rejection):
            let bytes = (try? rejection.response(now: now)).map { [$0] } ?? []
            return TransferOutcome(
                kind: .tsigRejected(rejection.error), messages: bytes, records: 0, zone: zoneName, signed: false)
        }
        var answer = Answer(request: message, signer: signer, now: now)
        guard message.header.opcode == .query else { return answer.error(.notImp, .notImplemented) }
        guard message.questions.count == 1, let question = message.questions.first else {
            return answer.error(.formErr, .formatError)
        }
        let matching = secondaries.filter { $0.prefix.contains(client) }
        guard matching.contains(where: { $0.tsigKey == nil || $0.tsigKey == verifiedKey }) else {
            return answer.error(.refused, .refused)
        }
        let isTransfer = question.type == .AXFR || question.type == .IXFR
        guard question.class == .IN, let history = zones[question.name] else {
            return isTransfer ? answer.error(.notAuth, .notAuthoritative) : answer.error(.refused, .refused)
        }
        let zone = history.zone
        switch question.type {
        case .SOA:
            return answer.stream([[zone.soaRecord]], kind: .soa, maxSize: overTCP ? 65535 : Self.udpSize)
        case .AXFR:
            guard overTCP else { return answer.error(.formErr, .formatError) }
            return answer.stream([[zone.soaRecord], zone.records, [zone.soaRecord]], kind: .axfr, maxSize: 65535)
        case .IXFR:
            guard message.authorities.count == 1, let record = message.authorities.first, record.type == .SOA,
                record.name == zone.apex, case .soa(let clientSOA) = record.rdata
            else { return answer.error(.formErr, .formatError) }
            let maxSize = overTCP ? 65535 : Self.udpSize
            // A copy: the signer's state must not advance for an answer that is not sent.
            var single = answer
            let upToDate = single.stream([[zone.soaRecord]], kind: .ixfrUpToDate, maxSize: maxSize)
            // Ahead of us or current: the single SOA; behind (or 2^31 away, undefined): the changes.
            guard clientSOA.serial != zone.serial && !(clientSOA.serial > zone.serial) else { return upToDate }
            var outcome: TransferOutcome
            if let steps = history.differences(from: clientSOA.serial) {
                var parts: [[DNSRecord]] = [[zone.soaRecord]]
                for step in steps {
                    parts += [
                        [zone.soaRecord(serial: step.oldSerial)], step.deleted, [zone.soaRecord(serial: step.newSerial)],
                        step.added,
                    ]
                }
                parts.append([zone.soaRecord])
                outcome = answer.stream(parts, kind: .ixfr, maxSize: maxSize)
            } else {
                outcome = answer.stream([[zone.soaRecord], zone.records, [zone.soaRecord]], kind: .ixfrFullZone, maxSize: maxSize)
            }
            if !overTCP && outcome.messages.count > 1 { outcome = upToDate }
            return outcome
        default:
            return answer.error(.refused, .refused)
        }
    }

    /// A NOTIFY for `zone` (RFC 1996): opcode NOTIFY, AA, the question (apex, SOA) and the
    /// zone's SOA in the answer section; signed when a key is given.
    /// - Parameters:
    ///   - id: the message ID (random, from the caller's generator).
    ///   - now: seconds since 1970, for TSIG.
    public static func notify(zone: RPZZone, id: UInt16, key: TSIGKey?, now: Int64) throws(DNSWireError) -> NotifyRequest {
        let header = DNSHeader(id: id, opcode: .notify, aa: true)
        var builder = try DNSMessageBuilder(header: header, questions: [DNSQuestion(name: zone.apex, type: .SOA)])
        _ = try builder.append(zone.soaRecord)
        var bytes = builder.finish()
        var mac: [UInt8]?
        if let key {
            var signer = TSIGSigner(key: key, requestMAC: nil)
            bytes = try signer.sign(bytes, now: now)
            mac = signer.priorMAC
        }
        return NotifyRequest(bytes: bytes, id: id, zone: zone.apex, serial: zone.serial, key: key, mac: mac)
    }

    /// Checks a secondary's reply to a NOTIFY: a response with the same ID, opcode and zone, and
    /// when the NOTIFY was signed, a TSIG that verifies over its MAC.
    public static func checkNotifyReply(_ bytes: [UInt8], to request: NotifyRequest, now: Int64) -> NotifyReply {
        let message: DNSMessage
        do throws(DNSWireError) {
            if let key = request.key {
                var verifier = TSIGResponseVerifier(key: key, requestMAC: request.mac)
                message = try verifier.verify(bytes, now: now)
            } else {
                message = try DNSMessage.parse(bytes)
            }
        } catch {
            if case .tsigRejected = error { return .tsigFailed(error) }
            if case .tsigMissing = error { return .tsigFailed(error) }
            return .malformed(error)
        }
        guard message.header.qr, message.header.id == request.id, message.header.opcode == .notify,
            message.questions.count <= 1, message.questions.allSatisfy({ $0.name == request.zone && $0.type == .SOA })
        else { return .mismatch }
        return message.header.rcode == .noError ? .acknowledged : .error(message.header.rcode)
    }
}

/// A NOTIFY as sent, kept to check its reply.
public struct NotifyRequest: Hashable, Sendable {
    /// The message's octets.
    public let bytes: [UInt8]
    public let id: UInt16
    public let zone: DNSName
    public let serial: DNSSerial
    /// The key it was signed with, if any.
    public let key: TSIGKey?
    /// Its MAC, which the reply's TSIG covers.
    public let mac: [UInt8]?
}

/// What a secondary answered to a NOTIFY.
public enum NotifyReply: Hashable, Sendable {
    /// NOERROR: the secondary will check the SOA.
    case acknowledged
    /// The secondary answered with this error (NOTAUTH, REFUSED …).
    case error(DNSRCode)
    /// Not a reply to this NOTIFY (another ID, opcode or zone, or not a response).
    case mismatch
    /// The octets are not a DNS message.
    case malformed(DNSWireError)
    /// The reply's TSIG is missing or does not verify.
    case tsigFailed(DNSWireError)
}

/// The answer being written to one request: its header, question and signer.
struct Answer {
    let request: DNSMessage
    var signer: TSIGSigner?
    let now: Int64

    init(request: DNSMessage, signer: TSIGSigner?, now: Int64) {
        self.request = request
        self.signer = signer
        self.now = now
    }

    func header(rcode: DNSRCode) -> DNSHeader {
        DNSHeader(
            id: request.header.id, qr: true, opcode: request.header.opcode, aa: rcode == .noError, rd: request.header.rd, rcode: rcode)
    }

    /// Room for the TSIG record in each message.
    var reserve: Int {
        guard let key = signer?.key else { return 0 }
        return key.name.wireLength + 10 + key.algorithm.name.wireLength + 16 + key.algorithm.macSize + 16
    }

    mutating func sign(_ messages: [[UInt8]]) throws(DNSWireError) -> [[UInt8]] {
        guard signer != nil else { return messages }
        var out: [[UInt8]] = []
        out.reserveCapacity(messages.count)
        for m in messages { out.append(try signer!.sign(m, now: now)) }
        return out
    }

    mutating func error(_ rcode: DNSRCode, _ kind: TransferOutcome.Kind) -> TransferOutcome {
        do {
            let bytes = try DNSMessageBuilder(header: header(rcode: rcode), questions: request.questions).finish()
            return TransferOutcome(
                kind: kind, messages: try sign([bytes]), records: 0, zone: request.questions.first?.name, signed: signer != nil)
        } catch {
            return TransferOutcome(kind: .dropped, messages: [], records: 0, zone: nil, signed: false)
        }
    }

    /// The records of `parts`, in order, over as many messages of at most `maxSize` octets as
    /// they take; the question in the first message only.
    mutating func stream(_ parts: [[DNSRecord]], kind: TransferOutcome.Kind, maxSize: Int) -> TransferOutcome {
        let size = maxSize - reserve
        let header = header(rcode: .noError)
        do {
            var messages: [[UInt8]] = []
            var builder = try DNSMessageBuilder(header: header, questions: request.questions, maxSize: size)
            var count = 0
            for part in parts {
                for record in part {
                    if try builder.append(record) { continue }
                    messages.append(builder.finish())
                    builder = try DNSMessageBuilder(header: header, maxSize: size)
                    guard try builder.append(record) else { throw DNSWireError.tooLarge }
                }
                count += part.count
            }
            messages.append(builder.finish())
            return TransferOutcome(
                kind: kind, messages: try sign(messages), records: count, zone: request.questions.first?.name,
                signed: signer != nil)
        } catch {
            return self.error(.servFail, .serverFailure)
        }
    }
}
