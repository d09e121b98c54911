import APIClient
import ArgumentParser
import Foundation
import MamoriCore

/// `mamori share …`: sharing with other carriers through a running server's `/api/v1/sharing`.
struct Share: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "share",
        abstract: "Share C&C indicators with other carriers (STIX 2.1 over TAXII 2.1): export, pull, peers.",
        discussion: """
            Works through a running `mamori serve` with a `sharing:` section (docs/taxii.md).

            - export: the STIX 2.1 bundle of the C&C findings analysts confirmed since a time, as \
            the server's TAXII collection gets them (sharing.export). Everything passes the \
            sharing guard first: nothing holding a subscriber-side address, a CGNAT port, a \
            pseudonym, an e-mail address or an account leaves; the number refused is printed to \
            standard error.
            - peers: the peers Mamori pulls indicators from (sharing.peers), with their bookmark, \
            the indicators held, the last pull and its error.
            - pull NAME: pull a peer's collection now instead of at its next interval.
            - push NAME [--from-start]: send a push peer (push: true) what it has not taken yet of             the export collection — the server also tries every minute, so this is for "now";             --from-start sends the whole collection (a new peer's backlog).
            - import FILE --source NAME: a STIX 2.1 bundle a peer sent by other means (e-mail, a \
            portal) as the indicators of source file:NAME; importing a newer file of the same \
            source merges it (newer versions replace, revoked ones are dropped).

            Reading (peers, export) needs read_findings; pull, push and import need manage_sharing \
            (an analyst). The token comes from --token-file (a \
            file only its owner can read) or MAMORI_TOKEN.

            Examples:
              mamori share export --since 2026-12-01 --tlp amber > bundle.json
              mamori share peers --server 127.0.0.1:8080 --token-file ~/.mamori-token
              mamori share pull isac
              mamori share push isac --from-start
              mamori share import jpcert-2026-12-06.json --source jpcert
            """,
        subcommands: [Export.self, Import.self, Peers.self, Pull.self, Push.self]
    )

    struct Options: ParsableArguments {
        @Option(help: ArgumentHelp("The mamori serve to ask (HOST:PORT).", valueName: "host:port"))
        var server: String = "127.0.0.1:8080"

        @OptionGroup var credentials: APITokenOptions

        @Flag(help: "Print the server's JSON answer instead of text.")
        var json = false

        /// Sends one request; stops with a sentence that says why when it gets no usable answer.
        func request(_ method: String, _ path: String, body: [UInt8] = []) async throws -> (status: Int, body: String) {
            let online = OnlineRequest(
                command: "mamori share", server: server, credentials: credentials,
                needs: { m, _ in m == "GET" ? "read_shared" : "write_shared" }, fail: { ShareError($0) })
            return try await online.send(method, path, .bytes(body, contentType: "application/stix+json;version=2.1"))
        }

        func expect(_ answer: (status: Int, body: String), _ what: String) throws -> String {
            guard answer.status == 200 else {
                throw ShareError("\(what): the server answered \(answer.status): \(MamoriAPIClient.refusal(answer.body))")
            }
            return answer.body
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the STIX 2.1 bundle of the C&C findings confirmed since a time.")

        @Option(help: ArgumentHelp("From when: a day (2026-12-01) or an RFC 3339 time; default 30 days ago.", valueName: "time"))
        var since: String?

        @Option(
            help: ArgumentHelp("The TLP marking: clear, green, amber, amber+strict or red (default: sharing.export's).", valueName: "tlp"))
        var tlp: String?

        @OptionGroup var options: Options

        func run() async throws {
            var query: [String] = []
            if let since { query.append("since=" + Self.escape(since)) }
            if let tlp { query.append("tlp=" + Self.escape(tlp)) }
            let body = try options.expect(
                try await options.request("GET", "/api/v1/sharing/export" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))),
                "export")
            print(body, terminator: body.hasSuffix("\n") ? "" : "\n")
            if let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] {
                let objects = object["objects"] as? [[String: Any]] ?? []
                let indicators = objects.filter { $0["type"] as? String == "indicator" }.count
                FileHandle.standardError.write(Data("\(indicators) indicator(s), \(objects.count) object(s)\n".utf8))
            }
        }

        static func escape(_ s: String) -> String {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~:")
            return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a STIX 2.1 bundle from a file as a source's indicators.")

        @Argument(help: "The bundle (JSON).")
        var file: String

        @Option(help: ArgumentHelp("The source's name (a-z, 0-9, '-', '_'): its indicators become source file:NAME.", valueName: "name"))
        var source: String

        @OptionGroup var options: Options

        func run() async throws {
            guard let size = (try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int else {
                throw ShareError("cannot read \(file)")
            }
            guard size <= 64 << 20 else { throw ShareError("\(file) is larger than 64 MiB") }
            guard let data = FileManager.default.contents(atPath: file) else { throw ShareError("cannot read \(file)") }
            let answer = try await options.request(
                "POST", "/api/v1/sharing/import?source=\(Export.escape(source))", body: Array(data))
            guard answer.status == 200 || answer.status == 422 else {
                _ = try options.expect(answer, "import")
                return
            }
            if options.json { return print(answer.body, terminator: "") }
            let o = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]) ?? [:]
            if let error = o["error"] as? String { throw ShareError("import \(file) failed: \(error)") }
            let skipped = (o["skipped"] as? [String: Int] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            print(
                "file:\(source): \(o["objects"] as? Int ?? 0) object(s), \(o["imported"] as? Int ?? 0) indicator(s) imported, "
                    + "\(o["revoked"] as? Int ?? 0) revoked, \(o["held"] as? Int ?? 0) held"
                    + (skipped.isEmpty ? "" : "; skipped: " + skipped.joined(separator: ", ")))
        }
    }

    struct PeerView: Decodable {
        var kind: String?
        var name: String
        var apiRoot: String
        var collection: String
        var pullMinutes: Int
        var bookmark: String?
        var indicators: Int
        var lastPull: String?
        var lastError: String?
        var pull: Bool?
        var push: Bool?
        var pushedUpTo: String?
        var lastPushError: String?
    }

    struct Peers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the peers indicators are pulled from, with their state.")

        @OptionGroup var options: Options

        func run() async throws {
            let body = try options.expect(try await options.request("GET", "/api/v1/sharing/peers"), "peers")
            if options.json { return print(body, terminator: "") }
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let peers = try decoder.decode([PeerView].self, from: Data(body.utf8))
            for p in peers {
                var line = p.kind == "misp" ? "\(p.name)  MISP feed \(p.apiRoot)" : "\(p.name)  \(p.apiRoot)collections/\(p.collection)/"
                if p.pull ?? true {
                    line +=
                        "  every \(p.pullMinutes) min  \(p.indicators) indicator(s)  "
                        + "last pull \(p.lastPull ?? "never")  bookmark \(p.bookmark ?? "none")"
                        + (p.lastError.map { "  ERROR \($0)" } ?? "")
                }
                if p.push == true {
                    line += "  push: up to \(p.pushedUpTo ?? "nothing yet")" + (p.lastPushError.map { "  PUSH ERROR \($0)" } ?? "")
                }
                print(line)
            }
        }
    }

    struct Pull: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pull a peer's collection now.")

        @Argument(help: "The peer's name (sharing.peers[].name).")
        var name: String

        @OptionGroup var options: Options

        func run() async throws {
            let answer = try await options.request("POST", "/api/v1/sharing/peers/\(Export.escape(name))/pull")
            guard answer.status == 200 || answer.status == 502 else {
                _ = try options.expect(answer, "pull \(name)")
                return
            }
            if options.json { return print(answer.body, terminator: "") }
            let o = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]) ?? [:]
            if let error = o["error"] as? String { throw ShareError("pull \(name) failed: \(error)") }
            let skipped = (o["skipped"] as? [String: Int] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            print(
                "\(name): \(o["objects"] as? Int ?? 0) object(s), \(o["imported"] as? Int ?? 0) indicator(s) imported, "
                    + "\(o["revoked"] as? Int ?? 0) revoked, \(o["held"] as? Int ?? 0) held"
                    + (skipped.isEmpty ? "" : "; skipped: " + skipped.joined(separator: ", ")))
        }
    }
}

