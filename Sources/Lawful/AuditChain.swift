import Crypto
import Foundation
import MamoriCore

/// What an audit entry records.
public enum AuditKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A legal-basis decision (``LegalDecision``).
    case decision
    /// A notice sent, or withheld and why.
    case notice
    /// An operator revealed who is behind a pseudonym or address.
    case identityReveal = "identity_reveal"
    /// A consent registry change (import, API, notice page).
    case consentChange = "consent_change"
    /// A configuration or policy loaded or changed.
    case configurationChange = "configuration_change"
    /// A case changed state.
    case caseTransition = "case_transition"
    /// The retention sweeper deleted data (including old audit segments: it names what it removed).
    case retention
    /// The log repaired itself at start: a torn last line (a write cut short by a full disk or a
    /// crash, never acknowledged) moved to a quarantine file, or an unreadable head rebuilt.
    case repair
    /// An operator logged in, failed to, was locked out or logged out.
    case authentication
    /// An operator account was made or changed (role, password, lock, disabled), or a machine token made or revoked.
    case accountChange = "account_change"
    /// The DNS sinkhole's policy changed: an entry added, extended, removed, expired or refused,
    /// or a subscriber's opt-out exemption set or ended.
    case sinkholeChange = "sinkhole_change"
    /// A BGP mitigation announced, withdrawn, refused by a rail, held for approval or dry-run, or
    /// the kill switch thrown or released.
    case mitigationChange = "mitigation_change"
    /// An IP-phone fraud block rule applied, renewed, lifted, proposed, refused by a rail or run
    /// dry, with the figures that justified it and who decided.
    case fraudBlockChange = "fraud_block_change"
}

/// One entry of the tamper-evident audit log.
///
/// Entries form a chain: each names the digest of the one before it, and its own digest is an
/// HMAC-SHA256, under the audit key, of its canonical JSON without the digest. Changing any field
/// breaks its digest; deleting or reordering breaks the sequence and the link; deleting the tail
/// is caught against the head the log keeps beside it (``AuditHead``).
public struct AuditEntry: Sendable, Hashable, Codable {
    public var sequence: UInt64
    /// When (ms since the epoch).
    public var at: Int64
    public var kind: AuditKind
    /// Who: "mamori" for automatic decisions, "analyst:NAME", "subscriber" on the notice page.
    public var actor: String
    /// What it is about: a case id, a subscriber pseudonym, a file.
    public var subject: String
    /// One line a person can read.
    public var summary: String
    /// Structured detail (the decision, the notice's language and channel …), as JSON text.
    public var detail: String
    /// Digest of the previous entry (64 zeros for the first entry ever).
    public var previous: String
    /// HMAC-SHA256 (hex) of this entry's canonical form.
    public var digest: String

    /// The digest every chain starts from.
    public static let genesis = String(repeating: "0", count: 64)

    /// Canonical form: sorted-key JSON of every field but the digest.
    public func canonicalBytes() -> Data {
        struct Body: Encodable {
            var sequence: UInt64, at: Int64, kind: AuditKind, actor: String, subject: String, summary: String, detail: String,
                previous: String
        }
        let body = Body(
            sequence: sequence, at: at, kind: kind, actor: actor, subject: subject, summary: summary, detail: detail, previous: previous)
        // Encoding a struct of strings and integers cannot fail.
        return try! AuditEntry.canonicalEncoder.encode(body)
    }

    public static let canonicalEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// The digest this entry should carry under `key`.
    public func expectedDigest(key: SymmetricKey) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: canonicalBytes(), using: key)).hexEncoded
    }
}

/// The last entry written: kept beside the log (and HMAC'd) so a deleted tail is noticed.
public struct AuditHead: Sendable, Hashable, Codable {
    public var sequence: UInt64
    public var digest: String
    /// HMAC of "sequence:digest" under the audit key.
    public var seal: String

    public init(sequence: UInt64, digest: String, key: SymmetricKey) {
        self.sequence = sequence
        self.digest = digest
        self.seal = Self.seal(sequence: sequence, digest: digest, key: key)
    }

    static func seal(sequence: UInt64, digest: String, key: SymmetricKey) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data("\(sequence):\(digest)".utf8), using: key)).hexEncoded
    }

    public func isSealed(by key: SymmetricKey) -> Bool {
        seal == Self.seal(sequence: sequence, digest: digest, key: key)
    }
}

/// Builds the chain: give it what happened, it returns the sealed entry to append.
public struct AuditChain: Sendable {
    public private(set) var last: (sequence: UInt64, digest: String)?
    private let key: SymmetricKey

    /// A chain continuing after `last` (nil for an empty log).
    public init(key: SymmetricKey, last: (sequence: UInt64, digest: String)?) {
        self.key = key
        self.last = last
    }

    public mutating func seal(at: Int64, kind: AuditKind, actor: String, subject: String, summary: String, detail: String) -> AuditEntry {
        var e = AuditEntry(
            sequence: (last?.sequence ?? 0) + 1, at: at, kind: kind, actor: actor, subject: subject, summary: summary,
            detail: detail, previous: last?.digest ?? AuditEntry.genesis, digest: "")
        e.digest = e.expectedDigest(key: key)
        last = (e.sequence, e.digest)
        return e
    }

