import Accounts
import BGPSpeaker
import FlowCodec
import Foundation
import Hummingbird
import Lawful
import MamoriCore
import Metrics
import Mitigation
import NIOCore

/// BGP mitigation over HTTP (`mamori bgp` speaks it). Reading needs `read_findings`; every change
/// (manual rules, approvals, the kill switch) needs `control_mitigation` (admin). The service
/// audits each change.
///
/// - `GET /api/v1/bgp`: the sessions, the rule counts, the kill switch, the rails.
/// - `GET /api/v1/bgp/rules`: announced, waiting, dry-run rules and the latest refusals.
/// - `POST /api/v1/bgp/rules`: announce a rule by hand (the rails apply).
/// - `DELETE /api/v1/bgp/rules/{id}`: withdraw one.
/// - `POST /api/v1/bgp/rules/{id}/approve`, `…/reject`: decide a rule waiting for approval.
/// - `POST /api/v1/bgp/kill` with `{"reason"}`: withdraw everything, announce nothing more;
///   `DELETE /api/v1/bgp/kill`: release.
struct BGPAPI: Sendable, JSONAPI {
    let mitigation: MitigationService
    let invalidRequests: Counter
    let clock: any WallClock

    func register(on routes: Routes) {
        routes.get("/api/v1/bgp", .permission(.readFindings)) { _, _ in json(.ok, status()) }
        routes.get("/api/v1/bgp/rules", .permission(.readFindings)) { _, _ in json(.ok, rules()) }
        routes.post("/api/v1/bgp/rules", .permission(.controlMitigation)) { request, _ in try await announce(request) }
        routes.delete("/api/v1/bgp/rules/:id", .permission(.controlMitigation)) { _, context in
            withdraw(context.parameters.get("id") ?? "")
        }
        routes.post("/api/v1/bgp/rules/:id/approve", .permission(.controlMitigation)) { _, context in
            approve(context.parameters.get("id") ?? "")
        }
        routes.post("/api/v1/bgp/rules/:id/reject", .permission(.controlMitigation)) { request, context in
            try await reject(context.parameters.get("id") ?? "", request)
        }
        routes.post("/api/v1/bgp/kill", .permission(.controlMitigation)) { request, _ in try await kill(request) }
        routes.delete("/api/v1/bgp/kill", .permission(.controlMitigation)) { _, _ in release() }
    }

