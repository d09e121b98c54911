/// Why a TAXII request or an object is refused: a code (which gives the HTTP status), a title and
/// a description that says what is wrong. Equality compares only the code, so tests can build
/// the expected error.
public struct TAXIIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of refusal; adding a code breaks no caller.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Base: String, Sendable, Hashable {
            case badRequest = "bad-request"
            case unauthorized
            case forbidden
            case notFound = "not-found"
            case notAcceptable = "not-acceptable"
            case unsupportedMediaType = "unsupported-media-type"
            case tooLarge = "too-large"
            case deleteNeedsRevocation = "delete-needs-revocation"
            case full = "collection-full"
            case unavailable
        }

        let base: Base

        public static let badRequest = Code(base: .badRequest)
        public static let unauthorized = Code(base: .unauthorized)
        public static let forbidden = Code(base: .forbidden)
        public static let notFound = Code(base: .notFound)
        public static let notAcceptable = Code(base: .notAcceptable)
        public static let unsupportedMediaType = Code(base: .unsupportedMediaType)
        public static let tooLarge = Code(base: .tooLarge)
        /// DELETE of an object whose latest version is not `revoked: true` (Mamori's rule).
        public static let deleteNeedsRevocation = Code(base: .deleteNeedsRevocation)
        /// The collection holds as many object versions as it may.
        public static let full = Code(base: .full)
        /// The store could not be read or written.
        public static let unavailable = Code(base: .unavailable)

        /// The HTTP status the code is answered with.
        public var httpStatus: Int {
            switch base {
            case .badRequest: 400
            case .unauthorized: 401
            case .forbidden: 403
            case .notFound: 404
            case .notAcceptable: 406
            case .deleteNeedsRevocation: 409
            case .tooLarge: 413
            case .unsupportedMediaType: 415
            case .full: 507
            case .unavailable: 503
            }
        }

        /// The `error_code` of the error body.
        public var description: String { base.rawValue }

        var title: String {
            switch base {
            case .badRequest: "Bad request"
            case .unauthorized: "Authentication required"
            case .forbidden: "Forbidden"
            case .notFound: "Not found"
            case .notAcceptable: "Not acceptable"
            case .unsupportedMediaType: "Unsupported media type"
            case .tooLarge: "Request too large"
            case .deleteNeedsRevocation: "Revoke before deleting"
            case .full: "Collection full"
            case .unavailable: "Service unavailable"
            }
        }
    }

    public var code: Code
    /// What is wrong, for the client (no secret, no stored data beyond what the client sent).
    public var reason: String
    public var file: String
    public var line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public static func == (a: Self, b: Self) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String { "\(code.title) (\(code.httpStatus)): \(reason)" }

    /// The error as TAXII's error resource.
    public var body: TAXIIErrorBody {
        TAXIIErrorBody(title: code.title, description: reason, errorCode: code.description, httpStatus: String(code.httpStatus))
    }
}
