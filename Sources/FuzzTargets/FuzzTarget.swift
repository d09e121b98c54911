import Accounts
import Attribution
import Detection
import FlowCodec
import FlowFiles
import Foundation
import IdentityCodec
import Lawful
import MamoriCore
import Server

/// What the coverage-guided fuzzers (`Fuzz/`, libFuzzer) feed, and what the test suite replays
/// from their corpus (`Fuzz/Corpus/<target>/`) and from every crash they found
/// (`Fuzz/Crashes/<target>/`): each target parses its input as Mamori would parse it off the
/// wire or from a file, then hands what parsed to the stages after the parser (the detectors,
/// the attribution index, the API's lookups). A trap anywhere is a finding; so is a broken
/// invariant, checked with `precondition` (kept in release builds).
///
/// One input is self-contained (no state carries over between inputs), so a crash replays from
/// its file alone.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// NetFlow v5/v9, IPFIX and sFlow datagrams (several per input: template and data), then the
    /// detectors and the NAT-event path of the attribution index.
    case flowDecoder = "flow-decoder"
    /// One RADIUS accounting datagram, then the attribution index.
    case radius = "radius"
    /// CGNAT port-block syslog lines, then the attribution index.
    case syslog = "syslog"
    /// Identity and analysis files: Kea DHCPv4/v6 leases, FreeRADIUS detail, static assignments,
    /// the customer consent CSV, endpoint lists, CTU binetflow and nfdump files of layout 1 or 2
    /// (the first byte picks the format), then the attribution index or the detectors.
    case identityFiles = "identity-files"
    /// Query strings of `GET /api/v1/attribution` and `/api/v1/findings`, then the lookup.
    case apiQuery = "api-query"
    /// A Zeek conn.log (TSV with `#` headers, or JSON lines), then the detectors.
    case zeekConn = "zeek-conn"
    /// An `Authorization` header and `Cookie` headers as a request presents them (machine token,
    /// session cookie), then the account workflow's authentication against one issued token and
    /// one open session: nothing but exactly those is ever accepted.
    case credentials = "credentials"
    /// One DNS message (`FuzzTarget+DNS.swift`): parsed, written again and parsed again, and its
    /// TSIG checked against one fixed key.
    case dnsMessage = "dns-message"
    /// A dnstap connection: Frame Streams bytes in pieces, the handshake, each data frame as a
    /// resolver event (`FuzzTarget+Dnstap.swift`).
    case dnstap = "dnstap"
    /// One request to the RPZ zone transfer responder, from a listed or unlisted client, over TCP
    /// or UDP (`FuzzTarget+ZoneTransfer.swift`).
    case zoneTransfer = "zone-transfer"
    /// A connection's first bytes as the sinkhole listener reads them: an HTTP request head or a
    /// TLS ClientHello (`FuzzTarget+Sinkhole.swift`).
    case sinkholeProbe = "sinkhole-probe"
    /// A BGP neighbour's TCP byte stream in pieces: framed as the speaker frames it, each message
    /// decoded with and without 4-octet AS numbers, written again and decoded again, and the whole
    /// stream fed to a `BGPSession` (AS 65001 toward AS 65002) whose actions are checked after
    /// every step (`FuzzTarget+BGP.swift`).
    case bgpMessage = "bgp-message"
    /// A peer's STIX pattern, parsed and evaluated as the importer does; what it matches is
    /// checked against itself (`FuzzTarget+STIX.swift`).
    case stixPattern = "stix-pattern"
    /// A peer's STIX bundle (also read as a TAXII envelope and a MISP event or manifest): read,
    /// written and read again, imported, and screened by the sharing guard (`FuzzTarget+STIX.swift`).
    case stixBundle = "stix-bundle"
    /// What a TAXII peer sends (`FuzzTarget+TAXII.swift`): an `Authorization` header as HTTP
    /// Basic, a query string as the TAXII routes read it, and an envelope, whose objects are added
    /// to a collection that the query then pages through.
    case taxii = "taxii"
    /// A Shadowserver CSV report, read whole and in chunks (`FuzzTarget+Reports.swift`).
    case shadowserverCSV = "shadowserver-csv"
    /// Any file handed to the report intake: a mail, a zip, a CSV or JSON (`FuzzTarget+Reports.swift`).
    case reportIntake = "report-intake"
    /// A softswitch's call records in any of the formats, read whole and in chunks, classified and
    /// judged by the fraud engine (`FuzzTarget+Reports.swift`).
    case callRecords = "call-records"
    /// A NATS server's byte stream in pieces, as the NATS client reads it; JetStream ack subjects
    /// and answers in what it delivers (`FuzzTarget+NATS.swift`).
    case natsWire = "nats-wire"
    /// A batch of flow records from the cluster's bus, then routing and the detectors
    /// (`FuzzTarget+FlowBus.swift`).
    case flowBus = "flow-bus"

    /// 2026-12-01T00:00:00Z: the receive time of every input.
    public static let now: Int64 = 1_764_547_200_000

    /// Runs one input. Returns normally for any input; a trap or a failed precondition is a bug.
    public func run(_ bytes: UnsafeRawBufferPointer) {
        switch self {
        case .flowDecoder: Self.flowDecoder(bytes)
        case .radius: Self.radius(bytes)
        case .syslog: Self.syslog(bytes)
        case .identityFiles: Self.identityFiles(bytes)
        case .apiQuery: Self.apiQuery(bytes)
        case .zeekConn: Self.zeekConn(bytes)
        case .credentials: Self.credentials(bytes)
        case .dnsMessage: Self.dnsMessage(bytes)
        case .dnstap: Self.dnstap(bytes)
        case .zoneTransfer: Self.zoneTransfer(bytes)
        case .sinkholeProbe: Self.sinkholeProbe(bytes)
        case .bgpMessage: Self.bgpMessage(bytes)
        case .stixPattern: Self.stixPattern(bytes)
        case .stixBundle: Self.stixBundle(bytes)
        case .taxii: Self.taxii(bytes)
        case .shadowserverCSV: Self.shadowserverCSV(bytes)
        case .reportIntake: Self.reportIntake(bytes)
        case .callRecords: Self.callRecords(bytes)
        case .natsWire: Self.natsWire(bytes)
        case .flowBus: Self.flowBus(bytes)
        }
    }

    public func run(_ bytes: [UInt8]) { bytes.withUnsafeBytes { run($0) } }

    // MARK: - Targets

    /// The input as datagrams: a big-endian 16-bit length before each (a last one without its
    /// full length is taken as it is). The first byte picks the decoder's time window.
    static func datagrams(_ bytes: UnsafeRawBufferPointer) -> [UnsafeRawBufferPointer] {
        var out: [UnsafeRawBufferPointer] = []
        var i = 1
        while i + 2 <= bytes.count {
            let n = Int(bytes[i]) << 8 | Int(bytes[i + 1])
            let end = min(bytes.count, i + 2 + n)
            out.append(UnsafeRawBufferPointer(rebasing: bytes[(i + 2)..<end]))
            i = end
        }
        return out
    }

    static func flowDecoder(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        var configuration = FlowDecoder.Configuration()
        configuration.timeWindow = bytes[0] & 1 == 0 ? .live : .anyTime
        configuration.templateTimeoutSeconds = bytes[0] & 2 == 0 ? 1800 : 0
        var decoder = FlowDecoder(configuration: configuration)
        var records: [FlowRecord] = []
        for (k, d) in datagrams(bytes).enumerated() {
            let before = records.count
            let exporter = IPAddress.v4(0xC000_0201 + UInt32(k % 2))
            let report = decoder.decode(d, from: exporter, receivedAtMilliseconds: now, into: &records)
            precondition(records.count - before == report.flowRecords, "the report counts the records appended")
        }
        for r in records {
            precondition(
                FlowTimeWindow.isSane(start: r.startMilliseconds, end: r.endMilliseconds),
                "a record left the decoder with times outside 1970–2100")
        }
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: network, pseudonymKey: [1]))
        var index = AttributionIndex()
        for r in records {
            analyzer.ingest(r, receivedAt: r.endMilliseconds)
            if r.hasNAT { index.apply(natEvent: r) }
        }
        _ = analyzer.evaluate(now: now)
        _ = analyzer.finish()
        for r in records.prefix(64) {
            _ = index.lookup(r.sourceAddress, port: r.sourcePort, at: r.startMilliseconds)
            if let nat = r.nat, let outside = nat.postSourceAddress {
                _ = index.lookup(outside, port: nat.postSourcePort, at: r.startMilliseconds)
                _ = index.resolve(outside, port: nat.portRangeStart, at: r.endMilliseconds)
            }
        }
    }

    static func radius(_ bytes: UnsafeRawBufferPointer) {
        guard let packet = try? RADIUSPacket.decode(Array(bytes)) else { return }
        _ = packet.isValidAccountingRequest(secret: Array("a-shared-secret-of-16+".utf8))
        guard let record = try? AccountingRecord(packet: packet) else { return }
        var index = AttributionIndex()
        for receivedAt in [now, 0, Int64.max] {
            _ = index.apply(record, from: .v4(0xC613_FC01), receivedAt: receivedAt)
        }
        probe(index, record.framedIPAddress, at: record.eventTime.map { $0 &* 1000 } ?? now)
        _ = index.forget(endedBefore: now)
    }

    static func syslog(_ bytes: UnsafeRawBufferPointer) {
        var index = AttributionIndex()
        var last: NATPortBlockEvent?
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).prefix(256) {
            guard let event = try? NATPortBlockEvent(line: line) else { continue }
            index.apply(event)
            last = event
        }
        if let e = last {
            _ = index.lookup(e.outsideAddress, port: e.firstPort, at: e.timeMilliseconds)
            _ = index.lookup(e.insideAddress, at: e.timeMilliseconds)
        }
    }

    static func identityFiles(_ bytes: UnsafeRawBufferPointer) {
        guard let selector = bytes.first else { return }
        let body = UnsafeRawBufferPointer(rebasing: bytes[1...])
        let text = String(decoding: body, as: UTF8.self)
        var index = AttributionIndex()
        switch selector % 8 {
        case 0:
            for l in (try? KeaLeaseFile.parse4(text[...])) ?? [] {
                index.apply(l)
                probe(index, l.address, at: l.expire &* 1000)
            }
        case 1:
            for l in (try? KeaLeaseFile.parse6(text[...])) ?? [] {
                index.apply(l)
                probe(index, l.address, at: l.expire &* 1000)
            }
        case 2:
            for e in (try? FreeRADIUSDetail.parse(text[...]))?.entries ?? [] {
                guard let r = try? e.accountingRecord() else { continue }
                index.apply(r, from: .v4(0xC613_FC01), receivedAt: e.writtenAtMilliseconds)
                probe(index, r.framedIPAddress, at: e.writtenAtMilliseconds)
            }
        case 3:
            for a in (try? StaticAssignment.parse(text[...])) ?? [] {
                index.add(a)
                probe(index, a.prefix.network, at: a.validFrom ?? now)
            }
        case 4:
            _ = try? CustomerConsentFile.parse(text)
        case 5:
            let (list, _) = EndpointList.parse(text)
            var c = DetectionConfiguration(network: network, pseudonymKey: [1])
            c.indicators = list
            var analyzer = FlowAnalyzer(configuration: c)
            analyzer.ingest(
                FlowRecord(
                    sourceAddress: .v4(0xC612_C809), destinationAddress: .v4(0xC000_0263), sourcePort: 40_000, destinationPort: 8080,
                    ipProtocol: 6, bytes: 100, packets: 2, startMilliseconds: now, endMilliseconds: now), receivedAt: now)
            _ = analyzer.finish()
        case 6:
            guard let result = try? BinetflowParser.parse(text) else { return }
            var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: network, pseudonymKey: [1]))
            for r in result.records {
                for f in [r.forward, r.reverse].compactMap({ $0 }) { analyzer.ingest(f, receivedAt: f.endMilliseconds) }
            }
            _ = analyzer.finish()
        default:
            guard let result = try? NfdumpFile.read(Array(body)) else { return }
            var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: network, pseudonymKey: [1]))
            for r in result.records { analyzer.ingest(r, receivedAt: r.endMilliseconds) }
            _ = analyzer.finish()
        }
    }

    static func apiQuery(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        var index = AttributionIndex()
        var r = AccountingRecord(status: .start, sessionID: "fuzz", eventTime: now / 1000)
        r.userName = "subscriber"
        r.framedIPAddress = .v4(0xC612_C809)
        index.apply(r, from: .v4(0xC613_FC01), receivedAt: now)
        if case .success(let q) = APIQueryParsing.attribution(text, now: now) {
            precondition(FlowTimeWindow.isSane(q.time), "the API let a time outside 1970–2100 through")
            _ = index.lookup(q.address, port: q.port, at: q.time)
            var answers: [AttributionIndex.Resolution] = []
            index.resolve([q], into: &answers)
        }
        if case .success(let q) = APIQueryParsing.findings(text) {
            if let t = q.since { precondition(FlowTimeWindow.isSane(t)) }
            if let t = q.until { precondition(FlowTimeWindow.isSane(t)) }
            precondition((1...10_000).contains(q.limit))
        }
        _ = APIQueryParsing.time(text)
    }

    static func zeekConn(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let result = try? ZeekConnLog.parse(text, options: .init(baseTimeMilliseconds: now - 86_400_000)) else { return }
        precondition(result.connections.count + result.errors.count == result.lines, "every data line is a connection or an error")
        var analyzer = FlowAnalyzer(configuration: DetectionConfiguration(network: network, pseudonymKey: [1]))
        for c in result.connections {
            precondition(c.flows.count <= 2, "one connection gives at most one flow per direction")
            for f in c.flows {
                precondition(f.endMilliseconds >= f.startMilliseconds, "a connection ends after it starts")
                analyzer.ingest(f, receivedAt: f.endMilliseconds)
            }
        }
        _ = analyzer.evaluate(now: now)
        _ = analyzer.finish()
    }

    /// The input's byte 0: bit 0 says whether there is an `Authorization` header. The rest is
    /// lines: the `Authorization` header's value first (when there is one), then `Cookie` headers.
    /// `$T` stands for the issued token's text and `$S` for the open session's id, so that
    /// mutations reach the near misses a fuzzer cannot guess its way to.
    static func credentials(_ bytes: UnsafeRawBufferPointer) {
        guard let selector = bytes.first else { return }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[1...]), as: UTF8.self)
            .replacingOccurrences(of: "$T", with: Issued.tokenText).replacingOccurrences(of: "$S", with: Issued.sessionID)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(16).map(String.init)
        let authorization = selector & 1 == 1 && !lines.isEmpty ? lines.removeFirst() : nil

        let presented = PresentedCredentials(authorization: authorization, cookieHeaders: lines)
        let workflow = Issued.workflow
        switch presented {
        case .none:
            precondition(authorization == nil, "an Authorization header is never nothing")
        case .malformed:
            break
        case .token(let text, let parsed):
            let header = authorization ?? ""
            precondition(
                header.utf8.count <= PresentedCredentials.maximumAuthorizationBytes && header.lowercased().hasPrefix("bearer "),
                "a token taken from something other than a Bearer header")
            precondition(isWellFormedToken(text), "a malformed token was taken: \(text.debugDescription)")
            precondition(parsed.id == String(text.dropFirst(7).prefix(16)), "the id is not the token's")
            let known = parsed.id == Issued.token.id ? Issued.token : nil
            let step = workflow.authenticate(token: text, token: known, creator: Issued.account, at: now)
            if case .success(let principal) = step.outcome {
                precondition(text == Issued.tokenText, "a token other than the issued one was accepted")
                precondition(principal.permissions.isSubset(of: Issued.token.permissions), "a token granted more than its scope")
            }
        case .session(let id, let digest):
            precondition(authorization == nil, "a cookie was taken over an Authorization header")
            precondition(isBase64url(id, count: 43) && digest.utf8.count == 64, "a malformed session id was taken: \(id.debugDescription)")
            let known = digest == Issued.session.digest ? Issued.session : nil
            let step = workflow.authenticate(sessionID: id, session: known, account: Issued.account, at: now)
            if case .success = step.outcome { precondition(id == Issued.sessionID, "a session id other than the open one was accepted") }
        }
    }

    /// `mamori_` + 16 lowercase hex + `_` + the canonical base64url of 32 bytes (43 characters,
    /// the last one's two unused bits zero): written here again, apart from the parser.
    static func isWellFormedToken(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count == 67, b.starts(with: Array("mamori_".utf8)), b[23] == UInt8(ascii: "_") else { return false }
        let hex = Array("0123456789abcdef".utf8)
        return b[7..<23].allSatisfy(hex.contains) && isBase64url(String(decoding: b[24...], as: UTF8.self), count: 43)
    }

    /// `count` characters of base64url whose last character leaves its unused low bits zero (32
    /// bytes are 256 bits in 43 characters of 6: two bits to spare).
    static func isBase64url(_ text: String, count: Int) -> Bool {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        let b = Array(text.utf8)
        guard b.count == count, let last = b.last, let value = alphabet.firstIndex(of: last) else { return false }
        return b.allSatisfy(alphabet.contains) && value % 4 == 0
    }

    /// One admin with one issued token and one open session, made from a fixed seed.
    enum Issued {
        static let workflow = AccountWorkflow(hashing: NoHashing())
        static let account = OperatorAccount(
            id: "0123456789abcdef", name: "admin", role: .admin, passwordHash: "-", createdAt: now - 60_000)
        static let issued: (token: MachineToken, presented: Secret) = {
            var random = SplitMix64(seed: 19)
            return MachineToken.make(
                name: "fuzz", permissions: [.readFindings], createdBy: account.id, at: now - 60_000, expiresAt: now + 86_400_000,
                using: &random)
        }()
        static var token: MachineToken { issued.token }
        static var tokenText: String { issued.presented.revealed }
        static let opened: (session: OperatorSession, id: Secret) = {
            var random = SplitMix64(seed: 20)
            return OperatorSession.make(accountID: account.id, clientAddress: "192.0.2.1", at: now - 1_000, using: &random)
        }()
        static var session: OperatorSession { opened.session }
        static var sessionID: String { opened.id.revealed }
    }

    /// Authentication never hashes a password.
    struct NoHashing: PasswordHashing {
        func hash(_ password: String) -> String { "-" }
        func verify(_ password: String, against hash: String) -> Bool { false }
        func verifyDummy(_ password: String) {}
    }

    // MARK: - Support

    /// The demo network (subscribers 198.18.0.0/15 with a CGNAT pool, 100.64.0.0/10, 2001:db8::/32).
    static let network = NetworkLayout(
        subscriberPrefixes: [IPPrefix("198.18.0.0/15")!, IPPrefix("100.64.0.0/10")!, IPPrefix("2001:db8::/32")!],
        cgnatPools: [CGNATPool(prefix: IPPrefix("198.18.0.0/17")!, firstPort: 1024, portsPerBlock: 1008)])

    /// Questions about `address` around `time`, and at the edges of time.
    static func probe(_ index: AttributionIndex, _ address: IPAddress?, at time: Int64) {
        guard let address else { return }
        for t in [time, time &- 1, time &+ 1, 0, .max, .min] {
            _ = index.lookup(address, port: 1500, at: t)
            _ = index.resolve(address, at: t)
        }
    }
}
