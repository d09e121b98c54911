import Accounts
import Crypto
import Foundation

/// The CSRF token of the notice page's two forms (acknowledge, opt out): stateless, so nothing is
/// stored per page view — HMAC-SHA256 under a server key over the notice's own token, in
/// base64url (43 characters).
///
/// The notice token in the page's URL is itself the subscriber's capability; this token adds that
/// a POST must come from someone who has fetched the page (not from a link or a form elsewhere that
/// only knows the URL, which proxies and browsers may log), and it makes the two forms follow the
/// rule every other form of Mamori follows.
///
/// ```swift
/// let tokens = NoticeFormTokens(pseudonymKey: key)
/// let field = tokens.token(for: noticeToken)          // rendered as <input name="csrf">
/// tokens.accepts(field, for: noticeToken)             // true
/// ```
public struct NoticeFormTokens: Sendable {
    private let key: SymmetricKey

    /// The name of the hidden form field.
    public static let fieldName = "csrf"

    /// A key derived from the pseudonym key (HKDF-SHA256, its own label), so the tokens stay valid
    /// across restarts and no new key file is needed; nothing about the pseudonyms can be learnt
    /// from them.
    public init(pseudonymKey: [UInt8]) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: pseudonymKey), info: Data("mamori notice form token v1".utf8), outputByteCount: 32)
    }

    /// A random key, for services that never restart (tests).
    public init() {
        key = SymmetricKey(size: .bits256)
    }

    /// The form token of the notice page of `notice`.
    public func token(for notice: String) -> String {
        SecretCoding.base64url(Array(HMAC<SHA256>.authenticationCode(for: Data(notice.utf8), using: key)))
    }

    /// Whether `presented` is the form token of `notice` (compared in constant time).
    public func accepts(_ presented: String?, for notice: String) -> Bool {
        guard let presented, let mac = SecretCoding.decodeBase64url(presented[...], count: 32) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data(notice.utf8), using: key)
    }
}
