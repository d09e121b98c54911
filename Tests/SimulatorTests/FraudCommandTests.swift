import Foundation
import MamoriTesting
import Testing

/// `mamori fraud` against `mamori serve` with a `telephony:` section following a Kamailio
/// accounting log: the status shows the hijacked line and the rule waiting; an operator approves
/// it, reads the billing report (as a table and as CSV), lifts the rule and sends a file of call
/// records; a token without the permission, an unknown rule and a bad format each fail with a
/// one-line reason.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct FraudCommandTests {
    static func cdr(_ account: String, _ dialled: String, at start: Int64, seconds: Int) -> String {
        let s = Double(start) / 1000
        return
            " 1(20876) NOTICE: acc [acc_cdr.c:395]: log_write_cdr(): start_time=\(s); end_time=\(s + Double(seconds)); duration=\(seconds).000; call_id=\(account)-\(start)@127.0.0.1; src_user=\(account); src_ip=127.0.0.1; dialed=\(dialled); dst_user=\(dialled); sip_code=200; sip_reason=OK\n"
    }

    /// Four days of ordinary calls for three lines, then line 1002 pumping Iridium's +881 6312 31
    /// block for the last hour: twenty calls of 15 minutes, all ended by now.
    static func log(now: Int64) -> String {
        let hour: Int64 = 3_600_000
        var lines: [(Int64, String)] = []
        for day in 1...4 {
            let base = now - Int64(day) * 24 * hour
            for (i, line) in ["1001", "1002", "1003"].enumerated() {
                lines.append((base, cdr(line, "0312341\(i)00", at: base + Int64(i) * 60_000, seconds: 120)))
                if day % 2 == 0 { lines.append((base + hour, cdr(line, "01044207946100\(i)", at: base + hour, seconds: 300))) }
            }
        }
        for i in 0..<20 {
            let start = now - 75 * 60_000 + Int64(i) * 2 * 60_000
            lines.append((start + 900_000, cdr("1002", "01088163123\(1000 + i)", at: start, seconds: 900)))
        }
        return lines.sorted { $0.0 < $1.0 }.map(\.1).joined()
    }

    @Test func operatorApprovesReportsAndLiftsThroughTheCommand() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let dir = try TemporaryDirectory()
        let d = dir.path
        let http = try freeTCPPort()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try Self.log(now: now).write(toFile: d + "/acc.log", atomically: true, encoding: .utf8)
        try """
        data_directory: \(d)/data
        log_level: warning
        http:
          listen: 127.0.0.1:\(http)
        collector:
          listen: [127.0.0.1:\(try freeUDPPort())]
        telephony:
          feeds:
            - {name: softswitch, format: kamailio, path: \(d)/acc.log}
          read_feeds_from_start: true
          blocking:
            range: manual_approval

        """.write(toFile: d + "/mamori.yaml", atomically: true, encoding: .utf8)
        let operators = try await OperatorBootstrap(mamori, dataDirectory: d + "/data")
        let noc = try await operators.token("noc", scope: "read_findings,control_mitigation,reveal_identity,submit_reports")
        let viewer = try await operators.token("viewer", scope: "read_findings")
        let server = try await SinkholeServeTests.serve(mamori, directory: d, http: http)
        defer { server.stop() }
        func fraud(_ arguments: [String], token: String? = nil) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await mamori.runToExit(
                ["fraud"] + arguments + ["--server", "127.0.0.1:\(http)"], environment: ["MAMORI_TOKEN": token ?? noc])
        }

        // The feed is read at start: the line is found and its range waits for approval.
        var status = ""
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            status = try await fraud(["status"]).stdout
            if status.contains("waiting for approval: 1") { break }
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(status.contains("feeds: softswitch") && status.contains("lines followed: 3"), "\(status)")
        #expect(status.contains("lines found hijacked, still active: 1"), "\(status)")
        try #require(
            status.contains("block rules in force: 0; waiting for approval: 1"), "\(status)\n\(SinkholeServeTests.log(d + "/mamori.log"))")
        #expect(status.contains("feed softswitch: clock"), "\(status)")

        let pending = try await fraud(["rules", "--state", "pending"])
        let row = try #require(pending.stdout.split(separator: "\n").first { $0.contains("+881631231") }, "\(pending)")
        let id = String(row.trimmingCharacters(in: .whitespaces).prefix { $0 != " " })
        #expect(row.contains("+881631231 Iridium (XS) range: 100% of"), "\(row)")
        #expect(pending.stdout.hasPrefix("pending: 1"), "\(pending.stdout)")

        // Without the permissions: one line each, naming what is missing.
        let refusedApproval = try await fraud(["approve", id], token: viewer)
        #expect(refusedApproval.status != 0 && refusedApproval.stderr.contains("control_mitigation"), "\(refusedApproval)")
        let refusedReport = try await fraud(["report"], token: viewer)
        #expect(refusedReport.status != 0 && refusedReport.stderr.contains("reveal_identity"), "\(refusedReport)")
        #expect(refusedReport.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count == 1)
        let unknown = try await fraud(["approve", "block-nonexistent"])
        #expect(unknown.status != 0 && unknown.stderr.contains("404"), "\(unknown)")

        let approved = try await fraud(["approve", id])
        #expect(approved.status == 0 && approved.stdout == "applied \(id)\n", "\(approved)")
        let active = try await fraud(["rules", "--state", "active"])
        #expect(active.stdout.contains(id) && active.stdout.contains("; by admin; until "), "\(active)")
        #expect(try await fraud(["status"]).stdout.contains("block rules in force: 1; waiting for approval: 0"))

        // The billing report: a table and the CSV, for line 1002 only.
        let table = try await fraud(["report", "--account", "1002"])
        #expect(table.status == 0 && table.stdout.hasSuffix("20 calls, 300 min 0 s\n"), "\(table)")
        #expect(table.stdout.split(separator: "\n").dropLast().allSatisfy { $0.contains("1002") && $0.contains("+88163123") })
        let csv = try await fraud(["report", "--account", "1002", "--csv"])
        let rows = csv.stdout.split(separator: "\n")
        #expect(csv.status == 0 && rows.count == 21 && rows.dropFirst().allSatisfy { $0.hasPrefix("1002,") }, "\(csv)")

        let lifted = try await fraud(["lift", id, "--reason", "PBX secured, customer called"])
        #expect(lifted.status == 0 && lifted.stdout == "lifted \(id)\n", "\(lifted)")
        let ended = try await fraud(["rules", "--state", "ended"])
        #expect(ended.stdout.contains(id) && ended.stdout.contains("PBX secured, customer called"), "\(ended)")

        // A file of call records: two good lines kept, a bad one counted.
        let upload = d + "/upload.log"
        try
            (Self.cdr("1001", "0312340000", at: now - 60_000, seconds: 30) + Self.cdr("1003", "0312340001", at: now - 50_000, seconds: 30)
            + " 1(1) NOTICE: acc [acc_cdr.c:395]: log_write_cdr(): start_time=soon; duration=1; src_user=1001; dialed=1; sip_code=200\n")
            .write(toFile: upload, atomically: true, encoding: .utf8)
        let imported = try await fraud(["import", upload, "--format", "kamailio"])
        #expect(imported.status == 0 && imported.stdout.contains("\"read\":2") && imported.stdout.contains("\"bad_time\":1"), "\(imported)")
        let badFormat = try await fraud(["import", upload, "--format", "nonsense"])
        #expect(badFormat.status != 0 && badFormat.stderr.contains("400"), "\(badFormat)")
        let json = try await fraud(["status", "--json"])
        #expect(json.stdout.contains("\"clocks\":[") && json.stdout.contains("\"calls_taken\":"), "\(json)")
    }
}
