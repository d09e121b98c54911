import DNSWire
import Foundation
import MamoriTesting
import Testing

/// Unbound writing its dnstap log to `mamori serve` (issue 20): a subscriber who looks up a
/// sinkholed name gets an infected-device finding (family `sinkhole`) with their pseudonym; a
/// burst of NXDOMAIN lookups of machine-made names makes a DGA finding; and nothing of the other
/// lookups — neither the names nor the clients — is kept anywhere in the data directory. A device
/// that connects to the sinkhole listener (curl, asking for the C&C by Host) gets a finding too.
@Suite(.serialized, .timeLimit(.minutes(6)))
struct SinkholeDnstapTests {
    static func unboundConfiguration(directory: String, port: Int, primaryPort: Int, socket: String) -> String {
        SinkholeServeTests.unboundConfiguration(directory: directory, port: port, primaryPort: primaryPort) + """
            dnstap:
                dnstap-enable: yes
                dnstap-socket-path: "\(socket)"
                dnstap-bidirectional: yes
                dnstap-log-client-query-messages: no
                dnstap-log-client-response-messages: yes

            """
    }

    @Test func dnstapEvidenceAndNothingElse() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let unbound = try ExternalPeer.require("unbound", debianPackage: "unbound")
        let dir = try TemporaryDirectory()
        let d = dir.path
        let socket = d + "/dnstap.sock"
        let (http, transfer, unboundPort, sinkholePort) = (try freeTCPPort(), try freeTCPPort(), try freeUDPPort(), try freeTCPPort())
        try SinkholeServeTests.exampleZone.write(toFile: d + "/example.db", atomically: true, encoding: .utf8)
        try SinkholeServeTests.policy.write(toFile: d + "/policy.yaml", atomically: true, encoding: .utf8)
        try "prefix,subscriber\n127.0.0.5/32,A-0005\n127.0.0.6/32,A-0006\n127.0.0.7/32,A-0007\n"
            .write(toFile: d + "/static.csv", atomically: true, encoding: .utf8)
        try Self.unboundConfiguration(directory: d, port: unboundPort, primaryPort: transfer, socket: socket)
            .write(toFile: d + "/unbound.conf", atomically: true, encoding: .utf8)
        try """
        data_directory: \(d)/data
        log_level: warning
        http:
          listen: 127.0.0.1:\(http)
        collector:
          listen: [127.0.0.1:\(try freeUDPPort())]
        attribution:
          static_assignments_file: \(d)/static.csv
        lawful:
          policy_file: \(d)/policy.yaml
        sinkhole:
          listen: 127.0.0.1:\(transfer)
          zone: rpz.mamori.
          exemption_zone: exempt.mamori.
          sinkhole_name: sinkhole.example.
          addresses: [192.0.2.53]
          listener: [127.0.0.1:\(sinkholePort)]
          ttl: 5
          secondaries:
            - address: 127.0.0.1
              notify: 127.0.0.1:\(unboundPort)
        dnstap:
          unix_socket: \(socket)
          dga_minimum_names: 20

        """.write(toFile: d + "/mamori.yaml", atomically: true, encoding: .utf8)

