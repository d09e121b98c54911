import Accounts
import ArgumentParser
import Foundation
import Lawful
import Storage

#if canImport(Glibc)
import Glibc
#endif

/// What `mamori user` and `mamori token` share: the data directory's account store and audit log,
/// opened offline, and the one place their workflow's actions are carried out.
///
/// The audit log has one writer at a time: these commands are for a stopped server (the first
/// admin, a lost password). A running server's accounts are changed through its API
/// (``AccountsOnline``, with `--server`).
struct AccountsOffline {
    let store: SQLiteAccountStore
    let audit: AuditLog
    let workflow: AccountWorkflow

    init(_ options: AccountsOptions) throws {
        let dataDir = options.dataDir ?? "mamori-data"
        let keyFile = options.keyFile ?? dataDir + "/audit.key"
        try DataDirectory.prepare(dataDir, keyFiles: [dataDir + "/pseudonym.key", keyFile])
        store = try SQLiteAccountStore(path: dataDir + "/accounts.sqlite")
        audit = try AuditLog(directory: dataDir + "/audit", key: try AuditKey.loadOrCreate(path: keyFile))
        workflow = AccountWorkflow(hashing: BcryptPasswordHashing(cost: options.bcryptCost ?? 12))
    }

    static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// Carries the actions out in order; an audit entry that cannot be written stops the rest.
    func perform(_ actions: [AccountAction]) async throws { try await store.carryOut(actions, audit: audit) }

    func account(named name: String) async throws -> OperatorAccount {
        guard let a = try await store.account(named: name) else { throw AccountsCommandError("no account named \(name)") }
        return a
    }

    static func date(_ ms: Int64?) -> String {
        guard let ms else { return "-" }
        if ms == Int64.max { return "forever" }
        return ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}

/// A refusal of `mamori user` or `mamori token`, printed without the usage text.
struct AccountsCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Where a password comes from: a file, standard input when it is not a terminal, or a prompt
/// (twice, without echo) — never the command line, where `ps` and the shell's history would see it.
enum PasswordInput {
    /// Files larger than this are refused before reading (a password is at most 1,024 bytes).
    static let maximumFileBytes = 4_096

    static func read(file: String?, prompt: String) throws -> String {
        if let file {
            let attributes = try? FileManager.default.attributesOfItem(atPath: file)
            guard let size = attributes?[.size] as? Int, size <= maximumFileBytes, let data = FileManager.default.contents(atPath: file)
            else { throw AccountsCommandError("cannot read a password from \(file) (missing, or larger than \(maximumFileBytes) bytes)") }
            return firstLine(String(decoding: data, as: UTF8.self))
        }
        guard isatty(STDIN_FILENO) == 1 else {
            // Piped in (a script, a secrets manager): the first line; the policy bounds its length.
            return readLine(strippingNewline: true) ?? ""
        }
        let first = try promptWithoutEcho(prompt)
        let second = try promptWithoutEcho("Again: ")
        guard first == second else { throw AccountsCommandError("the two passwords differ") }
        return first
    }

    /// The text up to the first line break (a file written by `echo` ends in one).
    static func firstLine(_ text: String) -> String {
        String(text.prefix { $0 != "\n" && $0 != "\r\n" && $0 != "\r" })
    }

    /// Reads one line from the terminal with echo off, restoring the terminal afterwards.
    static func promptWithoutEcho(_ prompt: String) throws -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        guard tcgetattr(STDIN_FILENO, &saved) == 0 else { throw AccountsCommandError("cannot read the terminal's settings") }
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return readLine(strippingNewline: true) ?? ""
    }
}

/// A role as an argument (`--role admin`).
enum RoleArgument: String, ExpressibleByArgument, CaseIterable {
    case peer, viewer, analyst, admin

    var role: Role {
        switch self {
        case .peer: .peer
        case .viewer: .viewer
        case .analyst: .analyst
        case .admin: .admin
        }
    }
}

/// A language as an argument (`--language en`).
enum LanguageArgument: String, ExpressibleByArgument, CaseIterable {
    case ja, en

    var language: OperatorAccount.Language {
        switch self {
        case .ja: .ja
        case .en: .en
        }
    }
}
