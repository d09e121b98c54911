import FlowCodec
import Foundation
import IdentityCodec
import IdentityListeners
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import Testing

/// Following identity files as they grow: complete lines only, bad lines skipped and counted,
/// replaced and truncated files read again.
@Suite struct IdentityFileFollowerTests {
    final class Seen: Sendable {
        let leases4 = NIOLockedValueBox([KeaLeaseFile.Lease4]())
        let leases6 = NIOLockedValueBox([KeaLeaseFile.Lease6]())
        let accounting = NIOLockedValueBox([AccountingRecord]())
        let blocks = NIOLockedValueBox([NATPortBlockEvent]())
        var handlers: IdentityFileFollower.Handlers {
            IdentityFileFollower.Handlers(
                accounting: { r, _, _ in self.accounting.withLockedValue { $0.append(r) } },
                lease4: { l in self.leases4.withLockedValue { $0.append(l) } },
                lease6: { l in self.leases6.withLockedValue { $0.append(l) } },
                portBlock: { e in self.blocks.withLockedValue { $0.append(e) } })
        }
    }

    static func directory() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-follow-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static func append(_ text: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        let h = try #require(FileHandle(forWritingAtPath: path))
        try h.seekToEnd()
        try h.write(contentsOf: Data(text.utf8))
        try h.close()
    }

    static func lease(_ i: Int, hw: String? = nil) -> String {
        var l = KeaLeaseFile.Lease4(
            address: .v4(0x6440_0000 + UInt32(i)), hardwareAddress: hw ?? "02:00:5e:00:00:\(String(format: "%02x", i))",
            validLifetime: 7200, expire: 1_767_232_800, subnetID: 1)
        l.userContext = "{ \"account\": \"cust-\(i)\" }"
        return l.row
    }

    @Test("Kea v4: the whole file, then appended rows; half a line waits; a bad row is skipped and counted; a replaced file is read again")
    func keaLeases() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/kea-leases4.csv"
        try Self.append(KeaLeaseFile.header4 + "\n" + Self.lease(1) + "\n" + Self.lease(2) + "\n", to: path)
        let seen = Seen()
        let metrics = TestMetrics()
        var c = IdentityFileFollower.Configuration()
        c.files = [.init(path: path, kind: .keaLeases4), .init(path: dir + "/not-yet.csv", kind: .keaLeases4)]
        let follower = IdentityFileFollower(
            configuration: c, handlers: seen.handlers, logger: Logger(label: "test"), metricsFactory: metrics)
        #expect(follower.pollOnce() == 2)
        #expect(follower.pollOnce() == 0)
        let third = Self.lease(3)
        try Self.append(String(third.prefix(20)), to: path)
        #expect(follower.pollOnce() == 0, "half a line must wait")
        try Self.append(String(third.dropFirst(20)) + "\n" + "this,is,not,a,lease\n" + Self.lease(4) + "\n", to: path)
        #expect(follower.pollOnce() == 2)
        #expect(seen.leases4.withLockedValue { $0.map(\.address) } == [1, 2, 3, 4].map { IPAddress.v4(0x6440_0000 + $0) })
        #expect(seen.leases4.withLockedValue { $0[2].userContext }.contains("cust-3"))
        // Replaced (kea-lfc's result renamed over it, as Kea does after a cleanup): read again.
        let fresh = dir + "/fresh.csv"
        try Self.append(KeaLeaseFile.header4 + "\n" + Self.lease(4) + "\n" + Self.lease(5) + "\n", to: fresh)
        #expect(rename(fresh, path) == 0)
        #expect(follower.pollOnce() == 2)
        #expect(seen.leases4.withLockedValue { $0.last?.address } == .v4(0x6440_0005))
        // Truncated and rewritten shorter: read from the start.
        try Data((KeaLeaseFile.header4 + "\n" + Self.lease(6) + "\n").utf8).write(to: URL(fileURLWithPath: path))
        #expect(follower.pollOnce() == 1)
        let bad = metrics.counters.filter {
            $0.label == "mamori_identity_file_records_total" && $0.dimensions.contains { $0 == ("result", "bad") }
        }.reduce(0) { $0 + $1.totalValue }
        #expect(bad == 1)
    }

    @Test("FreeRADIUS detail: complete records only; a broken record costs only itself")
    func radiusDetail() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/detail"
        func record(_ i: Int) -> String {
            var r = AccountingRecord(status: .start, sessionID: "S\(i)", eventTime: 1_767_225_600 + Int64(i))
            r.userName = "cust-\(i)"
            r.framedIPAddress = .v4(0x6440_0000 + UInt32(i))
            r.nasIPAddress = IPAddress("198.19.252.1")
            return FreeRADIUSDetail.format(r, writtenAtMilliseconds: 1_767_225_600_000 + Int64(i) * 1000)
        }
        try Self.append(record(1) + record(2), to: path)
        let seen = Seen()
        var c = IdentityFileFollower.Configuration()
        c.files = [.init(path: path, kind: .radiusDetail)]
        let follower = IdentityFileFollower(
            configuration: c, handlers: seen.handlers, logger: Logger(label: "test"), metricsFactory: TestMetrics())
        #expect(follower.pollOnce() == 2)
        let third = record(3)
        try Self.append(String(third.prefix(third.count / 2)), to: path)
        #expect(follower.pollOnce() == 0)
        try Self.append(String(third.dropFirst(third.count / 2)) + "Not a date\n\tUser-Name = \"x\"\n\n" + record(4), to: path)
        #expect(follower.pollOnce() == 2)
        #expect(seen.accounting.withLockedValue { $0.map(\.userName) } == ["cust-1", "cust-2", "cust-3", "cust-4"])
    }

    @Test("CGNAT syslog file: port-block lines become events, other lines are counted as bad")
    func syslogFile() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/nat.log"
        let e = NATPortBlockEvent(
            kind: .allocate, timeMilliseconds: 1_767_225_600_000, host: "cgnat1", insideAddress: IPAddress("100.64.0.1")!,
            outsideAddress: IPAddress("198.18.0.1")!, firstPort: 1024, lastPort: 2031, allocatedAt: 1_767_225_600)
        try Self.append(e.line + "\n<134>1 2026-01-01T00:00:00Z host sshd - - - unrelated\n" + e.line + "\n", to: path)
        let seen = Seen()
        var c = IdentityFileFollower.Configuration()
        c.files = [.init(path: path, kind: .natSyslog)]
        let follower = IdentityFileFollower(
            configuration: c, handlers: seen.handlers, logger: Logger(label: "test"), metricsFactory: TestMetrics())
        #expect(follower.pollOnce() == 2)
        #expect(seen.blocks.withLockedValue { $0 } == [e, e])
    }
}
