import APIClient
import ArgumentParser
import Foundation

/// `mamori consent import FILE`: sends the customer system's export to the running server.
struct Consent: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Keep the consent registry in step with the carrier's customer system.",
        subcommands: [Import.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a customer export (CSV) into the server's consent registry.",
            discussion: """
                One subscriber per line; the header names the columns:

                  account,email,language,terms_version,terms_accepted,warn_infection,warn_vulnerability,sinkhole_dns
                  A-0001,taro@example.jp,ja,v3,2025-04-01,,,opt_out@2026-03-01

                Accounts are pseudonymised by the server and never stored. Per action: consent, \
                withdrawn, opt_out or no_opt_out, optionally @DATE. Importing the same file again \
                changes nothing; a later export adds only what changed, and the full history is kept. \
                Bad lines are reported with their number and skipped. Every import is audited.

                The server wants an operator's machine token with change_consent, read from \
                --token-file (a file only its owner can read) or the environment variable \
                MAMORI_TOKEN, never from the command line. Make one while the server is stopped: \
                mamori token create consent-import --scope change_consent --expires 30d --created-by ADMIN.

                  mamori consent import customers.csv --server 127.0.0.1:8080 --token-file /etc/mamori/import.token
                """
        )

        @Argument(help: ArgumentHelp("The customer export (CSV, UTF-8).", valueName: "file"))
        var file: String

        @Option(help: ArgumentHelp("Where mamori serve's HTTP API listens.", valueName: "host:port"))
        var server: String = "127.0.0.1:8080"

        @OptionGroup var credentials: APITokenOptions

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            let name = (file as NSString).lastPathComponent.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "file"
            let token = try credentials.token()
            let response = try await Whois.askServer(server, token: token, needs: "change_consent", command: "consent import") {
                try await $0.post("/api/v1/consent/import?source=\(name)", body: [UInt8](data), contentType: "text/csv; charset=utf-8")
            }
            guard response.status == 200, let json = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
            else {
                throw WhoisError("the server answered \(response.status): \(response.body.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            let rejected = json["rejected"] as? [[String: Any]] ?? []
            print(
                "imported \(json["subscribers"] ?? 0) subscribers: \(json["events"] ?? 0) consent events, \(json["contacts"] ?? 0) contacts updated, \(rejected.count) lines refused"
            )
            for r in rejected {
                print("  line \(r["line"] ?? "?"): \(r["reason"] ?? "?")")
            }
        }
    }
}
