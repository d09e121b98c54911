import Foundation

/// The first operator and their machine tokens, made as an operator does on a new installation —
/// with the built `mamori`, on the data directory, before `mamori serve` starts:
///
///     mamori user add admin --role admin --data-dir DIR --password-file FILE
///     mamori token create NAME --scope p1,p2 --expires 1d --created-by admin --data-dir DIR
///
/// `token create` prints the token alone on standard output (what it says about it goes to
/// standard error). Tests ask for the least scope they need.
public struct OperatorBootstrap {
    public let mamori: ExternalPeer
    public let dataDirectory: String
    public static let admin = "admin"

    /// Makes the admin account in `dataDirectory` (created if missing). The password file is
    /// written beside it, mode 0600, and removed at once.
    /// Each `mamori` run is awaited off Swift's cooperative pool (``ExternalPeer/run(_:environment:timeout:)``).
    public init(_ mamori: ExternalPeer, dataDirectory: String) async throws {
        self.mamori = mamori
        self.dataDirectory = dataDirectory
        let passwordFile = dataDirectory + ".admin-password"
        guard
            FileManager.default.createFile(
                atPath: passwordFile, contents: Data("a long test password \(UUID().uuidString)\n".utf8),
                attributes: [.posixPermissions: 0o600])
        else { throw PeerError("cannot write \(passwordFile)") }
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }
        let made = try await mamori.run([
            "user", "add", Self.admin, "--role", "admin", "--data-dir", dataDirectory, "--password-file", passwordFile,
        ])
        guard made.hasPrefix("account \(Self.admin) made (admin") else { throw PeerError("mamori user add said: \(made)") }
    }

    /// A new token of the admin's with `scope` (comma-separated permissions), valid for a day.
    public func token(_ name: String, scope: String) async throws -> String {
        let out = try await mamori.run([
            "token", "create", name, "--scope", scope, "--expires", "1d", "--created-by", Self.admin, "--data-dir", dataDirectory,
        ])
        let token = out.trimmingCharacters(in: .whitespacesAndNewlines)
        // Not printed on failure: a test's output is no place for a secret.
        guard token.hasPrefix("mamori_") && token.utf8.count == 67 && !token.contains("\n") else {
            throw PeerError("mamori token create printed no token")
        }
        return token
    }

    /// Revokes `token` (`mamori token revoke ID`, the id being the 16 hex digits after `mamori_`).
    public func revoke(_ token: String) async throws {
        let id = String(token.dropFirst("mamori_".count).prefix(16))
        let out = try await mamori.run(["token", "revoke", id, "--data-dir", dataDirectory])
        guard out.hasPrefix("token \(id) ") else { throw PeerError("mamori token revoke said: \(out)") }
    }
}