extension Share {
    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a push peer what it has not taken yet of the export collection (all of it with --from-start).")

        @Argument(help: "The peer's name (sharing.peers[].name, with push: true).")
        var name: String

        @Flag(help: "Forget the peer's bookmark and send the whole collection (versions already there are not duplicated).")
        var fromStart = false

        @OptionGroup var options: Share.Options

        func run() async throws {
            let path = "/api/v1/sharing/peers/\(Export.escape(name))/push" + (fromStart ? "?from_start=true" : "")
            let answer = try await options.request("POST", path)
            guard answer.status == 200 || answer.status == 502 else {
                _ = try options.expect(answer, "push \(name)")
                return
            }
            if options.json { return print(answer.body, terminator: "") }
            let o = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]) ?? [:]
            if let error = o["error"] as? String {
                throw ShareError(
                    "push \(name) failed after \(o["sent"] as? Int ?? 0) object(s): \(error); the server tries again every minute")
            }
            let refused = o["refused_by_peer"] as? Int ?? 0
            print(
                "\(name): \(o["sent"] as? Int ?? 0) object(s) pushed" + (refused > 0 ? ", \(refused) refused by the peer" : "")
                    + "; up to \(o["pushed_up_to"] as? String ?? "nothing yet")")
        }
    }
}

struct ShareError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d.replacingOccurrences(of: "\n", with: " ") }
}