    /// The same routes on a server without a `bgp:` section: a clear 404, not an empty one.
    static func registerUnconfigured(on routes: Routes) {
        let answer: Routes.Handler<Response> = { _, _ in
            let body = Data(#"{"error":"BGP mitigation is not configured on this server (no bgp: section)"}"#.utf8 + [10])
            return Response(
                status: .notFound, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        routes.get("/api/v1/bgp", .permission(.readFindings), use: answer)
        routes.get("/api/v1/bgp/rules", .permission(.readFindings), use: answer)
        routes.post("/api/v1/bgp/rules", .permission(.controlMitigation), use: answer)
        routes.delete("/api/v1/bgp/rules/:id", .permission(.controlMitigation), use: answer)
        routes.post("/api/v1/bgp/rules/:id/approve", .permission(.controlMitigation), use: answer)
        routes.post("/api/v1/bgp/rules/:id/reject", .permission(.controlMitigation), use: answer)
        routes.post("/api/v1/bgp/kill", .permission(.controlMitigation), use: answer)
        routes.delete("/api/v1/bgp/kill", .permission(.controlMitigation), use: answer)
    }

    // MARK: Views

    struct RuleView: Encodable {
        var id: String
        var kind: String
        var state: String
        var match: FlowSpecMatch
        var summary: String
        var action: String
        var rateBytesPerSecond: Double?
        var trigger: String?
        var findingId: String?
        var reason: String
        var createdAt: String
        var expiresAt: String
        var origin: String
        var approver: String?
        var legalBasis: String?

        init(_ rule: MitigationRule, approver: String? = nil, legalBasis: String? = nil) {
            id = rule.id
            kind = rule.kind.rawValue
            state = rule.state.rawValue
            match = rule.match
            summary = "\(rule.match.summary) \(rule.action)"
            switch rule.action {
            case .discard: action = "discard"
            case .rateLimit(let r):
                action = "rate-limit"
                rateBytesPerSecond = Double(r)
            }
            trigger = rule.trigger?.rawValue
            findingId = rule.findingID
            reason = rule.reason
            createdAt = MitigationService.iso(rule.createdAt)
            expiresAt = MitigationService.iso(rule.expiresAt)
            origin = rule.origin.description
            self.approver = approver
            self.legalBasis = legalBasis
        }

        init(_ entry: MitigationBook.Entry) {
            self.init(entry.rule, approver: entry.approver, legalBasis: entry.decision?.basis.rawValue)
        }
    }

    struct RefusalView: Encodable {
        var rule: RuleView
        var rail: String
        var reason: String
        var at: String
    }

    struct KillSwitchView: Encodable {
        var engagedBy: String
        var reason: String
        var at: String
    }

    struct StatusView: Encodable {
        struct Trigger: Encodable {
            var mode: String
            var ttlMinutes: Int64
            var action: String
        }
        /// A session as ``BGPNeighborStatus`` has it, with its times in ISO 8601 like every
        /// other time of the API.
        struct Neighbor: Encodable {
            var name: String
            var address: String
            var port: Int
            var peerAs: UInt32
            var state: String
            var since: String
            var establishedCount: Int
            var consecutiveFailures: Int
            var lastError: String?
            var lastNotificationSent: String?
            var lastNotificationReceived: String?
            var families: [String]
            var holdTime: Int?
            var peerIdentifier: String?
            var routesAdvertised: Int
            var announcements: Int
            var withdrawals: Int
            var retryAt: String?

            init(_ n: BGPNeighborStatus) {
                (name, address, port, peerAs, state) = (n.name, n.address, n.port, n.peerAS, n.state)
                since = MitigationService.iso(n.since)
                (establishedCount, consecutiveFailures) = (n.establishedCount, n.consecutiveFailures)
                (lastError, lastNotificationSent, lastNotificationReceived) = (
                    n.lastError, n.lastNotificationSent, n.lastNotificationReceived
                )
                (families, holdTime, peerIdentifier) = (n.families, n.holdTime, n.peerIdentifier)
                (routesAdvertised, announcements, withdrawals) = (n.routesAdvertised, n.announcements, n.withdrawals)
                retryAt = n.retryAt.map(MitigationService.iso)
            }
        }
        var localAs: UInt32
        var routerId: String
        var neighbors: [Neighbor]
        var rules: [String: Int]
        var killSwitch: KillSwitchView?
        var protected: [String]
        var minimumIpv4Length: Int
        var minimumIpv6Length: Int
        var maximumActive: Int
        var maximumNewPerMinute: Int
        var onShutdown: String
        var triggers: [String: Trigger]
    }

    func status() -> StatusView {
        let book = mitigation.snapshot
        let p = book.policy
        var triggers: [String: StatusView.Trigger] = [:]
        for t in MitigationTrigger.allCases {
            let s = p.settings(t)
            triggers[t.rawValue] = .init(mode: s.mode.rawValue, ttlMinutes: s.ttlMilliseconds / 60_000, action: s.action.description)
        }
        return StatusView(
            localAs: mitigation.settings.localAS, routerId: mitigation.settings.routerID,
            neighbors: mitigation.speaker.status().map(StatusView.Neighbor.init),
            rules: [
                "active": book.active.count, "pending": book.pending.count, "dry_run": book.dryRuns.count, "refused": book.refusals.count,
            ],
            killSwitch: book.killSwitch.map {
                KillSwitchView(engagedBy: $0.engagedBy, reason: $0.reason, at: MitigationService.iso($0.at))
            },
            protected: p.protected.prefixes.map(\.description).sorted(), minimumIpv4Length: p.minimumIPv4Length,
            minimumIpv6Length: p.minimumIPv6Length, maximumActive: p.maximumActive, maximumNewPerMinute: p.maximumNewPerMinute,
            onShutdown: p.shutdown.rawValue, triggers: triggers)
    }

    struct RulesView: Encodable {
        var active: [RuleView]
        var pending: [RuleView]
        var dryRun: [RuleView]
        var refused: [RefusalView]
    }

    func rules() -> RulesView {
        let book = mitigation.snapshot
        func sorted(_ d: [String: MitigationBook.Entry]) -> [RuleView] {
            d.values.sorted { ($0.rule.createdAt, $0.rule.id) < ($1.rule.createdAt, $1.rule.id) }.map(RuleView.init)
        }
        return RulesView(
            active: sorted(book.active), pending: sorted(book.pending), dryRun: sorted(book.dryRuns),
            refused: book.refusals.reversed().map {
                RefusalView(rule: RuleView($0.rule), rail: $0.rail.rawValue, reason: $0.reason, at: MitigationService.iso($0.at))
            })
    }

    // MARK: Changes

    /// A port or length: `80`, `"80"` or `"1000-2000"`.
    struct RangeText: Decodable {
        var range: ValueRange?
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let n = try? c.decode(Int.self) {
                range = UInt16(exactly: n).map { ValueRange($0) }
            } else {
                range = Self.parse(try c.decode(String.self))
            }
        }
        static func parse(_ text: String) -> ValueRange? {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let a = UInt16(parts[0].trimmingCharacters(in: .whitespaces)) else { return nil }
            guard parts.count == 2 else { return ValueRange(a) }
            guard let b = UInt16(parts[1].trimmingCharacters(in: .whitespaces)), a <= b else { return nil }
            return ValueRange(a, b)
        }
    }

    struct AnnounceBody: Decodable {
        var kind: String
        var destination: String?
        var source: String?
        var protocols: [Int]?
        var destinationPorts: [RangeText]?
        var sourcePorts: [RangeText]?
        var packetLength: RangeText?
        var action: String?
        var rateBytesPerSecond: Double?
        var reason: String
        var minutes: Int?

        enum CodingKeys: String, CodingKey {
            case kind, destination, source, protocols, action, reason, minutes
            case destinationPorts = "destination_ports"
            case sourcePorts = "source_ports"
            case packetLength = "packet_length"
            case rateBytesPerSecond = "rate_bytes_per_second"
        }
    }

    static let announceExample =
        "the body must be JSON {\"kind\": \"blackhole|flowspec\", \"destination\": \"203.0.113.7/32\", \"source\": \"…\", "
        + "\"protocols\": [17], \"source_ports\": [123], \"destination_ports\": [\"1000-2000\"], \"packet_length\": \"400-1500\", "
        + "\"action\": \"discard|rate-limit\", \"rate_bytes_per_second\": 125000, \"reason\": \"why\", \"minutes\": 60}"

    /// An address is its host prefix.
    static func prefix(_ text: String) -> IPPrefix? {
        if let p = IPPrefix(text) { return p }
        guard let a = IPAddress(text) else { return nil }
        return IPPrefix(address: a, length: a.isIPv6 ? 128 : 32)
    }

    func announce(_ request: Request) async throws -> Response {
        let bytes = try await request.body.collect(upTo: 16 * 1024)
        let body: AnnounceBody
        do { body = try JSONDecoder().decode(AnnounceBody.self, from: Data(bytes.readableBytesView)) } catch {
            return bad(Self.announceExample)
        }
        let kind: MitigationRule.Kind
        switch body.kind {
        case "blackhole", "rtbh": kind = .blackhole
        case "flowspec": kind = .flowSpec
        default: return bad("kind must be blackhole or flowspec")
        }
        var destination: IPPrefix?
        var source: IPPrefix?
        if let d = body.destination {
            guard let p = Self.prefix(d) else { return bad("destination '\(d.prefix(60))' is not an address or prefix") }
            destination = p
        }
        if let s = body.source {
            guard let p = Self.prefix(s) else { return bad("source '\(s.prefix(60))' is not an address or prefix") }
            source = p
        }
        if let d = destination, let s = source, d.isIPv4 != s.isIPv4 { return bad("destination and source must be of one family") }
        if kind == .blackhole,
            destination == nil || source != nil || body.protocols != nil || body.destinationPorts != nil
                || body.sourcePorts != nil || body.packetLength != nil
        {
            return bad("a blackhole names a destination host address and nothing else")
        }
        let protocols = body.protocols ?? []
        guard protocols.count <= 16, protocols.allSatisfy({ (0...255).contains($0) }) else {
            return bad("protocols must be at most 16 IP protocol numbers from 0 to 255")
        }
        func ranges(_ list: [RangeText]?, _ key: String) -> [ValueRange]?? {
            guard let list else { return .some([]) }
            guard list.count <= 16 else { return nil }
            let r = list.compactMap(\.range)
            return r.count == list.count ? .some(r) : nil
        }
        guard let destinationPorts = ranges(body.destinationPorts, "destination_ports") ?? nil,
            let sourcePorts = ranges(body.sourcePorts, "source_ports") ?? nil
        else {
            return bad("ports must be at most 16 numbers or ranges (\"1000-2000\") from 0 to 65535")
        }
        if !(destinationPorts.isEmpty && sourcePorts.isEmpty), !protocols.isEmpty,
            !protocols.contains(where: { [6, 17, 132].contains($0) })
        {
            return bad("ports match only TCP (6), UDP (17) or SCTP (132): add one of them to protocols, or leave the ports out")
        }
        var length: ValueRange?
        if let l = body.packetLength {
            guard let r = l.range else { return bad("packet_length must be a number or a range (\"400-1500\") from 0 to 65535") }
            length = r
        }
        let action: FlowSpecAction
        switch body.action ?? "discard" {
        case "discard": action = .discard
        case "rate-limit", "rate_limit":
            guard let r = body.rateBytesPerSecond, r > 0, r < 1e12 else {
                return bad("rate-limit needs rate_bytes_per_second above 0 (bytes per second)")
            }
            action = .rateLimit(bytesPerSecond: Float(r))
        default: return bad("action must be discard or rate-limit")
        }
        let reason = body.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 300, !reason.contains(where: \.isNewline) else {
            return bad("reason must be one line of 1 to 300 characters: it goes into the audit log")
        }
        let longest = Int(mitigation.snapshot.policy.maximumLifetimeMilliseconds / 60_000)
        let minutes = body.minutes ?? 60
        guard (1...longest).contains(minutes) else { return bad("minutes must be from 1 to \(longest) (bgp.maximum_lifetime_hours)") }
        let match = FlowSpecMatch(
            destination: destination, source: source, protocols: protocols.map { UInt8($0) }, destinationPorts: destinationPorts,
            sourcePorts: sourcePorts, packetLength: length)
        let outcome = mitigation.announce(
            kind: kind, match: match, action: action, reason: reason, ttlMilliseconds: Int64(minutes) * 60_000,
            operator: "operator:" + RequestCredentials.current.operatorName)
        return answer(outcome, created: true)
    }

    struct ChangeAnswer: Encodable {
        var event: String
        var rule: RuleView?
        var withdrawn: Int?
    }

    func answer(_ outcome: MitigationService.Outcome, created: Bool = false) -> Response {
        switch outcome {
        case .notFound(let why):
            return json(.notFound, ["error": why])
        case .refused(let rail, let reason):
            invalidRequests.increment()
            return json(.unprocessableContent, ["error": reason, "rail": rail.rawValue])
        case .done(let events):
            guard let e = events.first else { return json(.ok, ChangeAnswer(event: "none")) }
            let name: String
            switch e {
            case .announce: name = "announced"
            case .extended: name = "extended"
            case .withdraw: name = "withdrawn"
            case .refused: name = "refused"
            case .pending: name = "pending"
            case .dryRun: name = "dry_run"
            }
            let status: HTTPResponse.Status = created && name == "announced" ? .created : .ok
            return json(status, ChangeAnswer(event: name, rule: RuleView(e.rule, approver: e.audit.approver)))
        }
    }

    func withdraw(_ id: String) -> Response {
        answer(mitigation.withdraw(ruleID: id, operator: "operator:" + RequestCredentials.current.operatorName))
    }

    func approve(_ id: String) -> Response {
        answer(mitigation.approve(ruleID: id, operator: "operator:" + RequestCredentials.current.operatorName))
    }

    struct ReasonBody: Decodable {
        var reason: String
    }

    func reason(_ request: Request) async throws -> String? {
        let bytes = try await request.body.collect(upTo: 16 * 1024)
        guard let body = try? JSONDecoder().decode(ReasonBody.self, from: Data(bytes.readableBytesView)) else { return nil }
        let r = body.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !r.isEmpty, r.count <= 300, !r.contains(where: \.isNewline) else { return nil }
        return r
    }

    func reject(_ id: String, _ request: Request) async throws -> Response {
        guard let r = try await reason(request) else {
            return bad("the body must be JSON {\"reason\": \"why\"}: one line of 1 to 300 characters, for the audit log")
        }
        return answer(mitigation.reject(ruleID: id, operator: "operator:" + RequestCredentials.current.operatorName, reason: r))
    }

    func kill(_ request: Request) async throws -> Response {
        guard let r = try await reason(request) else {
            return bad("the body must be JSON {\"reason\": \"why\"}: one line of 1 to 300 characters, for the audit log")
        }
        let events = mitigation.engageKillSwitch(operator: "operator:" + RequestCredentials.current.operatorName, reason: r)
        return json(.ok, ChangeAnswer(event: "kill_switch_engaged", withdrawn: events.count))
    }

    func release() -> Response {
        let released = mitigation.releaseKillSwitch(operator: "operator:" + RequestCredentials.current.operatorName)
        return json(.ok, ChangeAnswer(event: released ? "kill_switch_released" : "kill_switch_not_engaged"))
    }
}
