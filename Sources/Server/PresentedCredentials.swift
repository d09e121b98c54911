import Accounts
import Foundation
import Hummingbird

/// What a request presents as an operator's credentials, parsed from its headers before anything
/// is looked up: a machine token in `Authorization: Bearer mamori_…` (which wins), else the
/// session cookie. Pure and public, so the fuzz target (`FuzzTargets`, `Fuzz/`) reaches exactly
/// what ``AccountService`` calls for every request.
///
/// ```swift
/// switch PresentedCredentials(authorization: "Bearer mamori_…", cookieHeaders: []) {
/// case .token(let token): …      // look up token.id, then AccountWorkflow.authenticate(token:…)
/// case .malformed: …             // 401, as a wrong token
/// }
/// ```
public enum PresentedCredentials: Sendable, Hashable {
    /// Neither an `Authorization` header nor a session cookie.
    case none
    /// An `Authorization` header that is not `Bearer` and a well-formed token, or a session cookie
    /// that is not a session id: refused as bad credentials without a look-up.
    case malformed
    /// A well-formed machine token: its text (for ``AccountWorkflow/authenticate(token:token:creator:at:)``)
    /// and its parsed form (the id to look up).
    case token(text: String, parsed: PresentedToken)
    /// A well-formed session id, and the digest it is stored under.
    case session(id: String, digest: String)

    /// `Authorization` headers longer than this are refused unread (a bearer token is 74 bytes).
    public static let maximumAuthorizationBytes = 512

    /// The credentials in a request's `Authorization` header (when it has one) and `Cookie`
    /// headers. Total on any input.
    public init(authorization: String?, cookieHeaders: [String]) {
        if let authorization {
            guard authorization.utf8.count <= Self.maximumAuthorizationBytes, authorization.lowercased().hasPrefix("bearer ") else {
                self = .malformed
                return
            }
            let presented = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            guard let parsed = PresentedToken(presented) else {
                self = .malformed
                return
            }
            self = .token(text: presented, parsed: parsed)
            return
        }
        guard let id = Cookies(from: cookieHeaders)[AccountService.cookieName]?.value, !id.isEmpty else {
            self = .none
            return
        }
        guard let digest = OperatorSession.digest(ofPresented: id) else {
            self = .malformed
            return
        }
        self = .session(id: id, digest: digest)
    }
}
