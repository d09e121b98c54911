import Foundation

/// A real `nats-server` (Debian's package `nats-server`) on 127.0.0.1 for tests: a free client
/// port, JetStream with its store in a temporary directory, and, for a cluster, routes on loopback.
/// A missing program fails the test with the package to install (``ExternalPeer/require(_:debianPackage:)``).
public final class NATSServerPeer: @unchecked Sendable {
    // @unchecked: used from one test task at a time.
    public let name: String
    public let port: Int
    public let logFile: String
    let peer: RunningPeer
    let directory: TemporaryDirectory

    /// `nats://127.0.0.1:<port>`.
    public var url: String { "nats://127.0.0.1:\(port)" }
    public var isRunning: Bool { peer.isRunning }

    init(name: String, port: Int, logFile: String, peer: RunningPeer, directory: TemporaryDirectory) {
        self.name = name
        self.port = port
        self.logFile = logFile
        self.peer = peer
        self.directory = directory
    }

    /// What the server logged so far (for a failing test's message).
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Stops the server: SIGTERM (a clean shutdown), or SIGKILL for a crash.
    public func stop(signal: Int32 = SIGTERM) { peer.stop(signal: signal) }

    deinit { peer.stop(signal: SIGKILL) }

    /// One server with JetStream.
    public static func start(name: String = "n1") async throws -> NATSServerPeer {
        let port = try freeTCPPort()
        return try await launch(name: name, port: port, extra: [])
    }

    /// `size` servers in one cluster (`--cluster_name`, `--routes` to every other server), each
    /// with JetStream. The cluster still has to elect its JetStream meta leader after this returns.
    public static func startCluster(size: Int = 3, name: String = "mamori") async throws -> [NATSServerPeer] {
        var ports: [(client: Int, cluster: Int)] = []
        while ports.count < size {
            let client = try freeTCPPort()
            let cluster = try freeTCPPort()
            guard client != cluster,
                !ports.contains(where: { [$0.client, $0.cluster].contains(client) || [$0.client, $0.cluster].contains(cluster) })
            else { continue }
            ports.append((client, cluster))
        }
        var servers: [NATSServerPeer] = []
        for (i, p) in ports.enumerated() {
            let routes = ports.enumerated().filter { $0.offset != i }.map { "nats://127.0.0.1:\($0.element.cluster)" }.joined(
                separator: ",")
            servers.append(
                try await launch(
                    name: "\(name)-\(i + 1)", port: p.client,
                    extra: ["--cluster_name", name, "--cluster", "nats://127.0.0.1:\(p.cluster)", "--routes", routes]))
        }
        return servers
    }

    static func launch(name: String, port: Int, extra: [String]) async throws -> NATSServerPeer {
        let program = try ExternalPeer.require("nats-server", debianPackage: "nats-server")
        let directory = try TemporaryDirectory()
        let log = directory.path + "/nats-server.log"
        let arguments = ["-a", "127.0.0.1", "-p", "\(port)", "--server_name", name, "-js", "-sd", directory.path + "/store"] + extra
        let peer = try program.start(arguments, outputFile: log)
        guard try await waitForTCPListener(port: port, while: { peer.isRunning }) else {
            peer.stop(signal: SIGKILL)
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw PeerError("nats-server \(name) did not listen on 127.0.0.1:\(port); it printed:\n\(output.suffix(2000))")
        }
        return NATSServerPeer(name: name, port: port, logFile: log, peer: peer, directory: directory)
    }
}
