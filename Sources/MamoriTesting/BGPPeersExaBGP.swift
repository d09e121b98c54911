import Foundation

/// A real ExaBGP (Debian's `exabgp`, 4.2) as a BGP test peer on loopback: a third BGP
/// implementation, in Python, with its own FlowSpec decoder. It listens (passive) on
/// 127.0.0.1:<free port> for one neighbour and hands every message it receives, decoded, to a
/// small helper process that appends ExaBGP's JSON lines to a file; ``routes()`` replays them
/// into the routes the neighbour announced and has not withdrawn. Stop it with ``stop()`` (a
/// `defer` in the test); deinit kills it too.
///
/// Found by trying: as root, ExaBGP drops privileges to the `exabgp` user unless told
/// `daemon.drop = false` with `daemon.user` the user it runs as; with `api.cli = false` it needs
/// no named pipes; it prints nothing when it listens, so readiness is its socket in /proc/net/tcp.
public final class ExaBGPPeer: @unchecked Sendable {
    // @unchecked: used from one test task at a time.

    public struct Configuration: Sendable {
        public var routerID = "127.0.0.1"
        public var localAS: UInt32 = 65001
        /// The neighbour's address: ExaBGP accepts a session from this address only.
        public var neighborAddress = "127.0.0.2"
        public var neighborAS: UInt32 = 65002
        /// Lines added to the neighbour block (`graceful-restart 120;` …).
        public var extraNeighborLines: [String] = []

        public init() {}
    }

    public let configuration: Configuration
    /// ExaBGP's BGP port on 127.0.0.1.
    public let port: Int
    public let configText: String
    private let directory: TemporaryDirectory
    private let process: RunningPeer
    private var messagesPath: String { directory.path + "/messages.jsonl" }
    private var outputPath: String { directory.path + "/exabgp.out" }

    /// Starts ExaBGP and waits (at most 30 s) until it listens; throws with what it printed when
    /// it does not, and a clear error when exabgp is not installed.
    public init(_ configuration: Configuration = Configuration()) async throws {
        let exabgp = try ExternalPeer.require("exabgp", debianPackage: "exabgp")
        let python = try ExternalPeer.require("python3", debianPackage: "python3")
        self.configuration = configuration
        directory = try TemporaryDirectory()
        port = try freeTCPPort()
        let receiver = directory.path + "/receiver.py"
        try """
        import sys
        with open(sys.argv[1], "a", buffering=1) as out:
            for line in sys.stdin:
                out.write(line)
        """.write(toFile: receiver, atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: directory.path + "/messages.jsonl", contents: nil)
        configText = Self.config(configuration, python: python.path, receiver: receiver, messages: directory.path + "/messages.jsonl")
        let configPath = directory.path + "/exabgp.conf"
        try configText.write(toFile: configPath, atomically: true, encoding: .utf8)
        let user = getpwuid(getuid()).flatMap { String(validatingCString: $0.pointee.pw_name) } ?? "root"
        let environment = """
            [exabgp.tcp]
            bind = '127.0.0.1'
            port = \(port)
            [exabgp.daemon]
            drop = false
            user = '\(user)'
            [exabgp.api]
            cli = false
            [exabgp.log]
            packets = false

            """
        let envPath = directory.path + "/exabgp.env"
        try environment.write(toFile: envPath, atomically: true, encoding: .utf8)
        let output = directory.path + "/exabgp.out"
        process = try exabgp.start(["--env", envPath, configPath], outputFile: output)
        let running = process
        guard try await waitForTCPListener(port: port, while: { running.isRunning }) else {
            process.stop()
            throw PeerError("ExaBGP did not listen on 127.0.0.1:\(port):\n\(describeFiles(output))")
        }
    }

    static func config(_ c: Configuration, python: String, receiver: String, messages: String) -> String {
        let extra = c.extraNeighborLines.map { "    " + $0 }.joined(separator: "\n")
        return """
            process receiver {
                run \(python) \(receiver) \(messages);
                encoder json;
            }
            neighbor \(c.neighborAddress) {
                router-id \(c.routerID);
                local-address 127.0.0.1;
                local-as \(c.localAS);
                peer-as \(c.neighborAS);
                passive true;
                family { ipv4 unicast; ipv6 unicast; ipv4 flow; ipv6 flow; }
            \(extra)
                api {
                    processes [ receiver ];
                    receive { parsed; update; notification; open; }
                    neighbor-changes;
                }
            }

            """
    }

