import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import MamoriCore
import NIOConcurrencyHelpers
import NIOCore

/// Who may call a route: anyone (health, the login, the public notice pages) or an operator whose
/// role or token grants a permission.
enum Access: Sendable, Hashable, CustomStringConvertible {
    case open
    /// Any signed-in operator (their own session).
    case signedIn
    case permission(Permission)
    /// A sharing peer (the TAXII routes): an operator whose role or token grants `read_shared` or
    /// `write_shared`, by token, session or — on these routes only — HTTP Basic with the account's
    /// name and password. The route then checks the collection's own `read` and `write` lists.
    case sharing

    var description: String {
        switch self {
        case .open: "open"
        case .signedIn: "signed in"
        case .permission(let p): p.rawValue
        case .sharing: "sharing (read_shared or write_shared)"
        }
    }
}

/// What the authentication middleware learnt about the request, for the rest of it.
struct RequestCredentials: Sendable {
    var principal: Principal?
    /// Why presented credentials were refused (nil when none were presented or they were good).
    var failure: AuthenticationFailure?
    /// The session behind a cookie, for its CSRF token.
    var session: OperatorSession?

    static let none = RequestCredentials()

    /// The signed-in operator's account name, as verdicts, case actions and reveals record it.
    /// Routes that need an operator run only with one (``Routes``); "unknown" never reaches them.
    var operatorName: String { principal?.name ?? "unknown" }

    /// The request's credentials, set by ``OperatorAuthenticationMiddleware`` around the route.
    @TaskLocal static var current = RequestCredentials.none
}

/// Every route and who may call it, filled in as the routes are registered: the table the
/// route × role test reads, so that a route added without a rule fails the suite.
final class RouteAccessTable: Sendable {
    private let rules = NIOLockedValueBox([String: Access]())

    func record(_ method: HTTPRequest.Method, _ path: String, _ access: Access) {
        rules.withLockedValue { $0["\(method.rawValue) \(path)"] = access }
    }

    /// The rule of `METHOD path` as registered (path with its `:parameters`).
    func access(_ method: HTTPRequest.Method, _ path: String) -> Access? { rules.withLockedValue { $0["\(method.rawValue) \(path)"] } }

    var all: [String: Access] { rules.withLockedValue { $0 } }
}

/// Registers routes with their access rule; the only way the server's APIs add routes.
struct Routes {
    let router: Router<MamoriRequestContext>
    let table: RouteAccessTable
    /// How a ``Access/sharing`` route authenticates HTTP Basic credentials (which the
    /// authentication middleware refuses everywhere): nil, and Basic is refused there too.
    var basicAuthentication: (@Sendable (PresentedBasicCredentials, String) async -> RequestCredentials)?

    typealias Handler<Output: ResponseGenerator> = @Sendable (Request, MamoriRequestContext) async throws -> Output

    func get<Output: ResponseGenerator>(_ path: String, _ access: Access, use handler: @escaping Handler<Output>) {
        add(.get, path, access, handler)
    }

    func post<Output: ResponseGenerator>(_ path: String, _ access: Access, use handler: @escaping Handler<Output>) {
        add(.post, path, access, handler)
    }

    func delete<Output: ResponseGenerator>(_ path: String, _ access: Access, use handler: @escaping Handler<Output>) {
        add(.delete, path, access, handler)
    }

    /// Where a session's state-changing request carries its CSRF token: the `X-CSRF-Token`
    /// header (the JSON API), or a form field the route checks itself once it has read the body
    /// (the console's forms, which cannot set headers).
    enum CSRFCheck { case header, formField }

    /// How a refusal is answered: the API's JSON, or a page for the console.
    typealias Refuser = @Sendable (Request, Refusal) -> Response

    /// Registers `handler` for `method path` under `access`; refusals are answered by `refuser`
    /// (JSON when nil).
    func add<Output: ResponseGenerator>(
        _ method: HTTPRequest.Method, _ path: String, _ access: Access, csrf: CSRFCheck = .header, refuser: Refuser? = nil,
        _ handler: @escaping Handler<Output>
    ) {
        table.record(method, RouterPath(path).description, access)
        let basicAuthentication = access == .sharing ? self.basicAuthentication : nil
        router.on(RouterPath(path), method: method) { request, context -> Response in
            let respond = { @Sendable () async throws -> Response in
                if let refusal = Self.refusal(access, request: request, csrf: csrf) {
                    return refuser?(request, refusal) ?? refusal.json
                }
                return try await handler(request, context).response(from: request, context: context)
            }
            if let basicAuthentication, RequestCredentials.current.principal == nil,
                let basic = PresentedBasicCredentials(authorization: request.headers[.authorization])
            {
                let credentials = await basicAuthentication(basic, context.clientAddress)
                return try await RequestCredentials.$current.withValue(credentials) { try await respond() }
            }
            return try await respond()
        }
    }