        let operators = try await OperatorBootstrap(mamori, dataDirectory: d + "/data")
        let token = try await operators.token("soc", scope: "read_findings,change_sinkhole")
        let server = try await SinkholeServeTests.serve(mamori, directory: d, http: http)
        defer { server.stop() }
        let resolver = try unbound.start(["-d", "-c", d + "/unbound.conf"], outputFile: d + "/unbound.out")
        defer { resolver.stop() }
        let online = ["--server", "127.0.0.1:\(http)"]
        _ = try await mamori.run(
            ["rpz", "add", "cc.example", "--reason", "C&C of a test botnet"] + online, environment: ["MAMORI_TOKEN": token])
        let sinkholed = try await SinkholeServeTests.ask(
            port: unboundPort, "cc.example", from: "127.0.0.5", timeout: .seconds(45), accept: SinkholeServeTests.sinkholed)
        #expect(
            sinkholed.map(SinkholeServeTests.sinkholed) == true,
            "Unbound did not sinkhole cc.example: \(SinkholeServeTests.log(d + "/unbound.log")) \(SinkholeServeTests.log(d + "/unbound.out"))"
        )

        // A DGA burst from 127.0.0.6: names that do not exist in example. (NXDOMAIN).
        let client = try LoopbackDatagramSocket(address: "127.0.0.6")
        var state: UInt64 = 7
        for i in 0..<30 {
            let label = String(
                (0..<12).map { _ -> Character in
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return Array("bcdfghjklmnpqrstvwxz0123456789")[Int((state >> 33) % 30)]
                })
            client.send(SinkholeServeTests.query("\(label).example", id: UInt16(0x3000 + i)), toPort: unboundPort)
        }
        _ = await client.drain(quietMilliseconds: 500, limit: 100)
        // A bot at 127.0.0.8 reaches the sinkhole listener, asking for its C&C by name.
        let curl = try ExternalPeer.require("curl", debianPackage: "curl")
        let blocked = try await curl.runToExit([
            "-s", "--max-time", "10", "--interface", "127.0.0.8", "-H", "Host: cc.example", "http://127.0.0.1:\(sinkholePort)/gate.php",
        ])
        #expect(
            blocked.stdout.contains("403") || blocked.stdout.contains("blocked") || !blocked.stdout.isEmpty, "the block page: \(blocked)")
        // Ordinary lookups from 127.0.0.7, which nothing may keep.
        for name in ["ns.example", "quietname-one.example", "quietname-two.example"] {
            _ = try await SinkholeServeTests.ask(port: unboundPort, name, from: "127.0.0.7", timeout: .seconds(2)) { _ in true }
        }

        let headers = bearer(token)
        var sinkholeFinding: String?
        var dgaFinding: String?
        var listenerFinding: String?
        for _ in 0..<300 where sinkholeFinding == nil || dgaFinding == nil || listenerFinding == nil {
            if let body = await httpGet(port: http, path: "/api/v1/findings?kind=infected-device", headers: headers)?.body {
                let findings =
                    (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["findings"] as? [[String: Any]] ?? []
                for f in findings {
                    let subject = (f["subject"] as? [String: Any])?["address"] as? String
                    if f["family"] as? String == "sinkhole" && subject == "127.0.0.5" { sinkholeFinding = String(describing: f) }
                    if f["family"] as? String == "dga" && subject == "127.0.0.6" { dgaFinding = String(describing: f) }
                    if f["family"] as? String == "sinkhole" && subject == "127.0.0.8" { listenerFinding = String(describing: f) }
                }
            }
            if sinkholeFinding == nil || dgaFinding == nil || listenerFinding == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        let sinkholeText = try #require(sinkholeFinding, "no sinkhole finding: \(SinkholeServeTests.log(d + "/mamori.log"))")
        #expect(
            sinkholeText.contains("cc.example") && sinkholeText.contains("s:"), "the name, and the subscriber's pseudonym: \(sinkholeText)")
        #expect(!sinkholeText.contains("A-0005"), "never the subscriber's identifier")
        let dgaText = try #require(dgaFinding, "no DGA finding")
        #expect(dgaText.contains("generated_names"), "\(dgaText)")
        let listenerText = try #require(listenerFinding, "no finding for the device that connected to the sinkhole")
        #expect(listenerText.contains("sinkhole_connections") && listenerText.contains("cc.example"), "\(listenerText)")

        // Nothing of the ordinary lookups, nor of their client, anywhere in the data directory.
        server.stop()
        var files = 0
        let enumerator = FileManager.default.enumerator(atPath: d + "/data")
        while let path = enumerator?.nextObject() as? String {
            guard let data = FileManager.default.contents(atPath: d + "/data/" + path) else { continue }
            files += 1
            for needle in ["quietname-one", "quietname-two", "127.0.0.7"] {
                #expect(data.range(of: Data(needle.utf8)) == nil, "\(path) holds \(needle)")
            }
        }
        #expect(files >= 3, "the data directory was read")
    }
}
