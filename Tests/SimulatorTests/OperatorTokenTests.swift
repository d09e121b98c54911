import Foundation
import MamoriTesting
import Testing

/// `mamori whois --server` and `mamori consent import --server` against a running `mamori serve`
/// that wants an operator (issue 19): without a token, with a revoked one, with one whose scope
/// is too narrow and with one in a file others can read, each fails with a message that says
/// what to do and a non-zero status, and never shows the token; with a good token, from
/// MAMORI_TOKEN or --token-file, both work.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct OperatorTokenTests {
    @Test func onlineCommandsPresentAnOperatorToken() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-token-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // As an operator does before the first start: an admin, then tokens.
        let operators = try await OperatorBootstrap(mamori, dataDirectory: dir + "/data")
        let good = try await operators.token("desk", scope: "change_consent,read_findings")
        let narrow = try await operators.token("cases-only", scope: "read_cases")
        let revoked = try await operators.token("leaked", scope: "change_consent,read_findings")
        try await operators.revoke(revoked)
        let secrets = [good, narrow, revoked].map { String($0.suffix(43)) }
        try #require(
            FileManager.default.createFile(
                atPath: dir + "/good.token", contents: Data((good + "\n").utf8), attributes: [.posixPermissions: 0o600]))
        try #require(
            FileManager.default.createFile(atPath: dir + "/shared.token", contents: Data(good.utf8), attributes: [.posixPermissions: 0o644])
        )
        try "account,email,language,terms_version,terms_accepted\nA-0001,taro@example.jp,ja,v3,2025-04-01\n".write(
            toFile: dir + "/customers.csv", atomically: true, encoding: .utf8)

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

        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let commands: [(name: String, arguments: [String], needs: String, worked: String)] = [
            (
                "whois", ["whois", "198.18.0.7", "--at", "\(now)", "--json", "--server", "127.0.0.1:\(httpPort)"], "read_findings",
                "\"answer\""
            ),
            (
                "consent import", ["consent", "import", dir + "/customers.csv", "--server", "127.0.0.1:\(httpPort)"], "change_consent",
                "imported 1 subscribers"
            ),
        ]
        for command in commands {
            /// Runs the command; its output must never show a token's secret.
            func run(_ extra: [String] = [], token: String) throws -> (status: Int32, stdout: String, stderr: String) {
                let result = try mamori.runToExit(command.arguments + extra, environment: ["MAMORI_TOKEN": token])
                #expect(!secrets.contains { result.stdout.contains($0) || result.stderr.contains($0) }, "\(command.name) printed a token")
                #expect(!result.stderr.contains("Usage:"), "\(command.name): a refusal is not a usage error: \(result.stderr)")
                return result
            }

            let none = try run(token: "")
            #expect(none.status != 0, "\(command.name) without a token: exit \(none.status), \(none.stdout)")
            #expect(none.stderr.contains("wants an operator token"), "\(command.name) without a token: \(none.stderr)")
            #expect(
                none.stderr.contains("mamori token create NAME --scope \(command.needs)") && none.stderr.contains("--token-file")
                    && none.stderr.contains("MAMORI_TOKEN"), "\(command.name) without a token: \(none.stderr)")

            let gone = try run(token: revoked)
            #expect(gone.status != 0, "\(command.name) with a revoked token: exit \(gone.status), \(gone.stdout)")
            #expect(gone.stderr.contains("did not accept the token"), "\(command.name) with a revoked token: \(gone.stderr)")

            let small = try run(token: narrow)
            #expect(small.status != 0, "\(command.name) with a read_cases token: exit \(small.status), \(small.stdout)")
            #expect(
                small.stderr.contains("the token's scope does not allow this")
                    && small.stderr.contains("`mamori \(command.name)` needs a token with \(command.needs)"),
                "\(command.name) with a read_cases token: \(small.stderr)")

            let shared = try run(["--token-file", dir + "/shared.token"], token: "")
            #expect(shared.status != 0)
            #expect(shared.stderr.contains("chmod 600 \(dir)/shared.token"), "\(command.name) with a 0644 token file: \(shared.stderr)")

            let fromEnvironment = try run(token: good)
            #expect(fromEnvironment.status == 0, "\(command.name) with a good token: \(fromEnvironment.stderr)")
            #expect(fromEnvironment.stdout.contains(command.worked), "\(command.name) with a good token: \(fromEnvironment.stdout)")

            let fromFile = try run(["--token-file", dir + "/good.token"], token: narrow) // the file wins over the environment
            #expect(fromFile.status == 0, "\(command.name) with --token-file: \(fromFile.stderr)")
            #expect(fromFile.stdout.contains(command.name == "whois" ? command.worked : "imported"), "\(command.name): \(fromFile.stdout)")
        }
        server.stop()
    }
}
