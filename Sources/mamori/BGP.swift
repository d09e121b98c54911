import APIClient
import ArgumentParser
import FlowCodec
import Foundation
import MamoriCore

/// `mamori bgp …`: the BGP mitigations of a running server, through its `/api/v1/bgp`.
struct BGP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bgp",
        abstract: "Show and steer the BGP mitigations: the sessions, the rules announced, the safety rails, the kill switch.",
        discussion: """
            Works through a running `mamori serve` with a `bgp:` section. Its BGP speaker announces \
            two kinds of rule to the carrier's routers:

            - A remotely triggered black hole (RTBH, RFC 7999): a host route of the victim of an \
            inbound flood with the BLACKHOLE community, whose next hop every router sends to a \
            discard interface. All traffic to the address is dropped at the edge — the attack and \
            the subscriber's own traffic alike — so the rest of the network stays up.
            - A FlowSpec rule (RFC 8955, 8956): a match on destination, source, protocol, ports and \
            packet length, with an action — discard, or police to a rate in bytes per second. Only \
            the matching traffic is dropped (a reflection flood from UDP port 123, say).

            Every rule goes through the safety rails first (protected prefixes — the neighbours' \
            own addresses always among them —, minimum prefix lengths, caps on active and new \
            rules); a refusal names its rail and the command fails. Every rule expires (--minutes), \
            and every change is written to the audit log under the name of the token's account. \
            The kill switch withdraws every rule at once and announces nothing until released.

            Reading (status, rules) needs read_findings; every change (announce, withdraw, approve, \
            reject, kill) needs control_mitigation, which only an admin's token carries. The token \
            comes from --token-file (a file only its owner can read) or the environment variable \
            MAMORI_TOKEN, never from the command line. Make one while the server is stopped: \
            mamori token create noc --scope read_findings,control_mitigation --expires 30d --created-by ADMIN.

            Examples:
              mamori bgp status --server 127.0.0.1:8080 --token-file ~/.mamori-token
              mamori bgp rules --state pending
              mamori bgp announce blackhole 198.51.100.7 --minutes 30 \\
                  --reason "DDoS on a subscriber, ticket 4711"
              mamori bgp announce flowspec --destination 198.51.100.0/24 \\
                  --protocol udp --source-port 123 --packet-length 400-1500 \\
                  --reason "NTP reflection" --minutes 60
              mamori bgp announce flowspec --source 198.51.100.23 --protocol tcp \\
                  --destination-port 23,2323 --rate-limit 125000 \\
                  --reason "infected device scanning telnet"
              mamori bgp approve flowspec:0123456789abcdef
              mamori bgp reject flowspec:0123456789abcdef --reason "customer's own test"
              mamori bgp withdraw rtbh:0123456789abcdef
              mamori bgp kill --reason "routers dropping the wrong traffic"
              mamori bgp kill --release
            """,
        subcommands: [Status.self, Rules.self, Announce.self, Withdraw.self, Approve.self, Reject.self, Kill.self]
    )

    struct Options: ParsableArguments {
        @Option(help: ArgumentHelp("The mamori serve to ask (HOST:PORT or http://HOST:PORT).", valueName: "host:port"))
        var server: String = "127.0.0.1:8080"

        @OptionGroup var credentials: APITokenOptions

        @Flag(help: "Print the server's JSON answer instead of text.")
        var json = false

        /// Sends one request; returns the status and body, or stops with a sentence that says why.
        func request(_ method: String, _ path: String, body: [UInt8]? = nil) async throws -> (status: Int, body: String) {
            let online = OnlineRequest(
                command: "mamori bgp", server: server, credentials: credentials,
                needs: { m, _ in m == "GET" ? "read_findings" : "control_mitigation (an admin's token)" }, fail: { BGPError($0) })
            return try await online.send(method, path, body.map { .bytes($0) } ?? .none)
        }

        /// The body when the status is one of `accepted`; else stops with the server's reason: a
        /// safety rail's refusal (422) names the rail.
        func expect(_ answer: (status: Int, body: String), _ accepted: Set<Int>, _ what: String) throws -> String {
            guard accepted.contains(answer.status) else {
                let reason = MamoriAPIClient.refusal(answer.body)
                switch answer.status {
                case 422:
                    let rail = (try? JSONDecoder().decode(Refusal.self, from: Data(answer.body.utf8)))?.rail ?? "unknown"
                    throw BGPError("\(what): refused by the \(BGP.clean(rail)) rail: \(reason)")
                case 404 where !reason.contains("rule "):
                    // No route: the server runs without a speaker.
                    throw BGPError("the server has no BGP speaker (no `bgp:` section in its configuration, or enabled: false)")
                default:
                    throw BGPError("\(what): the server answered \(answer.status): \(reason)")
                }
            }
            return answer.body
        }
    }

    /// A safety rail's refusal: `{"error": …, "rail": …}`.
    struct Refusal: Decodable {
        var rail: String
    }

    // MARK: The API's answers

    struct StatusView: Decodable {
        struct Neighbor: Decodable {
            var name: String
            var address: String
            var port: Int
            var peerAS: UInt32
            var state: String
            /// ISO 8601.
            var since: String
            var establishedCount: Int?
            var consecutiveFailures: Int?
            var lastError: String?
            var lastNotificationSent: String?
            var lastNotificationReceived: String?
            var families: [String]
            var holdTime: Int?
            var peerIdentifier: String?
            var routesAdvertised: Int
            var retryAt: String?

            enum CodingKeys: String, CodingKey {
                case name, address, port, state, since, families
                case peerAS = "peer_as"
                case establishedCount = "established_count"
                case consecutiveFailures = "consecutive_failures"
                case lastError = "last_error"
                case lastNotificationSent = "last_notification_sent"
                case lastNotificationReceived = "last_notification_received"
                case holdTime = "hold_time"
                case peerIdentifier = "peer_identifier"
                case routesAdvertised = "routes_advertised"
                case retryAt = "retry_at"
            }
        }
        struct KillSwitch: Decodable {
            var engagedBy: String
            var reason: String
            var at: String
            enum CodingKeys: String, CodingKey {
                case reason, at
                case engagedBy = "engaged_by"
            }
        }
        struct Trigger: Decodable {
            var mode: String
            var ttlMinutes: Int64
            var action: String
            enum CodingKeys: String, CodingKey {
                case mode, action
                case ttlMinutes = "ttl_minutes"
            }
        }
        var localAS: UInt32
        var routerID: String
        var neighbors: [Neighbor]
        var rules: [String: Int]
        var killSwitch: KillSwitch?
        var protected: [String]
        var minimumIPv4Length: Int
        var minimumIPv6Length: Int
        var maximumActive: Int
        var maximumNewPerMinute: Int
        var onShutdown: String
        var triggers: [String: Trigger]

        enum CodingKeys: String, CodingKey {
            case neighbors, rules, protected, triggers
            case localAS = "local_as"
            case routerID = "router_id"
            case killSwitch = "kill_switch"
            case minimumIPv4Length = "minimum_ipv4_length"
            case minimumIPv6Length = "minimum_ipv6_length"
            case maximumActive = "maximum_active"
            case maximumNewPerMinute = "maximum_new_per_minute"
            case onShutdown = "on_shutdown"
        }
    }

    struct RangeView: Decodable, CustomStringConvertible {
        var first: Int
        var last: Int
        var description: String { first == last ? "\(first)" : "\(first)-\(last)" }
    }

    struct MatchView: Decodable, CustomStringConvertible {
        var destination: String?
        var source: String?
        var protocols: [Int]?
        var destinationPorts: [RangeView]?
        var sourcePorts: [RangeView]?
        var packetLength: RangeView?

        enum CodingKeys: String, CodingKey {
            case destination, source, protocols
            case destinationPorts = "destination_ports"
            case sourcePorts = "source_ports"
            case packetLength = "packet_length"
        }

        /// "dst 203.0.113.7/32 proto udp sport 123": what is matched, nothing that is not.
        var description: String {
            var parts: [String] = []
            if let destination { parts.append("dst \(destination)") }
            if let source { parts.append("src \(source)") }
            if let p = protocols, !p.isEmpty { parts.append("proto " + p.map(BGP.protocolName).joined(separator: ",")) }
            if let d = destinationPorts, !d.isEmpty { parts.append("dport " + d.map(\.description).joined(separator: ",")) }
            if let s = sourcePorts, !s.isEmpty { parts.append("sport " + s.map(\.description).joined(separator: ",")) }
            if let packetLength { parts.append("len \(packetLength)") }
            return parts.isEmpty ? "any" : parts.joined(separator: " ")
        }
    }

    struct RuleView: Decodable {
        var id: String
        var kind: String
        var state: String
        var match: MatchView
        var action: String
        var rateBytesPerSecond: Double?
        var trigger: String?
        var findingID: String?
        var reason: String
        var createdAt: String
        var expiresAt: String
        var origin: String
        var approver: String?
        var legalBasis: String?

        enum CodingKeys: String, CodingKey {
            case id, kind, state, match, action, trigger, reason, origin, approver
            case rateBytesPerSecond = "rate_bytes_per_second"
            case findingID = "finding_id"
            case createdAt = "created_at"
            case expiresAt = "expires_at"
            case legalBasis = "legal_basis"
        }

        var actionText: String {
            guard action == "rate-limit", let r = rateBytesPerSecond else { return action }
            return "rate-limit \(Int(r)) B/s"
        }

        /// The finding's trigger, or the operator who asked (the server writes "by hand (operator:alice)").
        var originText: String {
            guard let trigger else { return origin }
            return findingID.map { "\(trigger) (finding \($0))" } ?? trigger
        }

        /// One line: "rtbh:… dst 198.51.100.7/32 discard, until … (in 30m)".
        var line: String {
            BGP.clean("\(id) \(match) \(actionText), until \(BGP.when(expiresAt))")
        }
    }

}

