import Accounts
import Collector
import Detection
import FlowCodec
import FlowEncoding
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MamoriCore
import MamoriTesting
import NIOCore
import Prometheus
import Server
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// buildApplication: /healthz, /metrics and the collector running as one application.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ServerTests {
    /// Loopback everything, port 0 everywhere, state in `dir`.
    static func configuration(dataDirectory dir: String) -> MamoriConfiguration {
        var c = MamoriConfiguration()
        c.dataDirectory = dir
        c.http = SocketEndpoint(host: "127.0.0.1", port: 0)
        c.collector.listen = [SocketEndpoint(host: "127.0.0.1", port: 0)]
        c.collector.receiveBufferBytes = 1 << 20
        c.logLevel = .warning
        // The sinkhole on, so its routes are in every route test; its port is the kernel's choice.
        c.sinkhole.enabled = true
        c.sinkhole.listen = SocketEndpoint(host: "127.0.0.1", port: 0)
        // The BGP speaker on too (its routes in every route test), toward a closed port: nothing
        // answers, so it only retries with back-off when a test runs the services.
        c.bgp.enabled = true
        c.bgp.routerID = "127.0.0.1"
        c.bgp.neighbors = [BGPSettings.Neighbor(name: "nobody", address: "127.0.0.1", peerAS: 65001)]
        c.bgp.neighbors[0].port = 9
        // The TAXII server on too, with one collection every role may read and analysts may write.
        var taxii = TAXIISettings()
        taxii.collections = [
            TAXIISettings.Collection(
                id: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", title: "C&C indicators", alias: "cnc", read: [.role(.viewer)],
                write: [.role(.analyst)])
        ]
        c.sharing.taxii = taxii
        return c
    }

    static func sendFlows(_ count: Int, to collector: FlowCollector) async throws {
        try await withTimeLimit(.seconds(60), "collector binding") { await collector.waitUntilReady() }
        let port = try #require(collector.boundAddresses.values.first?.port)
        var ipfix = FlowExportEncoder(protocol: .ipfix, observationDomain: 1)
        try UDPTestSender().send(
            ipfix.encode(testFlows(count), exportTimeMilliseconds: Int64(Date().timeIntervalSince1970 * 1000)), toPort: port, ipv6: false)
    }

    @Test("GET /healthz: 200 JSON with status ok, listeners and records; GET /metrics: collector series; unknown path: 404")
    func routes() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try buildApplication(
            configuration: Self.configuration(dataDirectory: dir.path),
            dependencies: ApplicationDependencies(logger: LogStore().logger(level: .warning))
        )
        let auth = try await services.operatorHeaders()
        try await app.test(.router) { client in
            try await Self.sendFlows(3, to: services.collector)
            #expect(try await waitUntil { services.statistics.total.records == 3 })
            let port = try #require(services.collector.boundAddresses.values.first?.port)

            try await client.execute(uri: "/healthz", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let json = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                #expect(json["status"] as? String == "ok")
                #expect(json["flow_records"] as? Int == 3)
                #expect(json["listeners"] as? [String] == ["127.0.0.1:\(port)"])
                #expect((json["uptime_seconds"] as? Int).map { $0 >= 0 } == true)
                // The detectors' load: one worker, nothing shed.
                let detection = try #require(json["detection"] as? [String: Any])
                #expect(detection["workers"] as? Int == 1)
                #expect((detection["analysed_records"] as? Int).map { (0...3).contains($0) } == true)
                #expect(detection["shed_records"] as? Int == 0)
                #expect(detection["shed_pairs_last_minute"] as? Int == 0)
                #expect(detection["sampling_interval"] as? Int == 1)
            }
            try await client.execute(uri: "/metrics", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = String(buffer: response.body)
                #expect(text.contains(#"mamori_collector_datagrams_total{exporter="127.0.0.1"} 1"#), "\(text)")
                #expect(text.contains(#"mamori_collector_flow_records_total{exporter="127.0.0.1"} 3"#))
                #expect(text.contains("mamori_collector_exporters 1"))
                #expect(text.contains("# TYPE mamori_collector_datagrams_total counter"))
            }
            try await client.execute(uri: "/nothing-here", method: .get, headers: auth) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/healthz", method: .post, headers: auth) { response in
                #expect(response.status != .ok)
            }
        }
        // The services stopped with the test: templates went to the data directory.
        #expect(FileManager.default.fileExists(atPath: dir.path + "/templates.json"))
    }

    @Test("detection.enabled: false collects and counts flows but gives none to the detectors")
    func collectOnly() async throws {
        let dir = try TemporaryDirectory()
        for enabled in [true, false] {
            var c = Self.configuration(dataDirectory: dir.path + "/\(enabled)")
            c.detection.enabled = enabled
            try FileManager.default.createDirectory(atPath: c.dataDirectory, withIntermediateDirectories: true)
            let (app, services) = try buildApplication(
                configuration: c, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .warning)))
            let auth = try await services.operatorHeaders()
            try await app.test(.router) { _ in
                try await Self.sendFlows(5, to: services.collector)
                #expect(try await waitUntil { services.statistics.total.records == 5 })
                // Every record handed to the detectors is counted, whether or not it crosses the subscriber edge.
                #expect(services.detection.statistics.records == (enabled ? 5 : 0), "enabled: \(enabled)")
            }
        }
    }

    @Test("a live HTTP server on 127.0.0.1:0 answers /healthz and /metrics")
    func live() async throws {
        let dir = try TemporaryDirectory()
        let registry = PrometheusCollectorRegistry()
        let (app, services) = try buildApplication(
            configuration: Self.configuration(dataDirectory: dir.path),
            dependencies: ApplicationDependencies(prometheus: registry, logger: LogStore().logger(level: .warning))
        )
        let auth = try await services.operatorHeaders()
        try await app.test(.live) { client in
            #expect(client.port.map { $0 > 0 } == true)
            try await Self.sendFlows(2, to: services.collector)
            #expect(try await waitUntil { services.statistics.total.records == 2 })
            try await client.execute(uri: "/healthz", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""status":"ok""#))
            }
            try await client.execute(uri: "/metrics", method: .get, headers: auth) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#"mamori_collector_flow_records_total{exporter="127.0.0.1"} 2"#))
            }
        }
    }

    @Test("an HTTP port in use makes the application fail promptly instead of hanging")
    func httpPortInUse() async throws {
        let dir = try TemporaryDirectory()
        let (fd, port) = try Self.listeningTCPSocket()
        defer { close(fd) }
        var configuration = Self.configuration(dataDirectory: dir.path)
        configuration.http = SocketEndpoint(host: "127.0.0.1", port: port)
        let (app, services) = try buildApplication(
            configuration: configuration, dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        let auth = try await services.operatorHeaders()
        await #expect(throws: (any Error).self) {
            try await withTimeLimit(.seconds(15), "the application after the HTTP bind failed") { try await app.runService() }
        }
    }

    /// A TCP socket listening on 127.0.0.1 (without SO_REUSEADDR), and its port.
    static func listeningTCPSocket() throws -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PosixTestError("socket", errno) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 1) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            let e = errno
            close(fd)
            throw PosixTestError("bind/listen", e)
        }
        return (fd, Int(UInt16(bigEndian: a.sin_port)))
    }
}
