import APIClient
import ArgumentParser
import Foundation
import MamoriCore

/// `mamori fraud …`: IP-phone fraud of a running server, through its `/api/v1/fraud`.
struct Fraud: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fraud",
        abstract: "Show and steer IP-phone fraud: hijacked lines, the destinations blocked, the calls not to bill.",
        discussion: """
            Works through a running `mamori serve` with a `telephony:` section, which follows the \
            softswitch's call records (Kamailio's accounting log, Asterisk's Master.csv, a CSV of \
            the carrier's own) and looks in them for international revenue share fraud: a hijacked \
            phone or PBX pumping calls to premium, satellite or small-island numbers abroad.

            When a destination range is called almost only by hijacked lines (90 % of at least 10 \
            calls in an hour, by default), Mamori blocks it at the softswitch — automatically for \
            a block of 1,000 numbers, on an operator's approval for a whole country or network — \
            and lifts the block when the fraud subsides or its period ends, whichever comes first. \
            A renewal is a new decision. Emergency numbers (110, 118, 119) always pass, and so do \
            lines that opted out or have trade ties to the destination. Every block is the \
            carrier's own judgment, recorded with the figures that justified it in the audit log.

            The calls classed fraudulent are reported per account for the billing system (victims \
            are not to pay for them): `mamori fraud report`. That report and the findings name \
            accounts: they need reveal_identity, and every download is audited. Approving and \
            lifting rules needs control_mitigation (an admin's token); reading rules needs \
            read_findings; importing call records needs submit_reports. The token comes from \
            --token-file or MAMORI_TOKEN.

            Examples:
              mamori fraud status
              mamori fraud rules --state pending
              mamori fraud approve block-88163123-1796680000-3
              mamori fraud lift block-88163123-1796680000-3 --reason "PBX secured, customer called"
              mamori fraud report --account line-0042 --since 2026-12-01T00:00:00Z --csv > refund.csv
              mamori fraud import /var/log/asterisk/cdr-csv/Master.csv --format asterisk
            """,
        subcommands: [Status.self, Rules.self, Approve.self, Lift.self, Report.self, Import.self, FraudEvaluate.self]
    )

    struct Options: ParsableArguments {
        @Option(help: ArgumentHelp("The mamori serve to ask (HOST:PORT or http://HOST:PORT).", valueName: "host:port"))
        var server: String = "127.0.0.1:8080"

        @OptionGroup var credentials: APITokenOptions

        @Flag(help: "Print the server's JSON answer instead of text.")
        var json = false

        func request(_ method: String, _ path: String, body: [UInt8]? = nil, file: String? = nil) async throws -> (
            status: Int, body: String
        ) {
            let online = OnlineRequest(
                command: "mamori fraud", server: server, credentials: credentials, needs: Fraud.needs, fail: { FraudError($0) })
            let r = try await online.send(
                method, path, file.map { .file($0, contentType: "text/plain") } ?? body.map { .bytes($0) } ?? .none)
            guard (200..<300).contains(r.status) else {
                if r.status == 404, r.body.contains("no telephony: section") {
                    throw FraudError("the server does not look for IP-phone fraud (no `telephony:` section in its configuration)")
                }
                throw FraudError("the server answered \(r.status): \(MamoriAPIClient.refusal(r.body))")
            }
            return r
        }
    }

    /// The permission a refused request lacked.
    static func needs(_ method: String, _ path: String) -> String? {
        if path.hasPrefix("/api/v1/fraud/report") || path.hasPrefix("/api/v1/fraud/findings") { return "reveal_identity" }
        if path.hasPrefix("/api/v1/fraud/cdrs") { return "submit_reports" }
        return method == "GET" ? "read_findings" : "control_mitigation (an admin's token)"
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The feeds, lines followed, open findings and rules.")
        @OptionGroup var options: Options
        func run() async throws {
            let r = try await options.request("GET", "/api/v1/fraud")
            guard !options.json else { return print(r.body) }
            let s = try JSONDecoder.api.decode(StatusView.self, from: Data(r.body.utf8))
            print("feeds: \(s.feeds.isEmpty ? "none (calls come by upload)" : s.feeds.joined(separator: ", "))")
            print("calls taken: \(s.callsTaken); lines followed: \(s.linesFollowed) (not followed, over the bound: \(s.linesNotFollowed))")
            print("lines found hijacked, still active: \(s.openFindings)")
            print("block rules in force: \(s.rulesActive); waiting for approval: \(s.rulesPending)")
            for c in s.clocks ?? [] {
                let offset = c.offsetSeconds.map { String(format: "%+.0f s", $0) } ?? "not estimated yet"
                let note =
                    switch c.state {
                    case "ahead": " — runs ahead: \(c.recordsCorrected) records moved back"
                    case "behind": " — records arrive late (a slow clock, or written late)"
                    default: ""
                    }
                print("feed \(c.feed): clock \(offset) against the server's\(note)")
            }
            if let to = s.publishedTo {
                print("softswitch: \(to) — \(s.publications) publications" + (s.publishError.map { "; LAST FAILED: \($0)" } ?? ""))
            }
        }
    }

    struct Rules: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Block rules in force, waiting, in dry run, and the last ones ended.")
        @OptionGroup var options: Options
        @Option(help: "Only rules in this state: active, pending, dry_run or ended.") var state: String?
        func run() async throws {
            let r = try await options.request("GET", "/api/v1/fraud/rules")
            guard !options.json else { return print(r.body) }
            let v = try JSONDecoder.api.decode(RulesView.self, from: Data(r.body.utf8))
            let groups = [("active", v.active), ("pending", v.pending), ("dry_run", v.dryRun), ("ended", v.history)]
            for (name, rules) in groups where state == nil || state == name {
                print("\(name): \(rules.count)")
                for rule in rules.prefix(50) {
                    let share = Int((rule.figures.share * 100).rounded())
                    var line =
                        "  \(rule.id)  +\(rule.prefix) \(rule.name) (\(rule.country)) \(rule.scope): \(share)% of \(rule.figures.attempts) calls fraudulent"
                    if let by = rule.approvedBy { line += "; by \(by)" }
                    line += "; until \(MamoriTime.iso(rule.expiresAt))"
                    if let end = rule.endReason { line += "; ended: \(end)" }
                    print(line)
                }
            }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply a block rule that waits for an operator's approval.")
        @OptionGroup var options: Options
        @Argument(help: "The rule's id (mamori fraud rules --state pending).") var id: String
        func run() async throws {
            let r = try await options.request("POST", "/api/v1/fraud/rules/\(Self.escape(id))/approve")
            print(options.json ? r.body : "applied \(id)")
        }
        static func escape(_ s: String) -> String {
            s.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? s
        }
    }

    struct Lift: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a block rule in force, reject one waiting, or end a dry run.")
        @OptionGroup var options: Options
        @Argument(help: "The rule's id.") var id: String
        @Option(help: "Why (one line, kept in the audit log).") var reason: String
        func run() async throws {
            let body = try JSONEncoder().encode(["reason": reason])
            let r = try await options.request("POST", "/api/v1/fraud/rules/\(Approve.escape(id))/lift", body: Array(body))
            print(options.json ? r.body : "lifted \(id)")
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The calls classed fraudulent, for the billing system (audited: it names accounts).")
        @OptionGroup var options: Options
        @Option(help: "One account only.") var account: String?
        @Option(help: "From this time (ISO 8601).") var since: String?
        @Option(help: "Until this time (ISO 8601).") var until: String?
        @Flag(help: "CSV (the billing system's import) instead of a table.") var csv = false
        func run() async throws {
            var query = ["format=\(csv ? "csv" : "json")"]
            for (k, v) in [("account", account), ("since", since), ("until", until)] {
                if let v { query.append("\(k)=\(v.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? v)") }
            }
            let r = try await options.request("GET", "/api/v1/fraud/report?" + query.joined(separator: "&"))
            guard !csv, !options.json else { return print(r.body, terminator: "") }
            let calls = try JSONDecoder.api.decode([CallView].self, from: Data(r.body.utf8))
            var seconds = 0
            for c in calls {
                seconds += c.billedSeconds
                print(
                    "\(MamoriTime.iso(c.start))  \(c.account)  +\(c.number) \(c.destination) (\(c.country))  \(c.billedSeconds) s  \(c.outcome)"
                )
            }
            print("\(calls.count) calls, \(seconds / 60) min \(seconds % 60) s")
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a file of call records to the server (each line read or refused by reason).")
        @OptionGroup var options: Options
        @Argument(help: "The file.") var file: String
        @Option(help: "kamailio, asterisk, or the name of a configured csv feed.") var format: String
        func run() async throws {
            let r = try await options.request("POST", "/api/v1/fraud/cdrs?format=\(format)", file: file)
            print(r.body)
        }
    }

    struct StatusView: Decodable {
        var feeds: [String]
        var linesFollowed: Int
        var linesNotFollowed: Int
        var openFindings: Int
        var rulesActive: Int
        var rulesPending: Int
        var callsTaken: Int
        var publishedTo: String?
        var publications: Int
        var publishError: String?
        var clocks: [ClockView]?
    }

    struct ClockView: Decodable {
        var feed: String
        var offsetSeconds: Double?
        var state: String
        var recordsCorrected: Int
    }

    struct Figures: Decodable {
        var attempts: Int
        var fraudulentAttempts: Int
        var share: Double { attempts > 0 ? Double(fraudulentAttempts) / Double(attempts) : 0 }
    }

    struct RuleView: Decodable {
        var id: String
        var scope: String
        var prefix: String
        var country: String
        var name: String
        var expiresAt: Int64
        var endReason: String?
        var approvedBy: String?
        var figures: Figures
    }

    struct RulesView: Decodable {
        var active: [RuleView]
        var pending: [RuleView]
        var dryRun: [RuleView]
        var history: [RuleView]
    }

    struct CallView: Decodable {
        var account: String
        var start: Int64
        var number: String
        var country: String
        var destination: String
        var billedSeconds: Int
        var outcome: String
    }
}

struct FraudError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

enum MamoriTime {
    static func iso(_ ms: Int64) -> String { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(ms) / 1000)) }
}

extension JSONDecoder {
    /// The API's snake_case keys.
    static var api: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
