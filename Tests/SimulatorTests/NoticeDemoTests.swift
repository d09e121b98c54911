import Attribution
import Foundation
import MamoriTesting
import Testing

/// Issue 7 end to end, with the built binary and a real SMTP server: the simulator feeds
/// `mamori serve` flows and identity data; infected devices are found and attributed; the
/// legal-basis engine decides on the consent the customer export gave; permitted notices reach
/// aiosmtpd in the subscriber's language; the link in the mail opens the notice page, and
/// acknowledging moves the case. The subscriber who opted out gets no mail, and the case says why.
@Suite(.serialized)
struct NoticeDemoTests {
    @Test func noticesReachSubscribersLawfully() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let smtp = try await SMTPTestServer.start()
        defer { smtp.stop() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-notice-demo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let simulation = ["--subscribers", "400", "--duration", "10m", "--seed", "11"]

        // The ground truth first (the same seed gives the same world), to write the customer export.
        let labelsFile = dir + "/labels.json"
        _ = try await offThePool { try mamori.run(["simulate", "--labels", labelsFile] + simulation, timeout: .seconds(300)) }
        let labels = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: labelsFile))) as? [String: Any])
        let infected = ((labels["infectedDevices"] as? [[String: Any]]) ?? []).compactMap { $0["account"] as? String }
        let accounts = Array(Set(infected)).sorted()
        try #require(accounts.count >= 3, "the simulated world has too few infected subscribers: \(accounts)")
        let optedOut = accounts[0]
        var csv = "account,email,language,terms_version,terms_accepted,warn_infection\n"
        for (i, a) in accounts.enumerated() {
            csv +=
                "\(a),\(a.lowercased())@example.jp,\(i % 2 == 0 ? "ja" : "en"),v3,2025-04-01,\(a == optedOut ? "opt_out@2026-01-10" : "")\n"
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
        // The C&C servers as an ISAC would share them: indicators naming the family.
        var indicators = ""
        for c in (labels["commandAndControl"] as? [[String: Any]]) ?? [] {
            guard let address = c["address"] as? String, let port = (c["port"] as? NSNumber)?.intValue, let proto = c["protocol"] as? String
            else { continue }
            indicators += "\(address):\(port)/\(proto) mirai\n"
        }
        try #require(!indicators.isEmpty)
        try indicators.write(toFile: dir + "/indicators.txt", atomically: true, encoding: .utf8)
        let httpPort = try freeTCPPort()
        try """
        detection:
          indicators_file: \(dir)/indicators.txt
        lawful:
          policy_file: \(dir)/policy.yaml
          notice_base_url: http://127.0.0.1:\(httpPort)
          smtp:
            host: 127.0.0.1
            port: \(smtp.port)
            from: "Example ISP <security@isp.example.jp>"
        """.write(toFile: dir + "/mamori.yaml", atomically: true, encoding: .utf8)

        // The first admin and two tokens, before the server starts: one that imports the customer
        // export, one that reads cases and findings; neither can do the other's work.
        let operators = try await OperatorBootstrap(mamori, dataDirectory: dir + "/data")
        let importer = try await operators.token("customer-import", scope: "change_consent")
        let auth = bearer(try await operators.token("notice-demo", scope: "read_cases,read_findings"))

        let udpPort = try freeUDPPort()
        let radiusPort = try freeUDPPort()
        let server = try mamori.start([
            "serve", "--config", dir + "/mamori.yaml", "--listen", "127.0.0.1:\(udpPort)", "--http", "127.0.0.1:\(httpPort)", "--data-dir",
            dir + "/data",
            "--log-level", "warning", "--radius", "127.0.0.1:\(radiusPort)", "--radius-secret", "mamori-demo-secret-0001",
            "--kea-leases4", dir + "/leases4.csv", "--kea-leases6", dir + "/leases6.csv",
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
        #expect(imported.contains("imported \(accounts.count) subscribers"), "\(imported)")

        let output = try await offThePool {
            try mamori.run(
                [
                    "simulate", "--to", "127.0.0.1:\(udpPort)", "--fast", "--labels", labelsFile,
                    "--radius", "127.0.0.1:\(radiusPort)", "--radius-secret", "mamori-demo-secret-0001", "--kea-leases4",
                    dir + "/leases4.csv",
                    "--kea-leases6", dir + "/leases6.csv",
                    "--nat-events",
                ] + simulation, timeout: .seconds(300))
        }
        #expect(output.contains("send_failures=0"), "\(output)")

        let names = SubscriberPseudonymizer(key: try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/data/pseudonym.key"))))
        let optedOutPseudonym = names.pseudonym(optedOut)
        // Wait (at most 40 s) for mail and for the opted-out subscriber's case, if that device was found.
        var mail: [DeliveredMessage] = []
        var cases: [[String: Any]] = []
        for _ in 0..<400 {
            mail = try smtp.delivered()
            cases =
                await
                (try? JSONSerialization.jsonObject(
                    with: Data((httpGet(port: httpPort, path: "/api/v1/cases", headers: auth)?.body ?? "[]").utf8))
                as? [[String: Any]]) ?? []
            if !mail.isEmpty && cases.contains(where: { $0["subscriber"] as? String == optedOutPseudonym }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        if mail.isEmpty {
            let page =
                await
                (try? JSONSerialization.jsonObject(
                    with: Data(
                        (httpGet(port: httpPort, path: "/api/v1/findings?kind=infected-device&limit=100", headers: auth)?.body ?? "{}").utf8
                    ))
                as? [String: Any]) ?? [:]
            let found = ((page["findings"] as? [[String: Any]]) ?? []).map { f in
                "\((f["subject"] as? [String: Any])?["address"] ?? ""):\(((f["subject"] as? [String: Any])?["ports"] as? [String: Any])?["first"] ?? "")=\((f["subscriber"] as? [String: Any])?["pseudonym"] ?? "-")"
            }
            Issue.record(
                "no notice reached the SMTP server; accounts \(accounts.map { "\($0)=\(names.pseudonym($0))" }); cases: \(cases.map { "\($0["subscriber"] ?? "")/\($0["state"] ?? "")" }); findings: \(found)"
            )
            return
        }

        // Every message went to a subscriber whose device is labelled infected, never to the opted-out one.
        let addressOf = Dictionary(uniqueKeysWithValues: accounts.map { ("\($0.lowercased())@example.jp", $0) })
        let thirdParties = Self.thirdPartyStrings(labels)
        for m in mail {
            let recipient = try #require(m.envelopeRecipients.first)
            let account = try #require(addressOf[recipient], "mail to an unknown address \(recipient)")
            #expect(account != optedOut, "the opted-out subscriber was mailed")
            let japanese = accounts.firstIndex(of: account)! % 2 == 0
            #expect(japanese ? m.subject.contains("【重要】") : m.subject.contains("Important"), "\(account): \(m.subject)")
            let text = try #require(m.text)
            #expect(text.contains("http://127.0.0.1:\(httpPort)/notice/"))
            #expect(text.contains("0120-000-000"))
            for other in thirdParties where text.contains(other) || (m.html ?? "").contains(other) {
                Issue.record("the notice to \(account) shows another party's data: \(other)")
            }
            // No address of anyone at all: only the notice link's host.
            let addresses = Self.ipv4Addresses(in: text + (m.html ?? "")).filter { $0 != "127.0.0.1" }
            #expect(addresses.isEmpty, "the notice to \(account) shows addresses \(addresses)")
            for a in accounts where text.contains(a) { Issue.record("the notice shows an account number (\(a))") }
        }

        // The link opens the notice page; acknowledging moves the case.
        let first = try #require(mail.first?.text)
        let link = try #require(first.split(whereSeparator: \.isWhitespace).first { $0.contains("/notice/") }.map(String.init))
        let path = String(link[link.range(of: "/notice/")!.lowerBound...]).trimmingCharacters(in: CharacterSet(charactersIn: ").,」。>"))
        let page = try #require(httpGet(port: httpPort, path: path))
        #expect(page.status == 200, "\(path): \(page.body.prefix(200))")
        #expect(page.body.contains("<form"), "the page offers acknowledgement")
        let caseID = try #require(
            cases.first { c in (c["notices"] as? [[String: Any]])?.contains { $0["delivered"] as? Bool == true } == true }?["id"] as? String
        )
        _ = caseID
        // The forms carry the page's CSRF token: posted without it (or with another), refused.
        let csrf = try #require(
            page.body.firstMatch(of: /<input type="hidden" name="csrf" value="([A-Za-z0-9_-]{43})">/).map { String($0.1) },
            "the page's forms carry a csrf field")
        #expect(try Self.post(port: httpPort, path: path + "/acknowledge") == 403, "a form without its csrf token")
        #expect(try Self.post(port: httpPort, path: path + "/acknowledge", form: "csrf=" + String(csrf.reversed())) == 403)
        let ack = try Self.post(port: httpPort, path: path + "/acknowledge", form: "csrf=" + csrf)
        #expect(ack == 303, "acknowledge answered \(ack)")
        let acknowledged =
            await
            ((try? JSONSerialization.jsonObject(
                with: Data((httpGet(port: httpPort, path: "/api/v1/cases?state=acknowledged", headers: auth)?.body ?? "[]").utf8))
            as? [[String: Any]])
            ?? [])
        #expect(acknowledged.count == 1, "one case acknowledged: \(acknowledged.map { $0["id"] ?? "" })")
        let again = try #require(httpGet(port: httpPort, path: path))
        #expect(!again.body.contains("<form"), "after acknowledging the page thanks, without forms")
        // A made-up token opens nothing.
        await #expect(httpGet(port: httpPort, path: "/notice/" + String(repeating: "A", count: 43))?.status == 404)

        // The opted-out subscriber: held, and the case says why.
        if let held = cases.first(where: { $0["subscriber"] as? String == optedOutPseudonym }) {
            #expect(held["state"] as? String == "held_not_permitted", "\(held)")
            let reasons = ((held["decision"] as? [String: Any])?["reasons"] as? [String]) ?? []
            #expect(reasons.contains { $0.contains("opted out 2026-01-10") }, "\(reasons)")
        } else {
            Issue.record(
                "the opted-out subscriber's device (\(optedOut)) was not found and attributed, so the refusal is not exercised; cases: \(cases.map { $0["subscriber"] ?? "" })"
            )
        }

        // Every decision, notice and transition is in the audit log, and it verifies (here with the
        // server stopped; verifying beside a running server reads the head first and is also sound).
        server.stop()
        let verify = try await mamori.run(["audit", "verify", "--data-dir", dir + "/data"])
        #expect(verify.contains("audit log sound"), "\(verify)")
    }

    /// Strings of other parties a notice must never show: C&C servers, attack targets and sources, services.
    static func thirdPartyStrings(_ labels: [String: Any]) -> [String] {
        var out: [String] = []
        for item in (labels["commandAndControl"] as? [[String: Any]]) ?? [] { if let s = item["address"] as? String { out.append(s) } }
        for item in (labels["attacks"] as? [[String: Any]]) ?? [] {
            if let s = item["target"] as? String { out.append(s) }
            out += (item["sources"] as? [String]) ?? []
        }
        for item in (labels["decoys"] as? [[String: Any]]) ?? [] { out += (item["addresses"] as? [String]) ?? [] }
        return out
    }

    /// Dotted quads in `text` (an IPv4 address of anyone).
    static func ipv4Addresses(in text: String) -> [String] {
        let regex = try! NSRegularExpression(pattern: "\\b\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\b")
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
            Range($0.range, in: text).map { String(text[$0]) }
        }
    }

    /// POST a form (`application/x-www-form-urlencoded`; empty by default), as a browser does; the status code.
    static func post(port: Int, path: String, form: String = "") throws -> Int {
        let curl = try ExternalPeer.require("curl", debianPackage: "curl")
        let status = try curl.run(
            ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--data", form, "http://127.0.0.1:\(port)\(path)"], timeout: .seconds(20))
        return Int(status.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }
}