    /// Why a request may not go on.
    struct Refusal: Sendable {
        var status: HTTPResponse.Status
        var message: String
        var headers: HTTPFields = [:]
        /// Whether it was the CSRF token that was missing or wrong.
        var csrf = false

        var json: Response { APIRefusal.response(status, message, headers: headers) }
    }

    /// 401 without good credentials, 403 when they do not grant `access` or a session's
    /// state-changing request lacks its CSRF token (in the header, unless the route reads it from
    /// its form); nil to go on.
    static func refusal(_ access: Access, request: Request, csrf: CSRFCheck = .header) -> Refusal? {
        guard access != .open else { return nil }
        let credentials = RequestCredentials.current
        guard let principal = credentials.principal else {
            let reason =
                switch credentials.failure {
                case nil where access == .sharing:
                    "present an operator token (Authorization: Bearer mamori_…) or the account's name and password (HTTP Basic)"
                case nil: "sign in, or present an operator token (Authorization: Bearer mamori_…)"
                case .some(let f): "the credentials were refused: \(f.description)"
                }
            let challenge = access == .sharing ? "Basic realm=\"mamori\", Bearer realm=\"mamori\"" : "Bearer realm=\"mamori\""
            return Refusal(status: .unauthorized, message: reason, headers: [.wwwAuthenticate: challenge])
        }
        switch access {
        case .open: return nil
        case .sharing:
            guard principal.may(.readShared) || principal.may(.writeShared) else {
                return Refusal(status: .forbidden, message: "this account or token grants neither read_shared nor write_shared")
            }
        case .signedIn:
            guard case .session = principal.credential else {
                return Refusal(status: .forbidden, message: "this needs a signed-in operator's session, not a token")
            }
        case .permission(let p):
            guard principal.may(p) else {
                let what =
                    if case .token = principal.credential {
                        principal.role.grants(p) ? "this token's scope" : "the role \(principal.role.rawValue) of this token's account"
                    } else {
                        "the role \(principal.role.rawValue)"
                    }
                return Refusal(status: .forbidden, message: "\(what) does not grant \(p.rawValue)")
            }
        }
        if csrf == .header, let session = credentials.session, !Self.isSafe(request.method) {
            guard let presented = request.headers[.csrfToken], session.acceptsCSRF(presented) else {
                return Refusal(status: .forbidden, message: "missing or wrong CSRF token (X-CSRF-Token)", csrf: true)
            }
        }
        return nil
    }

    static func isSafe(_ method: HTTPRequest.Method) -> Bool { method == .get || method == .head || method == .options }
}

/// A refusal as the API answers it: `{"error": "…"}`.
enum APIRefusal {
    static func response(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        let data = (try? JSONEncoder().encode(["error": message])) ?? Data("{}".utf8)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8))))
    }
}

/// Authenticates every request that presents credentials — a machine token in
/// `Authorization: Bearer`, or the session cookie — and runs the rest of the request with what
/// it found in ``RequestCredentials/current``. It refuses nothing itself: each route's
/// ``Access`` decides (so the open routes stay open whatever a client presents).
struct OperatorAuthenticationMiddleware: RouterMiddleware {
    typealias Context = MamoriRequestContext
    let accounts: AccountService

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let credentials = await accounts.credentials(of: request, at: accounts.clock.milliseconds)
        return try await RequestCredentials.$current.withValue(credentials) { try await next(request, context) }
    }
}

extension HTTPField.Name {
    static let csrfToken = Self("X-CSRF-Token")!
}

/// The request context of `mamori serve`'s routes: Hummingbird's core, and the client's address
/// (for the login throttle and the audit of a login).
struct MamoriRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The peer's IP address as text ("unknown" when the channel has none, as in router tests).
    let clientAddress: String

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
