import APIClient
import ArgumentParser
import Foundation
import MamoriCore

/// `mamori rpz …`: the DNS sinkhole's entries, through a running server's `/api/v1/sinkhole`.
struct RPZ: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpz",
        abstract: "List, show, add and remove the DNS sinkhole's entries (the RPZ zones the resolvers follow).",
        discussion: """
            Works through a running `mamori serve` with a `sinkhole:` section: the server changes the \
            policy, writes each change to the audit log under the name of the token's account, serves \
            the new zone version and sends NOTIFY to the resolvers, which fetch it by IXFR within \
            seconds. Reading needs read_findings (a viewer); adding and removing need change_sinkhole \
            (an analyst or admin). The token comes from --token-file or MAMORI_TOKEN.

            A trigger is a DNS name (the name and its subdomains are rewritten) or an address or \
            prefix (RPZ rpz-ip: any answer pointing into it is rewritten, whatever name led there).

            Examples:
              mamori rpz list --server 127.0.0.1:8080
              mamori rpz add c2.example.net --reason "ISAC indicator 2026-12-01" --days 30 --server 127.0.0.1:8080
              mamori rpz add 203.0.113.7 --reason "C&C of finding c2-server:…" --server 127.0.0.1:8080
              mamori rpz show c2.example.net --server 127.0.0.1:8080
              mamori rpz remove c2.example.net --server 127.0.0.1:8080
            """,
        subcommands: [List.self, Show.self, Add.self, Remove.self]
    )

    struct Options: ParsableArguments {
        @Option(help: ArgumentHelp("The mamori serve to ask (HOST:PORT or http://HOST:PORT).", valueName: "host:port"))
        var server: String = "127.0.0.1:8080"

        @OptionGroup var credentials: APITokenOptions

        @Flag(help: "Print the server's JSON answer instead of text.")
        var json = false

        /// Sends one request; returns the status and body, or stops with a sentence that says why.
        func request(_ method: String, _ path: String, body: [UInt8]? = nil) async throws -> (status: Int, body: String) {
            let online = OnlineRequest(command: "mamori rpz", server: server, credentials: credentials, fail: { RPZError($0) })
            return try await online.send(method, path, body.map { .bytes($0) } ?? .none)
        }

        /// The body when the status is one of `accepted`; else stops with the server's reason.
        func expect(_ answer: (status: Int, body: String), _ accepted: Set<Int>, _ what: String) throws -> String {
            guard accepted.contains(answer.status) else {
                if answer.status == 404 && answer.body.contains("\"error\"") && !answer.body.contains("no entry") {
                    throw RPZError("the server has no sinkhole (no `sinkhole:` section in its configuration)")
                }
                throw RPZError("\(what): the server answered \(answer.status): \(MamoriAPIClient.refusal(answer.body))")
            }
            return answer.body
        }
    }

    /// An entry as the API answers it.
    struct Entry: Decodable {
        var trigger: String
        var action: String
        var source: String
        var sourceId: String
        var reason: String
        var addedAt: Int64
        var expiresAt: Int64?
        var ttl: Int

        var line: String {
            "\(trigger)\t\(action)\t\(source):\(sourceId)\t\(expiresAt.map(Self.date) ?? "never")\t\(reason)"
        }

        static func date(_ seconds: Int64) -> String {
            let f = ISO8601DateFormatter()
            f.formatOptions = [.withInternetDateTime]
            return f.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        }
    }

    static func query(_ trigger: String) -> String {
        "trigger="
            + (trigger.addingPercentEncoding(
                withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:"))
                ?? "")
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The entries, one per line: trigger, action, source, expiry, reason; then the zones' serials.")
        @OptionGroup var options: Options
        @Option(help: "At most this many entries.") var limit = 1000

        func run() async throws {
            let body = try options.expect(try await options.request("GET", "/api/v1/sinkhole/entries?limit=\(limit)"), [200], "rpz list")
            if options.json { return print(body, terminator: "") }
            struct Page: Decodable {
                var total: Int
                var entries: [Entry]
            }
            let page = try APIJSON.decoder().decode(Page.self, from: Data(body.utf8))
            for e in page.entries { print(e.line) }
            let status = try options.expect(try await options.request("GET", "/api/v1/sinkhole"), [200], "rpz list")
            struct Status: Decodable {
                var zone: String
                var serial: UInt32
                var exemptionZone: String
                var exemptionSerial: UInt32
                var exemptedSubscribers: Int
            }
            let s = try APIJSON.decoder().decode(Status.self, from: Data(status.utf8))
            print(
                "\(page.total) entries (\(page.entries.count) shown); \(s.zone) serial \(s.serial); \(s.exemptionZone) serial \(s.exemptionSerial), \(s.exemptedSubscribers) subscribers exempted"
            )
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One entry, by its trigger (a name, or an address or prefix).")
        @OptionGroup var options: Options
        @Argument(help: "The trigger.") var trigger: String

        func run() async throws {
            let body = try options.expect(
                try await options.request("GET", "/api/v1/sinkhole/entry?\(RPZ.query(trigger))"), [200], "rpz show \(trigger)")
            if options.json { return print(body, terminator: "") }
            print(try APIJSON.decoder().decode(Entry.self, from: Data(body.utf8)).line)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sinkhole a name or an address (or renew it); refused for protected, popular and top-level names.")
        @OptionGroup var options: Options
        @Argument(help: "A DNS name (c2.example.net) or an address or prefix (203.0.113.7, 2001:db8::/48).") var trigger: String
        @Option(help: "Why: one line, kept in the audit log.") var reason: String
        @Option(help: "Days until the entry expires (0: never; default: the server's sinkhole.entry_days).") var days: Int?
        @Option(help: "sinkhole (answer with the sinkhole), nxdomain, or passthru (a hole in a broader entry).") var action = "sinkhole"

        func run() async throws {
            struct Body: Encodable {
                var trigger: String
                var reason: String
                var action: String
                var days: Int?
            }
            let bytes = [UInt8](try JSONEncoder().encode(Body(trigger: trigger, reason: reason, action: action, days: days)))
            let body = try options.expect(
                try await options.request("POST", "/api/v1/sinkhole/entries", body: bytes), [200, 201], "rpz add \(trigger)")
            if options.json { return print(body, terminator: "") }
            struct Answer: Decodable {
                var change: String
                var entry: Entry?
            }
            let a = try APIJSON.decoder().decode(Answer.self, from: Data(body.utf8))
            print("\(a.change): \(a.entry?.line ?? trigger)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove an entry; the resolvers answer truly again after their next transfer.")
        @OptionGroup var options: Options
        @Argument(help: "The trigger, as `mamori rpz list` prints it.") var trigger: String

        func run() async throws {
            let body = try options.expect(
                try await options.request("DELETE", "/api/v1/sinkhole/entry?\(RPZ.query(trigger))"), [200], "rpz remove \(trigger)")
            if options.json { return print(body, terminator: "") }
            print("removed: \(trigger)")
        }
    }
}

/// A failure of `mamori rpz`: printed without the usage text.
struct RPZError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
