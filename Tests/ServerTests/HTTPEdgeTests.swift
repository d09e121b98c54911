import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Lawful
import Logging
import MamoriCore
import MamoriTesting
import NIOCore
import Notify
import ServiceLifecycle
import Storage
import Testing

@testable import Server

/// The HTTP edge of `mamori serve` against real peers: HTTPS (`http.tls`) with a certificate made
/// by openssl and checked by curl, the notice pages' own listener (`http.public`), and the CSRF
/// token of the notice page's forms. Loopback only.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HTTPEdgeTests {
    // MARK: Peers

    /// A self-signed certificate for 127.0.0.1 and localhost, made by the openssl CLI in `dir`:
    /// (certificate, key), the key mode 0600.
    static func certificate(in dir: String, name: String = "server") throws -> TLSFiles {
        let openssl = try ExternalPeer.require("openssl", debianPackage: "openssl")
        let files = TLSFiles(certificateFile: "\(dir)/\(name).crt", keyFile: "\(dir)/\(name).key")
        try openssl.run(
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                "/CN=mamori test \(name)", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", files.keyFile, "-out",
                files.certificateFile,
            ], timeout: .seconds(30))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: files.keyFile)
        return files
    }

    /// What curl got: its exit status, the status line's code (0 when none), the headers (lower-case
    /// names) and the body.
    struct Answer: Sendable {
        var exit: Int32
        var status: Int
        var headers: [String: [String]]
        var body: String
        var stderr: String

        func header(_ name: String) -> String? { headers[name.lowercased()]?.first }
    }

    /// Runs curl (on a thread of its own, not the cooperative pool) with `arguments` after
    /// `-s -S --max-time 30 -D -`; the answer parsed (30 s: a TLS login's bcrypt in a debug
    /// build, with the whole suite beside it on two cores, took over 10).
    static func curl(_ arguments: [String]) async throws -> Answer {
        let curl = try ExternalPeer.require("curl", debianPackage: "curl")
        let result = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result {
                        try curl.runToExit(["-s", "-S", "--max-time", "30", "-D", "-"] + arguments, timeout: .seconds(40))
                    })
            }
        }
        var answer = Answer(exit: result.status, status: 0, headers: [:], body: "", stderr: result.stderr)
        guard result.status == 0 else { return answer }
        // Headers, a blank line, the body (the last header block, after any 1xx).
        let text = result.stdout
        guard let split = text.range(of: "\r\n\r\n") else { return answer }
        let head = text[..<split.lowerBound].split(separator: "\r\n")
        answer.body = String(text[split.upperBound...])
        answer.status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            answer.headers[line[..<colon].lowercased(), default: []].append(
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return answer
    }

    /// Runs `app` in a service group until `body` returns, then shuts it down gracefully (within
    /// 20 s); `body` gets the bound ports once every configured listener runs (within 90 s: the whole
    /// suite runs beside it on two cores).
    static func running<T: Sendable>(
        _ app: some ApplicationProtocol, _ services: MamoriServices, notices: Bool,
        _ body: @escaping @Sendable (_ operatorPort: Int, _ noticePort: Int?) async throws -> T
    ) async throws -> T {
        let group = ServiceGroup(services: [app], logger: Logger(label: "test"))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            let started = try await waitUntil(timeout: .seconds(90)) {
                services.http.port(.operators) != nil && (!notices || services.http.port(.notices) != nil)
            }
            guard started, let operatorPort = services.http.port(.operators) else {
                await group.triggerGracefulShutdown()
                throw PeerError("the HTTP listeners did not start within 90 s")
            }
            let result: Result<T, any Error>
            do {
                result = .success(try await body(operatorPort, services.http.port(.notices)))
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            tasks.addTask {
                try await Task.sleep(for: .seconds(60))
                throw PeerError("the service group did not shut down within 60 s")
            }
            _ = try await tasks.next() // the group's end (nil), or the time limit's error
            tasks.cancelAll()
            return try result.get()
        }
    }

    static func dependencies() -> ApplicationDependencies {
        var d = ApplicationDependencies(logger: LogStore().logger(level: .critical))
        d.passwordHashing = BcryptPasswordHashing(cost: 4)
        return d
    }

    // MARK: HTTPS

    @Test(
        "http.tls: curl with the certificate gets /healthz 200 with HSTS over https; the login cookie is Secure; plain http to the port and https without the certificate fail"
    )
    func operatorListenerOverTLS() async throws {
        let dir = try TemporaryDirectory()
        let tls = try Self.certificate(in: dir.path)
        var configuration = ServerTests.configuration(dataDirectory: dir.path + "/data")
        configuration.httpTLS = tls
        let (app, services) = try buildApplication(configuration: configuration, dependencies: Self.dependencies())
        try await services.addAccount("aoi", role: .analyst, password: "a long test password")
        try await Self.running(app, services, notices: false) { port, _ in
            let base = "https://127.0.0.1:\(port)"
            let health = try await Self.curl(["--cacert", tls.certificateFile, base + "/healthz"])
            #expect(health.exit == 0, "\(health.stderr)")
            #expect(health.status == 200)
            #expect(health.body.contains(#""status":"ok""#), "\(health.body)")
            #expect(health.header("Strict-Transport-Security") == "max-age=31536000")

            let login = try await Self.curl([
                "--cacert", tls.certificateFile, "-H", "Content-Type: application/json", "--data",
                #"{"name":"aoi","password":"a long test password"}"#, base + "/api/v1/session",
            ])
            #expect(login.status == 200, "\(login.body)")
            let cookie = try #require(login.header("Set-Cookie"))
            let attributes = cookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            #expect(attributes.first?.hasPrefix("mamori_session=") == true)
            #expect(attributes.contains("secure"), "\(cookie)")
            #expect(attributes.contains("httponly") && attributes.contains("samesite=strict"), "\(cookie)")
            #expect(login.header("Strict-Transport-Security") == "max-age=31536000")

            // The same port without TLS: no HTTP answer at all.
            let plain = try await Self.curl(["http://127.0.0.1:\(port)/healthz"])
            #expect(plain.exit != 0 && plain.status == 0, "plain HTTP to the TLS port answered \(plain.status): \(plain.body)")
            // curl checks the certificate: without the one it was told to trust, it refuses.
            let untrusted = try await Self.curl([base + "/healthz"])
            #expect(untrusted.exit == 60, "curl accepted an untrusted certificate (exit \(untrusted.exit)): \(untrusted.stderr)")
        }
    }

    @Test("without TLS no HSTS and no Secure cookie; http.behind_tls_proxy: both, as over HTTPS")
    func behindTLSProxy() async throws {
        for behindProxy in [false, true] {
            let dir = try TemporaryDirectory()
            var configuration = ServerTests.configuration(dataDirectory: dir.path)
            configuration.httpBehindTLSProxy = behindProxy
            let (app, services) = try buildApplication(configuration: configuration, dependencies: Self.dependencies())
            try await services.addAccount("aoi", role: .analyst, password: "a long test password")
            try await app.test(.router) { client in
                try await client.execute(uri: "/healthz", method: .get) { r in
                    #expect(r.status == .ok)
                    #expect(r.headers[.strictTransportSecurity] == (behindProxy ? "max-age=31536000" : nil))
                }
                let body = ByteBuffer(string: #"{"name":"aoi","password":"a long test password"}"#)
                let (status, cookie) = try await client.execute(uri: "/api/v1/session", method: .post, body: body) { r in
                    (r.status, r.headers[.setCookie])
                }
                #expect(status == .ok)
                let secure = cookie?.lowercased().split(separator: ";").contains { $0.trimmingCharacters(in: .whitespaces) == "secure" }
                #expect(secure == behindProxy, "behind_tls_proxy \(behindProxy): \(cookie ?? "no cookie")")
            }
        }
    }

    @Test(
        "bad TLS files stop the start with a clear error: missing certificate, a key every user can read, a key of another certificate, not PEM"
    )
    func badTLSFiles() throws {
        let dir = try TemporaryDirectory()
        let good = try Self.certificate(in: dir.path, name: "good")
        let other = try Self.certificate(in: dir.path, name: "other")
        try "not a certificate\n".write(toFile: dir.path + "/junk.pem", atomically: true, encoding: .utf8)
        let open = dir.path + "/open.key"
        try FileManager.default.copyItem(atPath: good.keyFile, toPath: open)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: open)
        let cases: [(TLSFiles, [String])] = [
            (TLSFiles(certificateFile: dir.path + "/missing.crt", keyFile: good.keyFile), ["http.tls", "missing.crt", "cannot read"]),
            (TLSFiles(certificateFile: dir.path + "/junk.pem", keyFile: good.keyFile), ["http.tls", "junk.pem"]),
            (TLSFiles(certificateFile: good.certificateFile, keyFile: open), ["http.tls", "open.key", "every user", "chmod 600"]),
            (TLSFiles(certificateFile: good.certificateFile, keyFile: dir.path + "/missing.key"), ["http.tls", "missing.key"]),
            (TLSFiles(certificateFile: good.certificateFile, keyFile: other.keyFile), ["http.tls", "does not fit", "other.key"]),
        ]
        for (n, (files, words)) in cases.enumerated() {
            var configuration = ServerTests.configuration(dataDirectory: dir.path + "/data\(n)")
            configuration.httpTLS = files
            #expect {
                _ = try buildApplication(configuration: configuration, dependencies: Self.dependencies())
            } throws: { error in
                let text = "\(error)"
                return error is ConfigurationError && words.allSatisfy { text.contains($0) }
            }
        }
        // The notice listener's own files are checked the same way, under their own key.
        var configuration = ServerTests.configuration(dataDirectory: dir.path + "/data-public")
        configuration.httpPublic = PublicListenerSettings(
            listen: SocketEndpoint(host: "127.0.0.1", port: 0), tls: TLSFiles(certificateFile: good.certificateFile, keyFile: other.keyFile)
        )
        #expect {
            _ = try buildApplication(configuration: configuration, dependencies: Self.dependencies())
        } throws: { "\($0)".contains("http.public.tls") }
        // And the good pair starts.
        configuration.httpPublic?.tls = good
        _ = try buildApplication(configuration: configuration, dependencies: Self.dependencies())
    }

    @Test("the http section: tls, behind_tls_proxy and public parse; unknown keys, a half tls and a shared listener are refused")
    func configuration() throws {
        let c = try MamoriConfiguration.parse(
            yaml: """
                http:
                  listen: 127.0.0.1:8443
                  tls: {certificate_file: /etc/mamori/a.crt, key_file: /etc/mamori/a.key}
                  behind_tls_proxy: true
                  public:
                    listen: "[::]:443"
                    tls:
                      certificate_file: /etc/mamori/n.crt
                      key_file: /etc/mamori/n.key
                """)
        #expect(c.httpTLS == TLSFiles(certificateFile: "/etc/mamori/a.crt", keyFile: "/etc/mamori/a.key"))
        #expect(c.httpBehindTLSProxy)
        #expect(c.httpPublic?.listen == SocketEndpoint(host: "::", port: 443))
        #expect(c.httpPublic?.tls == TLSFiles(certificateFile: "/etc/mamori/n.crt", keyFile: "/etc/mamori/n.key"))
        #expect(c.httpScheme == "https")
        let plain = try MamoriConfiguration.parse(yaml: "http:\n  public:\n    listen: 127.0.0.1:8081\n")
        #expect(plain.httpTLS == nil && plain.httpPublic?.tls == nil && !plain.httpBehindTLSProxy && plain.httpScheme == "http")
        #expect(plain.defaultNoticeBaseURL == "http://127.0.0.1:8081")
        // Without a certificate of its own, the notice listener takes http.tls's.
        var inherited = plain
        inherited.httpTLS = TLSFiles(certificateFile: "a.crt", keyFile: "a.key")
        #expect(inherited.noticeListenerTLS == inherited.httpTLS && inherited.defaultNoticeBaseURL == "https://127.0.0.1:8081")
        inherited.httpPublic?.tls = TLSFiles(certificateFile: "n.crt", keyFile: "n.key")
        #expect(inherited.noticeListenerTLS?.certificateFile == "n.crt")
        for (yaml, line, words) in [
            ("http:\n  tls:\n    certificate_file: a.crt\n", 3, "needs certificate_file and key_file"),
            ("http:\n  tls:\n    certificate_file: a.crt\n    key_file: a.key\n    password: x\n", 5, "unknown key 'password'"),
            ("http:\n  tls: yes\n", 2, "must be a mapping"),
            ("http:\n  behind_tls_proxy: maybe\n", 2, "true or false"),
            ("http:\n  public:\n    tls:\n      certificate_file: a\n      key_file: b\n", 3, "needs 'listen'"),
            ("http:\n  public:\n    host: 0.0.0.0\n", 3, "unknown key 'host'"),
            ("http:\n  public:\n    listen: 127.0.0.1:99999\n", 3, "port"),
        ] {
            #expect {
                _ = try MamoriConfiguration.parse(yaml: yaml)
            } throws: { error in
                let e = error as? ConfigurationError
                return e?.line == line && e?.reason.contains(words) == true
            }
        }
        #expect {
            _ = try MamoriConfiguration.parse(yaml: "http:\n  listen: 127.0.0.1:8080\n  public:\n    listen: 127.0.0.1:8080\n")
        } throws: { "\($0)".contains("must differ from http.listen") }
    }

    // MARK: The notice pages' listener

    /// A server with `http.public` on its own certificate (the operator listener plain HTTP), a
    /// subscriber who accepted the terms, and one notice mailed to them: the app, its services,
    /// the notice token and the listener's certificate.
    static func noticeServer(_ dir: TemporaryDirectory) async throws -> (
        some ApplicationProtocol, MamoriServices, token: String, tls: TLSFiles
    ) {
        let tls = try Self.certificate(in: dir.path, name: "notice")
        var configuration = ServerTests.configuration(dataDirectory: dir.path + "/data")
        configuration.httpPublic = PublicListenerSettings(listen: SocketEndpoint(host: "127.0.0.1", port: 0), tls: tls)
        configuration.lawful.policy = try LawfulPolicy.parse(yaml: LawfulServerTests.policyYAML)
        configuration.lawful.noticeBaseURL = "https://notice.isp.example"
        var dependencies = Self.dependencies()
        let mailer = CaseServiceTests.RecordingMailer()
        dependencies.noticeMailer = mailer
        let (app, services) = try buildApplication(configuration: configuration, dependencies: dependencies)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try services.lawful.consent.record(
            [
                ConsentEvent(
                    subscriber: CaseServiceTests.taro, kind: .termsAccepted, termsVersion: "v3", at: 1_743_465_600_000, method: "contract",
                    recordedBy: "t")
            ], recordedAt: now)
        try services.lawful.consent.setContact(
            SubscriberContact(email: "taro@example.jp", language: "ja"), for: CaseServiceTests.taro, at: now)
        await services.cases.handle([CaseServiceTests.finding(7, subscriber: CaseServiceTests.taro, at: now)])
        let mail = try #require(mailer.messages.first, "no notice was mailed")
        let link = try #require(mail.textBody.firstMatch(of: /https:\/\/notice\.isp\.example\/notice\/([A-Za-z0-9_-]{32,64})/))
        return (app, services, String(link.1), tls)
    }

    /// The value of the hidden `csrf` field in a notice page; nil when there is none.
    static func formToken(in page: String) -> String? {
        page.firstMatch(of: /<input type="hidden" name="csrf" value="([A-Za-z0-9_-]+)">/).map { String($0.1) }
    }

    @Test(
        "http.public: the notice page (over its own certificate, with HSTS and no-referrer) and /healthz there, the API and metrics 404 there; the operator listener answers the notice 404"
    )
    func noticeListener() async throws {
        let dir = try TemporaryDirectory()
        let (app, services, token, tls) = try await Self.noticeServer(dir)
        let auth = try await services.operatorHeaders(role: .admin)
        let bearer = try #require(auth[.authorization])
        // Every route either listener serves has its rule; the notice listener serves the pages and /healthz only.
        let rules = services.routeAccess.all
        #expect(Set(rules.keys) == Set(services.registeredRoutes))
        #expect(
            Set(services.noticeListenerRoutes) == [
                "GET /healthz", "GET /notice/{token}", "POST /notice/{token}/acknowledge", "POST /notice/{token}/opt-out",
            ])
        for route in services.noticeListenerRoutes { #expect(rules[route] == .open, "\(route)") }

        try await Self.running(app, services, notices: true) { operatorPort, noticePort in
            let noticePort = try #require(noticePort)
            #expect(noticePort != operatorPort)
            let notice = "https://127.0.0.1:\(noticePort)"
            let page = try await Self.curl(["--cacert", tls.certificateFile, "\(notice)/notice/\(token)"])
            #expect(page.exit == 0, "\(page.stderr)")
            #expect(page.status == 200)
            #expect(page.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(page.header("Referrer-Policy") == "no-referrer")
            #expect(page.header("Strict-Transport-Security") == "max-age=31536000")
            #expect(page.header("Cache-Control") == "no-store")
            #expect(Self.formToken(in: page.body) != nil, "the forms carry their csrf field")

            let health = try await Self.curl(["--cacert", tls.certificateFile, "\(notice)/healthz"])
            #expect(health.status == 200 && health.body == "{\"status\":\"ok\"}\n", "\(health.status) \(health.body)")
            // Nothing of the operator's interface there, with or without credentials.
            for path in ["/api/v1/cases", "/api/v1/findings", "/metrics", "/api/v1/openapi.json", "/api/v1/session"] {
                let answer = try await Self.curl(["--cacert", tls.certificateFile, "-H", "Authorization: \(bearer)", notice + path])
                #expect(answer.status == 404, "\(path) on the notice listener: \(answer.status)")
            }
            let login = try await Self.curl([
                "--cacert", tls.certificateFile, "-H", "Content-Type: application/json", "--data", #"{"name":"x","password":"y"}"#,
                notice + "/api/v1/session",
            ])
            #expect(login.status == 404)
            // Host: the notice host passes, another name is refused (DNS rebinding).
            let named = try await Self.curl([
                "--cacert", tls.certificateFile, "-H", "Host: notice.isp.example", "\(notice)/notice/\(token)",
            ])
            #expect(named.status == 200)
            let rebound = try await Self.curl(["--cacert", tls.certificateFile, "-H", "Host: evil.example", "\(notice)/notice/\(token)"])
            #expect(rebound.status == 421)

            // The operator listener (plain HTTP here): the API, but not the notice pages.
            let operatorBase = "http://127.0.0.1:\(operatorPort)"
            let cases = try await Self.curl(["-H", "Authorization: \(bearer)", operatorBase + "/api/v1/cases"])
            #expect(cases.status == 200 && cases.body.contains("notified"), "\(cases.status) \(cases.body.prefix(200))")
            #expect(cases.header("Strict-Transport-Security") == nil, "HSTS on a plain-HTTP listener")
            #expect(try await Self.curl([operatorBase + "/notice/\(token)"]).status == 404)
            #expect(try await Self.curl(["--data", "csrf=x", operatorBase + "/notice/\(token)/acknowledge"]).status == 404)
            #expect(try await Self.curl(["--data", "csrf=x", operatorBase + "/notice/\(token)/opt-out"]).status == 404)
            let operatorHealth = try await Self.curl([operatorBase + "/healthz"])
            #expect(operatorHealth.status == 200 && operatorHealth.body.contains("\"listeners\""))
        }
    }

    @Test(
        "the notice forms: a POST without the csrf field or with a wrong one gets 403 in the notice's language and records nothing; the page's own token acknowledges"
    )
    func noticeFormToken() async throws {
        let dir = try TemporaryDirectory()
        let (app, services, token, tls) = try await Self.noticeServer(dir)
        let caseID = try #require(try await services.cases.cases.list().first?.id)
        let audit = try #require(services.lawful.audit as? AuditLog)
        let entriesBefore = audit.count
        try await Self.running(app, services, notices: true) { _, noticePort in
            let notice = "https://127.0.0.1:\(try #require(noticePort))/notice/\(token)"
            let page = try await Self.curl(["--cacert", tls.certificateFile, notice])
            let csrf = try #require(Self.formToken(in: page.body))
            // Another notice's token, a token with one character changed, none, an empty one.
            let other = NoticeFormTokens().token(for: token)
            let flipped = String(csrf.dropLast()) + (csrf.last == "A" ? "B" : "A")
            for (what, data) in [
                ("none", "lang=ja"), ("empty", "csrf="), ("another key's", "csrf=\(other)"), ("altered", "csrf=\(flipped)"),
                ("for another notice", "csrf=\(services.cases.formTokens.token(for: String(token.reversed())))"),
            ] {
                for action in ["acknowledge", "opt-out"] {
                    let answer = try await Self.curl(["--cacert", tls.certificateFile, "--data", data, "\(notice)/\(action)"])
                    #expect(answer.status == 403, "\(what) token, \(action): \(answer.status)")
                    #expect(answer.header("Content-Type")?.hasPrefix("text/html") == true)
                    #expect(answer.body.contains("<html lang=\"ja\">") && answer.body.contains("受け付けられませんでした"), "\(answer.body)")
                    #expect(answer.header("Referrer-Policy") == "no-referrer")
                }
            }
            // A token that opens no notice: 404, as for the page, whatever the form says.
            let unknown = "https://127.0.0.1:\(try #require(noticePort))/notice/" + String(repeating: "A", count: 43) + "/acknowledge"
            #expect(try await Self.curl(["--cacert", tls.certificateFile, "--data", "csrf=\(csrf)", unknown]).status == 404)
            // Nothing was recorded: the case is still open, no opt-out, no audit entry.
            #expect(try await services.cases.cases.get(caseID)?.state == .notified)
            #expect(try services.lawful.consent.history(of: CaseServiceTests.taro).map(\.kind) == [.termsAccepted])
            #expect(audit.count == entriesBefore)

            // The page's own token goes through.
            let acknowledged = try await Self.curl(["--cacert", tls.certificateFile, "--data", "csrf=\(csrf)", "\(notice)/acknowledge"])
            #expect(acknowledged.status == 303, "\(acknowledged.status) \(acknowledged.body)")
            #expect(acknowledged.header("Location") == "/notice/\(token)")
            #expect(try await services.cases.cases.get(caseID)?.state == .acknowledged)
            let after = try await Self.curl(["--cacert", tls.certificateFile, notice])
            #expect(!after.body.contains("<form"), "after acknowledging the page shows no forms")
        }
    }

    @Test("the notice form token: HMAC of the notice token under the server key, the same after a restart, nothing else accepted")
    func formTokens() {
        let key = [UInt8](repeating: 7, count: 32)
        let a = NoticeFormTokens(pseudonymKey: key)
        let token = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
        let t = a.token(for: token)
        #expect(t.count == 43 && t.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        #expect(a.accepts(t, for: token))
        #expect(NoticeFormTokens(pseudonymKey: key).accepts(t, for: token), "the same key after a restart")
        #expect(!NoticeFormTokens(pseudonymKey: [UInt8](repeating: 8, count: 32)).accepts(t, for: token))
        #expect(!a.accepts(t, for: token + "x"))
        #expect(!a.accepts(nil, for: token) && !a.accepts("", for: token) && !a.accepts(t + "=", for: token))
        #expect(!a.accepts(String(t.dropLast()), for: token))
        #expect(CaseAPI.formField("csrf", in: "a=1&csrf=\(t)&b=2") == t)
        #expect(CaseAPI.formField("csrf", in: "a=1&b=2") == nil)
        #expect(CaseAPI.formField("csrf", in: "csrf=%41b") == "Ab")
    }
}
