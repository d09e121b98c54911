import Foundation

/// An account's name and password presented in `Authorization: Basic …` (RFC 7617), parsed
/// before anything is looked up. Only the sharing (TAXII) routes take them
/// (``Routes/basicAuthentication``); every other route refuses a Basic header as it refuses any
/// malformed credential. Total on any input.
///
/// ```swift
/// PresentedBasicCredentials(authorization: "Basic aXNhYzpzZWNyZXQ=")?.name   // "isac"
/// ```
public struct PresentedBasicCredentials: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    let password: String

    /// Parses `Basic base64(name:password)`; nil for another scheme, bad base64, text that is not
    /// UTF-8, no colon, an empty name, or a header over
    /// ``PresentedCredentials/maximumAuthorizationBytes``.
    public init?(authorization: String?) {
        guard let authorization, authorization.utf8.count <= PresentedCredentials.maximumAuthorizationBytes,
            authorization.lowercased().hasPrefix("basic ")
        else { return nil }
        let encoded = authorization.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        else { return nil }
        let name = String(text[..<colon])
        guard !name.isEmpty else { return nil }
        self.name = name
        self.password = String(text[text.index(after: colon)...])
    }

    /// The name only, never the password.
    public var description: String { "basic credentials of \(name)" }
}
