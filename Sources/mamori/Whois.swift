import APIClient
import ArgumentParser
import Attribution
import FlowCodec
import Foundation
import IdentityCodec
import MamoriCore

struct Whois: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Which subscriber held an address (and, behind a CGNAT, a source port) at a time.",
        discussion: """
            Asks a running `mamori serve` (GET /api/v1/attribution) and prints the answer with its \
            evidence: attributed (one subscriber, with a confidence), ambiguous (several subscribers' \
            claims cover the time, or a CGNAT address without a port — Mamori does not guess) or \
            unknown. Subscribers appear as pseudonyms (s: + 16 hex digits, keyed by the server's \
            pseudonym key); the real identifier is shown only through an audited reveal.

            With identity files instead of a server (--radius-detail, --kea-leases4, --kea-leases6, \
            --nat-syslog, --static), the index is built from those files here, and pseudonyms use \
            --key-file (the server's data directory holds pseudonym.key).

            Times: RFC 3339 (2026-11-23T10:00:00Z) or milliseconds since the epoch.

            Asking a server needs an operator's machine token with read_findings, read from \
            --token-file (a file only its owner can read) or the environment variable MAMORI_TOKEN, \
            never from the command line. Make one while the server is stopped: \
            mamori token create whois --scope read_findings --expires 30d --created-by ADMIN.

            Many at once (an abuse desk's complaints): --batch FILE, one question a line, \
            ADDRESS,PORT,TIME (PORT may be empty; '#' starts a comment; '-' reads standard input). \
            Prints one CSV line per question, in order — address,port,at,outcome,subscriber,\
            confidence — or JSON lines with --json; a malformed line is reported with its number \
            and answered "error", and the others are still answered.

            Examples:
              mamori whois 198.18.0.7 --port 40123 --at 2026-11-23T10:00:00Z --token-file ~/.mamori-token
              MAMORI_TOKEN="$(cat ~/.mamori-token)" mamori whois 2001:db8:100:1::5 --at 2026-11-23T10:00:00Z --json
              mamori whois 198.18.0.7 --port 40123 --at 2026-01-01T00:05:00Z --radius-detail detail --nat-syslog nat.log
              mamori whois --batch complaints.csv --token-file ~/.mamori-token > answers.csv
            """
    )

    @Argument(help: "The address (IPv4 or IPv6) seen in a flow or finding.")
    var address: String?

    @Option(
        help: ArgumentHelp("Answer every question in FILE instead: lines of ADDRESS,PORT,TIME ('-': standard input).", valueName: "file"))
    var batch: String?

    @Option(help: "Source port: needed behind a CGNAT, where an address is shared by many subscribers.")
    var port: UInt16?

    @Option(help: ArgumentHelp("When: RFC 3339 or milliseconds since the epoch. Default: now.", valueName: "time"))
    var at: String?

    @Option(help: ArgumentHelp("The `mamori serve` HTTP endpoint to ask.", valueName: "host:port"))
    var server: String = "127.0.0.1:8080"

    @OptionGroup var credentials: APITokenOptions

    @Flag(help: "Print the answer as JSON (the API's body).")
    var json = false

    @Option(help: ArgumentHelp("Offline: a FreeRADIUS detail file (repeatable).", valueName: "file"))
    var radiusDetail: [String] = []
    @Option(help: ArgumentHelp("Offline: a Kea DHCPv4 memfile lease CSV (repeatable).", valueName: "file"))
    var keaLeases4: [String] = []
    @Option(help: ArgumentHelp("Offline: a Kea DHCPv6 memfile lease CSV (repeatable).", valueName: "file"))
    var keaLeases6: [String] = []
    @Option(help: ArgumentHelp("Offline: CGNAT port-block syslog lines (repeatable).", valueName: "file"))
    var natSyslog: [String] = []
    @Option(
        name: .customLong("static"),
        help: ArgumentHelp("Offline: static assignments CSV (prefix,subscriber,valid_from,valid_until).", valueName: "file"))
    var staticAssignments: [String] = []
    @Option(help: ArgumentHelp("Offline: the pseudonym key (the server's data directory has pseudonym.key).", valueName: "file"))
    var keyFile: String = "mamori-data/pseudonym.key"

    var offline: Bool {
        !(radiusDetail.isEmpty && keaLeases4.isEmpty && keaLeases6.isEmpty && natSyslog.isEmpty && staticAssignments.isEmpty)
    }

    func validate() throws {
        if batch != nil {
            guard address == nil, port == nil, at == nil else {
                throw ValidationError("--batch takes its addresses, ports and times from the file: give no ADDRESS, --port or --at")
            }
            return
        }
        guard let address else { throw ValidationError("give an ADDRESS, or --batch FILE") }
        guard IPAddress(address) != nil else { throw ValidationError("'\(address)' is not an IPv4 or IPv6 address") }
        if let at, Self.time(at) == nil {
            throw ValidationError("--at must be RFC 3339 (2026-11-23T10:00:00Z) or milliseconds since the epoch; got '\(at)'")
        }
    }

    static func time(_ text: String) -> Int64? {
        if let ms = Int64(text) { return ms }
        return UTCTime.milliseconds(rfc3339: text[...])
    }

    func run() async throws {
        if let batch { return try await runBatch(batch) }
        let address = address! // validate() requires it without --batch
        let time = at.flatMap(Self.time) ?? Int64(Date().timeIntervalSince1970 * 1000)
        let body: String
        if offline {
            body = try offlineAnswer(at: time)
        } else {
            var path = "/api/v1/attribution?addr=\(address)&at=\(time)"
            if let port { path += "&port=\(port)" }
            body = try await Self.askServer(server, token: credentials.token(), needs: "read_findings", command: "whois") {
                try await $0.get(path).ok()
            }
        }
        if json {
            print(body.trimmingCharacters(in: .whitespacesAndNewlines))
        } else {
            print(try Self.readable(body))
        }
    }

    /// Builds an index from the files given and answers as the server would.
    func offlineAnswer(at time: Int64) throws -> String {
        let (index, pseudonymizer) = try offlineIndex()
        let answer = index.lookup(IPAddress(address!)!, port: port, at: time)
        struct Body: Encodable { var address: String, port: UInt16?, at: Int64, answer: AttributionAnswer }
        let body = Body(address: address!, port: port, at: time, answer: AttributionAnswer(answer, pseudonymizer: pseudonymizer))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(body), as: UTF8.self)
    }

    /// The index over the identity files given, and the pseudonymiser of `--key-file`.
    func offlineIndex() throws -> (AttributionIndex, SubscriberPseudonymizer) {
        guard let key = FileManager.default.contents(atPath: keyFile), key.count >= 16 else {
            throw WhoisError("cannot read the pseudonym key \(keyFile): give --key-file (the server's data directory holds pseudonym.key)")
        }
        var index = AttributionIndex()
        func read(_ path: String) throws -> String {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw WhoisError("cannot read \(path)") }
            return text
        }
        for path in radiusDetail {
            let parsed = try FreeRADIUSDetail.parse(try read(path)[...])
            for entry in parsed.entries {
                guard let record = try? entry.accountingRecord() else { continue }
                index.apply(record, from: record.nasIPAddress ?? .unspecifiedV4, receivedAt: entry.writtenAtMilliseconds)
            }
        }
        for path in keaLeases4 { for l in try KeaLeaseFile.parse4(try read(path)[...]) { index.apply(l) } }
        for path in keaLeases6 { for l in try KeaLeaseFile.parse6(try read(path)[...]) { index.apply(l) } }
        for path in natSyslog {
            for line in try read(path).split(separator: "\n") { if let e = try? NATPortBlockEvent(line: line) { index.apply(e) } }
        }
        for path in staticAssignments { for a in try StaticAssignment.parse(try read(path)[...]) { index.add(a) } }
        return (index, SubscriberPseudonymizer(key: [UInt8](key)))
    }

    // MARK: - Batch

    /// One line of a batch answer.
    struct BatchAnswer: Codable {
        var line: Int
        var address: String
        var port: UInt16?
        var at: Int64?
        var outcome: String
        var subscriber: String?
        var confidence: Double?
        var error: String?

        var csv: String {
            [
                address, port.map(String.init) ?? "", at.map(String.init) ?? "", outcome, subscriber ?? "",
                confidence.map { String(format: "%.2f", $0) } ?? "",
            ].joined(separator: ",")
        }
    }

    /// Answers every question of the file, offline or through the server's batch API.
    func runBatch(_ path: String) async throws {
        let text: String
        if path == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let t = try? String(contentsOfFile: path, encoding: .utf8) else { throw WhoisError("cannot read \(path)") }
            text = t
        }
        // Parse every line; a bad one is answered "error" in its place.
        var answers: [BatchAnswer] = []
        var questions: [(slot: Int, query: AttributionQuery)] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line =
                raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map {
                    $0.trimmingCharacters(in: .whitespaces)
                } ?? ""
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            func fail(_ why: String) {
                FileHandle.standardError.write(Data("mamori whois: \(path), line \(n + 1): \(why)\n".utf8))
                answers.append(BatchAnswer(line: n + 1, address: fields.first ?? "", outcome: "error", error: why))
            }
            guard fields.count == 3 else {
                fail("expected ADDRESS,PORT,TIME (PORT may be empty)")
                continue
            }
            guard let address = IPAddress(fields[0]) else {
                fail("'\(fields[0])' is not an IPv4 or IPv6 address")
                continue
            }
            var port: UInt16?
            if !fields[1].isEmpty {
                guard let p = UInt16(fields[1]) else {
                    fail("port must be a whole number from 0 to 65535")
                    continue
                }
                port = p
            }
            guard let time = Self.time(fields[2]) else {
                fail("the time must be RFC 3339 or milliseconds since the epoch")
                continue
            }
            questions.append((answers.count, AttributionQuery(address, port: port, at: time)))
            answers.append(BatchAnswer(line: n + 1, address: "\(address)", port: port, at: time, outcome: "?"))
        }
        let resolved = offline ? try resolveOffline(questions.map(\.query)) : try await resolveOnServer(questions.map(\.query))
        for (q, r) in zip(questions, resolved) {
            answers[q.slot].outcome = r.outcome
            answers[q.slot].subscriber = r.subscriber
            answers[q.slot].confidence = r.confidence
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out = json ? "" : "address,port,at,outcome,subscriber,confidence\n"
        for a in answers {
            out += json ? String(decoding: try encoder.encode(a), as: UTF8.self) : a.csv
            out += "\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    /// One resolved question: outcome, pseudonym, confidence.
    typealias Resolved = (outcome: String, subscriber: String?, confidence: Double)

    func resolveOffline(_ queries: [AttributionQuery]) throws -> [Resolved] {
        let (index, pseudonymizer) = try offlineIndex()
        var answers: [AttributionIndex.Resolution] = []
        index.resolve(queries, into: &answers)
        return answers.map { ($0.outcome.rawValue, $0.subscriber.map(pseudonymizer.pseudonym), $0.confidence) }
    }

    /// Through `POST /api/v1/attribution/batch`, 10,000 questions a request.
    func resolveOnServer(_ queries: [AttributionQuery]) async throws -> [Resolved] {
        struct Question: Encodable {
            var addr: String
            var port: UInt16?
            var at: String
        }
        struct Request: Encodable { var queries: [Question] }
        struct Answer: Decodable {
            var outcome: String?
            var subscriber: String?
            var confidence: Double?
        }
        struct Reply: Decodable { var answers: [Answer] }
        return try await Self.askServer(server, token: credentials.token(), needs: "read_findings", command: "whois --batch") { client in
            var out: [Resolved] = []
            var start = 0
            while start < queries.count {
                let chunk = queries[start..<min(start + 10_000, queries.count)]
                let body = try JSONEncoder().encode(
                    Request(queries: chunk.map { Question(addr: "\($0.address)", port: $0.port, at: "\($0.time)") }))
                let response = try await client.post("/api/v1/attribution/batch", body: [UInt8](body))
                guard response.status == 200, let reply = try? JSONDecoder().decode(Reply.self, from: Data(response.body.utf8)),
                    reply.answers.count == chunk.count
                else {
                    throw WhoisError(
                        "the server answered \(response.status): \(response.body.trimmingCharacters(in: .whitespacesAndNewlines))")
                }
                out += reply.answers.map { ($0.outcome ?? "error", $0.subscriber, $0.confidence ?? 0) }
                start += chunk.count
            }
            return out
        }
    }

    /// The JSON answer as a few lines for a person.
    static func readable(_ json: String) throws -> String {
        guard let top = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], let a = top["answer"] as? [String: Any]
        else {
            throw WhoisError("unexpected answer: \(json)")
        }
        func time(_ v: Any?) -> String {
            guard let ms = (v as? NSNumber)?.int64Value else { return "open" }
            return ms == 0 ? "ever" : UTCTime(milliseconds: ms).rfc3339
        }
        var lines: [String] = []
        let port = (top["port"] as? NSNumber).map { " port \($0)" } ?? ""
        lines.append("\(top["address"] as? String ?? "?")\(port) at \(time(top["at"]))")
        let outcome = a["outcome"] as? String ?? "?"
        switch outcome {
        case "attributed":
            lines.append(
                "  subscriber  \(a["subscriber"] as? String ?? "?")  (confidence \(String(format: "%.2f", (a["confidence"] as? Double) ?? 0)))"
            )
        case "ambiguous":
            let c = (a["candidates"] as? [String]) ?? []
            lines.append("  AMBIGUOUS" + (c.isEmpty ? "" : ": candidates \(c.joined(separator: ", "))"))
        default:
            lines.append("  UNKNOWN")
        }
        lines.append("  why         \(a["reason"] as? String ?? "")")
        for e in (a["evidence"] as? [[String: Any]]) ?? [] {
            var flags: [String] = []
            if e["start_inferred"] as? Bool == true { flags.append("start inferred") }
            if e["end_inferred"] as? Bool == true { flags.append("end inferred") }
            if e["within_skew_only"] as? Bool == true { flags.append("only within clock skew") }
            let who = e["subscriber"] as? String ?? "nobody known"
            lines.append(
                "  evidence    \(e["source"] as? String ?? "?"): \(e["matched"] as? String ?? "?") → \(who), \(time(e["held_from"])) – \(time(e["held_until"]))"
                    + (flags.isEmpty ? "" : " [\(flags.joined(separator: ", "))]"))
        }
        return lines.joined(separator: "\n")
    }

    /// Runs `body` with a client of the `mamori serve` at `server` (--server) that presents
    /// `token`; what goes wrong is said without the usage text, and a refusal (401, 403) says how
    /// to get a token with `permission`, which `mamori <command>` needs.
    static func askServer<T>(
        _ server: String, token: APIToken?, needs permission: String, command: String, _ body: (MamoriAPIClient) async throws -> T
    ) async throws -> T {
        let endpoint: SocketEndpoint
        do { endpoint = try SocketEndpoint(parsing: server) } catch { throw ValidationError("--server \(error)") }
        let create =
            "`mamori token create NAME --scope \(permission) --expires 30d --created-by ADMIN --data-dir DIR` while the server is stopped"
        do {
            return try await MamoriAPIClient.withClient(server: endpoint, token: token, body)
        } catch let failure as MamoriAPIClient.Failure {
            switch failure {
            case .unreachable: throw WhoisError("\(failure) (--server)")
            case .unauthenticated(let reason) where token == nil:
                throw WhoisError(
                    "the server at \(server) wants an operator token (401: \(reason)), and none was given: create one with \(create), "
                        + "then pass it with --token-file FILE (a file only you can read: chmod 600) or the environment variable "
                        + "\(APIToken.environmentVariable)")
            case .unauthenticated(let reason):
                throw WhoisError(
                    "the server at \(server) did not accept the token (401: \(reason)): it is unknown there, revoked or expired "
                        + "(`mamori token list`, with the server stopped, shows which); create a new one with \(create)")
            case .forbidden(let reason):
                throw WhoisError(
                    "the token's scope does not allow this (403: \(reason)): `mamori \(command)` needs a token with \(permission); "
                        + "create one with \(create)")
            default: throw WhoisError(failure.description)
            }
        }
    }
}

/// `--token-file`, or the environment variable MAMORI_TOKEN: the operator's machine token for
/// commands that ask a running server. Never a command-line value.
struct APITokenOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Read the operator's machine token (mamori_…) from this file, which only its owner may read; default: the environment variable MAMORI_TOKEN.",
            valueName: "file"))
    var tokenFile: String?

    /// The token from --token-file or MAMORI_TOKEN; nil when neither is given. A file others may
    /// read, or one that holds no token, is refused without the usage text.
    func token() throws -> APIToken? {
        do { return try APIToken.load(file: tokenFile) } catch let error as APITokenError { throw WhoisError(error.description) }
    }
}

/// A failure while answering (unreachable server, unreadable file): printed without the usage text.
struct WhoisError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
