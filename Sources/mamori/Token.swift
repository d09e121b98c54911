import Accounts
import ArgumentParser
import Foundation
import Storage

/// `mamori token create|revoke|list`: machine tokens for scripts, offline on the data directory.
struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage machine tokens for scripts (offline: stop the server first).",
        discussion: """
            A script authenticates to `mamori serve` with a token instead of a password \
            (Authorization: Bearer mamori_…). A token acts for the account that made it, with a \
            scope — a list of permissions, never more than that account's role grants — and an \
            expiry. It is printed once, when it is made: Mamori keeps only its SHA-256 and cannot \
            show it again. Revoke a token that may have leaked and make a new one.

            Permissions: \(Permission.allCases.map(\.rawValue).joined(separator: ", ")).

              mamori token create grafana --scope read_metrics --expires 90d --created-by alice
              mamori token create triage --scope read_findings,record_verdict --expires 30d --created-by alice
              mamori token list
              mamori token revoke 3f9c0a1b2c3d4e5f
            """,
        subcommands: [Create.self, Revoke.self, List.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a token and print it, once.")
        @Argument(help: "What the token is for: 1–64 characters of a-z, 0-9, '.', '_', '-'.") var name: String
        @Option(help: ArgumentHelp("Comma-separated permissions.", valueName: "p1,p2")) var scope: String
        @Option(help: ArgumentHelp("How long it is valid: days (30d) or hours (12h); at most 366 days.", valueName: "duration"))
        var expires: String
        @Option(help: ArgumentHelp("The admin account the token acts for.", valueName: "name")) var createdBy: String
        @OptionGroup var options: AccountsOffline.Options

        func validate() throws {
            guard Permission.parseList(scope) != nil else {
                throw ValidationError("--scope: a comma-separated list of \(Permission.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard Self.milliseconds(expires) != nil else { throw ValidationError("--expires: a number of days (30d) or hours (12h)") }
        }

        /// `30d` or `12h` in ms; nil for anything else.
        static func milliseconds(_ text: String) -> Int64? {
            guard let unit = text.last, let n = Int64(text.dropLast()), n > 0, n <= 100_000 else { return nil }
            switch unit {
            case "d": return n * 86_400_000
            case "h": return n * 3_600_000
            default: return nil
            }
        }

        func run() async throws {
            let offline = try AccountsOffline(options)
            let creator = try await offline.account(named: createdBy)
            guard creator.role.grants(.manageTokens) else {
                throw AccountsCommandError("\(createdBy) is \(creator.role.rawValue); tokens are made for admins")
            }
            let now = AccountsOffline.now
            var random = SystemRandomNumberGenerator()
            let change = try offline.workflow.createToken(
                name: name, permissions: Permission.parseList(scope) ?? [], expiresAt: now + (Self.milliseconds(expires) ?? 0),
                creator: creator, by: .console, at: now, using: &random)
            try await offline.perform(change.actions)
            let t = change.value.token
            FileHandle.standardError.write(
                Data(
                    "token \(t.id) (\(t.name)) for \(creator.name), scope \(Permission.list(t.permissions)), expires \(AccountsOffline.date(t.expiresAt)).\nIt is shown this once: Mamori keeps only its digest. Store it now.\n"
                        .utf8))
            print(change.value.presented.revealed)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: it stops working at once.")
        @Argument(help: "The token's id (as `mamori token list` shows it).") var id: String
        @OptionGroup var options: AccountsOffline.Options

        func run() async throws {
            let offline = try AccountsOffline(options)
            guard let token = try await offline.store.token(id: id) else { throw AccountsCommandError("no token with id \(id)") }
            let change = try offline.workflow.revokeToken(token, by: .console, at: AccountsOffline.now)
            try await offline.perform(change.actions)
            print("token \(id) (\(token.name)) revoked")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens (never their secrets).")
        @OptionGroup var options: AccountsOffline.Options

        func run() async throws {
            let offline = try AccountsOffline(options)
            let now = AccountsOffline.now
            let names = Dictionary(try await offline.store.accounts().map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            print("id\tname\tcreated by\tscope\tcreated\texpires\tstate")
            for t in try await offline.store.tokens() {
                let state = t.revokedAt != nil ? "revoked \(AccountsOffline.date(t.revokedAt))" : now >= t.expiresAt ? "expired" : "active"
                print(
                    "\(t.id)\t\(t.name)\t\(names[t.createdBy] ?? t.createdBy)\t\(Permission.list(t.permissions))\t\(AccountsOffline.date(t.createdAt))\t\(AccountsOffline.date(t.expiresAt))\t\(state)"
                )
            }
        }
    }
}
