import Accounts
import Attribution
import DNSWire
import FlowCodec
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Lawful
import Logging
import MamoriCore
import MamoriTesting
import Mitigation
import NIOCore
import RPZ
import Testing

@testable import Server

/// The console through the router: sign-in, pages, forms and their CSRF tokens, the audited
/// reveal, the language switch, sign-out. (The same in a real browser: Tests/browser.)
@Suite struct ConsoleRouteTests {
    static let now = Int64(Date().timeIntervalSince1970 * 1000)

    static func finding() -> Finding {
        var evidence = Evidence()
        evidence.features = [Feature(.c2Contacts, 30, about: "203.0.113.9:443/tcp")]
        evidence.thresholds = [.atLeast("cohort size", 3, 3)]
        evidence.cohort = ["s:0000000000a1", "s:0000000000a2", "s:0000000000a3"]
        evidence.cohortSize = 3
        evidence.reasons = ["3 hosts contact it every 60 s"]
        for h in 0..<3 {
            for k in 0..<10 {
                let t = now - 600_000 + Int64(k) * 60_000 + Int64(h) * 5_000
                evidence.flows.append(
                    FlowSample(
                        start: t, end: t + 400, source: "s:0000000000a\(h + 1)", sourcePort: 40_000, destination: "203.0.113.9",
                        destinationPort: 443, protocol: "tcp", tcpFlags: 0x1B, packets: 5, bytes: 500, samplingInterval: 1))
            }
        }
        return Finding(
            id: "c2-server:00000000000000c2", kind: .commandAndControl,
            subject: FindingSubject(type: .endpoint, address: "203.0.113.9", port: 443, protocol: "tcp", ports: nil), score: 0.9,
            firstSeen: now - 600_000, lastSeen: now, detectedAt: now, updatedAt: now, family: nil, summary: "beacon every 60 s",
            evidence: evidence)
    }

    /// The cookie of a `Set-Cookie` answer, as a browser sends it back.
    static func cookie(_ r: TestResponse) -> String? { r.headers[values: .setCookie].first?.split(separator: ";").first.map(String.init) }

    /// The CSRF token in a page's forms.
    static func csrf(_ html: String) -> String? { html.firstMatch(of: /name="csrf" value="([^"]+)"/).map { String($0.1) } }

