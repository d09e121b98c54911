import FlowCodec
import Foundation
import IdentityCodec
import MamoriTesting
import Simulator
import Testing

/// The simulator's Kea lease files, read by Kea itself: `kea-lfc` (Debian `kea-common`), Kea's
/// lease file cleanup, loads a memfile CSV with Kea's own parser and writes one row per live
/// lease. Rows it cannot parse are dropped, so the compacted file must hold exactly the last row
/// the simulator wrote for every address and prefix.
@Suite struct KeaLFCPeerTests {
    static func compact(_ text: String, family: Int) async throws -> String {
        let lfc = try ExternalPeer.require("kea-lfc", debianPackage: "kea-common")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-kea-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = dir.path
        try (family == 4 ? "{ \"Dhcp4\": { } }\n" : "{ \"Dhcp6\": { } }\n").write(
            toFile: p + "/kea.conf", atomically: true, encoding: .utf8)
        try text.write(toFile: p + "/leases.csv", atomically: true, encoding: .utf8)
        try await lfc.run(
            [
                "-\(family)", "-x", p + "/previous.csv", "-i", p + "/leases.csv", "-o", p + "/output.csv", "-f", p + "/finish.csv", "-p",
                p + "/lfc.pid", "-c", p + "/kea.conf",
            ], timeout: .seconds(60))
        return try String(contentsOfFile: p + "/previous.csv", encoding: .utf8)
    }

    @Test func keaReadsEveryLeaseTheSimulatorWrites() async throws {
        let (sim, w) = try IdentityTests.wholeRun(smallConfiguration())
        #expect(!w.leases4.isEmpty && !w.leases6.isEmpty)
        var last4: [IPAddress: KeaLeaseFile.Lease4] = [:]
        for l in w.leases4 { last4[l.address] = l }
        var last6: [IPAddress: KeaLeaseFile.Lease6] = [:]
        for l in w.leases6 { last6[l.address] = l }
        #expect(last4.count == sim.labels.identity?.dhcpLines)

        let compacted4 = try await KeaLeaseFile.parse4(
            Self.compact(KeaLeaseFile.header4 + "\n" + w.leases4.map { $0.row + "\n" }.joined(), family: 4)[...])
        #expect(compacted4.count == last4.count)
        for l in compacted4 { #expect(l == last4[l.address], "Kea read \(l.row)") }

        let compacted6 = try await KeaLeaseFile.parse6(
            Self.compact(KeaLeaseFile.header6 + "\n" + w.leases6.map { $0.row + "\n" }.joined(), family: 6)[...])
        #expect(compacted6.count == last6.count)
        for l in compacted6 { #expect(l == last6[l.address], "Kea read \(l.row)") }
    }

    /// The check above can fail: a row Kea cannot parse is missing from its output.
    @Test func keaDropsARowItCannotParse() async throws {
        let good = KeaLeaseFile.Lease4(
            address: IPAddress("100.64.0.2")!, hardwareAddress: "02:00:5e:00:00:01", validLifetime: 7200, expire: 1_767_232_800, subnetID: 1
        )
        var bad = good
        bad.address = IPAddress("100.64.0.3")!
        bad.hardwareAddress = "not-a-mac"
        let compacted = try await KeaLeaseFile.parse4(
            Self.compact(KeaLeaseFile.header4 + "\n" + good.row + "\n" + bad.row + "\n", family: 4)[...])
        #expect(compacted == [good])
    }
}
