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
    @Test func infectedDevicesAttributedFromSimulatedIdentityFiles() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-whois-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try await mamori.run(
            [
                "simulate", "--subscribers", "400", "--duration", "40m", "--fast", "--seed", "5", "--pcap", dir + "/x.pcap", "--labels",
                dir + "/labels.json",
                "--radius-detail", dir + "/detail", "--kea-leases4", dir + "/leases4.csv", "--kea-leases6", dir + "/leases6.csv",
                "--nat-syslog", dir + "/nat.log",
            ], timeout: .seconds(120))
        let key = [UInt8]((0..<32).map { UInt8($0 * 7 + 3) })
        try Data(key).write(to: URL(fileURLWithPath: dir + "/pseudonym.key"))
        let names = SubscriberPseudonymizer(key: key)
        let labels = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/labels.json"))) as? [String: Any])
        let start = try #require((labels["start"] as? NSNumber)?.int64Value)
        let devices = try #require(labels["infectedDevices"] as? [[String: Any]])
        #expect(devices.count >= 5)
        let files = [
            "--radius-detail", dir + "/detail", "--kea-leases4", dir + "/leases4.csv", "--kea-leases6", dir + "/leases6.csv",
            "--nat-syslog", dir + "/nat.log", "--key-file", dir + "/pseudonym.key",
        ]
        var cgnat = 0
        var batchLines = ["# complaints: address,port,time"]
        var expected: [String] = [] // the pseudonym each batch line must name, "" for none
        for d in devices {
            let account = try #require(d["account"] as? String)
            let address = try #require(d["publicAddress"] as? String)
            let at = max(start, (d["infectedAt"] as? NSNumber)?.int64Value ?? start) + 300_000
            var args = ["whois", address, "--at", "\(at)", "--json"] + files
            if let block = d["portBlock"] as? [String: Any], let first = (block["first"] as? NSNumber)?.intValue {
                args += ["--port", "\(first + 9)"]
                cgnat += 1
                let noPort = try await mamori.run(["whois", address, "--at", "\(at)", "--json"] + files)
                #expect(noPort.contains("\"outcome\":\"ambiguous\""), "\(address) without a port: \(noPort)")
            }
            let port = (d["portBlock"] as? [String: Any]).flatMap { ($0["first"] as? NSNumber)?.intValue }.map { "\($0 + 9)" } ?? ""
            batchLines.append("\(address),\(port),\(at)")
            expected.append(names.pseudonym(account))
            if !port.isEmpty {
                batchLines.append("\(address),,\(at)") // behind the CGNAT without a port: nobody
                expected.append("")
            }
            let out = try await mamori.run(args)
            #expect(out.contains("\"outcome\":\"attributed\""), "\(account) at \(address): \(out)")
            #expect(out.contains("\"subscriber\":\"\(names.pseudonym(account))\""), "\(account) at \(address): \(out)")
            #expect(!out.contains(account), "the real identifier was printed: \(out)")
        }
        #expect(cgnat > 0, "no infected device behind the CGNAT: the port case is not exercised")

        // The same questions in one batch file, with a malformed line among them: one CSV line
        // per question, in order, the bad one answered "error" and the rest unaffected.
        batchLines.insert("not-an-address,80,\(start)", at: 2)
        expected.insert("error", at: 1)
        try batchLines.joined(separator: "\n").write(toFile: dir + "/complaints.csv", atomically: true, encoding: .utf8)
        let csv = try await mamori.run(["whois", "--batch", dir + "/complaints.csv"] + files)
        let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.first == ["address", "port", "at", "outcome", "subscriber", "confidence"])
        #expect(rows.count == expected.count + 1, "\(csv)")
        for (row, want) in zip(rows.dropFirst(), expected) {
            switch want {
            case "error": #expect(row[3] == "error", "\(row)")
            case "": #expect(row[3] == "ambiguous" && row[4].isEmpty, "\(row)")
            default: #expect(row[3] == "attributed" && row[4] == want, "\(row)")
            }
        }
        #expect(!devices.contains { csv.contains($0["account"] as? String ?? "\u{0}") }, "a real identifier was printed")
    }
}
