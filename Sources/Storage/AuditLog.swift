import Crypto
import Foundation
import Lawful
import MamoriCore

#if canImport(Glibc)
import Glibc
#endif

/// The append-only, hash-chained audit log on disk: `<directory>/NNNNNN.jsonl` segments of
/// ``AuditEntry`` lines, and `HEAD`, the sealed last entry, written after every append.
///
/// Durability, entry by entry:
/// - An append returns only after its line is on disk (`write` of the whole line, then `fsync`;
///   the directory too when the append created a segment). What returns was acknowledged.
/// - An append that fails (disk full, I/O error) takes its partial line back out (`ftruncate` to
///   the size before it) and throws: the file, the head and the chain stay in step, and nothing
///   that was not acknowledged stays in the log. If even the truncation fails, the next append
///   cuts the tail back to its last whole line first.
/// - `HEAD` is replaced atomically (a private temporary file, `fsync`, `rename`, `fsync` of the
///   directory). If that fails after the entry is on disk, the entry stands (it is acknowledged)
///   and the next append writes the head before anything else, so the head is never more than
///   the one entry behind that ``init(directory:key:segmentEntries:observer:now:)`` tolerates.
/// - At start, a torn last line (a write cut short by a crash or a full disk: never acknowledged)
///   is moved to a quarantine file beside the segment (`NNNNNN.jsonl.torn-<ms>`) and the repair is
///   recorded in the chain as a ``AuditKind/repair`` entry; an unreadable head is rebuilt from
///   the log and recorded the same way. Neither stops the start.
/// - Entries for things that already happened (a notice that went out) can be given to
///   ``appendOrDefer(at:kind:actor:subject:summary:detail:)``: when the disk refuses them they wait
///   in memory (bounded) and are written, in order, before the next entry that can be written.
///
/// Old segments go only through ``prune(before:now:)``, which records in the chain itself what it
/// removed, so `mamori audit verify` can tell retention from tampering.
public final class AuditLog: AuditTrail, @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `lock`.
    public let directory: String
    private let key: SymmetricKey
    private let segmentEntries: Int
    private let observer: any StorageObserver
    private let lock = NSLock()
    private var chain: AuditChain
    private var segment: Int
    private var entriesInSegment: Int
    /// The head on disk names the entry before the last one: its replacement failed.
    private var headStale = false
    /// A failed append could not be cut back out of the segment; cut it before the next append.
    private var tailNeedsRepair = false
    /// Entries owed to the log (``appendOrDefer``), oldest first.
    private var deferred: [Deferred] = []
    private var deferredDropped = 0
    /// Entries ``appendOrDefer`` keeps at most while the log cannot be written.
    public static let maximumDeferred = 10_000
    /// What opening the log found and repaired.
    public let repairs: [AuditRepair]

    private struct Deferred {
        var at: Int64, kind: AuditKind, actor: String, subject: String, summary: String, detail: String
    }

    /// Opens the log in `directory` (created, mode 0700), continuing its chain.
    ///
    /// Repairs what a crash or a full disk can leave (a torn last line, an unreadable head) and
    /// records the repair. Refuses a log whose last entry disagrees with its head beyond the
    /// one-entry window a crash between the two writes can leave, or whose last whole line is not
    /// an entry: run `mamori audit verify` to see what happened.
    public init(
        directory: String, key: SymmetricKey, segmentEntries: Int = 10_000, observer: any StorageObserver = NoStorageObserver(),
        now: Int64 = Int64(Date().timeIntervalSince1970 * 1000)
    ) throws {
        self.directory = directory
        self.key = key
        self.segmentEntries = max(1, segmentEntries)
        self.observer = observer
        try PrivateFiles.makeDirectory(directory)
        unlink(directory + "/HEAD.tmp")
        var repairs: [AuditRepair] = []
        let segments = try Self.segments(in: directory)
        segment = segments.last ?? 1
        if let newest = segments.last, let torn = try Self.cutTornTail(Self.path(directory, newest), quarantineSuffix: ".torn-\(now)") {
            repairs.append(torn)
        }
        // The last entry: in the newest segment that holds one (a segment created by an append
        // that then failed can be empty).
        var last: AuditEntry?
        entriesInSegment = 0
        for (n, s) in segments.reversed().enumerated() {
            let lines = try Self.lines(of: Self.path(directory, s))
            if n == 0 { entriesInSegment = lines.count }
            guard let tail = lines.last else { continue }
            do {
                last = try JSONDecoder().decode(AuditEntry.self, from: Data(tail.utf8))
            } catch {
                throw AuditLogError("the last line of \(Self.path(directory, s)) is not an audit entry; run `mamori audit verify`")
            }
            break
        }
        var head: AuditHead?
        var headRebuilt = false
        do {
            head = try Self.readHead(directory)
        } catch {
            // Not a head at all (an older version did not flush it): rebuilt from the log, and said so.
            let quarantine = directory + "/HEAD.unreadable-\(now)"
            guard rename(directory + "/HEAD", quarantine) == 0 else {
                throw AuditLogError("the audit head \(directory)/HEAD is unreadable and cannot be moved aside: \(PrivateFiles.errnoText())")
            }
            repairs.append(
                AuditRepair(
                    file: "HEAD", bytes: 0, sha256: "", quarantinedAs: (quarantine as NSString).lastPathComponent,
                    what: "the head was unreadable; rebuilt from the last entry \(last.map { String($0.sequence) } ?? "(none)")"))
            headRebuilt = true
        }
        switch (last, head) {
        case (nil, nil):
            break
        case (let l?, let h?) where l.sequence == h.sequence && l.digest == h.digest && h.isSealed(by: key):
            break
        case (let l?, let h?) where l.sequence == h.sequence + 1 && l.previous == h.digest && h.isSealed(by: key):
            break // the process stopped between writing the entry and the head
        case (let l?, nil) where l.sequence == 1 || headRebuilt:
            break
        default:
            throw AuditLogError(
                "the audit log in \(directory) does not match its head (last entry \(last.map { String($0.sequence) } ?? "none"), head \(head.map { String($0.sequence) } ?? "none")); run `mamori audit verify`"
            )
        }
        if let last, last.digest != last.expectedDigest(key: key) {
            throw AuditLogError(
                "the last audit entry (\(last.sequence)) does not match its digest under this key; run `mamori audit verify`")
        }
        chain = AuditChain(key: key, last: last.map { ($0.sequence, $0.digest) })
        self.repairs = repairs
        if let last, head?.sequence != last.sequence {
            // Brought up to date now, or before the next append if the disk refuses.
            do { try writeHead(AuditHead(sequence: last.sequence, digest: last.digest, key: key)) } catch { headStale = true }
        }
        for r in repairs {
            appendOrDefer(
                at: now, kind: .repair, actor: "mamori", subject: r.file, summary: "audit log repaired at start: \(r.what)", detail: r)
        }
    }

    /// Appends one entry and returns it sealed, after it is on disk (and, normally, the head too).
    /// Entries waiting from ``appendOrDefer`` are written first.
    /// - Throws: ``AuditLogError`` when the entry could not be written; nothing of it is left in the log.
    @discardableResult
    public func append(at: Int64, kind: AuditKind, actor: String, subject: String, summary: String, detail: String = "{}") throws
        -> AuditEntry
    {
        try lock.withLock {
            try flushDeferredLocked()
            return try appendLocked(Deferred(at: at, kind: kind, actor: actor, subject: subject, summary: summary, detail: detail))
        }
    }

    /// Appends an entry whose detail is a JSON-encoded value.
    @discardableResult
    public func append(at: Int64, kind: AuditKind, actor: String, subject: String, summary: String, detail: some Encodable) throws
        -> AuditEntry
    {
        let text = String(decoding: try AuditEntry.canonicalEncoder.encode(detail), as: UTF8.self)
        return try append(at: at, kind: kind, actor: actor, subject: subject, summary: summary, detail: text)
    }

    /// Records something that has already happened (a notice sent, a repair made): appended now
    /// if the log can be written, else kept in memory and appended, in order and with its own
    /// time, before the next entry that can be written. Returns the entry when it was written.
    ///
    /// Use it only where refusing is no longer possible; a decision that is yet to be acted on
    /// goes through ``append(at:kind:actor:subject:summary:detail:)``, whose failure stops the action.
    /// At most ``maximumDeferred`` entries wait; beyond that the newest are dropped and counted
    /// (``deferredDroppedCount``).
    @discardableResult
    public func appendOrDefer(at: Int64, kind: AuditKind, actor: String, subject: String, summary: String, detail: some Encodable)
        -> AuditEntry?
    {
        let text = (try? AuditEntry.canonicalEncoder.encode(detail)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return appendOrDefer(Deferred(at: at, kind: kind, actor: actor, subject: subject, summary: summary, detail: text))
    }

    // MARK: AuditTrail

    public func write(_ record: AuditRecord) throws {
        try append(
            at: record.at, kind: record.kind, actor: record.actor, subject: record.subject, summary: record.summary, detail: record.detail)
    }

    @discardableResult
    public func writeOrDefer(_ record: AuditRecord) -> Bool {
        appendOrDefer(
            Deferred(
                at: record.at, kind: record.kind, actor: record.actor, subject: record.subject, summary: record.summary,
                detail: record.detail)) != nil
    }

    private func appendOrDefer(_ entry: Deferred) -> AuditEntry? {
        lock.withLock {
            do {
                try flushDeferredLocked()
                return try appendLocked(entry)
            } catch {
                if deferred.count < Self.maximumDeferred { deferred.append(entry) } else { deferredDropped += 1 }
                return nil
            }
        }
    }

    /// Writes the entries waiting from ``appendOrDefer``; returns whether none is left waiting.
    @discardableResult
    public func flushDeferred() -> Bool {
        lock.withLock {
            guard !deferred.isEmpty || headStale || tailNeedsRepair else { return true }
            do {
                try flushDeferredLocked()
                if headStale, let head = chain.head {
                    try writeHead(head)
                    headStale = false
                }
                return true
            } catch {
                return false
            }
        }
    }

    /// Entries waiting to be written (``appendOrDefer``).
    public var deferredCount: Int { lock.withLock { deferred.count } }
    /// Entries ``appendOrDefer`` had to drop because too many were waiting.
    public var deferredDroppedCount: Int { lock.withLock { deferredDropped } }

    private func flushDeferredLocked() throws {
        while let first = deferred.first {
            try appendLocked(first)
            deferred.removeFirst()
        }
    }

    @discardableResult
    private func appendLocked(_ e: Deferred) throws -> AuditEntry {
        do {
            if tailNeedsRepair {
                _ = try Self.cutTornTail(Self.path(directory, segment), quarantineSuffix: nil)
                tailNeedsRepair = false
            }
            if headStale, let head = chain.head {
                try writeHead(head)
                headStale = false
            }
            if entriesInSegment >= segmentEntries {
                segment += 1
                entriesInSegment = 0
            }
            var next = chain
            let entry = next.seal(at: e.at, kind: e.kind, actor: e.actor, subject: e.subject, summary: e.summary, detail: e.detail)
            var line = try AuditEntry.canonicalEncoder.encode(entry)
            line.append(0x0A)
            try appendDurably(line, to: Self.path(directory, segment))
            // On disk: acknowledged, whatever happens to the head.
            chain = next
            entriesInSegment += 1
            do {
                try writeHead(next.head!)
            } catch {
                headStale = true
                observer.writeFailed(store: "audit", error: error)
                return entry
            }
            observer.writeSucceeded(store: "audit")
            return entry
        } catch {
            observer.writeFailed(store: "audit", error: error)
            throw error
        }
    }

    /// The newest entries `matching` accepts, newest first: segments are read from the newest
    /// back until `limit` are found (at most 20 segments, so one page never reads the whole log).
    /// A line that is not an entry is skipped (`mamori audit verify` reports it).
    public func recent(limit: Int, matching: (AuditRecord) -> Bool) throws -> [AuditLine] {
        var found: [AuditLine] = []
        let decoder = JSONDecoder()
        for s in try Self.segments(in: directory).reversed().prefix(20) {
            for line in try Self.lines(of: Self.path(directory, s)).reversed() {
                guard let e = try? decoder.decode(AuditEntry.self, from: Data(line.utf8)) else { continue }
                let record = AuditRecord(at: e.at, kind: e.kind, actor: e.actor, subject: e.subject, summary: e.summary, detail: e.detail)
                guard matching(record) else { continue }
                found.append(AuditLine(sequence: e.sequence, record: record))
                if found.count >= limit { return found }
            }
        }
        return found
    }

    /// Verifies this log with its own key, holding off appends meanwhile (so a line being
    /// written is never mistaken for a torn one): the console's "verify the chain".
    public func verify() throws -> AuditVerification { try lock.withLock { try Self.verify(directory: directory, key: key) } }

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
                guard let tail = lines.last, let last = try? JSONDecoder().decode(AuditEntry.self, from: Data(tail.utf8)), last.at < cutoff
                else { break }
                removed.append(Self.name(s))
            }
            guard !removed.isEmpty else { return ([], AuditPruning(firstKept: 0, previousDigest: "", removedSegments: [])) }
            // The first entry after the removed segments keeps its link to the removed chain.
            let next = Self.segment(named: removed.last!)! + 1
            if let first = try Self.lines(of: Self.path(directory, next)).first {
                firstKept = try JSONDecoder().decode(AuditEntry.self, from: Data(first.utf8))
            }
            for name in removed { try FileManager.default.removeItem(atPath: directory + "/" + name) }
            return (
                removed,
                AuditPruning(firstKept: firstKept?.sequence ?? 0, previousDigest: firstKept?.previous ?? "", removedSegments: removed)
            )
        }
        if !removed.isEmpty {
            try append(
                at: now, kind: .retention, actor: "mamori", subject: "audit",
                summary: "removed audit segments \(removed.joined(separator: ", ")) past retention",
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
        do {
            try PrivateFiles.replace(directory + "/HEAD", with: data)
        } catch {
            throw AuditLogError("cannot write the audit head: \(error)")
        }
    }

    static func readHead(_ directory: String) throws -> AuditHead? {
        guard let data = FileManager.default.contents(atPath: directory + "/HEAD") else { return nil }
        return try JSONDecoder().decode(AuditHead.self, from: data)
    }

    /// Appends `line` and flushes it; on any failure cuts the file back to its size before and throws.
    private func appendDurably(_ line: Data, to path: String) throws {
        let fd: Int32
        let created: Bool
        do {
            (fd, created) = try PrivateFiles.open(path, flags: O_APPEND)
        } catch {
            throw AuditLogError("cannot append to the audit log: \(error)")
        }
        defer { close(fd) }
        let before = lseek(fd, 0, SEEK_END)
        do {
            try PrivateFiles.writeAll(line, to: fd, path: path)
            guard fsync(fd) == 0 else { throw PrivateFileError("cannot flush \(path): \(PrivateFiles.errnoText())") }
            if created { try PrivateFiles.syncDirectory(of: path) }
        } catch {
            // Not acknowledged, so not left in the log: a torn line would sit in front of the next entry.
            if created {
                unlink(path)
            } else if before < 0 || ftruncate(fd, before) != 0 || fsync(fd) != 0 {
                tailNeedsRepair = true
            }
            throw AuditLogError("cannot append to the audit log: \(error)")
        }
    }

    /// Cuts whatever follows the last newline of `path` (a line whose write was cut short).
    /// With a `quarantineSuffix`, the cut bytes are first kept in `path + suffix` (mode 0600) when
    /// the disk allows. Returns what was done, nil when the file ends with a whole line.
    static func cutTornTail(_ path: String, quarantineSuffix: String?) throws -> AuditRepair? {
        guard let data = FileManager.default.contents(atPath: path), let last = data.last, last != 0x0A else { return nil }
        let keep = data.lastIndex(of: 0x0A).map { $0 + 1 } ?? data.startIndex
        let torn = data[keep...]
        var quarantined: String?
        if let quarantineSuffix {
            let target = path + quarantineSuffix
            do {
                let (fd, _) = try PrivateFiles.open(target, flags: O_TRUNC)
                defer { close(fd) }
                try PrivateFiles.writeAll(Data(torn), to: fd, path: target)
                guard fsync(fd) == 0 else { throw PrivateFileError("cannot flush \(target)") }
                quarantined = (target as NSString).lastPathComponent
            } catch {
                unlink(target) // the disk is full: the digest in the repair entry stands for the bytes
            }
        }
        guard truncate(path, off_t(keep - data.startIndex)) == 0 else {
            throw AuditLogError("cannot cut the torn last line of \(path): \(PrivateFiles.errnoText())")
        }
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        let name = (path as NSString).lastPathComponent
        return AuditRepair(
            file: name, bytes: torn.count, sha256: SHA256.hash(data: torn).hexEncoded, quarantinedAs: quarantined,
            what:
                "a torn last line of \(name) (\(torn.count) bytes, never acknowledged) \(quarantined.map { "moved to \($0)" } ?? "removed (no room to keep it)")"
        )
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

/// What opening the log repaired, as recorded in its ``AuditKind/repair`` entry.
public struct AuditRepair: Sendable, Hashable, Codable {
    /// The file repaired: a segment name or "HEAD".
    public var file: String
    /// Bytes cut from the end of the segment.
    public var bytes: Int
    /// SHA-256 (hex) of the cut bytes.
    public var sha256: String
    /// Where they were kept (beside the segment), nil when there was no room.
    public var quarantinedAs: String?
    /// In words.
    public var what: String
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
