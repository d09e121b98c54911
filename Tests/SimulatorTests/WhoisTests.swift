import Attribution
import FlowCodec
import Foundation
import MamoriTesting
import Testing

/// `mamori whois` offline over the identity files `mamori simulate` writes: every labelled
/// infected device, looked up by public address and a port of its CGNAT block (or its own address)
/// at a time it was active, names its account's pseudonym — and a CGNAT address without a port
/// names nobody.
@Suite(.timeLimit(.minutes(3)))
struct WhoisTests {
    @Test func infectedDevicesAttributedFromSimulatedIdentityFiles() throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-whois-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try mamori.run([
            "simulate", "--subscribers", "400", "--duration", "40m", "--fast", "--seed", "5", "--pcap", dir + "/x.pcap", "--labels", dir + "/labels.json",
            "--radius-detail", dir + "/detail", "--kea-leases4", dir + "/leases4.csv", "--kea-leases6", dir + "/leases6.csv", "--nat-syslog", dir + "/nat.log",
        ], timeout: .seconds(120))
        let key = [UInt8]((0..<32).map { UInt8($0 * 7 + 3) })
        try Data(key).write(to: URL(fileURLWithPath: dir + "/pseudonym.key"))
        let names = SubscriberPseudonymizer(key: key)
        let labels = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/labels.json"))) as? [String: Any])
        let start = try #require((labels["start"] as? NSNumber)?.int64Value)
        let devices = try #require(labels["infectedDevices"] as? [[String: Any]])
        #expect(devices.count >= 5)
        let files = ["--radius-detail", dir + "/detail", "--kea-leases4", dir + "/leases4.csv", "--kea-leases6", dir + "/leases6.csv",
                     "--nat-syslog", dir + "/nat.log", "--key-file", dir + "/pseudonym.key"]
        var cgnat = 0
        for d in devices {
            let account = try #require(d["account"] as? String)
            let address = try #require(d["publicAddress"] as? String)
            let at = max(start, (d["infectedAt"] as? NSNumber)?.int64Value ?? start) + 300_000
            var args = ["whois", address, "--at", "\(at)", "--json"] + files
            if let block = d["portBlock"] as? [String: Any], let first = (block["first"] as? NSNumber)?.intValue {
                args += ["--port", "\(first + 9)"]
                cgnat += 1
                let noPort = try mamori.run(["whois", address, "--at", "\(at)", "--json"] + files)
                #expect(noPort.contains("\"outcome\":\"ambiguous\""), "\(address) without a port: \(noPort)")
            }
            let out = try mamori.run(args)
            #expect(out.contains("\"outcome\":\"attributed\""), "\(account) at \(address): \(out)")
            #expect(out.contains("\"subscriber\":\"\(names.pseudonym(account))\""), "\(account) at \(address): \(out)")
            #expect(!out.contains(account), "the real identifier was printed: \(out)")
        }
        #expect(cgnat > 0, "no infected device behind the CGNAT: the port case is not exercised")
    }
}
