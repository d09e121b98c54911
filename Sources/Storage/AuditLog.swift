import Crypto
import Foundation
import Lawful

/// The append-only, hash-chained audit log on disk: `<directory>/NNNNNN.jsonl` segments of
/// ``AuditEntry`` lines, and `HEAD`, the sealed last entry, written after every append.
///
/// Each append is flushed to disk before it returns, so a decision, notice or reveal that is
/// acted on has been recorded first. Old segments go only through ``prune(before:now:)``, which
/// records in the chain itself what it removed, so `mamori audit verify` can tell retention
/// from tampering.
public final class AuditLog: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `lock`.
    public let directory: String
    private let key: SymmetricKey
    private let segmentEntries: Int
    private let lock = NSLock()
    private var chain: AuditChain
    private var segment: Int
    private var entriesInSegment: Int

    /// Opens the log in `directory` (created, mode 0700), continuing its chain.
    ///
    /// Refuses a log whose last entry disagrees with its head beyond the one-entry window a crash
    /// between the two writes can leave: run `mamori audit verify` to see what happened.
    public init(directory: String, key: SymmetricKey, segmentEntries: Int = 10_000) throws {
        self.directory = directory
        self.key = key
        self.segmentEntries = max(1, segmentEntries)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let segments = try Self.segments(in: directory)
        segment = segments.last ?? 1
        var last: AuditEntry?
        entriesInSegment = 0
        if segments.last != nil {
            let lines = try Self.lines(of: Self.path(directory, segment))
            entriesInSegment = lines.count
            if let tail = lines.last {
                do {
                    last = try JSONDecoder().decode(AuditEntry.self, from: Data(tail.utf8))
                } catch {
                    throw AuditLogError("the last line of \(Self.path(directory, segment)) is not an audit entry; run `mamori audit verify`")
                }
            }
        }
        let head = try Self.readHead(directory)
        switch (last, head) {
        case (nil, nil):
            break
        case let (l?, h?) where l.sequence == h.sequence && l.digest == h.digest && h.isSealed(by: key):
            break
        case let (l?, h?) where l.sequence == h.sequence + 1 && l.previous == h.digest && h.isSealed(by: key):
            break  // the process stopped between writing the entry and the head
        case let (l?, nil) where l.sequence == 1:
            break
        default:
            throw AuditLogError("the audit log in \(directory) does not match its head (last entry \(last.map { String($0.sequence) } ?? "none"), head \(head.map { String($0.sequence) } ?? "none")); run `mamori audit verify`")
        }
        if let last, last.digest != last.expectedDigest(key: key) {
            throw AuditLogError("the last audit entry (\(last.sequence)) does not match its digest under this key; run `mamori audit verify`")
        }
        chain = AuditChain(key: key, last: last.map { ($0.sequence, $0.digest) })
        if let last { try writeHead(AuditHead(sequence: last.sequence, digest: last.digest, key: key)) }
    }

    /// Appends one entry and returns it sealed, after it and the head are on disk.
    @discardableResult
    public func append(at: Int64, kind: AuditKind, actor: String, subject: String, summary: String, detail: String = "{}") throws -> AuditEntry {
        try lock.withLock {
            if entriesInSegment >= segmentEntries {
                segment += 1
                entriesInSegment = 0
            }
            var next = chain
            let entry = next.seal(at: at, kind: kind, actor: actor, subject: subject, summary: summary, detail: detail)
            var line = try AuditEntry.canonicalEncoder.encode(entry)
            line.append(0x0A)
            try Self.appendDurably(line, to: Self.path(directory, segment))
            try writeHead(next.head!)
            chain = next
            entriesInSegment += 1
            return entry
        }
    }

    /// Appends an entry whose detail is a JSON-encoded value.
    @discardableResult
    public func append(at: Int64, kind: AuditKind, actor: String, subject: String, summary: String, detail: some Encodable) throws -> AuditEntry {
        let text = String(decoding: try AuditEntry.canonicalEncoder.encode(detail), as: UTF8.self)
        return try append(at: at, kind: kind, actor: actor, subject: subject, summary: summary, detail: text)
    }

    /// Entries written so far (the head's sequence).
    public var count: UInt64 { lock.withLock { chain.last?.sequence ?? 0 } }

    /// Deletes whole segments whose every entry is older than `cutoff` (never the one being
    /// written), then records what it removed in a ``AuditKind/retention`` entry.
    /// Returns the names of the removed segments.
    @discardableResult
    public func prune(before cutoff: Int64, now: Int64) throws -> [String] {
        let removed: [String]
        let pruning: AuditPruning
        (removed, pruning) = try lock.withLock {
            let segments = try Self.segments(in: directory).filter { $0 != segment }
            var removed: [String] = []
            var firstKept: AuditEntry?
            for s in segments {
                let lines = try Self.lines(of: Self.path(directory, s))
                guard let tail = lines.last, let last = try? JSONDecoder().decode(AuditEntry.self, from: Data(tail.utf8)), last.at < cutoff else { break }
                removed.append(Self.name(s))
            }
            guard !removed.isEmpty else { return ([], AuditPruning(firstKept: 0, previousDigest: "", removedSegments: [])) }
            // The first entry after the removed segments keeps its link to the removed chain.
            let next = Self.segment(named: removed.last!)! + 1
            if let first = try Self.lines(of: Self.path(directory, next)).first {
                firstKept = try JSONDecoder().decode(AuditEntry.self, from: Data(first.utf8))
            }
            for name in removed { try FileManager.default.removeItem(atPath: directory + "/" + name) }
            return (removed, AuditPruning(firstKept: firstKept?.sequence ?? 0, previousDigest: firstKept?.previous ?? "", removedSegments: removed))
        }
        if !removed.isEmpty {
            try append(at: now, kind: .retention, actor: "mamori", subject: "audit", summary: "removed audit segments \(removed.joined(separator: ", ")) past retention",
                       detail: pruning)
        }
        return removed
    }

    /// Reads and checks the whole log in `directory` under `key`.
    public static func verify(directory: String, key: SymmetricKey) throws -> AuditVerification {
        // The head first: whatever a running server appends after it is read is checked by its links.
        let head = try? readHead(directory)
        var verifier = AuditVerifier(key: key, head: head ?? nil)
        let segments = try segments(in: directory)
        for (n, s) in segments.enumerated() {
            var (lines, complete) = read(path(directory, s))
            // A last line without its newline is being written right now: not part of the log yet.
            if n == segments.count - 1, !complete, !lines.isEmpty {
                lines.removeLast()
            }
            for (i, line) in lines.enumerated() {
                verifier.check(line: Substring(line), location: "\(name(s)) line \(i + 1)")
            }
        }
        let problems = verifier.finish()
        return AuditVerification(entries: verifier.entries, segments: segments.count, head: (head ?? nil)?.sequence, problems: problems)
    }

    // MARK: Files

    private func writeHead(_ head: AuditHead) throws {
        let data = try AuditEntry.canonicalEncoder.encode(head)
        let path = directory + "/HEAD"
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw AuditLogError("cannot write \(temporary)")
        }
        if rename(temporary, path) != 0 { throw AuditLogError("cannot replace \(path): \(String(cString: strerror(errno)))") }
    }

    static func readHead(_ directory: String) throws -> AuditHead? {
        guard let data = FileManager.default.contents(atPath: directory + "/HEAD") else { return nil }
        return try JSONDecoder().decode(AuditHead.self, from: data)
    }

    private static func appendDurably(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AuditLogError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count else { throw AuditLogError("cannot append to \(path): \(String(cString: strerror(errno)))") }
        guard fsync(fd) == 0 else { throw AuditLogError("cannot flush \(path): \(String(cString: strerror(errno)))") }
    }

    static func name(_ segment: Int) -> String {
        let digits = String(segment)
        return String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".jsonl"
    }

    static func segment(named name: String) -> Int? {
        guard name.hasSuffix(".jsonl") else { return nil }
        return Int(name.dropLast(6))
    }

    static func path(_ directory: String, _ segment: Int) -> String { directory + "/" + name(segment) }

    static func segments(in directory: String) throws -> [Int] {
        guard FileManager.default.fileExists(atPath: directory) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory).compactMap(segment(named:)).sorted()
    }

    static func lines(of path: String) throws -> [String] { read(path).lines }

    /// A segment's lines, and whether the file ends with a newline (its last line is complete).
    static func read(_ path: String) -> (lines: [String], complete: Bool) {
        guard let data = FileManager.default.contents(atPath: path) else { return ([], true) }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        return (lines, data.isEmpty || data.last == 0x0A)
    }
}

/// What `verify` found.
public struct AuditVerification: Sendable {
    public var entries: Int
    public var segments: Int
    public var head: UInt64?
    public var problems: [AuditProblem]
    public var isSound: Bool { problems.isEmpty }
}

/// The audit log cannot be opened or written.
public struct AuditLogError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The audit key: 32 random bytes, hex, in a file only the owner can read. Created on first use.
public enum AuditKey {
    public static func loadOrCreate(path: String) throws -> SymmetricKey {
        do {
            return SymmetricKey(data: try KeyFile.loadOrCreate(path: path, format: .hex))
        } catch let e as KeyFileError {
            throw AuditLogError("audit key: \(e)")
        }
    }

    public static func load(path: String) throws -> SymmetricKey {
        guard FileManager.default.fileExists(atPath: path) else { throw AuditLogError("no audit key at \(path)") }
        return try loadOrCreate(path: path)
    }
}