// MARK: - Reading

extension BGP {
    struct Rules: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The rules: announced, waiting for approval, dry runs, and the latest refusals with their rail.")
        @OptionGroup var options: Options

        enum State: String, ExpressibleByArgument, CaseIterable {
            case active, pending
            case dryRun = "dry_run"
            case refused
        }

        @Option(help: "Only the rules in this state.") var state: State?

        struct Answer: Decodable {
            struct Refused: Decodable {
                var rule: RuleView
                var rail: String
                var reason: String
                var at: String
            }
            var active: [RuleView]
            var pending: [RuleView]
            var dryRun: [RuleView]
            var refused: [Refused]
            enum CodingKeys: String, CodingKey {
                case active, pending, refused
                case dryRun = "dry_run"
            }
        }

        func run() async throws {
            let body = try options.expect(try await options.request("GET", "/api/v1/bgp/rules"), [200], "bgp rules")
            if options.json {
                guard let state else { return print(body, terminator: "") }
                // One state: the server's objects of that list, as it wrote them.
                let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                let list = try JSONSerialization.data(
                    withJSONObject: object?[state.rawValue] ?? [], options: [.sortedKeys, .withoutEscapingSlashes])
                return print(String(decoding: list, as: UTF8.self))
            }
            let answer = try JSONDecoder().decode(Answer.self, from: Data(body.utf8))
            let header = ["ID", "KIND", "MATCH", "ACTION", "TRIGGER/ORIGIN", "EXPIRES", "APPROVER", "LEGAL BASIS"]
            func rows(_ rules: [RuleView]) -> [[String]] {
                [header]
                    + rules.map {
                        [
                            $0.id, $0.kind, $0.match.description, $0.actionText, $0.originText, BGP.when($0.expiresAt), $0.approver ?? "-",
                            $0.legalBasis ?? "-",
                        ]
                    }
            }
            var sections: [String] = []
            let lists: [(State, String, [RuleView])] = [
                (.active, "Announced", answer.active), (.pending, "Waiting for approval (mamori bgp approve|reject ID)", answer.pending),
                (.dryRun, "Dry runs (logged, never announced)", answer.dryRun),
            ]
            for (s, title, rules) in lists where state == nil || state == s {
                guard !rules.isEmpty else {
                    if state != nil { sections.append("\(title): none") }
                    continue
                }
                sections.append("\(title) (\(rules.count)):\n" + BGP.table(rows(rules)))
            }
            if state == nil || state == .refused {
                if answer.refused.isEmpty {
                    if state != nil { sections.append("Refused: none") }
                } else {
                    let refusals =
                        [["AT", "RAIL", "ID", "KIND", "MATCH", "TRIGGER/ORIGIN", "REASON"]]
                        + answer.refused.map {
                            [$0.at, $0.rail, $0.rule.id, $0.rule.kind, $0.rule.match.description, $0.rule.originText, $0.reason]
                        }
                    sections.append("Refused by a safety rail (latest first, \(answer.refused.count)):\n" + BGP.table(refusals))
                }
            }
            if sections.isEmpty { sections.append("no rules: nothing announced, waiting, dry-run or refused") }
            print(sections.joined(separator: "\n\n"))
        }
    }

}

