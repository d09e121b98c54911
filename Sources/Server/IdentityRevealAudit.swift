import Foundation
import NIOConcurrencyHelpers

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

    public init(at: Int64, analyst: String, reason: String, address: String, port: UInt16?, time: Int64, outcome: String, pseudonyms: [String]) {
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

/// Where identity reveals are recorded before the identifier is shown. The hook the lawful-action
/// work's hash-chained audit log plugs into; a reveal whose record fails is not shown.
public protocol IdentityRevealAudit: Sendable {
    func record(_ reveal: IdentityReveal) throws
}

/// An append-only JSON-lines file of reveals (`<data_directory>/reveal-audit.jsonl`, mode 0600),
/// each line flushed to disk before the reveal is answered.
public final class JSONLinesRevealAudit: IdentityRevealAudit {
    public let path: String
    private let lock = NIOLock()

    public init(path: String) {
        self.path = path
    }

    public func record(_ reveal: IdentityReveal) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = try encoder.encode(reveal)
        line.append(0x0A)
        try lock.withLock {
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                    throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
                }
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: line)
            try handle.synchronize()
        }
    }
}
