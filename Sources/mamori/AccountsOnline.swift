import APIClient
import Accounts
import ArgumentParser
import Foundation
import MamoriCore

/// Where `mamori user` and `mamori token` act: offline on a stopped server's data directory
/// (`--data-dir`, the default), or online through a running server's accounts API (`--server`,
/// with an admin's machine token from `--token-file` or `MAMORI_TOKEN`).
struct AccountsOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Online: act through the accounts API of the mamori serve listening here (HOST:PORT or http://HOST:PORT), with an admin's token.",
            valueName: "host:port"))
    var server: String?

    @OptionGroup var credentials: APITokenOptions

    @Option(help: ArgumentHelp("Offline: the server's data directory (stop `mamori serve` first; default: mamori-data).", valueName: "dir"))
    var dataDir: String?

    @Option(help: ArgumentHelp("Offline: the audit key (default: <data-dir>/audit.key, or lawful.audit_key_file).", valueName: "file"))
    var keyFile: String?

    @Option(help: ArgumentHelp("Offline: bcrypt's cost (log2 rounds) for new passwords (default: 12).", valueName: "n"))
    var bcryptCost: Int?

    func validate() throws {
        if server != nil {
            for (given, option) in [(dataDir != nil, "--data-dir"), (keyFile != nil, "--key-file"), (bcryptCost != nil, "--bcrypt-cost")]
            where given {
                throw ValidationError(
                    "\(option) is for offline use; with --server the running server uses its own data directory and settings")
            }
        } else if credentials.tokenFile != nil {
            throw ValidationError("--token-file is for --server: offline, the commands need no token")
        }
    }

    enum Mode {
        case offline(AccountsOffline)
        case online(AccountsOnline)
    }

    /// Online with --server, else offline. Online, the token is read here, before any password is
    /// asked for: without one the command stops and says where to put it.
    func mode(_ command: String, needs permission: Permission) throws -> Mode {
        guard let server else { return .offline(try AccountsOffline(self)) }
        guard let token = try credentials.token() else {
            throw AccountsCommandError(
                "`mamori \(command) --server` needs an admin's machine token with \(permission.rawValue), from --token-file FILE "
                    + "(a file only you can read: chmod 600) or the environment variable \(APIToken.environmentVariable), never the "
                    + "command line. Make one with `mamori token create NAME --scope manage_accounts,manage_tokens --expires 30d "
                    + "--created-by ADMIN --data-dir DIR` while the server is stopped, or online with another admin token.")
        }
        return .online(AccountsOnline(server: server, token: token, command: command, permission: permission))
    }
}

/// `mamori user …` and `mamori token …` through a running server's accounts API: `/api/v1/users`,
/// `/api/v1/users/{name}/role|disable|enable|unlock|password`, `/api/v1/tokens`,
/// `DELETE /api/v1/tokens/{id}`. The server carries the change out and audits it under the
/// name of the account whose token is presented.
struct AccountsOnline {
    let server: String
    let token: APIToken
    /// `user add`, `token revoke`…: for messages.
    let command: String
    /// What the route wants of the token: for the message of a 403.
    let permission: Permission

    /// An account as the API answers it (snake_case keys, read by ``APIJSON/decoder()``).
    struct Account: Decodable {
        var id: String
        var name: String
        var role: String
        var disabled: Bool
        var locked: Bool
        var lockedUntil: Int64?
        var language: String
        var createdAt: Int64
    }

    /// A token as the API answers it; `token` only when it is made.
    struct Token: Decodable {
        var id: String
        var name: String
        var scope: [String]
        var createdBy: String
        var createdByName: String?
        var createdAt: Int64
        var expiresAt: Int64
        var revokedAt: Int64?
        var token: String?
    }

    // MARK: Accounts

    func users() async throws -> [Account] {
        struct Answer: Decodable { var accounts: [Account] }
        return try await call("GET", "/api/v1/users", as: Answer.self).accounts
    }

    func addUser(name: String, role: Role, password: String, language: OperatorAccount.Language) async throws -> Account {
        struct Body: Encodable { var name, role, password, language: String }
        let body = Body(name: name, role: role.rawValue, password: password, language: language.rawValue)
        return try await call("POST", "/api/v1/users", body: body, as: Account.self)
    }

    func setRole(of name: String, to role: Role) async throws -> Account {
        struct Body: Encodable { var role: String }
        return try await call("POST", "/api/v1/users/\(Self.segment(name))/role", body: Body(role: role.rawValue), as: Account.self)
    }

    func setPassword(of name: String, to password: String) async throws -> Account {
        struct Body: Encodable { var password: String }
        return try await call("POST", "/api/v1/users/\(Self.segment(name))/password", body: Body(password: password), as: Account.self)
    }

