import APIClient
import Foundation
import Hummingbird
import HummingbirdTesting
import MamoriCore
import MamoriTesting
import NIOCore
import Testing

/// The operator's machine token: read from a private file or MAMORI_TOKEN, sent as
/// `Authorization: Bearer …` with every request, never shown; a 401 or 403 fails the request with
/// the server's reason.
@Suite struct APITokenTests {
    /// A well-formed token (as `mamori token create` prints it); its secret part must never be printed.
    static let token = "mamori_0123456789abcdef_" + String(repeating: "Zq9-", count: 10) + "xY_"
    static let secret = String(token.suffix(43))

    /// `/api/v1/whoami` answers the Authorization header it got ("-" for none); `/api/v1/guarded`
    /// answers as `mamori serve` will: 401 without that token, 403 with it.
    static func application() -> some ApplicationProtocol {
        let router = Router()
        router.get("/api/v1/whoami") { request, _ -> String in request.headers[.authorization] ?? "-" }
        router.post("/api/v1/whoami") { request, _ -> String in request.headers[.authorization] ?? "-" }
        router.get("/api/v1/guarded") { request, _ -> Response in
            let known = request.headers[.authorization] == "Bearer \(Self.token)"
            return Response(
                status: known ? .forbidden : .unauthorized,
                body: ResponseBody(
                    byteBuffer: ByteBuffer(
                        string: known
                            ? "{\"error\":\"token 0123456789abcdef does not grant read_findings\"}" : "{\"error\":\"who are you?\"}")))
        }
        router.get("/api/v1/hostile") { _, _ -> Response in
            Response(
                status: .unauthorized,
                body: ResponseBody(byteBuffer: ByteBuffer(string: "\u{1B}[2J\u{1B}]0;owned\u{07}" + String(repeating: "x", count: 5_000))))
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    /// A private temporary directory, removed after `body`.
    func withDirectory<T>(_ body: (String) throws -> T) throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-token-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        return try body(dir)
    }

    func write(_ text: String, to path: String, mode: Int) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    @Test("the token goes with every request as Authorization: Bearer; without one, no Authorization header")
    func headerIsSent() async throws {
        try await Self.application().test(.live) { client in
            let server = SocketEndpoint(host: "127.0.0.1", port: try #require(client.port))
            let token = try #require(APIToken(Self.token))
            try await MamoriAPIClient.withClient(server: server, token: token) { (api: MamoriAPIClient) async throws -> Void in
                #expect(try await api.get("/api/v1/whoami").ok() == "Bearer \(Self.token)")
                #expect(try await api.post("/api/v1/whoami", body: Array("{}".utf8)).ok() == "Bearer \(Self.token)")
            }
            try await MamoriAPIClient.withClient(server: server) { (api: MamoriAPIClient) async throws -> Void in
                #expect(try await api.get("/api/v1/whoami").ok() == "-")
            }
        }
    }

    @Test("401 and 403 fail the request with the server's reason, and never show the token")
    func refusals() async throws {
        try await Self.application().test(.live) { client in
            let server = SocketEndpoint(host: "127.0.0.1", port: try #require(client.port))
            try await MamoriAPIClient.withClient(server: server) { (api: MamoriAPIClient) async throws -> Void in
                await #expect {
                    try await api.get("/api/v1/guarded")
                } throws: { error in
                    guard case .unauthenticated(let message) = error as? MamoriAPIClient.Failure else { return false }
                    return message == "who are you?" && "\(error)" == "the server wants an operator token (401: who are you?)"
                }
                // A hostile answer cannot move the terminal's cursor or flood it.
                await #expect {
                    try await api.get("/api/v1/hostile")
                } throws: { error in
                    guard case .unauthenticated(let message) = error as? MamoriAPIClient.Failure else { return false }
                    return message.count == 300 && !message.unicodeScalars.contains { $0.properties.generalCategory == .control }
                }
            }
            let token = try #require(APIToken(Self.token))
            try await MamoriAPIClient.withClient(server: server, token: token) { (api: MamoriAPIClient) async throws -> Void in
                await #expect {
                    try await api.get("/api/v1/guarded")
                } throws: { error in
                    guard case .forbidden(let message) = error as? MamoriAPIClient.Failure else { return false }
                    return message == "token 0123456789abcdef does not grant read_findings" && !"\(error)".contains(Self.secret)
                }
            }
        }
    }