    /// Every JSON message ExaBGP has handed over so far, in order.
    public func messages() throws -> [[String: Any]] {
        let text = (try? String(contentsOfFile: messagesPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// The neighbour's state as ExaBGP last reported it (`connected`, `up`, `down`), if it has.
    public func neighborState() throws -> String? {
        try messages().last { $0["type"] as? String == "state" }.flatMap { ($0["neighbor"] as? [String: Any])?["state"] as? String }
    }

    /// The routes the neighbour has announced and not withdrawn, replayed from ExaBGP's updates.
    public func routes() throws -> [ExaBGPRoute] {
        var table: [String: ExaBGPRoute] = [:]
        for message in try messages() where message["type"] as? String == "update" {
            guard let neighbor = message["neighbor"] as? [String: Any], let body = neighbor["message"] as? [String: Any],
                let update = body["update"] as? [String: Any]
            else { continue }
            let attributes = update["attribute"] as? [String: Any] ?? [:]
            for (family, entries) in update["withdraw"] as? [String: Any] ?? [:] {
                for entry in entries as? [[String: Any]] ?? [] {
                    table[family + " " + ExaBGPRoute.key(entry)] = nil
                }
            }
            for (family, byNextHop) in update["announce"] as? [String: Any] ?? [:] {
                for (nextHop, entries) in byNextHop as? [String: Any] ?? [:] {
                    for entry in entries as? [[String: Any]] ?? [] {
                        let route = ExaBGPRoute(family: family, nextHop: nextHop, entry: entry, attributes: attributes)
                        table[family + " " + route.nlri] = route
                    }
                }
            }
        }
        return table.values.sorted { ($0.family, $0.nlri) < ($1.family, $1.nlri) }
    }

    /// Waits (at most `timeout`) until ``routes()`` satisfy `condition`, and returns them; throws
    /// with the last routes and ExaBGP's output otherwise.
    @discardableResult
    public func waitForRoutes(timeout: Duration = .seconds(60), _ condition: ([ExaBGPRoute]) -> Bool) async throws -> [ExaBGPRoute] {
        let deadline = ContinuousClock.now + timeout
        var last: [ExaBGPRoute] = []
        while ContinuousClock.now < deadline {
            last = try routes()
            if condition(last) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PeerError("ExaBGP's routes did not reach the expected state within \(timeout); it holds:\n\(last)\n\(log)")
    }

    /// Waits (at most `timeout`) until ExaBGP reports the neighbour `state` (`up`, `down`).
    public func waitForState(_ state: String, timeout: Duration = .seconds(90)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try neighborState() == state { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PeerError("ExaBGP never reported the neighbour \(state) within \(timeout):\n\(log)")
    }

    /// What ExaBGP printed (for the message of a failing test).
    public var log: String { describeFiles(outputPath, messagesPath) }

    /// Stops ExaBGP (SIGTERM, then SIGKILL after 10 s); idempotent.
    public func stop() { process.stop() }

    deinit { process.stop() }
}

/// One route as ExaBGP decoded it.
public struct ExaBGPRoute: Sendable, Hashable, CustomStringConvertible {
    /// `ipv4 unicast`, `ipv6 unicast`, `ipv4 flow`, `ipv6 flow`.
    public var family: String
    /// The prefix, or ExaBGP's one-line form of a FlowSpec rule (`flow destination-ipv4 …`).
    public var nlri: String
    /// nil for FlowSpec (`no-nexthop`).
    public var nextHop: String?
    /// Communities as `asn:value`.
    public var communities: [String]
    /// Extended communities as ExaBGP writes them (`rate-limit:1000`).
    public var extendedCommunities: [String]
    public var asPath: [UInt32]

    static func key(_ entry: [String: Any]) -> String { entry["string"] as? String ?? entry["nlri"] as? String ?? "\(entry)" }

    init(family: String, nextHop: String, entry: [String: Any], attributes: [String: Any]) {
        self.family = family
        nlri = Self.key(entry)
        self.nextHop = nextHop == "no-nexthop" ? nil : nextHop
        communities = (attributes["community"] as? [[Int]] ?? []).map { $0.map(String.init).joined(separator: ":") }
        extendedCommunities = (attributes["extended-community"] as? [[String: Any]] ?? []).compactMap { $0["string"] as? String }
        asPath = (attributes["as-path"] as? [Int] ?? []).map { UInt32($0) }
    }

    public var description: String {
        "\(family) \(nlri)\(nextHop.map { " via \($0)" } ?? "") communities \(communities) ext \(extendedCommunities) path \(asPath)"
    }
}
