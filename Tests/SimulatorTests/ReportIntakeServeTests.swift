import Attribution
import Foundation
import MamoriTesting
import Testing

/// Issue 23 end to end, with the built binary, a real SMTP server (aiosmtpd) and the simulator's
/// identity data (RADIUS accounting, CGNAT port blocks as IPFIX NAT events): a Shadowserver
/// `scan_telnet` report listing simulated subscribers' devices — behind the CGNAT with their
/// ports, and on their own addresses — handed to `mamori reports import`; each is attributed,
/// its vulnerable-device case opened and its notice mailed in the subscriber's language with the
/// Telnet fix; the next day's report opens nothing and mails nothing; the report of the day after,
/// without one device, marks that case remediated.
@Suite(.serialized)
struct ReportIntakeServeTests {
    @Test func shadowserverReportToNoticeToRemediation() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let smtp = try await SMTPTestServer.start()
        defer { smtp.stop() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-reports-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let simulation = ["--subscribers", "300", "--duration", "5m", "--seed", "23"]

        let labelsFile = dir + "/labels.json"
        _ = try await offThePool { try mamori.run(["simulate", "--labels", labelsFile] + simulation, timeout: .seconds(300)) }
        let labels = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: labelsFile))) as? [String: Any])
        // Devices on RADIUS lines, one per account: some behind the CGNAT, some on their own address.
        var devices: [(account: String, address: String, port: Int)] = []
        for d in (labels["infectedDevices"] as? [[String: Any]]) ?? [] {
            guard d["provisioning"] as? String == "radius", let account = d["account"] as? String,
                let address = d["publicAddress"] as? String, !devices.contains(where: { $0.account == account })
            else { continue }
            let block = d["portBlock"] as? [String: Any]
            devices.append((account, address, block.flatMap { ($0["first"] as? NSNumber)?.intValue }.map { $0 + 7 } ?? 23))
        }
        let behindCGNAT = devices.filter { $0.port != 23 }.prefix(2)
        let ownAddress = devices.filter { $0.port == 23 }.prefix(1)
        let chosen = Array(behindCGNAT + ownAddress)
        try #require(behindCGNAT.count == 2 && ownAddress.count == 1, "the simulated world lacks RADIUS devices of both kinds: \(devices)")

        var csv = "account,email,language,terms_version,terms_accepted\n"
        for (i, d) in chosen.enumerated() {
            csv += "\(d.account),\(d.account.lowercased())@example.jp,\(i % 2 == 0 ? "ja" : "en"),v3,2025-04-01\n"
        }
        try csv.write(toFile: dir + "/customers.csv", atomically: true, encoding: .utf8)
        try """
        terms:
          - version: v3
            effective: 2025-04-01
            discloses: [warn_infection, warn_vulnerability]
        notices:
          support: "サポート 0120-000-000 / support@example.jp"
        """.write(toFile: dir + "/policy.yaml", atomically: true, encoding: .utf8)
        let httpPort = try freeTCPPort()
        // Detection off: only the reports open cases here. Sessions are trusted for 96 hours
        // without news (the report days below are this one and the next two).
        try """
        detection:
          enabled: false
        attribution:
          maximum_session_hours: 96
        lawful:
          policy_file: \(dir)/policy.yaml
          notice_base_url: http://127.0.0.1:\(httpPort)
          smtp:
            host: 127.0.0.1
            port: \(smtp.port)
            from: "Example ISP <security@isp.example.jp>"
        """.write(toFile: dir + "/mamori.yaml", atomically: true, encoding: .utf8)

        let operators = try await OperatorBootstrap(mamori, dataDirectory: dir + "/data")
        let importer = try await operators.token("customer-import", scope: "change_consent")
        let reporter = try await operators.token("abuse-mailbox", scope: "submit_reports")
        let reader = bearer(try await operators.token("reader", scope: "read_cases,read_findings"))
        let udpPort = try freeUDPPort()
        let radiusPort = try freeUDPPort()
        let server = try mamori.start([
            "serve", "--config", dir + "/mamori.yaml", "--listen", "127.0.0.1:\(udpPort)", "--http", "127.0.0.1:\(httpPort)", "--data-dir",
            dir + "/data", "--log-level", "warning", "--radius", "127.0.0.1:\(radiusPort)", "--radius-secret", "mamori-report-secret-01",
        ])
        defer { server.stop() }
        var up = false
        for _ in 0..<300 where !up {
            guard server.isRunning else { break }
            up = await httpGet(port: httpPort, path: "/healthz")?.status == 200
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(up, "mamori serve did not come up")
        let imported = try await mamori.run(
            ["consent", "import", dir + "/customers.csv", "--server", "127.0.0.1:\(httpPort)"], environment: ["MAMORI_TOKEN": importer])
        #expect(imported.contains("imported \(chosen.count) subscribers"), "\(imported)")
        let output = try await offThePool {
            try mamori.run(
                [
                    "simulate", "--to", "127.0.0.1:\(udpPort)", "--fast", "--radius", "127.0.0.1:\(radiusPort)", "--radius-secret",
                    "mamori-report-secret-01", "--nat-events",
                ] + simulation, timeout: .seconds(300))
        }
        #expect(output.contains("send_failures=0"), "\(output)")

        // The report's day one is now: wait (at most 30 s) until the CGNAT devices' port blocks are known.
        let day1 = Int64(Date().timeIntervalSince1970) * 1000
        let names = SubscriberPseudonymizer(key: try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/data/pseudonym.key"))))
        var known = false
        for _ in 0..<300 where !known {
            known = true
            for d in chosen {
                let answer = await httpGet(
                    port: httpPort, path: "/api/v1/attribution?addr=\(d.address)&port=\(d.port)&at=\(day1)", headers: reader)
                if answer?.body.contains(names.pseudonym(d.account)) != true { known = false }
            }
            if !known { try await Task.sleep(for: .milliseconds(100)) }
        }
        try #require(known, "the simulated identity data did not reach the server")

        @Sendable func report(day: Int, devices: [(account: String, address: String, port: Int)]) throws -> String {
            let time = day1 + Int64(day - 1) * 86_400_000
            let f = ISO8601DateFormatter()
            let stamp = f.string(from: Date(timeIntervalSince1970: Double(time) / 1000)).replacingOccurrences(of: "T", with: " ")
                .replacingOccurrences(of: "Z", with: "")
            var text = #""timestamp","ip","protocol","port","hostname","tag","asn","geo","region","city","naics","sic","banner""# + "\n"
            for d in devices { text += "\"\(stamp)\",\"\(d.address)\",\"tcp\",\(d.port),,\"telnet\",64500,\"JP\",,,0,0,\"login:\"\n" }
            // A host of another network in the same report: counted, not acted on.
            text += "\"\(stamp)\",\"203.0.113.9\",\"tcp\",23,,\"telnet\",64501,\"JP\",,,0,0,\"login:\"\n"
            let name = "\(stamp.prefix(10))-scan_telnet-isp-asn.csv"
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            return try mamori.run(
                ["reports", "import", dir + "/" + name, "--server", "127.0.0.1:\(httpPort)"], environment: ["MAMORI_TOKEN": reporter])
        }

        // Every fixture of ../shared/fixtures/abuse-reports (AbuseIO's samples) through the same
        // server: each read with its rows, none of whose addresses the simulator assigned, so all
        // are counted outside the carrier and nothing is opened.
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ReportsTests/Fixtures/abuse-reports").path
        let samples = try ["shadowserver", "feedback-loop-arf"].flatMap { sub in
            try FileManager.default.contentsOfDirectory(atPath: fixtures + "/" + sub).sorted().map { fixtures + "/" + sub + "/" + $0 }
        }
        #expect(samples.count == 10)
        let intake = try await offThePool {
            try mamori.run(["reports", "import", "--server", "127.0.0.1:\(httpPort)"] + samples, environment: ["MAMORI_TOKEN": reporter])
        }
        for (name, rows) in [
            ("dns_openresolver", 5), ("scan_memcached", 9), ("scan_ntp", 9), ("scan_ssdp", 9), ("sinkhole_http_drone", 8), ("arf-abuse", 1),
        ] {
            #expect(intake.contains("\(name): \(rows) rows; outside carrier \(rows)"), "\(name): \(intake)")
        }
        #expect(!intake.contains("attributed") && intake.components(separatedBy: "cases: 0 opened").count == 11, "\(intake)")

        let first = try await offThePool { try report(day: 1, devices: chosen) }
        #expect(first.contains("attributed \(chosen.count)") && first.contains("outside carrier 1"), "\(first)")
        #expect(first.contains("cases: \(chosen.count) opened, 0 merged"), "\(first)")
        let mail = try smtp.delivered()
        #expect(mail.count == chosen.count, "\(mail.map(\.subject))")
        for (i, d) in chosen.enumerated() {
            let m = try #require(
                mail.first { $0.envelopeRecipients == ["\(d.account.lowercased())@example.jp"] }, "no notice for \(d.account)")
            let text = (m.text ?? "").filter { !$0.isWhitespace }
            if i % 2 == 0 {
                #expect(m.subject.contains("脆弱性") && text.contains("Telnet") && text.contains("インターネット上の誰からでも接続できる状態"), "\(m.text ?? "")")
            } else {
                #expect(
                    m.subject.contains("vulnerable device") && text.contains("Telnet") && text.contains("opentoanyoneontheInternet")
                        && text.contains("IfyoudonotuseTelnet,turnitoff"), "\(m.text ?? "")")
            }
            #expect(!(m.text ?? "").contains(d.address), "the notice shows no address")
        }

        let second = try await offThePool { try report(day: 2, devices: chosen) }
        #expect(second.contains("cases: 0 opened, \(chosen.count) merged"), "\(second)")
        #expect(try smtp.delivered().count == chosen.count, "the next day's report mails nothing")

        let third = try await offThePool { try report(day: 3, devices: Array(chosen.dropFirst())) }
        #expect(third.contains("1 remediated"), "\(third)")
        let cases =
            await
            (try? JSONSerialization.jsonObject(
                with: Data((httpGet(port: httpPort, path: "/api/v1/cases", headers: reader)?.body ?? "[]").utf8)) as? [[String: Any]]) ?? []
        let gone = cases.first { $0["subscriber"] as? String == names.pseudonym(chosen[0].account) }
        #expect(gone?["state"] as? String == "remediated", "\(gone ?? [:])")
        let still = cases.filter { $0["subscriber"] as? String != names.pseudonym(chosen[0].account) }
        #expect(
            still.count == chosen.count - 1 && still.allSatisfy { $0["state"] as? String == "notified" },
            "\(still.map { $0["state"] ?? "" })")
    }
}