    @Test("a token file only its owner can read gives the token, trimmed; it is sent as it was written")
    func fromFile() async throws {
        let token = try withDirectory { dir in
            try write("  \(Self.token)\r\n\n", to: dir + "/token", mode: 0o600)
            return try APIToken(file: dir + "/token")
        }
        #expect("\(token)" == "API token (hidden)")
        var dumped = ""
        dump(token, to: &dumped)
        #expect(!dumped.contains(Self.secret), "dump shows the token: \(dumped)")
        try await Self.application().test(.live) { client in
            let server = SocketEndpoint(host: "127.0.0.1", port: try #require(client.port))
            try await MamoriAPIClient.withClient(server: server, token: token) { (api: MamoriAPIClient) async throws -> Void in
                #expect(try await api.get("/api/v1/whoami").ok() == "Bearer \(Self.token)")
            }
        }
    }

    @Test("a token file its group or others may read is refused with the fix, and the token is not in the message")
    func fileReadableByOthers() throws {
        for mode in [0o640, 0o604, 0o660, 0o644] {
            try withDirectory { dir in
                let path = dir + "/token"
                try write(Self.token + "\n", to: path, mode: mode)
                #expect {
                    try APIToken(file: path)
                } throws: { error in
                    let text = "\(error)"
                    return error is APITokenError && text.contains("can be read or written by users other than its owner")
                        && text.contains("(mode \(String(mode, radix: 8)))") && text.contains("chmod 600 \(path)")
                        && !text.contains(Self.secret)
                }
                // --token-file wins over the environment: its refusal is not hidden by a good MAMORI_TOKEN.
                #expect(throws: APITokenError.self) { try APIToken.load(file: path, environment: ["MAMORI_TOKEN": Self.token]) }
            }
        }
    }

    @Test(
        "what is not one token is refused, never read whole, never printed: missing, a directory, too large, other text, a header smuggled in"
    )
    func hostileFiles() throws {
        try withDirectory { dir in
            func refusal(_ path: String) -> String? {
                do {
                    _ = try APIToken(file: path)
                    return nil
                } catch { return "\(error)" }
            }
            #expect(refusal(dir + "/missing")?.hasPrefix("cannot read the token file \(dir)/missing: No such file") == true)
            try FileManager.default.createDirectory(
                atPath: dir + "/d", withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            #expect(refusal(dir + "/d") == "the token file \(dir)/d is not a regular file")
            try write(String(repeating: Self.token + "\n", count: 100), to: dir + "/big", mode: 0o600)
            #expect(refusal(dir + "/big")?.contains("larger than 4096 bytes") == true)
            let notTokens = [
                "", "\n", "hunter2-password", Self.token + "\r\nX-Evil: 1", Self.token + " " + Self.token, "mamori_\u{7F}",
                "mamori_" + String(repeating: "a", count: 300), "\u{FF}\u{FE}mamori_x",
            ]
            for (n, text) in notTokens.enumerated() {
                let path = dir + "/bad\(n)"
                try write(text, to: path, mode: 0o600)
                let message = refusal(path)
                #expect(message?.hasPrefix("the token file \(path) does not hold a token") == true, "\(n): \(message ?? "accepted")")
                #expect(message?.contains(Self.secret) == false)
            }
            #expect(APIToken(String(repeating: " ", count: 100_000) + Self.token) == nil)
        }
    }

    @Test("MAMORI_TOKEN gives the token when no file is given; unset or blank gives none; a bad value is refused unprinted")
    func fromEnvironment() async throws {
        #expect(try APIToken.load(file: nil, environment: [:]) == nil)
        #expect(try APIToken.load(file: nil, environment: ["MAMORI_TOKEN": " \n"]) == nil)
        #expect {
            try APIToken.load(file: nil, environment: ["MAMORI_TOKEN": "x" + Self.secret])
        } throws: { error in
            "\(error)" == "MAMORI_TOKEN does not hold a token: expected mamori_<id>_<secret>, as `mamori token create` prints it"
        }
        let token = try #require(try APIToken.load(file: nil, environment: ["MAMORI_TOKEN": Self.token + "\n"]))
        // A private --token-file wins over the environment.
        let other = "mamori_fedcba9876543210_" + String(repeating: "A", count: 43)
        let fromFile = try withDirectory { dir in
            try write(other, to: dir + "/token", mode: 0o400)
            return try #require(try APIToken.load(file: dir + "/token", environment: ["MAMORI_TOKEN": Self.token]))
        }
        try await Self.application().test(.live) { client in
            let server = SocketEndpoint(host: "127.0.0.1", port: try #require(client.port))
            try await MamoriAPIClient.withClient(server: server, token: token) { (api: MamoriAPIClient) async throws -> Void in
                #expect(try await api.get("/api/v1/whoami").ok() == "Bearer \(Self.token)")
            }
            try await MamoriAPIClient.withClient(server: server, token: fromFile) { (api: MamoriAPIClient) async throws -> Void in
                #expect(try await api.get("/api/v1/whoami").ok() == "Bearer \(other)")
            }
        }
    }
}
