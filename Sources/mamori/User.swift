import Accounts
import ArgumentParser
import Foundation
import Storage

/// `mamori user add|passwd|role|disable|enable|unlock|list`: operator accounts, offline on the data directory.
struct User: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage operator accounts in the data directory (offline: stop the server first).",
        discussion: """
            Operators log in to `mamori serve` with a name and a password. Roles: viewer (reads \
            findings, cases and metrics; subscribers as pseudonyms only), analyst (also verdicts, \
            case actions, consent events, identity reveal with a reason), admin (also accounts, \
            tokens, the configuration and actions that change the network).

            These commands work on <data-dir>/accounts.sqlite without a running server, to make \
            the first admin or recover a lost password; each change is written to the audit log. \
            Passwords are read from --password-file, from standard input when it is not a terminal, \
            or asked for twice without echo — never from the command line. At least 12 characters.

              mamori user add alice --role admin --data-dir /var/lib/mamori
              mamori user add bob --role viewer --password-file bob.pw --language en
              mamori user passwd alice      (also unlocks; ends alice's sessions)
              mamori user role bob --role analyst
              mamori user disable bob
              mamori user list
            """,
        subcommands: [Add.self, Passwd.self, SetRole.self, Disable.self, Enable.self, Unlock.self, List.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an account.")
        @Argument(help: "The account name: 1–64 characters of a-z, 0-9, '.', '_', '-'.") var name: String
        @Option(help: "viewer, analyst or admin.") var role: RoleArgument
        @Option(help: "The language of the operator's screens: ja or en.") var language: LanguageArgument = .ja
        @Option(help: ArgumentHelp("Read the password from this file (its first line).", valueName: "file")) var passwordFile: String?
        @OptionGroup var options: AccountsOffline.Options

        func validate() throws {
            // Before the password is asked for.
            guard OperatorAccount.isValidName(name) else {
                throw ValidationError("an account name is 1–64 characters of a-z, 0-9, '.', '_' and '-'")
            }
        }

        func run() async throws {
            let offline = try AccountsOffline(options)
            let password = try PasswordInput.read(file: passwordFile, prompt: "Password for \(name): ")
            var random = SystemRandomNumberGenerator()
            let change = try offline.workflow.createAccount(
                name: name, role: role.role, password: password, language: language.language,
                existing: try await offline.store.account(named: name), by: .console, at: AccountsOffline.now, using: &random)
            try await offline.perform(change.actions)
            print("account \(change.value.name) made (\(change.value.role.rawValue), id \(change.value.id))")
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set a new password for an account; this unlocks it and ends its sessions.")
        @Argument(help: "The account name.") var name: String
        @Option(help: ArgumentHelp("Read the password from this file (its first line).", valueName: "file")) var passwordFile: String?
        @OptionGroup var options: AccountsOffline.Options

        func run() async throws {
            let offline = try AccountsOffline(options)
            let account = try await offline.account(named: name)
            let password = try PasswordInput.read(file: passwordFile, prompt: "New password for \(name): ")
            let change = try offline.workflow.changePassword(of: account, to: password, current: nil, by: .console, at: AccountsOffline.now)
            try await offline.perform(change.actions)
            print("password of \(name) changed")
        }
    }

    struct SetRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "role", abstract: "Change an account's role.")
        @Argument(help: "The account name.") var name: String
        @Option(help: "viewer, analyst or admin.") var role: RoleArgument
        @OptionGroup var options: AccountsOffline.Options

        func run() async throws {
            let offline = try AccountsOffline(options)
            let change = try offline.workflow.setRole(
                of: try await offline.account(named: name), to: role.role, enabledAdmins: try await offline.store.enabledAdminCount(),
                by: .console,
                at: AccountsOffline.now)
            try await offline.perform(change.actions)
            print("\(name) is now \(role.rawValue)")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable an account: it cannot log in, its sessions end and its tokens stop working.")
        @Argument(help: "The account name.") var name: String
        @OptionGroup var options: AccountsOffline.Options

        func run() async throws {
            let offline = try AccountsOffline(options)
            let change = try offline.workflow.setDisabled(
                true, account: try await offline.account(named: name), enabledAdmins: try await offline.store.enabledAdminCount(),
                by: .console,
                at: AccountsOffline.now)
            try await offline.perform(change.actions)
            print("\(name) disabled")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled account again.")
        @Argument(help: "The account name.") var name: String
        @OptionGroup var options: AccountsOffline.Options

        func run() async throws {
            let offline = try AccountsOffline(options)
            let change = try offline.workflow.setDisabled(
                false, account: try await offline.account(named: name), enabledAdmins: try await offline.store.enabledAdminCount(),
                by: .console,
                at: AccountsOffline.now)
            try await offline.perform(change.actions)
            print("\(name) enabled")
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a lockout after too many wrong passwords.")
        @Argument(help: "The account name.") var name: String
        @OptionGroup var options: AccountsOffline.Options

        func run() async throws {
            let offline = try AccountsOffline(options)
            let change = try offline.workflow.unlock(try await offline.account(named: name), by: .console, at: AccountsOffline.now)
            try await offline.perform(change.actions)
            print("\(name) unlocked")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the accounts (never their password hashes).")
        @OptionGroup var options: AccountsOffline.Options

        func run() async throws {
            let offline = try AccountsOffline(options)
            let now = AccountsOffline.now
            print("name\trole\tstate\tlanguage\tcreated\tid")
            for a in try await offline.store.accounts() {
                let state = a.disabled ? "disabled" : a.isLocked(at: now) ? "locked until \(AccountsOffline.date(a.lockedUntil))" : "active"
                print("\(a.name)\t\(a.role.rawValue)\t\(state)\t\(a.language.rawValue)\t\(AccountsOffline.date(a.createdAt))\t\(a.id)")
            }
        }
    }
}