    /// `disable`, `enable` or `unlock`.
    func change(_ what: String, _ name: String) async throws -> Account {
        try await call("POST", "/api/v1/users/\(Self.segment(name))/\(what)", body: [String: String](), as: Account.self)
    }

    // MARK: Tokens

    func tokens() async throws -> [Token] {
        struct Answer: Decodable { var tokens: [Token] }
        return try await call("GET", "/api/v1/tokens", as: Answer.self).tokens
    }

    /// A token for the account whose token is presented, with `scope`, valid for `days`.
    func createToken(name: String, scope: Set<Permission>, days: Int) async throws -> Token {
        struct Body: Encodable {
            var name: String
            var scope: [String]
            var expiresInDays: Int
        }
        let body = Body(name: name, scope: scope.sorted().map(\.rawValue), expiresInDays: days)
        return try await call("POST", "/api/v1/tokens", body: body, as: Token.self)
    }

    func revokeToken(_ id: String) async throws -> Token {
        try await call("DELETE", "/api/v1/tokens/\(Self.segment(id))", as: Token.self)
    }

    // MARK: Requests

    /// A path segment as typed, percent-encoded (names and ids are plain, but nothing typed may
    /// change the path).
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyz0123456789-._")) ?? ""
    }

    /// Sends the request, then reads a 200 or 201 answer as `Answer`. Anything else stops the
    /// command with the server's own reason (its `{"error": …}`); a 401 or 403 also says which
    /// credential is missing.
    func call<Answer: Decodable>(_ method: String, _ path: String, body: (some Encodable)? = [String: String]?.none, as: Answer.Type)
        async throws -> Answer
    {
        let bytes = try body.map { [UInt8](try APIJSON.encoder().encode($0)) }
        let address = try Self.hostAndPort(server)
        let endpoint: SocketEndpoint
        do { endpoint = try SocketEndpoint(parsing: address) } catch { throw ValidationError("--server \(error)") }
        let response: MamoriAPIClient.Response
        do {
            response = try await MamoriAPIClient.withClient(server: endpoint, token: token) { client in
                switch method {
                case "GET": try await client.get(path)
                case "DELETE": try await client.delete(path)
                default: try await client.post(path, body: bytes ?? [])
                }
            }
        } catch let failure as MamoriAPIClient.Failure {
            throw AccountsCommandError(message(failure))
        }
        guard response.status == 200 || response.status == 201 else {
            throw AccountsCommandError(
                "the server refused `mamori \(command)` (\(response.status)): \(MamoriAPIClient.refusal(response.body))")
        }
        do {
            return try APIJSON.decoder().decode(Answer.self, from: Data(response.body.utf8))
        } catch {
            throw AccountsCommandError("the server's answer to `mamori \(command)` is not what this version of mamori reads: \(error)")
        }
    }

    /// What went wrong, and for 401 and 403 what to present instead.
    func message(_ failure: MamoriAPIClient.Failure) -> String {
        let create =
            "`mamori token create NAME --scope manage_accounts,manage_tokens --expires 30d --created-by ADMIN --data-dir DIR` "
            + "while the server is stopped"
        switch failure {
        case .unreachable: return "\(failure) (--server)"
        case .unauthenticated(let reason):
            return "the server at \(server) did not accept the token (401: \(reason)): it is unknown there, revoked or expired, "
                + "or its account is disabled; present an admin's token with \(permission.rawValue) (make one with \(create))"
        case .forbidden(let reason) where reason.hasSuffix("does not grant \(permission.rawValue)"):
            return "the server refused `mamori \(command)` (403: \(reason)): it needs the token of an admin account, "
                + "with \(permission.rawValue) in its scope; a viewer's or analyst's token, or a narrower scope, is not enough "
                + "(make one with \(create))"
        case .forbidden(let reason):
            return "the server refused `mamori \(command)` (403: \(reason))"
        default: return failure.description
        }
    }

    /// `http://host:port/` as `host:port`; `host:port` as it is. HTTPS is not spoken.
    static func hostAndPort(_ server: String) throws -> String {
        var text = server.trimmingCharacters(in: .whitespaces)
        if text.lowercased().hasPrefix("https://") {
            throw ValidationError("--server \(server): mamori speaks plain HTTP to the server (put it behind 127.0.0.1 or a tunnel)")
        }
        if text.lowercased().hasPrefix("http://") { text = String(text.dropFirst("http://".count)) }
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// `30d` as 30; the API counts whole days (1–366).
    static func days(_ expires: String) -> Int? {
        guard expires.hasSuffix("d"), let n = Int(expires.dropLast()), (1...366).contains(n) else { return nil }
        return n
    }
}
