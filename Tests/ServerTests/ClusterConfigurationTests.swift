import ClusterBus
import Collector
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MamoriCore
import MamoriTesting
import NATSClient
import NATSWire
import NIOCore
import Testing

@testable import Server

/// The `cluster:` section: role all by default, a collector or detector with its NATS servers and
/// bus, partitions checked against the stream's, every broken value refused with the key.
@Suite struct ClusterConfigurationTests {
    @Test("no cluster section is one process doing everything")
    func allByDefault() throws {
        let c = try MamoriConfiguration.parse(yaml: "")
        #expect(c.cluster.role == .all)
        #expect(c.cluster.servers.isEmpty)
        #expect(c.cluster.ownedPartitions == Array(0..<16))
        try c.cluster.validate()
    }

    @Test("a detector's whole section")
    func detector() throws {
        let c = try MamoriConfiguration.parse(
            yaml: """
                cluster:
                  role: detector
                  node: detector-2
                  nats:
                    servers: [nats://10.0.0.11:4222, "nats://10.0.0.12:4223"]
                    user: mamori
                    password_file: /etc/mamori/nats-password
                  bus:
                    stream: FLOWS_EAST
                    subject_prefix: east.flows
                    partitions: 8
                    replicas: 3
                    max_megabytes: 2048
                    max_age_minutes: 30
                    ack_wait_seconds: 20
                  partitions: [4, 5, 6, 7, 5]
                """)
        let s = c.cluster
        #expect(s.role == .detector && s.node == "detector-2")
        #expect(s.servers.map(\.description) == ["nats://10.0.0.11:4222", "nats://10.0.0.12:4223"])
        #expect(s.user == "mamori" && s.passwordFile == "/etc/mamori/nats-password")
        #expect(s.bus.stream == "FLOWS_EAST" && s.bus.subjectPrefix == "east.flows" && s.bus.partitions == 8 && s.bus.replicas == 3)
        #expect(s.bus.maximumBytes == 2_048 << 20 && s.bus.maximumAge == .seconds(1_800) && s.bus.acknowledgementWait == .seconds(20))
        #expect(s.ownedPartitions == [4, 5, 6, 7], "sorted, each once")
        #expect(s.bus.streamConfig.subjects == ["east.flows.*"] && s.bus.streamConfig.discard == .new)
        #expect(s.bus.consumerConfig(partition: 5).filterSubject == "east.flows.5")
        try s.validate()
        // The password is read at start, from the file; one that cannot be read names the key.
        #expect(throws: ConfigurationError.self) { try s.natsConfiguration() }
        let dir = try TemporaryDirectory()
        var t = s
        t.passwordFile = dir.path + "/p"
        try "s3cret\n".write(toFile: dir.path + "/p", atomically: true, encoding: .utf8)
        let n = try t.natsConfiguration()
        #expect(n.password == "s3cret" && n.user == "mamori" && n.name == "mamori-detector-detector-2")
    }

    @Test("broken values are refused with the key")
    func refused() throws {
        let cases: [(String, String)] = [
            ("cluster:\n  role: leader\n", "cluster.role"),
            ("cluster:\n  colour: blue\n", "unknown key 'colour'"),
            ("cluster:\n  node: 'a b'\n", "cluster.node"),
            ("cluster:\n  nats:\n    servers: []\n", "cluster.nats.servers"),
            ("cluster:\n  nats:\n    servers: [http://x]\n", "cluster.nats.servers"),
            ("cluster:\n  bus:\n    partitions: 0\n", "partitions"),
            ("cluster:\n  bus:\n    partitions: 5000\n", "partitions"),
            ("cluster:\n  bus:\n    subject_prefix: 'a.*'\n", "cluster.bus.subject_prefix"),
            ("cluster:\n  bus:\n    subject_prefix: 'a..b'\n", "cluster.bus.subject_prefix"),
            ("cluster:\n  bus:\n    stream: 'a.b'\n", "cluster.bus.stream"),
            ("cluster:\n  bus:\n    replicas: 7\n", "replicas"),
            ("cluster:\n  partitions: [16]\n", "cluster.partitions: 16"),
            ("cluster:\n  bus:\n    partitions: 4\n  partitions: [3, 4]\n", "cluster.partitions: 4"),
            ("cluster:\n  partitions: some\n", "cluster.partitions"),
        ]
        for (yaml, expected) in cases {
            do {
                _ = try MamoriConfiguration.parse(yaml: yaml)
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect(error.description.contains(expected), "\(yaml) → \(error)")
            }
        }
    }

