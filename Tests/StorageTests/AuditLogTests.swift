import Crypto
import Foundation
import Lawful
import MamoriTesting
import Storage
import Testing

/// The hash-chained audit log on disk: every alteration, deletion and reordering is found;
/// retention removes old segments without breaking verification.
@Suite struct AuditLogTests {
    let key = SymmetricKey(data: Array(repeating: UInt8(7), count: 32))

    /// Removed with the suite's instance, after each test.
    let scratch: TemporaryDirectory

    init() throws { scratch = try TemporaryDirectory() }

    /// A path inside ``scratch`` that does not exist yet.
    func freshDirectory() -> String { scratch.path + "/audit-\(UInt64.random(in: 0...UInt64.max))" }

    /// 25 entries in segments of 10: 000001 (1–10), 000002 (11–20), 000003 (21–25).
    func filledLog(_ dir: String, entries: Int = 25, start: Int64 = 1_000) throws -> AuditLog {
        let log = try AuditLog(directory: dir, key: key, segmentEntries: 10)
        for i in 1...entries {
            try log.append(
                at: start + Int64(i) * 1_000, kind: i % 2 == 0 ? .decision : .notice, actor: "mamori", subject: "case-\(i % 4)",
                summary: "entry \(i)", detail: "{\"n\":\(i)}")
        }
        return log
    }

    func lines(_ dir: String, _ segment: String) throws -> [String] {
        String(decoding: FileManager.default.contents(atPath: dir + "/" + segment) ?? Data(), as: UTF8.self)
            .split(separator: "\n").map(String.init)
    }

    func write(_ dir: String, _ segment: String, _ lines: [String]) throws {
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/" + segment))
    }

