import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Lawful
import Logging
import MamoriTesting
import NIOCore
import Testing

@testable import Server

/// Who may call what: every registered route against every kind of caller.
@Suite struct RouteAccessTests {
    static func application(
        _ dir: TemporaryDirectory, clock: TestClock, configure: (inout MamoriConfiguration) -> Void = { _ in }
    ) throws -> (some ApplicationProtocol, MamoriServices) {
        var configuration = ServerTests.configuration(dataDirectory: dir.path)
        configuration.attribution.revealEnabled = true
        configure(&configuration)
        var dependencies = ApplicationDependencies(logger: LogStore().logger(level: .critical), clock: clock)
        dependencies.passwordHashing = BcryptPasswordHashing(cost: 4)
        return try buildApplication(configuration: configuration, dependencies: dependencies)
    }

    /// Signs `name` in with `password` through the API; the cookie and CSRF token, or the status.
    static func login(_ client: some TestClientProtocol, _ name: String, _ password: String) async throws -> (
        status: HTTPResponse.Status, cookie: String?, csrf: String?
    ) {
        let body = try JSONEncoder().encode(["name": name, "password": password])
        return try await client.execute(uri: "/api/v1/session", method: .post, body: ByteBuffer(bytes: body)) { r in
            let cookie = r.headers[values: .setCookie].first?.split(separator: ";").first.map(String.init)
            let answer = try? JSONSerialization.jsonObject(with: Data(r.body.readableBytesView)) as? [String: Any]
            return (r.status, cookie, answer?["csrf_token"] as? String)
        }
    }

