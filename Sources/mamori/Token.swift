import Accounts
import ArgumentParser
import Foundation
import Storage

/// `mamori token create|revoke|list`: machine tokens for scripts, offline on the data directory
/// or online through a running server's accounts API (`--server`).
struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage machine tokens for scripts: offline in the data directory (server stopped), or online with --server.",
        discussion: """
            A script authenticates to `mamori serve` with a token instead of a password \
            (Authorization: Bearer mamori_…). A token acts for the account that made it, with a \
            scope — a list of permissions, never more than that account's role grants — and an \
            expiry. It is printed once, when it is made: Mamori keeps only its SHA-256 and cannot \
            show it again. Revoke a token that may have leaked and make a new one.

            Offline (the default), these commands work on <data-dir>/accounts.sqlite with the \
            server stopped; `create` names the admin the token acts for (--created-by). Online, \
            with --server HOST:PORT, they ask the running server's accounts API (/api/v1/tokens), \
            presenting an admin's token with manage_tokens from --token-file (a file only its owner \
            can read) or MAMORI_TOKEN, never the command line; a token made online acts for the \
            account of the token presented, with a scope no wider than that token's, and --expires \
            is in whole days.

            Permissions: \(Permission.allCases.map(\.rawValue).joined(separator: ", ")).

            Offline:
              mamori token create grafana --scope read_metrics --expires 90d --created-by alice
              mamori token create triage --scope read_findings,record_verdict --expires 30d --created-by alice
              mamori token list
              mamori token revoke 3f9c0a1b2c3d4e5f

            Online, the server running:
              export MAMORI_TOKEN="$(cat ~/.mamori-admin.token)"
              mamori token create nightly-whois --scope read_findings --expires 30d --server 127.0.0.1:8080 > whois.token
              mamori token list --server 127.0.0.1:8080
              mamori token revoke 3f9c0a1b2c3d4e5f --server 127.0.0.1:8080
            """,
        subcommands: [Create.self, Revoke.self, List.self]
    )

    /// How a list shows a token's state.
    static func state(revokedAt: Int64?, expiresAt: Int64, now: Int64) -> String {
        revokedAt != nil ? "revoked \(AccountsOffline.date(revokedAt))" : now >= expiresAt ? "expired" : "active"
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a token and print it, once.")
        @Argument(help: "What the token is for: 1–64 characters of a-z, 0-9, '.', '_', '-'.") var name: String
        @Option(help: ArgumentHelp("Comma-separated permissions.", valueName: "p1,p2")) var scope: String
        @Option(
            help: ArgumentHelp(
                "How long it is valid: days (30d) or, offline, hours (12h); at most 366 days.", valueName: "duration"))
        var expires: String
        @Option(help: ArgumentHelp("Offline: the admin account the token acts for.", valueName: "name")) var createdBy: String?
        @OptionGroup var options: AccountsOptions

        func validate() throws {
            guard Permission.parseList(scope) != nil else {
                throw ValidationError("--scope: a comma-separated list of \(Permission.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard Self.milliseconds(expires) != nil else { throw ValidationError("--expires: a number of days (30d) or hours (12h)") }
            if options.server == nil {
                guard createdBy != nil else { throw ValidationError("--created-by: offline, name the admin the token acts for") }
            } else {
                guard createdBy == nil else {
                    throw ValidationError(
                        "--created-by is for offline use: with --server the token acts for the account whose token you present")
                }
                guard AccountsOnline.days(expires) != nil else {
                    throw ValidationError("--expires: with --server, whole days from 1d to 366d (the API counts days)")
                }
            }
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
            let permissions = Permission.parseList(scope) ?? []
            switch try options.mode("token create", needs: .manageTokens) {
            case .online(let online):
                let t = try await online.createToken(name: name, scope: permissions, days: AccountsOnline.days(expires) ?? 0)
                guard let presented = t.token else { throw AccountsCommandError("the server made token \(t.id) but did not show it") }
                Self.announce(
                    id: t.id, name: t.name, creator: t.createdByName ?? t.createdBy, scope: t.scope.joined(separator: ","),
                    expires: t.expiresAt)
                print(presented)
            case .offline(let offline):
                let createdBy = createdBy ?? ""
                let creator = try await offline.account(named: createdBy)
                guard creator.role.grants(.manageTokens) else {
                    throw AccountsCommandError("\(createdBy) is \(creator.role.rawValue); tokens are made for admins")
                }
                let now = AccountsOffline.now
                var random = SystemRandomNumberGenerator()
                let change = try offline.workflow.createToken(
                    name: name, permissions: permissions, expiresAt: now + (Self.milliseconds(expires) ?? 0),
                    creator: creator, by: .console, at: now, using: &random)
                try await offline.perform(change.actions)
                let t = change.value.token
                Self.announce(id: t.id, name: t.name, creator: creator.name, scope: Permission.list(t.permissions), expires: t.expiresAt)
                print(change.value.presented.revealed)
            }
        }

        /// What the token is, on standard error; standard output gets the token alone.
        static func announce(id: String, name: String, creator: String, scope: String, expires: Int64) {
            FileHandle.standardError.write(
                Data(
                    "token \(id) (\(name)) for \(creator), scope \(scope), expires \(AccountsOffline.date(expires)).\nIt is shown this once: Mamori keeps only its digest. Store it now.\n"
                        .utf8))
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token: it stops working at once.")
        @Argument(help: "The token's id (as `mamori token list` shows it).") var id: String
        @OptionGroup var options: AccountsOptions

        func run() async throws {
            switch try options.mode("token revoke", needs: .manageTokens) {
            case .online(let online):
                let t = try await online.revokeToken(id)
                print("token \(t.id) (\(t.name)) revoked")
            case .offline(let offline):
                guard let token = try await offline.store.token(id: id) else { throw AccountsCommandError("no token with id \(id)") }
                let change = try offline.workflow.revokeToken(token, by: .console, at: AccountsOffline.now)
                try await offline.perform(change.actions)
                print("token \(id) (\(token.name)) revoked")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens (never their secrets).")
        @OptionGroup var options: AccountsOptions

        func run() async throws {
            let now = AccountsOffline.now
            var rows: [[String]] = []
            switch try options.mode("token list", needs: .manageTokens) {
            case .online(let online):
                for t in try await online.tokens() {
                    rows.append([
                        t.id, t.name, t.createdByName ?? t.createdBy, t.scope.joined(separator: ","), AccountsOffline.date(t.createdAt),
                        AccountsOffline.date(t.expiresAt), Token.state(revokedAt: t.revokedAt, expiresAt: t.expiresAt, now: now),
                    ])
                }
            case .offline(let offline):
                let names = Dictionary(try await offline.store.accounts().map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
                for t in try await offline.store.tokens() {
                    rows.append([
                        t.id, t.name, names[t.createdBy] ?? t.createdBy, Permission.list(t.permissions), AccountsOffline.date(t.createdAt),
                        AccountsOffline.date(t.expiresAt), Token.state(revokedAt: t.revokedAt, expiresAt: t.expiresAt, now: now),
                    ])
                }
            }
            print("id\tname\tcreated by\tscope\tcreated\texpires\tstate")
            for row in rows { print(row.joined(separator: "\t")) }
        }
    }
}
