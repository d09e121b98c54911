import Accounts
import ArgumentParser
import Foundation
import Storage

/// `mamori user add|passwd|role|disable|enable|unlock|list`: operator accounts, offline on the
/// data directory or online through a running server's accounts API (`--server`).
struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage operator accounts: offline in the data directory (server stopped), or online with --server.",
        discussion: """
            Operators log in to `mamori serve` with a name and a password. Roles: viewer (reads \
            findings, cases and metrics; subscribers as pseudonyms only), analyst (also verdicts, \
            case actions, consent events, identity reveal with a reason), admin (also accounts, \
            tokens, the configuration and actions that change the network).

            Offline (the default), these commands work on <data-dir>/accounts.sqlite without a \
            running server, to make the first admin or recover a lost password; stop the server \
            first. Online, with --server HOST:PORT, they ask the running server's accounts API \
            (/api/v1/users) instead, presenting an admin's machine token with manage_accounts, read \
            from --token-file (a file only its owner can read) or the environment variable \
            MAMORI_TOKEN — never from the command line. Either way each change is written to the \
            audit log (online, under the name of the token's account).

            Passwords are read from --password-file, from standard input when it is not a terminal, \
            or asked for twice without echo — never from the command line. At least 12 characters.

            Offline:
              mamori user add alice --role admin --data-dir /var/lib/mamori
              mamori user add bob --role viewer --password-file bob.pw --language en
              mamori user passwd alice      (also unlocks; ends alice's sessions)
              mamori user role bob --role analyst
              mamori user disable bob
              mamori user list

            Online, the server running:
              export MAMORI_TOKEN="$(cat ~/.mamori-admin.token)"
              mamori user add carol --role analyst --server 127.0.0.1:8080
              mamori user unlock carol --server 127.0.0.1:8080 --token-file ~/.mamori-admin.token
              mamori user list --server 127.0.0.1:8080
            """,
        subcommands: [Add.self, Passwd.self, SetRole.self, Disable.self, Enable.self, Unlock.self, List.self]
    )

    /// How a list shows an account's state.
    static func state(disabled: Bool, lockedUntil: Int64?) -> String {
        disabled ? "disabled" : lockedUntil.map { "locked until \(AccountsOffline.date($0))" } ?? "active"
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an account.")
        @Argument(help: "The account name: 1–64 characters of a-z, 0-9, '.', '_', '-'.") var name: String
        @Option(help: "peer (another carrier: the shared TAXII collections only), viewer, analyst or admin.") var role: RoleArgument
        @Option(help: "The language of the operator's screens: ja or en.") var language: LanguageArgument = .ja
        @Option(help: ArgumentHelp("Read the password from this file (its first line).", valueName: "file")) var passwordFile: String?
        @OptionGroup var options: AccountsOptions

        func validate() throws {
            // Before the password is asked for.
            guard OperatorAccount.isValidName(name) else {
                throw ValidationError("an account name is 1–64 characters of a-z, 0-9, '.', '_' and '-'")
            }
        }

        func run() async throws {
            let mode = try options.mode("user add", needs: .manageAccounts)
            let password = try PasswordInput.read(file: passwordFile, prompt: "Password for \(name): ")
            switch mode {
            case .online(let online):
                let a = try await online.addUser(name: name, role: role.role, password: password, language: language.language)
                print("account \(a.name) made (\(a.role), id \(a.id))")
            case .offline(let offline):
                var random = SystemRandomNumberGenerator()
                let change = try offline.workflow.createAccount(
                    name: name, role: role.role, password: password, language: language.language,
                    existing: try await offline.store.account(named: name), by: .console, at: AccountsOffline.now, using: &random)
                try await offline.perform(change.actions)
                print("account \(change.value.name) made (\(change.value.role.rawValue), id \(change.value.id))")
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a new password for an account; this unlocks it and ends its sessions.")
        @Argument(help: "The account name.") var name: String
        @Option(help: ArgumentHelp("Read the password from this file (its first line).", valueName: "file")) var passwordFile: String?
        @OptionGroup var options: AccountsOptions

        func run() async throws {
            switch try options.mode("user passwd", needs: .manageAccounts) {
            case .online(let online):
                let password = try PasswordInput.read(file: passwordFile, prompt: "New password for \(name): ")
                _ = try await online.setPassword(of: name, to: password)
            case .offline(let offline):
                let account = try await offline.account(named: name)
                let password = try PasswordInput.read(file: passwordFile, prompt: "New password for \(name): ")
                let change = try offline.workflow.changePassword(
                    of: account, to: password, current: nil, by: .console, at: AccountsOffline.now)
                try await offline.perform(change.actions)
            }
            print("password of \(name) changed")
        }
    }

    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "role", abstract: "Change an account's role.")
        @Argument(help: "The account name.") var name: String
        @Option(help: "peer (another carrier: the shared TAXII collections only), viewer, analyst or admin.") var role: RoleArgument
        @OptionGroup var options: AccountsOptions

        func run() async throws {
            switch try options.mode("user role", needs: .manageAccounts) {
            case .online(let online):
                _ = try await online.setRole(of: name, to: role.role)
            case .offline(let offline):
                let change = try offline.workflow.setRole(
                    of: try await offline.account(named: name), to: role.role, enabledAdmins: try await offline.store.enabledAdminCount(),
                    by: .console,
                    at: AccountsOffline.now)
                try await offline.perform(change.actions)
            }
            print("\(name) is now \(role.rawValue)")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable an account: it cannot log in, its sessions end and its tokens stop working.")
        @Argument(help: "The account name.") var name: String
        @OptionGroup var options: AccountsOptions

        func run() async throws {
            switch try options.mode("user disable", needs: .manageAccounts) {
            case .online(let online):
                _ = try await online.change("disable", name)
            case .offline(let offline):
                let change = try offline.workflow.setDisabled(
                    true, account: try await offline.account(named: name), enabledAdmins: try await offline.store.enabledAdminCount(),
                    by: .console,
                    at: AccountsOffline.now)
                try await offline.perform(change.actions)
            }
            print("\(name) disabled")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled account again.")
        @Argument(help: "The account name.") var name: String
        @OptionGroup var options: AccountsOptions

        func run() async throws {
            switch try options.mode("user enable", needs: .manageAccounts) {
            case .online(let online):
                _ = try await online.change("enable", name)
            case .offline(let offline):
                let change = try offline.workflow.setDisabled(
                    false, account: try await offline.account(named: name), enabledAdmins: try await offline.store.enabledAdminCount(),
                    by: .console,
                    at: AccountsOffline.now)
                try await offline.perform(change.actions)
            }
            print("\(name) enabled")
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a lockout after too many wrong passwords.")
        @Argument(help: "The account name.") var name: String
        @OptionGroup var options: AccountsOptions

        func run() async throws {
            switch try options.mode("user unlock", needs: .manageAccounts) {
            case .online(let online):
                _ = try await online.change("unlock", name)
            case .offline(let offline):
                let change = try offline.workflow.unlock(try await offline.account(named: name), by: .console, at: AccountsOffline.now)
                try await offline.perform(change.actions)
            }
            print("\(name) unlocked")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accounts (never their password hashes).")
        @OptionGroup var options: AccountsOptions

        func run() async throws {
            var rows: [[String]] = []
            switch try options.mode("user list", needs: .manageAccounts) {
            case .online(let online):
                for a in try await online.users() {
                    let state = User.state(disabled: a.disabled, lockedUntil: a.locked ? a.lockedUntil ?? Int64.max : nil)
                    rows.append([a.name, a.role, state, a.language, AccountsOffline.date(a.createdAt), a.id])
                }
            case .offline(let offline):
                let now = AccountsOffline.now
                for a in try await offline.store.accounts() {
                    let state = User.state(disabled: a.disabled, lockedUntil: a.isLocked(at: now) ? a.lockedUntil : nil)
                    rows.append([a.name, a.role.rawValue, state, a.language.rawValue, AccountsOffline.date(a.createdAt), a.id])
                }
            }
            print("name\trole\tstate\tlanguage\tcreated\tid")
            for row in rows { print(row.joined(separator: "\t")) }
        }
    }
}
