import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MamoriTesting
import NIOCore
import Testing

@testable import Server

/// The accounts API as `mamori user|token --server` uses it: snake_case answers with the ids the
/// CLI lists, a token that mints no token wider than itself, and 403s that say whether the
/// token's scope or its account's role is short.
@Suite struct AccountsAPITests {
    static func application(_ dir: TemporaryDirectory) throws -> (some ApplicationProtocol, MamoriServices) {
        var dependencies = ApplicationDependencies(logger: LogStore().logger(level: .critical))
        dependencies.passwordHashing = BcryptPasswordHashing(cost: 4)
        return try buildApplication(configuration: ServerTests.configuration(dataDirectory: dir.path), dependencies: dependencies)
    }

    @Test("users and tokens answer snake_case with ids and the creator's name; a token mints no token wider than its own scope")
    func answersAndScope() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try Self.application(dir)
        let admin = try await services.operatorHeaders(role: .admin, name: "root")
        let tokensOnly = try await services.operatorHeaders(role: .admin, name: "root", scope: [.manageTokens, .readFindings])
        let viewer = try await services.operatorHeaders(role: .viewer, name: "vic")
        try await app.test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ uri: String, _ headers: HTTPFields, body: String? = nil) async throws -> (
                HTTPResponse.Status, [String: Any]
            ) {
                try await client.execute(
                    uri: uri, method: method, headers: headers + [.contentType: "application/json"],
                    body: body.map { ByteBuffer(string: $0) }
                ) { r in
                    (r.status, (try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]) ?? [:])
                }
            }

            let (made, account) = try await call(
                .post, "/api/v1/users", admin, body: #"{"name":"bob","role":"viewer","password":"a long password for bob","language":"en"}"#
            )
            #expect(made == .created)
            #expect(
                Set(account.keys) == ["id", "name", "role", "disabled", "locked", "failed_logins", "language", "created_at", "changed_at"])
            #expect((account["id"] as? String)?.isEmpty == false && account["language"] as? String == "en")

            let (_, users) = try await call(.get, "/api/v1/users", admin)
            #expect(((users["accounts"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String } == ["bob", "root", "vic"])

            let (created, token) = try await call(
                .post, "/api/v1/tokens", tokensOnly, body: #"{"name":"nightly","scope":["read_findings"],"expires_in_days":1}"#)
            #expect(created == .created, "\(token)")
            #expect(token["created_by_name"] as? String == "root" && (token["token"] as? String)?.hasPrefix("mamori_") == true)
            #expect(!token.keys.contains { $0.contains(where: \.isUppercase) }, "\(token)")

            let (wider, refusal) = try await call(
                .post, "/api/v1/tokens", tokensOnly, body: #"{"name":"wide","scope":["manage_accounts"],"expires_in_days":1}"#)
            #expect(wider == .forbidden)
            #expect(
                refusal["error"] as? String
                    == "a token cannot make a token wider than its own scope; this one does not grant manage_accounts")

            let (_, tokens) = try await call(.get, "/api/v1/tokens", admin)
            let listed = (tokens["tokens"] as? [[String: Any]]) ?? []
            #expect(listed.contains { $0["name"] as? String == "nightly" && $0["created_by_name"] as? String == "root" })
            #expect(!listed.contains { $0["token"] != nil }, "a list shows no secret")
            #expect(!listed.contains { $0["name"] as? String == "wide" })

            // Who is short: the token's scope, or its account's role.
            let (scopeShort, scopeMessage) = try await call(.get, "/api/v1/users", tokensOnly)
            #expect(scopeShort == .forbidden && scopeMessage["error"] as? String == "this token's scope does not grant manage_accounts")
            let (roleShort, roleMessage) = try await call(.get, "/api/v1/users", viewer)
            #expect(
                roleShort == .forbidden
                    && roleMessage["error"] as? String == "the role viewer of this token's account does not grant manage_accounts")
        }
    }

    @Test("PresentedCredentials: a Bearer token wins over the cookie; anything but a well-formed token or session id is malformed")
    func presentedCredentials() {
        var random = SystemRandomNumberGenerator()
        let token = MachineToken.make(
            name: "t", permissions: [.readFindings], createdBy: "a", at: 0, expiresAt: 1, using: &random
        ).presented.revealed
        let session = OperatorSession.make(accountID: "a", clientAddress: "192.0.2.1", at: 0, using: &random).id.revealed
        let cookie = ["theme=dark; mamori_session=\(session)"]
        guard case .token(let text, let parsed) = PresentedCredentials(authorization: "bearer  \(token) ", cookieHeaders: cookie) else {
            Issue.record("a Bearer token was not taken")
            return
        }
        #expect(text == token && parsed.id == String(token.dropFirst(7).prefix(16)))
        guard case .session(let id, _) = PresentedCredentials(authorization: nil, cookieHeaders: cookie) else {
            Issue.record("the session cookie was not taken")
            return
        }
        #expect(id == session)
        #expect(PresentedCredentials(authorization: nil, cookieHeaders: []) == PresentedCredentials.none)
        #expect(PresentedCredentials(authorization: nil, cookieHeaders: ["mamori_session="]) == PresentedCredentials.none)
        for bad in [
            "Basic YWRtaW46cGFzc3dvcmQ=", "Bearer " + token + "x", "Bearer " + token.uppercased(), "Bearer", "",
            "Bearer " + String(repeating: "a", count: 600),
        ] {
            #expect(PresentedCredentials(authorization: bad, cookieHeaders: cookie) == .malformed, "\(bad)")
        }
        #expect(PresentedCredentials(authorization: nil, cookieHeaders: ["mamori_session=\(session)x"]) == .malformed)
    }
}