    @Test("a collector or detector without NATS servers does not start, and says what is missing")
    func roleWithoutServers() throws {
        var c = try MamoriConfiguration.parse(yaml: "cluster:\n  role: collector\n")
        #expect(throws: ConfigurationError.self) { try c.cluster.validate() }
        let dir = try TemporaryDirectory()
        c.dataDirectory = dir.path
        do {
            _ = try buildApplication(configuration: c)
            Issue.record("a collector without NATS servers was built")
        } catch {
            #expect("\(error)".contains("cluster.nats.servers is required for role collector"), "\(error)")
        }
    }
}

/// /readyz: what a load balancer asks before sending work.
@Suite struct ReadinessTests {
    @Test("a node with its flow listeners bound is ready; /healthz names the role")
    func readyWhenListening() async throws {
        let dir = try TemporaryDirectory()
        var c = MamoriConfiguration()
        c.dataDirectory = dir.path
        c.collector.listen = [SocketEndpoint(host: "127.0.0.1", port: 0)]
        let (app, _) = try buildApplication(configuration: c)
        try await app.test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                let body = String(buffer: response.body)
                #expect(response.status == .ok, "\(body)")
                #expect(body.contains("\"ready\":true") && body.contains("\"role\":\"all\"") && body.contains("\"reasons\":[]"), "\(body)")
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(String(buffer: response.body).contains("\"role\":\"all\""))
            }
        }
    }

    @Test("a detector that has not set up its partitions is not ready, and says why")
    func detectorNotReadyBeforeTheBus() async throws {
        let dir = try TemporaryDirectory()
        var c = try MamoriConfiguration.parse(yaml: "cluster:\n  role: detector\n  nats:\n    servers: [nats://127.0.0.1:9]\n")
        c.dataDirectory = dir.path
        let (app, services) = try buildApplication(configuration: c)
        #expect(services.role == .detector && services.busConsumer != nil && services.busPublisher == nil)
        try await app.test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                let body = String(buffer: response.body)
                #expect(response.status == .serviceUnavailable, "\(body)")
                #expect(
                    body.contains("\"ready\":false") && body.contains("not set up yet") && body.contains("\"role\":\"detector\""), "\(body)"
                )
            }
        }
    }
}

extension ClusterConfigurationTests {
    @Test("the commented cluster section at the end of mamori.example.yaml parses once uncommented")
    func exampleSection() throws {
        let text = try String(contentsOfFile: ConfigurationTests.examplePath, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0 == "# cluster:" })
        let section = lines[start...].prefix { $0.hasPrefix("#") }.map { String($0.dropFirst(2)) }.joined(separator: "\n")
        let c = try MamoriConfiguration.parse(yaml: section)
        #expect(c.cluster.role == .detector && c.cluster.node == "detector-1" && c.cluster.servers.count == 3)
        #expect(c.cluster.bus.partitions == 16 && c.cluster.bus.replicas == 3 && c.cluster.ownedPartitions == Array(0..<8))
        try c.cluster.validate()
    }
}

extension ClusterConfigurationTests {
    @Test("detection.shed_after_batches: the backlog beyond which pairs are shed, 256 by default, bounded")
    func shedAfterBatches() throws {
        #expect(try MamoriConfiguration.parse(yaml: "").detection.shedAfterBatches == 256)
        #expect(try MamoriConfiguration.parse(yaml: "detection:\n  shed_after_batches: 65536\n").detection.shedAfterBatches == 65_536)
        #expect(throws: ConfigurationError.self) { try MamoriConfiguration.parse(yaml: "detection:\n  shed_after_batches: 0\n") }
    }
}
