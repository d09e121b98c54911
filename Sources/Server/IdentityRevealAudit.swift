import Foundation
import MamoriCore

/// One identity reveal: who asked to see a subscriber's real identifier, why, and what they saw.
public struct IdentityReveal: Sendable, Hashable, Codable {
    /// When (ms since the epoch, this machine's clock).
    public var at: Int64
    public var analyst: String
    public var reason: String
    /// The question: address, port, time.
    public var address: String
    public var port: UInt16?
    public var time: Int64
    /// The answer's outcome and the pseudonym(s) revealed (never the identifier itself).
    public var outcome: String
    public var pseudonyms: [String]

    public init(
        at: Int64, analyst: String, reason: String, address: String, port: UInt16?, time: Int64, outcome: String, pseudonyms: [String]
    ) {
        self.at = at
        self.analyst = analyst
        self.reason = reason
        self.address = address
        self.port = port
        self.time = time
        self.outcome = outcome
        self.pseudonyms = pseudonyms
    }
}

/// Where identity reveals are recorded before the identifier is shown: the hash-chained audit log
/// (``AuditLogRevealAudit``) in the server. A reveal whose record fails is not shown.
public protocol IdentityRevealAudit: Sendable {
    func record(_ reveal: IdentityReveal) throws
}
