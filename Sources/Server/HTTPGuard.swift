import FlowCodec
import Foundation
import HTTPTypes
import Hummingbird
import Metrics
import NIOCore

/// Checks every request before its route, and marks every answer:
///
/// - **Host** (DNS rebinding): a page on `evil.example` whose name an attacker re-points at
///   127.0.0.1 makes the analyst's browser send `Host: evil.example`. Only IP literals,
///   `localhost` and the names the operator configured (`http.allowed_hosts`, the host of
///   `lawful.notice_base_url`) are served; anything else gets 421 Misdirected Request.
/// - **Origin** (cross-site forms and fetches): a state-changing request (any method but GET,
///   HEAD, OPTIONS) whose `Origin` is not the origin it was sent to, or that the browser marks
///   `Sec-Fetch-Site: cross-site`, gets 403. Clients that send neither (curl, the CLI) pass; the
///   session's CSRF token is the second line of defence for browsers.
/// - **Headers** on every answer, errors included: `nosniff`, no framing, no referrer from the
///   notice pages (their URLs hold their token) and none beyond this server elsewhere, a
///   Content-Security-Policy without inline script, and `Cache-Control: no-store` on the API and
///   the notice pages; and, when the listener is reached over HTTPS (`http.tls`,
///   `http.behind_tls_proxy`), `Strict-Transport-Security` for a year.
///
/// Refusals are counted in `mamori_http_refused_requests_total{reason}`. (Hummingbird's own
/// `ContentSecurityMiddleware` sets one policy for every answer; HTML and JSON need different ones,
/// and it checks neither Host nor Origin.)
struct HTTPGuardMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Lower-case DNS names served besides IP literals and `localhost`.
    let allowedNames: Set<String>
    /// Whether every answer carries `Strict-Transport-Security` (the listener is reached over HTTPS).
    let strictTransportSecurity: Bool
    let refusedHost: Counter
    let refusedOrigin: Counter

    init(allowedNames: some Sequence<String>, strictTransportSecurity: Bool = false, metricsFactory: any MetricsFactory) {
        self.allowedNames = Set(allowedNames.map { $0.lowercased() })
        self.strictTransportSecurity = strictTransportSecurity
        refusedHost = Counter(label: "mamori_http_refused_requests_total", dimensions: [("reason", "host")], factory: metricsFactory)
        refusedOrigin = Counter(label: "mamori_http_refused_requests_total", dimensions: [("reason", "origin")], factory: metricsFactory)
    }

    /// For HTML: scripts and styles only from this server (styles may be inline: the notice
    /// pages carry their own), images from here or `data:`, forms post only here, no framing.
    static var htmlPolicy: String {
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
            + "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    }
    static var otherPolicy: String { "default-src 'none'; frame-ancestors 'none'" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        if let refusal = refusal(of: request) {
            response = refusal
        } else {
            do {
                response = try await next(request, context)
            } catch let error as any HTTPResponseError {
                response = try error.response(from: request, context: context)
            }
        }
        mark(&response, path: request.uri.path)
        return response
    }

    /// The answer to a request refused here, or nil to pass it on.
    func refusal(of request: Request) -> Response? {
        let authority = request.head.authority
        if let authority, !isAllowed(authority: authority) {
            refusedHost.increment()
            return APIRefusal.response(.misdirectedRequest, "this server does not answer for the host named in the request")
        }
        switch request.method {
        case .get, .head, .options: return nil
        default: break
        }
        if let site = request.headers[.secFetchSite], site.lowercased() == "cross-site" {
            refusedOrigin.increment()
            return APIRefusal.response(.forbidden, "cross-site requests may not change anything here")
        }
        // A page served with `Referrer-Policy: no-referrer` (the notice pages) makes the browser
        // send `Origin: null` with its own forms; the browser's `Sec-Fetch-Site: same-origin`
        // then says where the form came from (an attacker's page gets `cross-site`, above).
        if let origin = request.headers[.origin], !(origin == "null" && request.headers[.secFetchSite]?.lowercased() == "same-origin") {
            guard let authority, let from = HTTPAuthority.authority(ofOrigin: origin), from.lowercased() == authority.lowercased() else {
                refusedOrigin.increment()
                return APIRefusal.response(.forbidden, "the request comes from another origin")
            }
        }
        return nil
    }

    /// Whether `authority` (`host`, `host:port`, `[v6]:port`) names this server.
    func isAllowed(authority: String) -> Bool {
        guard let host = HTTPAuthority.host(ofAuthority: authority) else { return false }
        if host == "localhost" || allowedNames.contains(host) { return true }
        return IPAddress(host) != nil
    }

    func mark(_ response: inout Response, path: String) {
        let html = response.headers[.contentType]?.lowercased().hasPrefix("text/html") ?? false
        response.headers[.contentSecurityPolicy] = html ? Self.htmlPolicy : Self.otherPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.xFrameOptions] = "DENY"
        // The notice pages' URLs hold their token: no referrer at all. Elsewhere the console's own
        // pages may name themselves to this server (and the browser then sends a real Origin).
        response.headers[.referrerPolicy] = path.hasPrefix("/notice/") ? "no-referrer" : "same-origin"
        response.headers[.crossOriginOpenerPolicy] = "same-origin"
        response.headers[.crossOriginResourcePolicy] = "same-origin"
        if strictTransportSecurity { response.headers[.strictTransportSecurity] = "max-age=31536000" }
        if response.headers[.cacheControl] == nil, path.hasPrefix("/api/") || path.hasPrefix("/notice/") {
            response.headers[.cacheControl] = "no-store"
        }
    }
}

/// Reading the authority of a request (`Host`) and of an `Origin`, strictly: anything that is
/// not exactly one of their forms is nil, and so refused.
enum HTTPAuthority {
    /// The host of an authority, lower case, without port or IPv6 brackets; nil when malformed.
    static func host(ofAuthority authority: String) -> String? {
        let a = authority.lowercased()
        guard !a.isEmpty, a.utf8.count <= 260, !a.contains("@"), !a.contains("/") else { return nil }
        if a.hasPrefix("[") {
            guard let close = a.firstIndex(of: "]") else { return nil }
            let rest = a[a.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && UInt16(rest.dropFirst()) != nil) else { return nil }
            return String(a[a.index(after: a.startIndex)..<close])
        }
        let parts = a.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return String(parts[0])
        case 2: return UInt16(parts[1]) != nil && !parts[0].isEmpty ? String(parts[0]) : nil
        default: return nil
        }
    }

    /// `https://host:port` → `host:port`; nil for `null` and anything that is not an origin.
    static func authority(ofOrigin origin: String) -> String? {
        for scheme in ["http://", "https://"] where origin.lowercased().hasPrefix(scheme) {
            let rest = origin.dropFirst(scheme.count)
            guard !rest.isEmpty, !rest.contains("/") else { return nil }
            return String(rest)
        }
        return nil
    }
}

extension HTTPField.Name {
    // Not among HTTPTypes' registered names.
    static let secFetchSite = Self("Sec-Fetch-Site")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let crossOriginOpenerPolicy = Self("Cross-Origin-Opener-Policy")!
}