    public var head: AuditHead? {
        last.map { AuditHead(sequence: $0.sequence, digest: $0.digest, key: key) }
    }
}

/// One thing wrong with an audit log.
public struct AuditProblem: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case unreadable, altered
        case brokenLink = "broken_link"
        case missingEntries = "missing_entries"
        case tailMissing = "tail_missing"
        case headAltered = "head_altered"
    }
    public var kind: Kind
    /// Where: "segment 000002.jsonl line 17".
    public var location: String
    public var detail: String

    public var description: String { "\(location): \(kind.rawValue): \(detail)" }
}

/// Checks a log line by line (segments in order), then against its head.
public struct AuditVerifier: Sendable {
    private let key: SymmetricKey
    private var last: AuditEntry?
    /// Entries read and found sound.
    public private(set) var entries = 0
    public private(set) var problems: [AuditProblem] = []
    /// Ranges removed by the retention sweeper, as its entries state them: first sequence kept → previous digest.
    private var prunedBefore: [UInt64: String] = [:]
    private var firstEntry: AuditEntry?
    /// The head as read before the log (entries appended after it are fine).
    private let head: AuditHead?
    /// Whether the entry the head names was found with the head's digest (nil: not reached).
    private var headMatched: Bool?

    /// - Parameter head: the head, read *before* the log's lines, so that entries a running server
    ///   appends meanwhile are not taken for a forged tail.
    public init(key: SymmetricKey, head: AuditHead?) {
        self.key = key
        self.head = head
    }

    /// Checks one line of the log.
    public mutating func check(line: Substring, location: @autoclosure () -> String) {
        guard !line.allSatisfy(\.isWhitespace) else { return }
        let entry: AuditEntry
        do {
            entry = try JSONDecoder().decode(AuditEntry.self, from: Data(line.utf8))
        } catch {
            problems.append(AuditProblem(kind: .unreadable, location: location(), detail: "not an audit entry"))
            return
        }
        defer {
            last = entry
            if firstEntry == nil { firstEntry = entry }
        }
        if entry.digest != entry.expectedDigest(key: key) {
            problems.append(
                AuditProblem(
                    kind: .altered, location: location(),
                    detail: "entry \(entry.sequence) does not match its digest: it was changed after it was written"))
            return
        }
        entries += 1
        if let head, entry.sequence == head.sequence { headMatched = entry.digest == head.digest }
        if entry.kind == .retention, let data = entry.detail.data(using: .utf8),
            let pruned = try? JSONDecoder().decode(AuditPruning.self, from: data)
        {
            prunedBefore[pruned.firstKept] = pruned.previousDigest
        }
        guard let last else { return }
        if entry.sequence != last.sequence + 1 {
            let gap =
                entry.sequence > last.sequence
                ? "entries \(last.sequence + 1)–\(entry.sequence - 1) are missing" : "entry \(entry.sequence) follows \(last.sequence)"
            problems.append(AuditProblem(kind: .missingEntries, location: location(), detail: gap))
        } else if entry.previous != last.digest {
            problems.append(
                AuditProblem(kind: .brokenLink, location: location(), detail: "entry \(entry.sequence) does not follow the entry before it")
            )
        }
    }

    /// Finishes: the first entry must start the chain (or follow a recorded pruning), and the
    /// entry the head names must be there with the head's digest.
    public mutating func finish() -> [AuditProblem] {
        if let first = firstEntry, first.sequence != 1 || first.previous != AuditEntry.genesis {
            if prunedBefore[first.sequence] != first.previous {
                problems.append(
                    AuditProblem(
                        kind: .missingEntries, location: "start of log",
                        detail: "the log starts at entry \(first.sequence) and no retention entry records removing the ones before it"))
            }
        }
        guard let head else {
            if last != nil { problems.append(AuditProblem(kind: .tailMissing, location: "head", detail: "the head file is missing")) }
            return problems
        }
        if !head.isSealed(by: key) {
            problems.append(AuditProblem(kind: .headAltered, location: "head", detail: "the head file was changed"))
        } else if let last {
            if last.sequence < head.sequence {
                problems.append(
                    AuditProblem(
                        kind: .tailMissing, location: "end of log",
                        detail:
                            "the log ends at entry \(last.sequence) but \(head.sequence) were written: entries \(last.sequence + 1)–\(head.sequence) are missing"
                    ))
            } else if headMatched == false {
                problems.append(
                    AuditProblem(
                        kind: .brokenLink, location: "end of log", detail: "entry \(head.sequence) is not the one the head records"))
            }
        } else if head.sequence > 0 {
            problems.append(
                AuditProblem(kind: .tailMissing, location: "log", detail: "the log is empty but \(head.sequence) entries were written"))
        }
        return problems
    }
}

/// The detail of a ``AuditKind/retention`` entry that removed old audit segments.
public struct AuditPruning: Sendable, Hashable, Codable {
    /// First entry still kept.
    public var firstKept: UInt64
    /// Its `previous` digest (the digest of the last entry removed).
    public var previousDigest: String
    public var removedSegments: [String]

    public init(firstKept: UInt64, previousDigest: String, removedSegments: [String]) {
        self.firstKept = firstKept
        self.previousDigest = previousDigest
        self.removedSegments = removedSegments
    }
}
