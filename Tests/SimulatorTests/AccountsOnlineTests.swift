import Foundation
import MamoriTesting
import Testing

/// `mamori user …` and `mamori token …` with `--server` against a running `mamori serve` (issue
/// 19): an admin's token from MAMORI_TOKEN or --token-file makes, changes and lists accounts and
/// tokens through the accounts API; a token without the permission, none at all, or a revoked one
/// is refused with a message that says which credential is missing, and a non-zero status; the
/// server's own refusals (a name taken) are shown as it gave them. No token's secret is printed
/// except the one `token create` makes.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct AccountsOnlineTests {
    @Test func userAndTokenCommandsThroughTheAccountsAPI() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-accounts-online-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // Offline, before the first start: the admin and the admin's tokens.
        let operators = try await OperatorBootstrap(mamori, dataDirectory: dir + "/data")
        let admin = try await operators.token("cli", scope: "manage_accounts,manage_tokens,read_findings")
        let reader = try await operators.token("reader", scope: "read_findings")
        let secrets = [admin, reader].map { String($0.suffix(43)) }
        try #require(
            FileManager.default.createFile(
                atPath: dir + "/admin.token", contents: Data((admin + "\n").utf8), attributes: [.posixPermissions: 0o600]))
        try "a long password for bob 1\n".write(toFile: dir + "/bob.pw", atomically: true, encoding: .utf8)
        try "another long password 2\n".write(toFile: dir + "/bob2.pw", atomically: true, encoding: .utf8)

        let httpPort = try freeTCPPort()
        let server = try mamori.start([
            "serve", "--listen", "127.0.0.1:\(try freeUDPPort())", "--http", "127.0.0.1:\(httpPort)", "--data-dir", dir + "/data",
            "--log-level", "warning",
        ])
        defer { server.stop() }
        var up = false
        for _ in 0..<300 where !up {
            guard server.isRunning else { break }
            up = await httpGet(port: httpPort, path: "/healthz")?.status == 200
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(up, "mamori serve did not come up")
        let online = ["--server", "127.0.0.1:\(httpPort)"]

        /// Runs mamori with `token` in MAMORI_TOKEN; no secret but a new token's may be printed.
        func run(_ arguments: [String], token: String) throws -> (status: Int32, stdout: String, stderr: String) {
            let result = try mamori.runToExit(arguments, environment: ["MAMORI_TOKEN": token])
            #expect(!secrets.contains { result.stdout.contains($0) || result.stderr.contains($0) }, "\(arguments) printed a token")
            return result
        }
        func ok(_ arguments: [String], token: String = admin) throws -> String {
            let result = try run(arguments, token: token)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            return result.stdout
        }

        // An admin's token makes an account online and finds it in the list.
        let made = try ok(["user", "add", "bob", "--role", "viewer", "--password-file", dir + "/bob.pw", "--language", "en"] + online)
        #expect(made.hasPrefix("account bob made (viewer, id "), "\(made)")
        let list = try ok(["user", "list"] + online)
        #expect(list.hasPrefix("name\trole\tstate\tlanguage\tcreated\tid\n"), "\(list)")
        #expect(list.contains("\nbob\tviewer\tactive\ten\t"), "\(list)")
        #expect(list.contains("\nadmin\tadmin\tactive\t"), "\(list)")
        // … from --token-file as well (it wins over the environment).
        let fromFile = try ok(["user", "role", "bob", "--role", "analyst", "--token-file", dir + "/admin.token"] + online, token: reader)
        #expect(fromFile == "bob is now analyst\n")
        #expect(try ok(["user", "disable", "bob"] + online) == "bob disabled\n")
        #expect(try ok(["user", "list"] + online).contains("\nbob\tanalyst\tdisabled\ten\t"))
        #expect(try ok(["user", "enable", "bob"] + online) == "bob enabled\n")
        #expect(try ok(["user", "unlock", "bob"] + online) == "bob unlocked\n")
        #expect(try ok(["user", "passwd", "bob", "--password-file", dir + "/bob2.pw"] + online) == "password of bob changed\n")
        // The new password is bob's: the server signs him in with it.
        let login = await httpRequest(
            port: httpPort, method: "POST", path: "/api/v1/session", body: #"{"name":"bob","password":"another long password 2"}"#)
        #expect(login?.status == 200, "\(String(describing: login))")

        // The server's own refusal, as it gave it.
        let again = try run(["user", "add", "bob", "--role", "viewer", "--password-file", dir + "/bob.pw"] + online, token: admin)
        #expect(again.status != 0)
        #expect(again.stderr.contains("the server refused `mamori user add` (409)"), "\(again.stderr)")
        let nobody = try run(["user", "disable", "nobody"] + online, token: admin)
        #expect(nobody.status != 0 && nobody.stderr.contains("(404): no account nobody"), "\(nobody.stderr)")

        // A token without manage_accounts (a viewer's reading scope) is refused, and says what it lacks.
        let narrow = try run(["user", "add", "carol", "--role", "viewer", "--password-file", dir + "/bob.pw"] + online, token: reader)
        #expect(narrow.status != 0)
        #expect(
            narrow.stderr.contains("403: this token's scope does not grant manage_accounts")
                && narrow.stderr.contains("needs the token of an admin account, with manage_accounts in its scope"), "\(narrow.stderr)")
        #expect(!narrow.stderr.contains("Usage:"), "a refusal is not a usage error: \(narrow.stderr)")
        #expect(!(try ok(["user", "list"] + online)).contains("carol"), "nothing was made")

        // No token at all: says where one goes, before asking for anything.
        let none = try run(["user", "list"] + online, token: "")
        #expect(none.status != 0)
        #expect(
            none.stderr.contains("needs an admin's machine token with manage_accounts") && none.stderr.contains("--token-file")
                && none.stderr.contains("MAMORI_TOKEN"), "\(none.stderr)")

        // Offline-only options are refused online, and the other way round.
        let mixed = try run(["user", "list", "--data-dir", dir + "/data"] + online, token: admin)
        #expect(mixed.status != 0 && mixed.stderr.contains("--data-dir is for offline use"), "\(mixed.stderr)")

        // Tokens: made online for the admin whose token is presented, listed, revoked, and refused afterwards.
        let created = try run(["token", "create", "nightly", "--scope", "read_findings", "--expires", "1d"] + online, token: admin)
        #expect(created.status == 0, "\(created.stderr)")
        let nightly = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(nightly.hasPrefix("mamori_") && nightly.utf8.count == 67, "token create prints the token alone")
        #expect(created.stderr.contains("(nightly) for admin, scope read_findings"), "\(created.stderr)")
        let id = String(nightly.dropFirst("mamori_".count).prefix(16))
        let tokens = try ok(["token", "list"] + online)
        #expect(tokens.contains("\(id)\tnightly\tadmin\tread_findings\t"), "\(tokens)")
        #expect(tokens.split(separator: "\n").first { $0.hasPrefix(id) }?.hasSuffix("\tactive") == true, "\(tokens)")
        #expect(!tokens.contains(String(nightly.suffix(43))), "a list never shows a secret")
        let wide = try run(["token", "create", "wide", "--scope", "reveal_identity", "--expires", "1d"] + online, token: admin)
        #expect(wide.status != 0 && wide.stderr.contains("wider than its own scope"), "a token mints no more than it holds: \(wide.stderr)")
        let hours = try run(["token", "create", "short", "--scope", "read_findings", "--expires", "12h"] + online, token: admin)
        #expect(hours.status != 0 && hours.stderr.contains("whole days"), "\(hours.stderr)")

        // The new token works until it is revoked online; then it is refused.
        let whois = ["whois", "198.18.0.7", "--at", "\(Int64(Date().timeIntervalSince1970 * 1000))", "--json"] + online
        #expect(try run(whois, token: nightly).status == 0)
        #expect(try ok(["token", "revoke", id] + online) == "token \(id) (nightly) revoked\n")
        let revoked = try run(whois, token: nightly)
        #expect(revoked.status != 0 && revoked.stderr.contains("did not accept the token"), "\(revoked.stderr)")
        #expect(try ok(["token", "list"] + online).contains("\(id)\tnightly\tadmin\tread_findings\t"))
        let listWithRevoked = try run(["token", "list"] + online, token: nightly)
        #expect(listWithRevoked.status != 0)
        #expect(listWithRevoked.stderr.contains("did not accept the token (401: "), "\(listWithRevoked.stderr)")
        let twice = try run(["token", "revoke", id] + online, token: admin)
        #expect(twice.status != 0 && twice.stderr.contains("(409)"), "\(twice.stderr)")

        // An admin demoted to viewer: the admin's old token now acts as a viewer and is refused.
        _ = try ok(["user", "add", "vera", "--role", "admin", "--password-file", dir + "/bob.pw"] + online)
        server.stop()
        let vera = try await operators.mamori.run([
            "token", "create", "vera-cli", "--scope", "manage_accounts", "--expires", "1d", "--created-by", "vera", "--data-dir",
            dir + "/data",
        ]).trimmingCharacters(in: .whitespacesAndNewlines)
        let restarted = try mamori.start([
            "serve", "--listen", "127.0.0.1:\(try freeUDPPort())", "--http", "127.0.0.1:\(httpPort)", "--data-dir", dir + "/data",
            "--log-level", "warning",
        ])
        defer { restarted.stop() }
        up = false
        for _ in 0..<300 where !up {
            guard restarted.isRunning else { break }
            up = await httpGet(port: httpPort, path: "/healthz")?.status == 200
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(up, "mamori serve did not come up again")
        #expect(try ok(["user", "role", "vera", "--role", "viewer"] + online) == "vera is now viewer\n")
        let demoted = try await mamori.runToExit(["user", "list"] + online, environment: ["MAMORI_TOKEN": vera])
        #expect(demoted.status != 0)
        #expect(
            demoted.stderr.contains("403: the role viewer of this token's account does not grant manage_accounts"), "\(demoted.stderr)")
        restarted.stop()
    }
}
