import Accounts
import Attribution
import FlowCodec
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Lawful
import Logging
import MamoriCore
import MamoriTesting
import NIOCore
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
}