extension BGP {
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The sessions to the routers, the rule counts, the kill switch and the safety rails.")
        @OptionGroup var options: Options

        func run() async throws {
            let body = try options.expect(try await options.request("GET", "/api/v1/bgp"), [200], "bgp status")
            if options.json { return print(body, terminator: "") }
            print(BGP.text(try JSONDecoder().decode(StatusView.self, from: Data(body.utf8))))
        }
    }

    /// `mamori bgp status` as text.
    static func text(_ s: StatusView) -> String {
        var out: [String] = []
        if let k = s.killSwitch {
            out.append(
                clean(
                    """
                    !!! KILL SWITCH ENGAGED since \(when(k.at)) by \(k.engagedBy): \(k.reason)
                    !!! Every rule is withdrawn and nothing is announced until `mamori bgp kill --release`.
                    """))
        }
        out.append(clean("BGP speaker: AS \(s.localAS), router id \(s.routerID); kill switch \(s.killSwitch == nil ? "off" : "ENGAGED")"))
        var sessions = [["NEIGHBOR", "ADDRESS", "PEER AS", "STATE", "SINCE", "ROUTES", "FAMILIES"]]
        var notes: [String] = []
        for n in s.neighbors {
            let address = n.address.contains(":") ? "[\(n.address)]:\(n.port)" : "\(n.address):\(n.port)"
            sessions.append([
                n.name, address, "\(n.peerAS)", n.state, when(n.since), "\(n.routesAdvertised)",
                n.families.isEmpty ? "-" : n.families.joined(separator: ","),
            ])
            var lines: [String] = []
            if let e = n.lastError { lines.append("last error: \(e)") }
            if let e = n.lastNotificationSent { lines.append("last NOTIFICATION sent: \(e)") }
            if let e = n.lastNotificationReceived { lines.append("last NOTIFICATION received: \(e)") }
            if n.state != "established", let r = n.retryAt { lines.append("next attempt: \(when(r))") }
            if n.state != "established", let f = n.consecutiveFailures, f > 0 { lines.append("failures in a row: \(f)") }
            if !lines.isEmpty { notes.append("  \(n.name): " + lines.joined(separator: "\n  \(n.name): ")) }
        }
        out.append("Sessions:\n" + (s.neighbors.isEmpty ? "  none configured" : table(sessions)))
        if !notes.isEmpty { out.append(notes.joined(separator: "\n")) }
        let count = { (key: String) in s.rules[key] ?? 0 }
        out.append(
            "Rules: \(count("active")) announced, \(count("pending")) waiting for approval, \(count("dry_run")) dry runs; refusals remembered: \(count("refused"))"
        )
        let rails = [
            ["protected:", s.protected.isEmpty ? "none" : s.protected.joined(separator: ", ")],
            ["minimum prefix length:", "IPv4 /\(s.minimumIPv4Length), IPv6 /\(s.minimumIPv6Length)"],
            ["caps:", "\(s.maximumActive) announced at once, \(s.maximumNewPerMinute) new per minute"],
            ["on shutdown:", s.onShutdown],
        ]
        out.append("Safety rails:\n" + table(rails))
        var triggers = [["TRIGGER", "MODE", "TTL", "ACTION"]]
        for (name, t) in s.triggers.sorted(by: { $0.key < $1.key }) {
            triggers.append([name, t.mode, t.mode == "off" ? "-" : "\(t.ttlMinutes) min", t.action])
        }
        out.append("Triggers (what the detectors' findings become):\n" + table(triggers))
        return clean(out.joined(separator: "\n\n"))
    }

    // MARK: Text

    /// Rows as aligned columns (two spaces apart, the last column not padded), indented.
    static func table(_ rows: [[String]], indent: String = "  ") -> String {
        var widths: [Int] = []
        for row in rows {
            for (i, cell) in row.enumerated() {
                if i == widths.count { widths.append(0) }
                widths[i] = max(widths[i], cell.count)
            }
        }
        return rows.map { row in
            let cells = row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }
            return indent + cells.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// `text` without control characters other than line breaks: what the server passes on from a
    /// neighbour (a NOTIFICATION's text) cannot move the terminal's cursor.
    static func clean(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { $0 != "\n" && $0.properties.generalCategory == .control ? " " : $0 }))
    }

    /// An ISO 8601 time as the server wrote it, with how far from now: "2026-12-06T17:30:14Z (in 29m)".
    static func when(_ iso: String, now: Date = Date()) -> String {
        let f = ISO8601DateFormatter()
        var date = f.date(from: iso)
        if date == nil {
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            date = f.date(from: iso)
        }
        guard let date else { return iso }
        return "\(iso) (\(relative(date.timeIntervalSince(now))))"
    }

    /// "in 29m", "3h 5m ago", "now".
    static func relative(_ seconds: TimeInterval) -> String {
        let s = Int(seconds.rounded())
        let a = abs(s)
        guard a >= 1 else { return "now" }
        let text =
            a < 60
            ? "\(a)s" : a < 3600 ? "\(a / 60)m" : a < 86_400 ? "\(a / 3600)h \(a % 3600 / 60)m" : "\(a / 86_400)d \(a % 86_400 / 3600)h"
        return s > 0 ? "in \(text)" : "\(text) ago"
    }

    /// IP protocol names the command takes and prints.
    static let protocolNumbers: [String: Int] = [
        "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132,
    ]

    /// 17 → "udp"; a number without a name stays a number.
    static func protocolName(_ number: Int) -> String {
        switch number {
        case 1: "icmp"
        case 2: "igmp"
        case 6: "tcp"
        case 17: "udp"
        case 47: "gre"
        case 50: "esp"
        case 51: "ah"
        case 58: "icmpv6"
        case 132: "sctp"
        default: "\(number)"
        }
    }
}

/// A failure of `mamori bgp` (unreachable server, a refusal): printed without the usage text.
struct BGPError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = BGP.clean(d).replacingOccurrences(of: "\n", with: " ") }
}