    static func form(_ fields: [String: String]) -> ByteBuffer {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return ByteBuffer(
            string: fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&"))
    }

    static let formType: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    @Test(
        "sign in through the form; read the overview, the findings and a finding; a verdict without its CSRF token is refused, with it recorded under the operator; the reveal is audited and shown once; English and back; sign out"
    )
    func analystsDay() async throws {
        let dir = try TemporaryDirectory()
        let clock = TestClock(Self.now)
        let (app, services) = try RouteAccessTests.application(dir, clock: clock)
        try await services.addAccount("hana", role: .analyst, password: "hana's long password")
        try await services.addAccount("ken", role: .viewer, password: "ken's long password")
        try await services.detection.store.upsert([Self.finding()])
        let theCase = LawfulCase(
            id: "case-0001", subscriber: "s:0000000000a1", kind: .infection, device: "100.64.0.7", finding: "infected-device:7",
            evidence: InfectionEvidence(from: Self.now - 600_000, to: Self.now), at: Self.now)
        try await services.cases.cases.save(theCase)
        services.attribution.add([StaticAssignment(prefix: IPPrefix("100.64.0.7/32")!, subscriber: "user7@isp.example")])

        try await app.test(.router) { client in
            // Not signed in: the sign-in form, with 401, coming back to the page after.
            try await client.execute(uri: "/console/findings", method: .get) { r in
                #expect(r.status == .unauthorized)
                #expect(r.headers[.contentType]?.hasPrefix("text/html") == true)
                let html = String(buffer: r.body)
                #expect(html.contains("id=\"login-form\"") && html.contains("value=\"/console/findings\""))
                #expect(r.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            }
            try await client.execute(uri: "/static/console.css", method: .get) { r in
                #expect(r.status == .ok && r.headers[.contentType]?.hasPrefix("text/css") == true)
            }
            // A wrong password: the form again, 401, no cookie.
            try await client.execute(
                uri: "/login", method: .post, headers: Self.formType, body: Self.form(["name": "hana", "password": "wrong password!!"])
            ) { r in
                #expect(r.status == .unauthorized && Self.cookie(r) == nil)
                #expect(String(buffer: r.body).contains("id=\"login-error\""))
            }
            // Signed in: to where she was going (another site is never followed).
            let cookie = try await client.execute(
                uri: "/login", method: .post, headers: Self.formType,
                body: Self.form(["name": "hana", "password": "hana's long password", "next": "/console/findings"])
            ) { r in
                #expect(r.status == .seeOther && r.headers[.location] == "/console/findings")
                return try #require(Self.cookie(r))
            }
            let session: HTTPFields = [.cookie: cookie]
            let overview = try await client.execute(uri: "/console", method: .get, headers: session) { r in
                #expect(r.status == .ok)
                return String(buffer: r.body)
            }
            #expect(overview.contains("id=\"chart-flows\"") && overview.contains("<svg") && overview.contains("lang=\"ja\""))
            let csrf = try #require(Self.csrf(overview))
            try await client.execute(uri: "/console/findings", method: .get, headers: session) { r in
                #expect(r.status == .ok && String(buffer: r.body).contains("/console/findings/c2-server:00000000000000c2"))
            }
            let findingPath = "/console/findings/c2-server:00000000000000c2"
            try await client.execute(uri: findingPath, method: .get, headers: session) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok)
                #expect(html.contains("id=\"chart-beacon\"") && html.contains("id=\"chart-intervals\"") && html.contains("s:0000000000a2"))
                #expect(html.contains("verdict-false-positive"))
            }
            // A verdict without its CSRF token, or with another's: refused, nothing recorded.
            for fields in [["verdict": "false-positive"], ["verdict": "false-positive", "csrf": "not-the-token"]] {
                try await client.execute(
                    uri: findingPath + "/verdict", method: .post, headers: session + Self.formType, body: Self.form(fields)
                ) {
                    r in
                    #expect(r.status == .forbidden)
                }
            }
            #expect(try await services.detection.store.finding(id: "c2-server:00000000000000c2")?.verdict == nil)
            try await client.execute(
                uri: findingPath + "/verdict", method: .post, headers: session + Self.formType,
                body: Self.form(["verdict": "false-positive", "note": "our CDN", "csrf": csrf])
            ) { r in
                #expect(r.status == .ok)
            }
            let judged = try await services.detection.store.finding(id: "c2-server:00000000000000c2")?.verdict
            #expect(judged?.verdict == .falsePositive && judged?.analyst == "hana" && judged?.note == "our CDN")

            // The reveal: a reason is required; then the identity is shown once and audited.
            try await client.execute(
                uri: "/console/cases/case-0001/reveal", method: .post, headers: session + Self.formType,
                body: Self.form(["reason": "short", "csrf": csrf])
            ) { r in
                #expect(r.status == .badRequest)
                #expect(!String(buffer: r.body).contains("user7@isp.example"))
            }
            try await client.execute(
                uri: "/console/cases/case-0001/reveal", method: .post, headers: session + Self.formType,
                body: Self.form(["reason": "subscriber called the abuse desk, ticket 4711", "csrf": csrf])
            ) { r in
                #expect(r.status == .ok)
                #expect(String(buffer: r.body).contains("user7@isp.example"))
                #expect(r.headers[.cacheControl] == "no-store")
            }
            try await client.execute(uri: "/console/cases/case-0001", method: .get, headers: session) { r in
                #expect(!String(buffer: r.body).contains("user7@isp.example"), "shown once: the case page does not keep it")
            }
            try await client.execute(uri: "/console/audit?kind=identity_reveal", method: .get, headers: session) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && html.contains("analyst:hana") && html.contains("ticket 4711"))
                #expect(!html.contains("user7@isp.example"), "the audit log names the pseudonym, not the identifier")
            }
            try await client.execute(uri: "/console/audit?verify=1", method: .get, headers: session) { r in
                #expect(String(buffer: r.body).contains("✔"), "the chain verifies")
            }
            // An analyst may not see the accounts or the settings.
            try await client.execute(uri: "/console/accounts", method: .get, headers: session) { r in #expect(r.status == .forbidden) }

            // English, and the choice is the account's.
            try await client.execute(
                uri: "/console/language", method: .post, headers: session + Self.formType,
                body: Self.form(["language": "en", "next": "/console/cases", "csrf": csrf])
            ) { r in
                #expect(r.status == .seeOther && r.headers[.location] == "/console/cases")
            }
            try await client.execute(uri: "/console/cases", method: .get, headers: session) { r in
                #expect(String(buffer: r.body).contains("lang=\"en\"") && String(buffer: r.body).contains("M-ASE-0001"))
            }
            #expect(try await services.accountStore.account(named: "hana")?.language == .en)

            // A viewer: no reveal form, and a reveal posted anyway is refused.
            let viewerCookie = try await client.execute(
                uri: "/login", method: .post, headers: Self.formType, body: Self.form(["name": "ken", "password": "ken's long password"])
            ) { try #require(Self.cookie($0)) }
            let viewerPage = try await client.execute(uri: "/console/cases/case-0001", method: .get, headers: [.cookie: viewerCookie]) {
                String(buffer: $0.body)
            }
            #expect(!viewerPage.contains("reveal-form") && viewerPage.contains("case-reference"))
            try await client.execute(
                uri: "/console/cases/case-0001/reveal", method: .post, headers: [.cookie: viewerCookie] + Self.formType,
                body: Self.form(["reason": "just curious about this one", "csrf": Self.csrf(viewerPage) ?? ""])
            ) { r in
                #expect(r.status == .forbidden)
            }

            // Sign out: the cookie is refused afterwards.
            try await client.execute(uri: "/logout", method: .post, headers: session + Self.formType, body: Self.form(["csrf": csrf])) {
                r in
                #expect(r.status == .seeOther && r.headers[.location] == "/login")
            }
            try await client.execute(uri: "/console", method: .get, headers: session) { r in #expect(r.status == .unauthorized) }
        }
        let log = try String(contentsOfFile: dir.path + "/audit/000001.jsonl", encoding: .utf8)
        #expect(log.contains("identity_reveal") && log.contains("analyst:hana") && log.contains("logged out"))
        #expect(!log.contains("hana's long password"))
    }

    @Test("an admin sees accounts and tokens (no secret) and the effective configuration with secrets redacted")
    func adminPages() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try RouteAccessTests.application(dir, clock: TestClock(Self.now))
        let admin = try await services.operatorHeaders(role: .admin, name: "root")
        let dataDirectory = dir.path
        try await app.test(.router) { client in
            try await client.execute(uri: "/console/accounts", method: .get, headers: admin) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && html.contains("root") && html.contains("id=\"tokens\""))
                #expect(!html.contains("mamori_"), "no token secret on the page")
                #expect(!html.contains("$2b$") && !html.contains("$2y$"), "no password hash on the page")
            }
            try await client.execute(uri: "/console/settings", method: .get, headers: admin) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && html.contains("dataDirectory") && html.contains(dataDirectory))
            }
        }
        var c = MamoriConfiguration()
        c.dataDirectory = "/var/lib/mamori"
        let text = c.effectiveDescription
        #expect(text.contains("dataDirectory: /var/lib/mamori") && text.contains("http:"))
    }

    @Test(
        "an admin manages accounts and tokens through the console's forms: nothing without the CSRF token, refusals in words, the new token shown once and working, revocation, every change audited; an analyst may not"
    )
    func adminForms() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try RouteAccessTests.application(dir, clock: TestClock(Self.now))
        try await services.addAccount("root", role: .admin, password: "root's long password")
        try await services.addAccount("hana", role: .analyst, password: "hana's long password")
        let secret = try await app.test(.router) { client in
            func signIn(_ name: String, _ password: String) async throws -> HTTPFields {
                try await client.execute(
                    uri: "/login", method: .post, headers: Self.formType, body: Self.form(["name": name, "password": password])
                ) { r in
                    #expect(r.status == .seeOther)
                    return [.cookie: try #require(Self.cookie(r)), .contentType: "application/x-www-form-urlencoded"]
                }
            }
            let root = try await signIn("root", "root's long password")
            let csrf = try await client.execute(uri: "/console/accounts", method: .get, headers: root) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && html.contains("id=\"add-account-form\"") && html.contains("id=\"create-token-form\""))
                return try #require(Self.csrf(html))
            }
            let mika = ["name": "mika", "role": "analyst", "password": "mika's long password", "language": "en"]
            // Without the CSRF token: refused, nothing made.
            try await client.execute(uri: "/console/accounts", method: .post, headers: root, body: Self.form(mika)) { r in
                #expect(r.status == .forbidden)
            }
            #expect(try await services.accountStore.account(named: "mika") == nil)
            try await client.execute(
                uri: "/console/accounts", method: .post, headers: root, body: Self.form(mika.merging(["csrf": csrf]) { a, _ in a })
            ) { r in
                #expect(r.status == .seeOther && r.headers[.location] == "/console/accounts?done=accountAdded")
            }
            #expect(try await services.accountStore.account(named: "mika")?.role == .analyst)
            // The workflow's refusals, in words: a name taken, a short password, the last admin.
            try await client.execute(
                uri: "/console/accounts", method: .post, headers: root, body: Self.form(mika.merging(["csrf": csrf]) { a, _ in a })
            ) { r in
                #expect(r.status == .conflict && String(buffer: r.body).contains("id=\"message\""))
            }
            try await client.execute(
                uri: "/console/passwords", method: .post, headers: root,
                body: Self.form(["csrf": csrf, "name": "mika", "password": "short"])
            ) { r in
                #expect(r.status == .badRequest && String(buffer: r.body).contains("12"))
            }
            try await client.execute(
                uri: "/console/accounts/root", method: .post, headers: root, body: Self.form(["csrf": csrf, "change": "disable"])
            ) { r in
                #expect(r.status == .conflict)
            }
            #expect(try await services.accountStore.account(named: "root")?.disabled == false)
            try await client.execute(
                uri: "/console/accounts/nobody", method: .post, headers: root, body: Self.form(["csrf": csrf, "change": "disable"])
            ) { r in
                #expect(r.status == .notFound)
            }
            // Role, disable, enable, a new password.
            try await client.execute(
                uri: "/console/accounts/mika", method: .post, headers: root,
                body: Self.form(["csrf": csrf, "change": "role", "role": "viewer"])
            ) { r in
                #expect(r.status == .seeOther)
            }
            #expect(try await services.accountStore.account(named: "mika")?.role == .viewer)
            try await client.execute(
                uri: "/console/accounts/mika", method: .post, headers: root, body: Self.form(["csrf": csrf, "change": "disable"])
            ) { r in
                #expect(r.status == .seeOther)
            }
            #expect(try await services.accountStore.account(named: "mika")?.disabled == true)
            try await client.execute(
                uri: "/console/accounts/mika", method: .post, headers: root, body: Self.form(["csrf": csrf, "change": "enable"])
            ) { r in
                #expect(r.status == .seeOther)
            }
            try await client.execute(
                uri: "/console/passwords", method: .post, headers: root,
                body: Self.form(["csrf": csrf, "name": "mika", "password": "mika's newer long password"])
            ) { r in
                #expect(r.status == .seeOther && r.headers[.location] == "/console/accounts?done=passwordSet")
            }
            _ = try await signIn("mika", "mika's newer long password")

            // A token: no scope is refused; with one, the secret is on this answer only, and works.
            try await client.execute(
                uri: "/console/tokens", method: .post, headers: root, body: Self.form(["csrf": csrf, "name": "whois-batch", "days": "30"])
            ) { r in
                #expect(r.status == .badRequest)
            }
            let secret = try await client.execute(
                uri: "/console/tokens", method: .post, headers: root,
                body: Self.form(["csrf": csrf, "name": "whois-batch", "days": "30", "scope.read_findings": "1"])
            ) { r in
                #expect(r.status == .ok && r.headers[.cacheControl] == "no-store")
                let html = String(buffer: r.body)
                return try #require(html.firstMatch(of: /id="issued-secret">(mamori_[^<]+)</).map { String($0.1) })
            }
            let bearer: HTTPFields = [.authorization: "Bearer \(secret)"]
            try await client.execute(uri: "/api/v1/findings", method: .get, headers: bearer) { r in #expect(r.status == .ok) }
            try await client.execute(uri: "/api/v1/cases", method: .get, headers: bearer) { r in #expect(r.status == .forbidden) }
            let token = try #require(try await services.accountStore.tokens().first { $0.name == "whois-batch" })
            #expect(token.permissions == [.readFindings])
            try await client.execute(uri: "/console/accounts", method: .get, headers: root) { r in
                #expect(!String(buffer: r.body).contains(secret), "the secret is shown once")
            }
            try await client.execute(
                uri: "/console/tokens/\(token.id)/revoke", method: .post, headers: root, body: Self.form(["csrf": csrf])
            ) { r in
                #expect(r.status == .seeOther && r.headers[.location] == "/console/accounts?done=tokenRevoked")
            }
            try await client.execute(uri: "/api/v1/findings", method: .get, headers: bearer) { r in #expect(r.status == .unauthorized) }

            // An analyst may not, with her own valid CSRF token.
            let hana = try await signIn("hana", "hana's long password")
            let hanaCSRF = try await client.execute(uri: "/console", method: .get, headers: hana) { r in
                try #require(Self.csrf(String(buffer: r.body)))
            }
            try await client.execute(
                uri: "/console/accounts", method: .post, headers: hana,
                body: Self.form(["csrf": hanaCSRF, "name": "eve", "role": "admin", "password": "eve's long password"])
            ) { r in
                #expect(r.status == .forbidden)
            }
            try await client.execute(uri: "/console/accounts", method: .get, headers: hana) { r in #expect(r.status == .forbidden) }
            return secret
        }
        #expect(try await services.accountStore.account(named: "eve") == nil)
        let log = try String(contentsOfFile: dir.path + "/audit/000001.jsonl", encoding: .utf8)
        for word in ["mika", "whois-batch", "operator:root"] { #expect(log.contains(word), "audited: \(word)") }
        #expect(!log.contains("mika's newer long password") && !log.contains(secret))
    }

    @Test(
        "the sinkhole page: a viewer reads it without forms; an analyst adds (CSRF checked), is refused a protected name, removes; each change audited under her name"
    )
    func sinkholePage() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try RouteAccessTests.application(dir, clock: TestClock(Self.now))
        try await services.addAccount("hana", role: .analyst, password: "hana's long password")
        try await services.addAccount("ken", role: .viewer, password: "ken's long password")
        try await app.test(.router) { client in
            func signIn(_ name: String, _ password: String) async throws -> HTTPFields {
                try await client.execute(
                    uri: "/login", method: .post, headers: Self.formType, body: Self.form(["name": name, "password": password])
                ) { r in [.cookie: try #require(Self.cookie(r)), .contentType: "application/x-www-form-urlencoded"] }
            }
            let ken = try await signIn("ken", "ken's long password")
            try await client.execute(uri: "/console/sinkhole", method: .get, headers: ken) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && html.contains("id=\"sinkhole-status\"") && !html.contains("id=\"sinkhole-add-form\""))
            }
            try await client.execute(uri: "/console/sinkhole", method: .post, headers: ken, body: Self.form(["trigger": "x.example"])) {
                r in
                #expect(r.status == .forbidden)
            }
            let hana = try await signIn("hana", "hana's long password")
            let csrf = try await client.execute(uri: "/console/sinkhole", method: .get, headers: hana) { r in
                let html = String(buffer: r.body)
                #expect(html.contains("id=\"sinkhole-add-form\""))
                return try #require(Self.csrf(html))
            }
            let entry = ["trigger": "C2.Evil.example", "reason": "seen in the sandbox", "days": "7", "action": "sinkhole"]
            try await client.execute(uri: "/console/sinkhole", method: .post, headers: hana, body: Self.form(entry)) { r in
                #expect(r.status == .forbidden, "no CSRF token")
            }
            try await client.execute(
                uri: "/console/sinkhole", method: .post, headers: hana, body: Self.form(entry.merging(["csrf": csrf]) { a, _ in a })
            ) { r in
                let html = String(buffer: r.body)
                #expect(
                    r.status == .ok && html.contains("<code>c2.evil.example.</code>") && html.contains("analyst: hana"),
                    "\(html.suffix(2000))")
            }
            try await client.execute(
                uri: "/console/sinkhole", method: .post, headers: hana,
                body: Self.form(["trigger": "www.google.com", "reason": "no", "csrf": csrf])
            ) { r in
                #expect(r.status == .unprocessableContent && String(buffer: r.body).contains("protected name"))
            }
            try await client.execute(uri: "/console/sinkhole?q=evil", method: .get, headers: ken) { r in
                #expect(String(buffer: r.body).contains("c2.evil.example."))
            }
            try await client.execute(
                uri: "/console/sinkhole/remove", method: .post, headers: hana,
                body: Self.form(["trigger": "c2.evil.example.", "csrf": csrf])
            ) { r in
                #expect(r.status == .ok && !String(buffer: r.body).contains("<code>c2.evil.example.</code>"))
            }
        }
        let audit = try services.lawful.audit.recent(limit: 50) { $0.kind == .sinkholeChange }.map {
            "\($0.record.actor) \($0.record.summary)"
        }
        #expect(audit.contains { $0.hasPrefix("analyst:hana added: c2.evil.example.") }, "\(audit)")
        #expect(audit.contains { $0.hasPrefix("analyst:hana removed: c2.evil.example.") }, "\(audit)")
    }

    @Test(
        "the sharing page: a viewer sees each source and every indicator held with its TLP, confidence and whether its name is sinkholed; filters narrow it; a pull of an unknown peer is refused"
    )
    func sharingPage() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try RouteAccessTests.application(dir, clock: TestClock(Self.now)) {
            $0.sharing.sinkhole = SharingSinkholeSettings(minimumConfidence: 50)
        }
        let sharing = try #require(services.sharing)
        let bundle = """
            {"type": "bundle", "id": "bundle--6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "objects": [
              {"type": "indicator", "spec_version": "2.1", "id": "indicator--7a1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e41",
               "created": "2026-12-01T00:00:00.000Z", "modified": "2026-12-01T00:00:00.000Z", "name": "qakbot tier 1",
               "pattern_type": "stix", "pattern": "[network-traffic:dst_ref.value = '198.51.100.44' AND network-traffic:dst_port = 443]",
               "valid_from": "2026-12-01T00:00:00Z", "confidence": 80,
               "object_marking_refs": ["marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"]},
              {"type": "indicator", "spec_version": "2.1", "id": "indicator--7a1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e42",
               "created": "2026-12-01T00:00:00.000Z", "modified": "2026-12-01T00:00:00.000Z", "name": "qakbot name",
               "pattern_type": "stix", "pattern": "[domain-name:value = 'update.qak.example']",
               "valid_from": "2026-12-01T00:00:00Z", "confidence": 60}
            ]}
            """
        let outcome = await sharing.importBundle(Array(bundle.utf8), name: "jpcert")
        #expect(outcome.error == nil && outcome.held == 2, "\(outcome)")
        try await services.addAccount("ken", role: .viewer, password: "ken's long password")
        try await app.test(.router) { client in
            let ken = try await client.execute(
                uri: "/login", method: .post, headers: Self.formType,
                body: Self.form(["name": "ken", "password": "ken's long password"])
            ) { r -> HTTPFields in [.cookie: try #require(Self.cookie(r)), .contentType: "application/x-www-form-urlencoded"] }
            let csrf = try await client.execute(uri: "/console/sharing", method: .get, headers: ken) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok, "\(html.suffix(1000))")
                #expect(html.contains("<code>file:jpcert</code>") && html.contains("qakbot tier 1") && html.contains("198.51.100.44/32"))
                #expect(html.contains("<td>443</td>") && html.contains("TLP:AMBER") && html.contains("tlp-amber"), "\(html.suffix(3000))")
                #expect(html.contains("update.qak.example") && html.contains("class=\"badge sinkholed\""), "confidence 60 ≥ 50: sinkholed")
                #expect(html.contains("href=\"/console/sharing\""), "in the navigation")
                return try #require(Self.csrf(html))
            }
            try await client.execute(uri: "/console/sharing?q=qak.example", method: .get, headers: ken) { r in
                let html = String(buffer: r.body)
                #expect(html.contains("update.qak.example") && !html.contains("198.51.100.44/32"))
            }
            try await client.execute(uri: "/console/sharing?source=taxii:nobody", method: .get, headers: ken) { r in
                #expect(String(buffer: r.body).contains("id=\"no-shared-indicators\""))
            }
            try await client.execute(
                uri: "/console/sharing/pull", method: .post, headers: ken, body: Self.form(["peer": "nobody", "csrf": csrf])
            ) { r in
                #expect(r.status == .forbidden, "a viewer may read the page, not run a pull")
            }
        }
        let sinkholed = try DNSName("update.qak.example.")
        #expect(services.sinkhole?.entry(.name(sinkholed))?.source == .indicator(feed: "file:jpcert"))
    }

    @Test(
        "the BGP page: a viewer sees sessions and waiting rules without forms; an admin approves (CSRF checked), withdraws, throws and releases the kill switch; each audited under her name"
    )
    func bgpPage() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try RouteAccessTests.application(dir, clock: TestClock(Self.now))
        let mitigation = try #require(services.mitigation)
        try await services.addAccount("aiko", role: .admin, password: "aiko's long password")
        try await services.addAccount("ken", role: .viewer, password: "ken's long password")
        try await services.addAccount("hana", role: .analyst, password: "hana's long password")
        // An inbound flood: RTBH of the victim waits for approval (inbound_flood's default mode).
        mitigation.handle([MitigationServiceTests.inbound(victim: "203.0.113.40", reflection: false)])
        let rule = try #require(mitigation.snapshot.pending.keys.first, "\(mitigation.snapshot)")
        try await app.test(.router) { client in
            func signIn(_ name: String, _ password: String) async throws -> HTTPFields {
                try await client.execute(
                    uri: "/login", method: .post, headers: Self.formType, body: Self.form(["name": name, "password": password])
                ) { r in [.cookie: try #require(Self.cookie(r)), .contentType: "application/x-www-form-urlencoded"] }
            }
            let ken = try await signIn("ken", "ken's long password")
            let kenCSRF = try await client.execute(uri: "/console/bgp", method: .get, headers: ken) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && html.contains("id=\"bgp-neighbors\"") && html.contains("nobody"), "\(html.suffix(3000))")
                #expect(html.contains("id=\"bgp-pending\"") && html.contains("203.0.113.40/32") && html.contains(rule))
                #expect(!html.contains("/console/bgp/approve") && !html.contains("id=\"kill-switch-form\""))
                #expect(html.contains("href=\"/console/bgp\""), "the navigation links the page")
                return try #require(Self.csrf(html))
            }
            try await client.execute(
                uri: "/console/bgp/approve", method: .post, headers: ken, body: Self.form(["rule": rule, "csrf": kenCSRF])
            ) { r in
                #expect(r.status == .forbidden, "a viewer may not approve")
            }
            let hana = try await signIn("hana", "hana's long password")
            let hanaCSRF = try await client.execute(uri: "/console/bgp", method: .get, headers: hana) { r in
                try #require(Self.csrf(String(buffer: r.body)))
            }
            try await client.execute(
                uri: "/console/bgp/kill", method: .post, headers: hana, body: Self.form(["reason": "no", "csrf": hanaCSRF])
            ) { r in
                #expect(r.status == .forbidden, "an analyst may not control mitigation")
            }
            let aiko = try await signIn("aiko", "aiko's long password")
            let csrf = try await client.execute(uri: "/console/bgp", method: .get, headers: aiko) { r in
                let html = String(buffer: r.body)
                #expect(html.contains("/console/bgp/approve") && html.contains("id=\"kill-switch-form\""))
                return try #require(Self.csrf(html))
            }
            try await client.execute(uri: "/console/bgp/approve", method: .post, headers: aiko, body: Self.form(["rule": rule])) { r in
                #expect(r.status == .forbidden, "no CSRF token")
            }
            try await client.execute(
                uri: "/console/bgp/approve", method: .post, headers: aiko, body: Self.form(["rule": rule, "csrf": csrf])
            ) { r in
                let html = String(buffer: r.body)
                #expect(
                    r.status == .ok && html.contains("id=\"bgp-active\"") && !html.contains("id=\"bgp-pending\""), "\(html.suffix(3000))")
                let approver = mitigation.snapshot.active[rule]?.approver ?? "none"
                #expect(approver.contains("aiko") && html.contains("<td>\(approver)</td>"), "\(approver)")
            }
            try await client.execute(
                uri: "/console/bgp/approve", method: .post, headers: aiko, body: Self.form(["rule": rule, "csrf": csrf])
            ) { r in
                #expect(r.status == .notFound, "approved already")
            }
            try await client.execute(
                uri: "/console/bgp/withdraw", method: .post, headers: aiko, body: Self.form(["rule": rule, "csrf": csrf])
            ) { r in
                #expect(r.status == .ok && !String(buffer: r.body).contains("id=\"bgp-active\""))
            }
            try await client.execute(uri: "/console/bgp/kill", method: .post, headers: aiko, body: Self.form(["csrf": csrf])) { r in
                #expect(r.status == .badRequest, "the kill switch needs a reason")
            }
            try await client.execute(
                uri: "/console/bgp/kill", method: .post, headers: aiko,
                body: Self.form(["reason": "rules misbehaving on edge-1", "csrf": csrf])
            ) { r in
                let html = String(buffer: r.body)
                #expect(r.status == .ok && html.contains("id=\"kill-switch-engaged\"") && html.contains("rules misbehaving on edge-1"))
                #expect(html.contains("id=\"kill-switch-release-form\""))
            }
            #expect(mitigation.snapshot.killSwitch != nil)
            try await client.execute(uri: "/console/bgp/release", method: .post, headers: aiko, body: Self.form(["csrf": csrf])) { r in
                #expect(r.status == .ok && !String(buffer: r.body).contains("id=\"kill-switch-engaged\""))
            }
            #expect(mitigation.snapshot.killSwitch == nil)
        }
        let audit = try services.lawful.audit.recent(limit: 50) { $0.kind == .mitigationChange }.map {
            "\($0.record.actor) \($0.record.summary)"
        }
        for verb in ["announced", "withdrawn", "kill switch engaged", "kill switch released"] {
            #expect(audit.contains { $0.contains("aiko") && $0.contains(verb) }, "\(verb): \(audit)")
        }
    }
}
