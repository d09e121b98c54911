import Foundation
import MamoriTesting
import Testing

/// Issue 25's cluster on loopback: three `nats-server`s clustered with JetStream, PostgreSQL, a
/// `mamori serve --role collector` and a `mamori serve --role detector` (its findings in
/// PostgreSQL) beside one `mamori serve` doing everything. The same simulated carrier (same seed)
/// goes to the collector and to the single node: the detector node must find exactly what the
/// single node finds.
@Suite(.serialized, .timeLimit(.minutes(8)))
struct ClusterWorldTests {
    static func bus(_ nats: [NATSServerPeer]) -> String {
        """
          nats:
            servers: [\(nats.map(\.url).joined(separator: ", "))]
          bus:
            partitions: 8
            replicas: 3
            max_megabytes: 256
            ack_wait_seconds: 10
        """
    }

    /// Findings by id → kind, every page of them.
    static func findings(port: Int, token: String) async -> [String: String]? {
        guard let answer = await httpGet(port: port, path: "/api/v1/findings?limit=10000", headers: bearer(token), timeoutSeconds: 30),
            answer.status == 200,
            let page = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any],
            let list = page["findings"] as? [[String: Any]]
        else { return nil }
        var out: [String: String] = [:]
        for f in list {
            if let id = f["id"] as? String { out[id] = f["kind"] as? String ?? "?" }
        }
        return out
    }

    /// `flow_records` of a node's /healthz.
    static func flowRecords(port: Int) async -> Int? {
        guard let answer = await httpGet(port: port, path: "/healthz"), answer.status == 200,
            let health = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
        else { return nil }
        return health["flow_records"] as? Int
    }

    @Test func detectorNodeFindsWhatOneNodeFinds() async throws {
        let mamori = try ExternalPeer.builtProduct("mamori")
        let nats = try await NATSServerPeer.startCluster(size: 3, name: "mamori-world")
        let postgres = try await PostgresPeer.start()
        let dir = try TemporaryDirectory()
        let d = dir.path
        for node in ["single", "collector", "detector"] {
            try FileManager.default.createDirectory(atPath: "\(d)/\(node)", withIntermediateDirectories: true)
        }
        let (singleHTTP, singleUDP) = (try freeTCPPort(), try freeUDPPort())
        let (collectorHTTP, collectorUDP) = (try freeTCPPort(), try freeUDPPort())
        let detectorHTTP = try freeTCPPort()
        try """
        data_directory: \(d)/single/data
        log_level: info
        http:
          listen: 127.0.0.1:\(singleHTTP)
        collector:
          listen: [127.0.0.1:\(singleUDP)]
          queue_capacity: 65536
        detection:
          # The comparison needs every record analysed: the single node must not shed pairs when
          # the test suite's other work takes its CPU (a detector node never sheds; the bus waits).
          shed_after_batches: 65536
          evaluate_on_flow_clock: true

        """.write(toFile: "\(d)/single/mamori.yaml", atomically: true, encoding: .utf8)
        try """
        data_directory: \(d)/collector/data
        log_level: info
        http:
          listen: 127.0.0.1:\(collectorHTTP)
        collector:
          listen: [127.0.0.1:\(collectorUDP)]
        cluster:
          role: collector
          node: collector-1
        \(Self.bus(nats))

        """.write(toFile: "\(d)/collector/mamori.yaml", atomically: true, encoding: .utf8)
        try """
        data_directory: \(d)/detector/data
        log_level: info
        http:
          listen: 127.0.0.1:\(detectorHTTP)
        detection:
          evaluate_on_flow_clock: true
        storage:
          engine: postgresql
          url: \(postgres.url)
          password_file: \(postgres.passwordFile)
        cluster:
          node: detector-1
        \(Self.bus(nats))

        """.write(toFile: "\(d)/detector/mamori.yaml", atomically: true, encoding: .utf8)

        let singleToken = try await OperatorBootstrap(mamori, dataDirectory: "\(d)/single/data").token("soc", scope: "read_findings")
        let detectorToken = try await OperatorBootstrap(mamori, dataDirectory: "\(d)/detector/data").token("soc", scope: "read_findings")
        let single = try await SinkholeServeTests.serve(mamori, directory: "\(d)/single", http: singleHTTP)
        defer { single.stop() }
        let collector = try await Self.serve(mamori, "\(d)/collector", http: collectorHTTP, role: nil)
        defer { collector.stop() }
        let detector = try await Self.serve(mamori, "\(d)/detector", http: detectorHTTP, role: "detector")
        defer { detector.stop() }

        // The same carrier's exports, sent twice: once to the single node, once to the cluster's
        // collector (the simulator written to a capture once, so that both get the same datagrams).
        // It starts an hour ago, so that its records are recent enough for a live collector.
        let capture = "\(d)/world.pcap"
        let start = ISO8601DateFormatter().string(
            from: Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 - 3_600))
        let simulated = try await offThePool {
            try mamori.run(
                ["simulate", "--pcap", capture, "--subscribers", "300", "--duration", "40m", "--seed", "21", "--start", start],
                timeout: .seconds(300))
        }
        let records = try #require(simulated.firstMatch(of: /flows_exported=(\d+)/).flatMap { Int($0.1) }, "\(simulated)")
        // Both cluster nodes are ready (the stream and the partitions' consumers set up).
        for (name, port) in [("collector", collectorHTTP), ("detector", detectorHTTP)] {
            var answer: (status: Int, body: String)?
            for _ in 0..<200 {
                answer = await httpGet(port: port, path: "/readyz")
                if answer?.status == 200 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(
                answer?.status == 200 && answer?.body.contains("\"role\":\"\(name)\"") == true, "\(name): \(String(describing: answer))")
        }
        // One of the three NATS servers goes down before the traffic: the bus goes on (the stream
        // has three replicas; the nodes reconnect to the others).
        nats[2].stop(signal: SIGKILL)
        for port in [singleUDP, collectorUDP] {
            let output = try await offThePool {
                try mamori.run(["replay", capture, "--to", "127.0.0.1:\(port)", "--rate", "2000"], timeout: .seconds(300))
            }
            #expect(!output.contains("error"), "\(output)")
        }

        // Every record reaches the single node, the collector, and through the bus the detector.
        var counts: [Int?] = []
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            counts = [
                await Self.flowRecords(port: singleHTTP), await Self.flowRecords(port: collectorHTTP),
                await Self.flowRecords(port: detectorHTTP),
            ]
            if counts.allSatisfy({ $0 == records }) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(
            counts.allSatisfy { $0 == records },
            "records \(records); single, collector, detector saw \(counts)\ncollector: \(SinkholeServeTests.log("\(d)/collector/mamori.log"))\ndetector: \(SinkholeServeTests.log("\(d)/detector/mamori.log"))"
        )

        let singleHealth = await httpGet(port: singleHTTP, path: "/healthz")?.body ?? ""
        #expect(singleHealth.contains("\"shed_records\":0"), "the single node shed records: \(singleHealth)")
        // The detectors evaluate once a second: wait until both nodes' findings stop changing and agree.
        var one: [String: String] = [:]
        var cluster: [String: String] = [:]
        let settle = ContinuousClock.now + .seconds(90)
        var stableRounds = 0
        while ContinuousClock.now < settle {
            let a = await Self.findings(port: singleHTTP, token: singleToken) ?? [:]
            let b = await Self.findings(port: detectorHTTP, token: detectorToken) ?? [:]
            stableRounds = (a == one && b == cluster && !a.isEmpty) ? stableRounds + 1 : 0
            (one, cluster) = (a, b)
            if stableRounds >= 3 && a == b { break }
            try await Task.sleep(for: .seconds(1))
        }
        let kinds = Dictionary(grouping: one.values, by: { $0 }).mapValues(\.count)
        #expect(
            kinds["c2-server", default: 0] > 0 && kinds["infected-device", default: 0] > 0,
            "the world has C&C and infected devices: \(kinds)")
        print(
            "cluster world: \(records) records at each node; findings on one node \(one.count), in the cluster \(cluster.count), by kind \(kinds.sorted { $0.key < $1.key })"
        )
        let onlyOne = one.filter { cluster[$0.key] == nil }
        let onlyCluster = cluster.filter { one[$0.key] == nil }
        #expect(
            onlyOne.isEmpty && onlyCluster.isEmpty,
            "\(one.count) findings on one node, \(cluster.count) in the cluster; only on one node: \(onlyOne.sorted { $0.key < $1.key }.prefix(20)); only in the cluster: \(onlyCluster.sorted { $0.key < $1.key }.prefix(20))"
        )
        // `mamori cluster status` sees both nodes ready, every partition read by the detector, nothing waiting.
        let result = try await offThePool {
            try mamori.runToExit(["cluster", "status", "--config", "\(d)/collector/mamori.yaml", "--json"], timeout: .seconds(60))
        }
        let status = result.stdout
        #expect(result.status == 0, "\(result)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any], "\(status)")
        let nodes = document["nodes"] as? [[String: Any]] ?? []
        #expect(Set(nodes.compactMap { $0["node"] as? String }) == ["collector-1", "detector-1"], "\(status)")
        #expect(nodes.allSatisfy { $0["ready"] as? Bool == true }, "\(status)")
        let partitions = document["partitions"] as? [[String: Any]] ?? []
        #expect(
            partitions.count == 8
                && partitions.allSatisfy { ($0["read_by"] as? [String]) == ["detector-1"] && ($0["pending"] as? Int) == 0 }, "\(status)")
        #expect((document["stream"] as? [String: Any])?["replicas"] as? Int == 3, "\(status)")
        // The same as a table for a terminal: both nodes ready, every partition read by the detector.
        let table = try await offThePool {
            try mamori.run(["cluster", "status", "--config", "\(d)/detector/mamori.yaml"], timeout: .seconds(60))
        }
        let rows = table.split(separator: "\n").map(String.init)
        #expect(rows.first?.hasPrefix("stream MAMORI_FLOWS: ") == true && rows.contains { $0.contains("replicas 3") }, "\(table)")
        #expect(rows.contains { $0.hasPrefix("collector-1") && $0.contains("collector") && $0.contains("yes") }, "\(table)")
        #expect(rows.contains { $0.hasPrefix("detector-1") && $0.contains("yes") && $0.hasSuffix("0-7") }, "\(table)")
        #expect(rows.filter { $0.hasSuffix("detector-1") }.count == 8 && !table.contains("NOBODY"), "\(table)")
        // Without any NATS server the cluster's nodes say they are not ready; the single node is.
        nats[0].stop(signal: SIGKILL)
        nats[1].stop(signal: SIGKILL)
        var notReady: [String: (status: Int, body: String)?] = [:]
        for _ in 0..<100 {
            notReady = [
                "collector": await httpGet(port: collectorHTTP, path: "/readyz"),
                "detector": await httpGet(port: detectorHTTP, path: "/readyz"),
            ]
            if notReady.values.allSatisfy({ $0?.status == 503 && $0?.body.contains("NATS") == true }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(notReady.values.allSatisfy { $0?.status == 503 && $0?.body.contains("NATS") == true }, "\(notReady)")
        #expect(await httpGet(port: singleHTTP, path: "/readyz")?.status == 200)
        // The collector analyses nothing; the detector's findings are in PostgreSQL, not in a file of its own.
        #expect(!FileManager.default.fileExists(atPath: "\(d)/detector/data/findings.sqlite"))
        let collectorLog = (try? String(contentsOfFile: "\(d)/collector/mamori.log", encoding: .utf8)) ?? ""
        #expect(collectorLog.contains("cluster: this node is a collector"), "\(collectorLog.prefix(3_000))")
    }

    /// Starts `mamori serve` for a node (`--role` when given) and waits for its /healthz.
    static func serve(_ mamori: ExternalPeer, _ directory: String, http: Int, role: String?) async throws -> RunningPeer {
        let server = try mamori.start(
            ["serve", "--config", directory + "/mamori.yaml"] + (role.map { ["--role", $0] } ?? []), outputFile: directory + "/mamori.log")
        for _ in 0..<300 {
            guard server.isRunning else { break }
            if await httpGet(port: http, path: "/healthz")?.status == 200 { return server }
            try await Task.sleep(for: .milliseconds(100))
        }
        server.stop()
        throw PeerError("mamori serve (\(directory)) did not come up: \(SinkholeServeTests.log(directory + "/mamori.log"))")
    }
}
