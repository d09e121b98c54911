import Crypto
import Foundation
import GRDB
import Lawful
import MamoriTesting
import Storage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a crash or a full disk can do to the stores, and what they do about it; who may read
/// their files; the call-centre CSV.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct StorageDurabilityTests {
    let key = SymmetricKey(data: Array(repeating: UInt8(9), count: 32))

    /// Removed with the suite's instance, after each test.
    let scratch: TemporaryDirectory

    init() throws { scratch = try TemporaryDirectory() }

    /// A path inside ``scratch`` that does not exist yet.
    func freshDirectory() -> String { scratch.path + "/durability-\(UInt64.random(in: 0...UInt64.max))" }

    func entries(_ dir: String) throws -> [AuditEntry] {
        var out: [AuditEntry] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: dir).filter({ $0.hasSuffix(".jsonl") }).sorted() {
            let text = String(decoding: FileManager.default.contents(atPath: dir + "/" + name) ?? Data(), as: UTF8.self)
            for line in text.split(separator: "\n") { out.append(try JSONDecoder().decode(AuditEntry.self, from: Data(line.utf8))) }
        }
        return out
    }

    @Test(
        "a torn last line (a write cut short) is moved to a quarantine file and the repair recorded; the log opens, continues and verifies")
    func tornLastLineIsRepaired() throws {
        let dir = freshDirectory()
        let log = try AuditLog(directory: dir, key: key, segmentEntries: 10)
        for i in 1...4 { try log.append(at: Int64(i), kind: .decision, actor: "mamori", subject: "s:1", summary: "decision \(i)") }
        // What a power cut in the middle of the fifth append leaves: half a line, no newline.
        let segment = dir + "/000001.jsonl"
        let torn = Data(#"{"actor":"mamori","at":5,"detail":"{}","digest":"ab"#.utf8)
        let handle = try #require(FileHandle(forWritingAtPath: segment))
        handle.seekToEndOfFile()
        handle.write(torn)
        try handle.close()

        let reopened = try AuditLog(directory: dir, key: key, segmentEntries: 10, now: 77)
        #expect(reopened.repairs.count == 1)
        let repair = try #require(reopened.repairs.first)
        #expect(repair.file == "000001.jsonl" && repair.bytes == torn.count)
        #expect(repair.quarantinedAs == "000001.jsonl.torn-77")
        #expect(FileManager.default.contents(atPath: dir + "/000001.jsonl.torn-77") == torn)
        #expect(PrivateFiles.mode(of: dir + "/000001.jsonl.torn-77") == 0o600)
        let e = try reopened.append(at: 100, kind: .notice, actor: "mamori", subject: "case-1", summary: "after the repair")
        #expect(e.sequence == 6) // 4 entries, the repair entry, this one
        let all = try entries(dir)
        #expect(all.map(\.sequence) == [1, 2, 3, 4, 5, 6])
        #expect(all[4].kind == .repair)
        #expect(all[4].summary.contains("torn last line of 000001.jsonl (\(torn.count) bytes"))
        #expect(all[4].detail.contains(SHA256.hash(data: torn).hexString))
        let v = try AuditLog.verify(directory: dir, key: key)
        #expect(v.isSound, "\(v.problems)")
        #expect(v.entries == 6 && v.head == 6)
    }

    @Test(
        "an unreadable head is rebuilt from the log and recorded; an empty last segment (an append that failed after creating it) is tolerated"
    )
    func unreadableHeadAndEmptySegment() throws {
        let dir = freshDirectory()
        let log = try AuditLog(directory: dir, key: key, segmentEntries: 3)
        for i in 1...3 { try log.append(at: Int64(i), kind: .decision, actor: "mamori", subject: "s:1", summary: "decision \(i)") }
        FileManager.default.createFile(atPath: dir + "/000002.jsonl", contents: Data())
        try Data().write(to: URL(fileURLWithPath: dir + "/HEAD")) // as an old, unflushed head after a power cut
        let reopened = try AuditLog(directory: dir, key: key, segmentEntries: 3, now: 5)
        #expect(reopened.repairs.map(\.file) == ["HEAD"])
        #expect(reopened.count == 4)
        #expect(FileManager.default.fileExists(atPath: dir + "/HEAD.unreadable-5"))
        let v = try AuditLog.verify(directory: dir, key: key)
        #expect(v.isSound, "\(v.problems)")
        #expect(try entries(dir).last?.summary.contains("the head was unreadable; rebuilt from the last entry 3") == true)
    }

    @Test(
        "a full disk: a failed append leaves nothing behind and throws; deferred entries keep their order; after space is freed the chain goes on without a gap"
    )
    func fullDiskAudit() throws {
        let fs = try SmallFilesystem.mount(sizeKiB: 256)
        defer { fs.unmount() }
        let dir = fs.path + "/audit"
        let log = try AuditLog(directory: dir, key: key, segmentEntries: 1_000)
        var acknowledged: [UInt64] = []
        for i in 1...5 {
            acknowledged.append(
                try log.append(at: Int64(i), kind: .decision, actor: "mamori", subject: "s:\(i)", summary: "decision \(i)").sequence)
        }
        try fs.fill()
        // Appends until the disk refuses (the segment's last page may take a few more lines).
        var refused = 0
        var i = 6
        while refused < 3 && i < 200 {
            let long = String(repeating: "x", count: 900)
            do {
                acknowledged.append(
                    try log.append(at: Int64(i), kind: .decision, actor: "mamori", subject: "s:\(i)", summary: "decision \(i) \(long)")
                        .sequence)
            } catch {
                #expect(error is AuditLogError)
                refused += 1
            }
            i += 1
        }
        #expect(refused == 3, "the full disk never refused an append")
        // Nothing of a refused append is in the file: every line is whole, and the log verifies.
        let raw = try #require(FileManager.default.contents(atPath: dir + "/000001.jsonl"))
        #expect(raw.last == 0x0A)
        #expect(try AuditLog.verify(directory: dir, key: key).isSound)
        #expect(try entries(dir).map(\.sequence) == acknowledged)
        // Something that already happened waits in memory, in order.
        #expect(
            log.appendOrDefer(
                at: 1_000, kind: .notice, actor: "mamori", subject: "case-1", summary: "notice sent (deferred 1)", detail: ["x": 1]) == nil)
        #expect(
            log.appendOrDefer(
                at: 1_001, kind: .notice, actor: "mamori", subject: "case-2", summary: "notice sent (deferred 2)", detail: ["x": 2]) == nil)
        #expect(log.deferredCount == 2)
        #expect(!log.flushDeferred())
        fs.free()
        // The next append writes the waiting entries first.
        let next = try log.append(at: 2_000, kind: .decision, actor: "mamori", subject: "s:after", summary: "after the disk was freed")
        #expect(log.deferredCount == 0)
        let all = try entries(dir)
        #expect(
            Array(all.suffix(3).map(\.summary)) == ["notice sent (deferred 1)", "notice sent (deferred 2)", "after the disk was freed"])
        #expect(next.sequence == UInt64(acknowledged.count + 3))
        #expect(all.map(\.sequence) == Array(1...next.sequence))
        #expect(try AuditLog.verify(directory: dir, key: key).isSound)
        // And it opens again.
        #expect(try AuditLog(directory: dir, key: key, segmentEntries: 1_000).count == next.sequence)
    }

    @Test("key files: created 0600; one readable by others is refused naming the file and the chmod fix")
    func keyFiles() throws {
        let dir = freshDirectory()
        let path = dir + "/pseudonym.key"
        let key = try KeyFile.loadOrCreate(path: path, format: .raw)
        #expect(key.count == 32)
        #expect(PrivateFiles.mode(of: path) == 0o600)
        #expect(PrivateFiles.mode(of: dir) == 0o700)
        #expect(try KeyFile.loadOrCreate(path: path, format: .raw) == key)
        chmod(path, 0o644)
        #expect {
            _ = try KeyFile.loadOrCreate(path: path, format: .raw)
        } throws: { error in
            let text = "\(error)"
            return text.contains(path) && text.contains("mode 644") && text.contains("chmod 600 \(path)")
        }
        #expect(throws: AuditLogError.self) { _ = try AuditKey.loadOrCreate(path: path) }
        chmod(path, 0o600)
        #expect(try KeyFile.loadOrCreate(path: path, format: .raw) == key)
    }

    @Test("the data directory: made 0700, files an older version left open narrowed to 0600 and named, a readable key refused")
    func dataDirectory() throws {
        let dir = freshDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/audit", withIntermediateDirectories: true)
        chmod(dir, 0o755)
        chmod(dir + "/audit", 0o755)
        FileManager.default.createFile(atPath: dir + "/findings.sqlite", contents: Data("x".utf8))
        FileManager.default.createFile(atPath: dir + "/audit/000001.jsonl", contents: Data())
        chmod(dir + "/findings.sqlite", 0o644)
        chmod(dir + "/audit/000001.jsonl", 0o640)
        let narrowed = try DataDirectory.prepare(dir, keyFiles: [dir + "/pseudonym.key"])
        #expect(Set(narrowed.map(\.path)) == [dir, dir + "/audit", dir + "/findings.sqlite", dir + "/audit/000001.jsonl"])
        #expect(narrowed.first { $0.path == dir + "/findings.sqlite" }?.oldMode == "644")
        for p in [dir, dir + "/audit"] { #expect(PrivateFiles.mode(of: p) == 0o700, "\(p)") }
        for p in [dir + "/findings.sqlite", dir + "/audit/000001.jsonl"] { #expect(PrivateFiles.mode(of: p) == 0o600, "\(p)") }
        #expect(try DataDirectory.prepare(dir, keyFiles: []).isEmpty, "nothing left to narrow")
        FileManager.default.createFile(atPath: dir + "/pseudonym.key", contents: Data(repeating: 1, count: 32))
        chmod(dir + "/pseudonym.key", 0o604)
        #expect {
            try DataDirectory.prepare(dir, keyFiles: [dir + "/pseudonym.key"])
        } throws: { "\($0)".contains("chmod 600 \(dir)/pseudonym.key") }
        #expect(PrivateFiles.mode(of: dir + "/pseudonym.key") == 0o604, "a key is refused, not quietly narrowed")
        // A new data directory is made 0700.
        try DataDirectory.prepare(dir + "/new", keyFiles: [])
        #expect(PrivateFiles.mode(of: dir + "/new") == 0o700)
    }

    @Test("the SQLite stores run in WAL mode, findings with synchronous NORMAL, cases and consent FULL; files and their WAL are 0600")
    func sqliteDurability() throws {
        let dir = freshDirectory()
        try DataDirectory.prepare(dir, keyFiles: [])
        let findings = try SQLiteFindingStore(path: dir + "/findings.sqlite")
        let cases = try SQLiteCaseStore(path: dir + "/cases.sqlite")
        let consent = try SQLiteConsentRegistry(path: dir + "/consent.sqlite")
        let f = try findings.durabilitySettings()
        let c = try cases.durabilitySettings()
        let r = try consent.durabilitySettings()
        #expect(f.journalMode == "wal" && f.synchronous == 1)
        #expect(c.journalMode == "wal" && c.synchronous == 2)
        #expect(r.journalMode == "wal" && r.synchronous == 2)
        try consent.setContact(.init(email: "a@example.jp", language: "ja"), for: "s:1", at: 1)
        for name in ["findings.sqlite", "cases.sqlite", "consent.sqlite", "consent.sqlite-wal", "consent.sqlite-shm"] {
            #expect(PrivateFiles.mode(of: dir + "/" + name) == 0o600, "\(name)")
        }
    }

    @Test(
        "a store write refused by a full disk is an error the caller sees and the observer counts; the store works again once space is freed"
    )
    func sqliteFullDisk() throws {
        let fs = try SmallFilesystem.mount(sizeKiB: 512)
        defer { fs.unmount() }
        let observer = CountingObserver()
        let consent = try SQLiteConsentRegistry(path: fs.path + "/consent.sqlite", observer: observer)
        try consent.setContact(.init(email: "a@example.jp", language: "ja"), for: "s:1", at: 1)
        #expect(observer.successes("consent") == 1)
        try fs.fill()
        var refused: (any Error)?
        for i in 0..<50 where refused == nil {
            do {
                try consent.setContact(
                    .init(email: String(repeating: "b", count: 3000) + "@example.jp", language: "en"), for: "s:\(i + 2)", at: 2)
            } catch {
                refused = error
            }
        }
        let error = try #require(refused, "the full disk never refused a write")
        #expect(StorageErrorText.of(error).contains("SQLite error 13"), "\(StorageErrorText.of(error))")
        #expect(observer.failures("consent") >= 1)
        fs.free()
        try consent.setContact(.init(email: "c@example.jp", language: "ja"), for: "s:999", at: 3)
        #expect(try consent.contact(of: "s:999")?.email == "c@example.jp")
        #expect(try consent.contact(of: "s:1")?.email == "a@example.jp")
    }

    @Test("call-centre CSV: commas, quotes, line feeds and carriage returns are quoted; records end with CRLF")
    func csv() {
        #expect(CSV.field("plain") == "plain")
        #expect(CSV.field("a,b") == "\"a,b\"")
        #expect(CSV.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSV.field("550 5.1.1 no such user\n550 try later") == "\"550 5.1.1 no such user\n550 try later\"")
        #expect(CSV.field("line\r\nbreak") == "\"line\r\nbreak\"")
        #expect(CSV.field("cr\ronly") == "\"cr\ronly\"")
        #expect(CSV.record(["A-1", "x\ny", ""]) == "A-1,\"x\ny\",\r\n")
    }
}

/// Counts what a store tells its observer.
final class CountingObserver: StorageObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var failed: [String: Int] = [:]
    private var succeeded: [String: Int] = [:]
    func writeFailed(store: String, error: any Error) { lock.withLock { failed[store, default: 0] += 1 } }
    func writeSucceeded(store: String) { lock.withLock { succeeded[store, default: 0] += 1 } }
    func failures(_ store: String) -> Int { lock.withLock { failed[store] ?? 0 } }
    func successes(_ store: String) -> Int { lock.withLock { succeeded[store] ?? 0 } }
}

extension SHA256.Digest {
    var hexString: String { map { String(format: "%02x", $0) }.joined() }
}