    @Test(
        "every registered route × {no credentials, peer, viewer, analyst, admin, expired session, revoked token}: 401, 403 or through, as its rule says; a route without a rule fails"
    )
    func routeByRole() async throws {
        let dir = try TemporaryDirectory()
        let clock = TestClock(Int64(Date().timeIntervalSince1970 * 1000))
        let (app, services) = try Self.application(dir, clock: clock)
        // Every route the router serves has a rule (a route added without one fails here).
        let rules = services.routeAccess.all
        #expect(services.registeredRoutes.count >= 25, "\(services.registeredRoutes)")
        for route in services.registeredRoutes { #expect(rules[route] != nil, "\(route) has no access rule") }
        #expect(Set(rules.keys) == Set(services.registeredRoutes))

        var callers: [(name: String, headers: HTTPFields, role: Role?, valid: Bool)] = [("none", [:], nil, false)]
        for role in Role.allCases {
            callers.append((role.rawValue, try await services.operatorHeaders(role: role), role, true))
        }
        let revoked = try await services.operatorHeaders(role: .admin, name: "revoked-admin")
        let revokedCreator = try #require(try await services.accountStore.account(named: "revoked-admin"))
        for var t in try await services.accountStore.tokens() where t.createdBy == revokedCreator.id {
            t.revokedAt = clock.milliseconds
            try await services.accountStore.save(t)
        }
        callers.append(("revoked token", revoked, nil, false))
        try await services.addAccount("idle-admin", role: .admin, password: "an idle admin password")
        let tokenCallers = callers
        try await app.test(.router) { client in
            let signedIn = try await Self.login(client, "idle-admin", "an idle admin password")
            #expect(signedIn.status == .ok)
            let cookie = try #require(signedIn.cookie)
            // 31 minutes without a request: past the 30-minute idle timeout.
            clock.advance(by: 31 * 60_000)
            let callers = tokenCallers + [("expired session", [.cookie: cookie, .csrfToken: signedIn.csrf ?? ""], nil, false)]

            var checked = 0
            for route in services.registeredRoutes.sorted() {
                let parts = route.split(separator: " ", maxSplits: 1)
                let method = HTTPRequest.Method(String(parts[0]))!
                let path = parts[1].split(separator: "/").map { $0.hasPrefix(":") || $0.hasPrefix("{") ? "x" : String($0) }.joined(
                    separator: "/")
                let access = try #require(rules[route])
                for caller in callers {
                    let status = try await client.execute(
                        uri: "/" + path, method: method, headers: caller.headers + [.contentType: "application/json"],
                        body: method == .get ? nil : ByteBuffer(string: "{}")
                    ) { $0.status }
                    let expected: String
                    switch access {
                    case .open: expected = "through"
                    case .signedIn: expected = caller.valid ? "403" : "401" // tokens are not sessions
                    case .permission(let p): expected = !caller.valid ? "401" : (caller.role!.grants(p) ? "through" : "403")
                    case .sharing:
                        expected =
                            !caller.valid
                            ? "401" : (caller.role!.grants(.readShared) || caller.role!.grants(.writeShared) ? "through" : "403")
                    }
                    let got = status == .unauthorized ? "401" : status == .forbidden ? "403" : "through"
                    #expect(got == expected, "\(route) as \(caller.name): \(status)")
                    checked += 1
                }
            }
            #expect(checked == services.registeredRoutes.count * callers.count)
        }
    }

    @Test(
        "a session: signed-in requests need their CSRF token; after logout, or past the absolute lifetime, the cookie is refused; login failures say nothing about the name"
    )
    func sessions() async throws {
        let dir = try TemporaryDirectory()
        let clock = TestClock(Int64(Date().timeIntervalSince1970 * 1000))
        let (app, services) = try Self.application(dir, clock: clock)
        try await services.addAccount("hana", role: .analyst, password: "hana's long password")
        try await app.test(.router) { client in
            let wrongName = try await Self.login(client, "nobody", "hana's long password")
            let wrongPassword = try await Self.login(client, "hana", "not the password!!")
            #expect(wrongName.status == .unauthorized && wrongPassword.status == .unauthorized)
            #expect(wrongName.cookie == nil && wrongPassword.cookie == nil)
            let s = try await Self.login(client, "hana", "hana's long password")
            let cookie = try #require(s.cookie)
            let csrf = try #require(s.csrf)
            try await client.execute(uri: "/api/v1/session", method: .post, body: ByteBuffer(string: "{}")) { _ in }
            let verdict = "/api/v1/findings/none/verdict"
            let body = ByteBuffer(string: #"{"verdict":"false-positive"}"#)
            for (headers, expected) in [
                ([HTTPField(name: .cookie, value: cookie)], HTTPResponse.Status.forbidden),
                ([HTTPField(name: .cookie, value: cookie), HTTPField(name: .csrfToken, value: "wrong")], .forbidden),
                ([HTTPField(name: .cookie, value: cookie), HTTPField(name: .csrfToken, value: csrf)], .notFound),
            ] {
                try await client.execute(uri: verdict, method: .post, headers: HTTPFields(headers), body: body) { r in
                    #expect(r.status == expected, "\(headers.map(\.name))")
                }
            }
            // Reads need no CSRF token; the session says who it is.
            try await client.execute(uri: "/api/v1/session", method: .get, headers: [.cookie: cookie]) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains(#""operator":"hana""#))
                #expect(r.headers[.cacheControl] == "no-store")
            }
            // The cookie's attributes.
            let setCookie = try await client.execute(
                uri: "/api/v1/session", method: .post, body: ByteBuffer(string: #"{"name":"hana","password":"hana's long password"}"#)
            ) { $0.headers[values: .setCookie].joined() }
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict") && setCookie.contains("Path=/"))
            // Logout ends the session server-side: the old cookie is refused.
            try await client.execute(uri: "/api/v1/session", method: .delete, headers: [.cookie: cookie, .csrfToken: csrf]) { r in
                #expect(r.status == .ok)
            }
            try await client.execute(uri: "/api/v1/session", method: .get, headers: [.cookie: cookie]) { r in
                #expect(r.status == .unauthorized)
            }
            // Past the absolute lifetime (12 h), even a session kept busy is refused.
            let busy = try await Self.login(client, "hana", "hana's long password")
            for _ in 0..<48 { // 12 h in steps of 15 min: never idle for 30
                clock.advance(by: 15 * 60_000)
                _ = try await client.execute(uri: "/api/v1/session", method: .get, headers: [.cookie: busy.cookie ?? ""]) { $0.status }
            }
            try await client.execute(uri: "/api/v1/session", method: .get, headers: [.cookie: busy.cookie ?? ""]) { r in
                #expect(r.status == .unauthorized, "a session older than 12 h")
            }
        }
        // The audit trail has every login, failure and logout, and no secret.
        let log = try String(contentsOfFile: dir.path + "/audit/000001.jsonl", encoding: .utf8)
        #expect(log.contains("login failed: no such account") && log.contains("login failed: wrong password") && log.contains("logged out"))
        #expect(!log.contains("nobody"), "an unknown login name is not recorded")
        #expect(!log.contains("hana's long password") && !log.contains("not the password"))
    }

    @Test("20 wrong passwords lock the account (audited), the right one is then refused; an oversized login body gets 413")
    func lockout() async throws {
        let dir = try TemporaryDirectory()
        let clock = TestClock(Int64(Date().timeIntervalSince1970 * 1000))
        let (app, services) = try Self.application(dir, clock: clock)
        try await services.addAccount("ken", role: .viewer, password: "ken's long password")
        try await app.test(.router) { client in
            for n in 0..<20 {
                // Minutes apart, so the per-address rate limit does not answer first.
                clock.advance(by: 5 * 60_000)
                let r = try await Self.login(client, "ken", "wrong password \(n)")
                #expect(r.status == .unauthorized || r.status == .tooManyRequests, "attempt \(n): \(r.status)")
            }
            clock.advance(by: 5 * 60_000)
            let right = try await Self.login(client, "ken", "ken's long password")
            #expect(right.status == .unauthorized && right.cookie == nil, "locked: \(right.status)")
            let huge = ByteBuffer(string: #"{"name":"ken","password":""# + String(repeating: "x", count: 64 * 1024) + #""}"#)
            try await client.execute(uri: "/api/v1/session", method: .post, body: huge) { r in
                #expect(r.status == .contentTooLarge)
            }
        }
        #expect(try await services.accountStore.account(named: "ken")?.isLocked(at: clock.milliseconds) == true)
        let log = try String(contentsOfFile: dir.path + "/audit/000001.jsonl", encoding: .utf8)
        #expect(log.contains("account locked after 20 wrong passwords"))
    }
}
