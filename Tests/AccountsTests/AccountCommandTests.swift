import Foundation
import MamoriTesting
import Testing

/// `mamori user` and `mamori token` on a data directory, as an operator bootstraps the first admin.
@Suite struct AccountCommandTests {
    @Test("bootstrap an admin offline, list it, make and revoke a token; the audit log verifies and holds no secret")
    func bootstrap() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let dir = try TemporaryDirectory()
        let data = dir.path + "/data"
        let password = "a long enough bootstrap password"
        let passwordFile = dir.path + "/alice.pw"
        try (password + "\n").write(toFile: passwordFile, atomically: true, encoding: .utf8)
        let common = ["--data-dir", data, "--bcrypt-cost", "4"]

        let added = try await mamori.run(["user", "add", "alice", "--role", "admin", "--password-file", passwordFile] + common)
        #expect(added.contains("account alice made (admin"))
        #expect(throws: PeerError.self) {
            try mamori.run(["user", "add", "alice", "--role", "viewer", "--password-file", passwordFile] + common)
        }
        let list = try await mamori.run(["user", "list"] + common)
        #expect(list.contains("alice\tadmin\tactive\tja"))
        #expect(!list.contains("$2b$"))

        let created = try await mamori.run(
            ["token", "create", "grafana", "--scope", "read_metrics,read_findings", "--expires", "30d", "--created-by", "alice"] + common)
        let token = created.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("mamori_") && token.utf8.count == 67)
        let id = String(token.dropFirst(7).prefix(16))
        let tokens = try await mamori.run(["token", "list"] + common)
        #expect(tokens.contains("\(id)\tgrafana\talice\tread_findings,read_metrics\t"))
        #expect(tokens.contains("\tactive"))
        #expect(!tokens.contains(String(token.dropFirst(24))))
        #expect(throws: PeerError.self) {
            try mamori.run(["token", "create", "x", "--scope", "root", "--expires", "30d", "--created-by", "alice"] + common)
        }

        await #expect(try mamori.run(["token", "revoke", id] + common).contains("token \(id) (grafana) revoked"))
        await #expect(try mamori.run(["token", "list"] + common).contains("\trevoked "))
        // The last enabled admin cannot be disabled; with a second one, it can.
        #expect(throws: PeerError.self) { try mamori.run(["user", "disable", "alice"] + common) }
        await #expect(
            try mamori.run(["user", "add", "bob", "--role", "admin", "--password-file", passwordFile] + common).contains("bob made"))
        let newPasswordFile = dir.path + "/alice2.pw"
        try "another password for alice".write(toFile: newPasswordFile, atomically: true, encoding: .utf8)
        await #expect(
            try mamori.run(["user", "passwd", "alice", "--password-file", newPasswordFile] + common).contains("password of alice changed"))
        await #expect(try mamori.run(["user", "disable", "alice"] + common).contains("alice disabled"))
        await #expect(try mamori.run(["user", "list"] + common).contains("alice\tadmin\tdisabled"))

        let verified = try await mamori.run(["audit", "verify", "--data-dir", data])
        #expect(verified.contains("audit log sound: 6 entries"))
        // Neither the password nor the token's secret is anywhere in the data directory.
        let secret = String(token.dropFirst(24))
        for name in try FileManager.default.subpathsOfDirectory(atPath: data) {
            guard let bytes = FileManager.default.contents(atPath: data + "/" + name) else { continue }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(!text.contains(password) && !text.contains("another password") && !text.contains(secret), "\(name)")
        }
        let audit = try String(contentsOfFile: data + "/audit/000001.jsonl", encoding: .utf8)
        #expect(audit.contains("\"kind\":\"account_change\"") && audit.contains("account alice created as admin"))
    }
}