    @Test func aSoundLogVerifies() throws {
        let dir = freshDirectory()
        let log = try filledLog(dir)
        #expect(log.count == 25)
        let v = try AuditLog.verify(directory: dir, key: key)
        #expect(v.isSound, "\(v.problems)")
        #expect(v.entries == 25)
        #expect(v.segments == 3)
        #expect(v.head == 25)
        // Files are private to the owner.
        let attributes = try FileManager.default.attributesOfItem(atPath: dir + "/000001.jsonl")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func changingOneFieldIsFound() throws {
        let dir = freshDirectory()
        _ = try filledLog(dir)
        var l = try lines(dir, "000002.jsonl")
        #expect(l[4].contains("entry 15"))
        l[4] = l[4].replacingOccurrences(of: "entry 15", with: "entry 15 (edited)")
        try write(dir, "000002.jsonl", l)
        let v = try AuditLog.verify(directory: dir, key: key)
        #expect(v.problems.map(\.kind) == [.altered])
        #expect(v.problems.first?.location == "000002.jsonl line 5")
        #expect(v.problems.first?.detail.contains("entry 15") == true)
    }

    @Test func resealingWithoutTheKeyIsFound() throws {
        let dir = freshDirectory()
        _ = try filledLog(dir)
        var l = try lines(dir, "000001.jsonl")
        var entry = try JSONDecoder().decode(AuditEntry.self, from: Data(l[2].utf8))
        entry.summary = "nothing happened"
        entry.digest = entry.expectedDigest(key: SymmetricKey(size: .bits256))
        l[2] = String(decoding: try AuditEntry.canonicalEncoder.encode(entry), as: UTF8.self)
        try write(dir, "000001.jsonl", l)
        let v = try AuditLog.verify(directory: dir, key: key)
        #expect(v.problems.contains { $0.kind == .altered && $0.location == "000001.jsonl line 3" })
    }

    @Test func deletingAnEntryIsFound() throws {
        let dir = freshDirectory()
        _ = try filledLog(dir)
        var l = try lines(dir, "000002.jsonl")
        l.remove(at: 3) // entry 14
        try write(dir, "000002.jsonl", l)
        let v = try AuditLog.verify(directory: dir, key: key)
        #expect(v.problems.map(\.kind) == [.missingEntries])
        #expect(v.problems.first?.detail == "entries 14–14 are missing")
    }

    @Test func swappingEntriesIsFound() throws {
        let dir = freshDirectory()
        _ = try filledLog(dir)
        var l = try lines(dir, "000001.jsonl")
        l.swapAt(5, 6)
        try write(dir, "000001.jsonl", l)
        let v = try AuditLog.verify(directory: dir, key: key)
        #expect(!v.isSound)
        #expect(v.problems.allSatisfy { $0.kind == .missingEntries })
    }

    @Test func deletingTheTailIsFoundAgainstTheHead() throws {
        let dir = freshDirectory()
        _ = try filledLog(dir)
        var l = try lines(dir, "000003.jsonl")
        l.removeLast(2)
        try write(dir, "000003.jsonl", l)
        let v = try AuditLog.verify(directory: dir, key: key)
        #expect(v.problems.map(\.kind) == [.tailMissing])
        #expect(v.problems.first?.detail.contains("entries 24–25 are missing") == true)
        // And the server refuses to write on after it.
        #expect(throws: AuditLogError.self) { try AuditLog(directory: dir, key: key, segmentEntries: 10) }
    }

    @Test func forgingTheHeadWithoutTheKeyIsFound() throws {
        let dir = freshDirectory()
        _ = try filledLog(dir)
        var l = try lines(dir, "000003.jsonl")
        l.removeLast()
        try write(dir, "000003.jsonl", l)
        let last = try JSONDecoder().decode(AuditEntry.self, from: Data(l.last!.utf8))
        let forged = AuditHead(sequence: last.sequence, digest: last.digest, key: SymmetricKey(size: .bits256))
        try AuditEntry.canonicalEncoder.encode(forged).write(to: URL(fileURLWithPath: dir + "/HEAD"))
        let v = try AuditLog.verify(directory: dir, key: key)
        #expect(v.problems.map(\.kind) == [.headAltered])
    }

    @Test func removingAWholeSegmentByHandIsFound() throws {
        let dir = freshDirectory()
        _ = try filledLog(dir)
        try FileManager.default.removeItem(atPath: dir + "/000001.jsonl")
        let v = try AuditLog.verify(directory: dir, key: key)
        #expect(v.problems.map(\.kind) == [.missingEntries])
        #expect(v.problems.first?.detail.contains("starts at entry 11 and no retention entry records removing") == true)
    }

    @Test func retentionRemovesOldSegmentsAndStillVerifies() throws {
        let dir = freshDirectory()
        let log = try filledLog(dir) // entry i at 1_000 + i·1_000 ms
        // Segment 1 ends at 11_000, segment 2 at 21_000: a cutoff of 15_000 removes segment 1 only.
        let removed = try log.prune(before: 15_000, now: 100_000)
        #expect(removed == ["000001.jsonl"])
        #expect(!FileManager.default.fileExists(atPath: dir + "/000001.jsonl"))
        let v = try AuditLog.verify(directory: dir, key: key)
        #expect(v.isSound, "\(v.problems)")
        #expect(v.entries == 16) // 11…25 and the retention entry
        #expect(log.count == 26)
        let tail = try lines(dir, "000003.jsonl").last!
        let entry = try JSONDecoder().decode(AuditEntry.self, from: Data(tail.utf8))
        #expect(entry.kind == .retention)
        #expect(entry.summary.contains("000001.jsonl"))
        // The current segment is never removed, whatever the cutoff.
        let more = try log.prune(before: .max, now: 200_000)
        #expect(more == ["000002.jsonl"])
        #expect(FileManager.default.fileExists(atPath: dir + "/000003.jsonl"))
        #expect(try AuditLog.verify(directory: dir, key: key).isSound)
    }

    @Test func reopeningContinuesTheChain() throws {
        let dir = freshDirectory()
        _ = try filledLog(dir, entries: 12)
        let reopened = try AuditLog(directory: dir, key: key, segmentEntries: 10)
        let e = try reopened.append(at: 99_000, kind: .consentChange, actor: "analyst:aoi", subject: "s:1", summary: "opt-out recorded")
        #expect(e.sequence == 13)
        let v = try AuditLog.verify(directory: dir, key: key)
        #expect(v.isSound, "\(v.problems)")
        #expect(v.entries == 13)
    }

    @Test func aCrashBetweenEntryAndHeadIsTolerated() throws {
        let dir = freshDirectory()
        _ = try filledLog(dir, entries: 5)
        let staleHead = FileManager.default.contents(atPath: dir + "/HEAD")!
        let log = try AuditLog(directory: dir, key: key, segmentEntries: 10)
        try log.append(at: 50_000, kind: .notice, actor: "mamori", subject: "case-1", summary: "sent")
        try staleHead.write(to: URL(fileURLWithPath: dir + "/HEAD")) // as if the process died before the head was replaced
        let reopened = try AuditLog(directory: dir, key: key, segmentEntries: 10)
        #expect(reopened.count == 6)
        #expect(try AuditLog.verify(directory: dir, key: key).isSound)
    }

    @Test func theWrongKeyFailsEveryEntry() throws {
        let dir = freshDirectory()
        _ = try filledLog(dir, entries: 4)
        let v = try AuditLog.verify(directory: dir, key: SymmetricKey(size: .bits256))
        #expect(v.problems.filter { $0.kind == .altered }.count == 4)
    }

    @Test func theAuditKeyIsCreatedOnceAndPrivate() throws {
        let dir = freshDirectory()
        let path = dir + "/audit.key"
        let k1 = try AuditKey.loadOrCreate(path: path)
        let k2 = try AuditKey.loadOrCreate(path: path)
        #expect(k1 == k2)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: AuditLogError.self) { try AuditKey.loadOrCreate(path: path) }
    }

    @Test func verifyingBesideAWriterIsSound() async throws {
        let dir = freshDirectory()
        let log = try filledLog(dir, entries: 3)
        let writer = Task.detached {
            for i in 0..<400 {
                try log.append(at: Int64(10_000 + i), kind: .decision, actor: "mamori", subject: "s:1", summary: "decision \(i)")
            }
        }
        var checks = 0
        while checks < 200 {
            let v = try AuditLog.verify(directory: dir, key: key)
            #expect(v.isSound, "\(v.problems)")
            checks += 1
        }
        try await writer.value
        #expect(try AuditLog.verify(directory: dir, key: key).entries == 403)
    }
}
