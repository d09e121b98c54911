import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MamoriTesting
import MetricsTestKit
import NIOCore
import Testing

@testable import Server

/// The checks every HTTP request passes before its route (Host, Origin) and the headers every
/// answer carries.
@Suite struct HTTPGuardTests {
    static func request(_ method: HTTPRequest.Method, authority: String?, headers: HTTPFields = [:]) -> Request {
        Request(
            head: HTTPRequest(method: method, scheme: "http", authority: authority, path: "/api/v1/findings", headerFields: headers),
            body: RequestBody(buffer: ByteBuffer()))
    }

    @Test("Host: IP literals, localhost and the configured names are served; any other name (DNS rebinding) or a malformed Host is not")
    func hostCheck() {
        let metrics = TestMetrics()
        let guardian = HTTPGuardMiddleware<BasicRequestContext>(allowedNames: ["Mamori.ISP.example"], metricsFactory: metrics)
        for ok in [
            "127.0.0.1:8080", "127.0.0.1", "[::1]:8080", "localhost:8080", "LOCALHOST", "mamori.isp.example", "MAMORI.isp.example:443",
            "192.0.2.7",
        ] {
            #expect(guardian.refusal(of: Self.request(.get, authority: ok)) == nil, "\(ok)")
        }
        for bad in [
            "evil.example", "evil.example:8080", "mamori.isp.example.evil.example", "127.0.0.1.nip.io", "", ":8080", "[::1", "[::1]x",
            "a:b:c", "user@127.0.0.1", "127.0.0.1:99999", String(repeating: "a", count: 300),
        ] {
            let r = guardian.refusal(of: Self.request(.get, authority: bad))
            #expect(r?.status == .misdirectedRequest, "\(bad)")
        }
        #expect(metrics.counterTotal("mamori_http_refused_requests_total", ["reason": "host"]) == 12)
    }

    @Test("a state-changing request from another origin, or marked cross-site, is refused; the same origin and clients without Origin pass")
    func originCheck() {
        let metrics = TestMetrics()
        let guardian = HTTPGuardMiddleware<BasicRequestContext>(allowedNames: [], metricsFactory: metrics)
        func refused(_ method: HTTPRequest.Method, _ headers: HTTPFields) -> Bool {
            guardian.refusal(of: Self.request(method, authority: "127.0.0.1:8080", headers: headers)) != nil
        }
        #expect(!refused(.post, [:]), "curl and the CLI send no Origin")
        #expect(!refused(.post, [.origin: "http://127.0.0.1:8080"]))
        #expect(!refused(.post, [.origin: "https://127.0.0.1:8080", .secFetchSite: "same-origin"]))
        #expect(refused(.post, [.origin: "http://evil.example"]))
        #expect(refused(.post, [.origin: "http://127.0.0.1:8081"]), "another port is another origin")
        #expect(refused(.post, [.origin: "null"]), "an opaque origin (sandboxed frame, file:)")
        #expect(refused(.post, [.origin: "null", .secFetchSite: "cross-site"]), "an attacker's no-referrer page")
        #expect(refused(.post, [.origin: "null", .secFetchSite: "same-site"]), "another site of the same registrable domain")
        #expect(
            !refused(.post, [.origin: "null", .secFetchSite: "same-origin"]),
            "the notice page's own form: no-referrer makes the browser send Origin: null, and Sec-Fetch-Site says it is ours")
        #expect(refused(.post, [.origin: "http://127.0.0.1:8080/path"]))
        #expect(refused(.delete, [.secFetchSite: "cross-site"]))
        #expect(
            !refused(.get, [.origin: "http://evil.example", .secFetchSite: "cross-site"]),
            "reads are left to CORS, which this server never grants")
        #expect(metrics.counterTotal("mamori_http_refused_requests_total", ["reason": "origin"]) == 7)
    }

    @Test(
        "through the server: security headers on every answer (JSON, HTML, errors), no-store on the API, a cross-site POST refused with 403"
    )
    func throughTheServer() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try buildApplication(
            configuration: ServerTests.configuration(dataDirectory: dir.path),
            dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        let auth = try await services.operatorHeaders()
        try await app.test(.router) { client in
            for (uri, status) in [
                ("/healthz", HTTPResponse.Status.ok), ("/api/v1/findings", .ok), ("/api/v1/nothing", .notFound),
                ("/api/v1/findings?min_score=x", .badRequest), ("/notice/not-a-token", .notFound),
            ] {
                try await client.execute(uri: uri, method: .get, headers: auth) { response in
                    #expect(response.status == status, "\(uri)")
                    #expect(response.headers[.xContentTypeOptions] == "nosniff", "\(uri)")
                    #expect(response.headers[.xFrameOptions] == "DENY", "\(uri)")
                    #expect(
                        response.headers[.referrerPolicy] == (uri.hasPrefix("/notice/") ? "no-referrer" : "same-origin"), "\(uri)")
                    let csp = try #require(response.headers[.contentSecurityPolicy], "\(uri)")
                    #expect(csp.contains("frame-ancestors 'none'") && !csp.contains("script-src 'unsafe-inline'"), "\(uri): \(csp)")
                    if uri.hasPrefix("/api/") || uri.hasPrefix("/notice/") {
                        #expect(response.headers[.cacheControl] == "no-store", "\(uri)")
                    }
                }
            }
            try await client.execute(
                uri: "/api/v1/findings/x/verdict", method: .post,
                headers: auth + [.origin: "http://evil.example", .contentType: "application/json"],
                body: ByteBuffer(string: "{\"verdict\":\"false-positive\"}")
            ) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("another origin"))
            }
        }
    }

    @Test("http.allowed_hosts: names are read lower case; a port, scheme or path is refused with its line")
    func configuration() throws {
        let c = try MamoriConfiguration.parse(
            yaml: "http:\n  listen: 127.0.0.1:8080\n  allowed_hosts: [Mamori.ISP.example, console.isp.example]\n")
        #expect(c.httpAllowedHosts == ["mamori.isp.example", "console.isp.example"])
        for bad in ["mamori.isp.example:443", "https://mamori.isp.example", "a/b"] {
            #expect(throws: ConfigurationError.self) {
                try MamoriConfiguration.parse(yaml: "http:\n  allowed_hosts: [\"\(bad)\"]\n")
            }
        }
    }
}
