import Foundation

/// A real GoBGP (Debian's `gobgpd`) as a BGP test peer on loopback: `gobgpd` with a generated
/// TOML configuration and its gRPC API on 127.0.0.1:<free port>, read back and driven through the
/// `gobgp` CLI (``routes(family:)``, ``neighborState``, ``gobgp(_:)``). Stop it with ``stop()``
/// (a `defer` in the test); deinit kills it too.
///
/// One neighbour with the families ipv4-unicast, ipv6-unicast, ipv4-flowspec and ipv6-flowspec.
/// Passive (the default) it waits for the neighbour to connect; active, it connects to
/// `neighborPort` from `localAddress` every second (`connect-retry = 1`; GoBGP's default is 120 s).
public final class GoBGPPeer: @unchecked Sendable {
    // @unchecked: used from one test task at a time.

    /// What the generated configuration says.
    public struct Configuration: Sendable {
        public var routerID = "127.0.0.2"
        /// Where gobgpd listens for BGP (`local-address-list`) and connects from.
        public var localAddress = "127.0.0.2"
        /// gobgpd's BGP port; nil picks a free one.
        public var localPort: Int?
        public var localAS: UInt32 = 65002
        public var neighborAddress = "127.0.0.1"
        /// The neighbour's port, for an active gobgpd (`passive == false`).
        public var neighborPort = 179
        /// The same as ``localAS`` for iBGP.
        public var neighborAS: UInt32 = 65001
        /// True: gobgpd waits for the neighbour (`transport.config.passive-mode`).
        public var passive = true
        /// gobgpd's hold time (nil: GoBGP's default, 90 s).
        public var holdTime: Int?

        public init() {}
    }

    public let configuration: Configuration
    /// gobgpd's BGP port.
    public let port: Int
    /// The gRPC API's port on 127.0.0.1 (`gobgp -p`).
    public let apiPort: Int
    /// The generated configuration (for the message of a failing test, and for reuse).
    public let configText: String
    private let directory: TemporaryDirectory
    private let process: RunningPeer
    private let cli: ExternalPeer

    /// Starts gobgpd and waits (at most `timeout`) until its API answers; throws with what gobgpd
    /// printed when it does not start. Throws a clear error when gobgpd is not installed.
    public init(_ configuration: Configuration = Configuration(), timeout: Duration = .seconds(60)) async throws {
        let gobgpd = try ExternalPeer.require("gobgpd", debianPackage: "gobgpd")
        cli = try ExternalPeer.require("gobgp", debianPackage: "gobgpd")
        self.configuration = configuration
        directory = try TemporaryDirectory()
        port = try configuration.localPort ?? freeTCPPort()
        apiPort = try freeTCPPort()
        configText = GoBGPPeer.config(configuration, port: port)
        let configPath = directory.path + "/gobgpd.toml"
        try configText.write(toFile: configPath, atomically: true, encoding: .utf8)
        let outputPath = directory.path + "/gobgpd.log"
        process = try gobgpd.start(
            ["-f", configPath, "-t", "toml", "--api-hosts", "127.0.0.1:\(apiPort)", "--pprof-disable"], outputFile: outputPath)
        let deadline = ContinuousClock.now + timeout
        while true {
            if process.isRunning,
                let r = try? await cli.runToExit(["-u", "127.0.0.1", "-p", String(apiPort), "global", "-j"], timeout: .seconds(5)),
                r.status == 0, r.stdout.contains("\"asn\"")
            {
                break
            }
            if !process.isRunning || ContinuousClock.now > deadline {
                process.stop()
                throw PeerError("gobgpd did not start\(process.isRunning ? " within \(timeout)" : ""):\n\(describeFiles(outputPath))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The TOML configuration for `c`, gobgpd listening on `port`.
    public static func config(_ c: Configuration, port: Int) -> String {
        let families = ["ipv4-unicast", "ipv6-unicast", "ipv4-flowspec", "ipv6-flowspec"].map {
            """
              [[neighbors.afi-safis]]
                [neighbors.afi-safis.config]
                  afi-safi-name = "\($0)"
            """
        }
        var timers = "    connect-retry = 1\n"
        if let holdTime = c.holdTime { timers += "    hold-time = \(holdTime)\n    keepalive-interval = \(max(1, holdTime / 3))\n" }
        return """
            [global.config]
              as = \(c.localAS)
              router-id = "\(c.routerID)"
              port = \(port)
              local-address-list = ["\(c.localAddress)"]

            [[neighbors]]
              [neighbors.config]
                neighbor-address = "\(c.neighborAddress)"
                peer-as = \(c.neighborAS)
              [neighbors.transport.config]
                local-address = "\(c.localAddress)"
                remote-port = \(c.neighborPort)
                passive-mode = \(c.passive)
              [neighbors.timers.config]
            \(timers)\(families.joined(separator: "\n"))

            """
    }

    /// Runs `gobgp -u 127.0.0.1 -p <api port> <arguments>` (at most 10 s) and returns what it printed:
    /// `["global", "rib", "add", "-a", "ipv4", "203.0.113.7/32", "community", "65535:666", "nexthop", "192.0.2.1"]`.
    @discardableResult
    public func gobgp(_ arguments: [String]) async throws -> String {
        try await cli.run(["-u", "127.0.0.1", "-p", String(apiPort)] + arguments, timeout: .seconds(10))
    }

    /// The routes of the global RIB of `family` (`ipv4`, `ipv6`, `ipv4-flowspec`, `ipv6-flowspec`),
    /// parsed from `gobgp global rib -a <family> -j` — what gobgpd received and what it announces.
    public func routes(family: String) async throws -> [GoBGPRoute] {
        try GoBGPRoute.parse(await gobgp(["global", "rib", "-a", family, "-j"]))
    }

    /// The session state with the neighbour, from `gobgp neighbor -j`: `established`, `active`,
    /// `idle`, `connect`, `opensent`, `openconfirm` (or `unknown`).
    public var neighborState: String {
        get async throws {
            let text = try await gobgp(["neighbor", "-j"])
            return try GoBGPPeer.neighborState(fromJSON: text, address: configuration.neighborAddress)
        }
    }

    static func neighborState(fromJSON text: String, address: String) throws -> String {
        guard let neighbors = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw PeerError("unexpected `gobgp neighbor -j` output: \(text)")
        }
        for n in neighbors {
            let state = n["state"] as? [String: Any]
            let conf = n["conf"] as? [String: Any]
            guard (state?["neighbor_address"] as? String ?? conf?["neighbor_address"] as? String) == address else { continue }
            // apipb.PeerState.SessionState, as a number (or a name in other versions).
            if let name = state?["session_state"] as? String { return name.lowercased() }
            let names = [1: "idle", 2: "connect", 3: "active", 4: "opensent", 5: "openconfirm", 6: "established"]
            return names[(state?["session_state"] as? Int) ?? 0] ?? "unknown"
        }
        throw PeerError("gobgpd has no neighbour \(address): \(text)")
    }

    /// Waits (at most `timeout`) until the session is established; throws with gobgpd's log otherwise.
    public func waitEstablished(timeout: Duration = .seconds(90)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline, process.isRunning {
            if let s = try? await neighborState {
                if s == "established" { return }
                last = s
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PeerError("gobgpd's session with \(configuration.neighborAddress) was not established within \(timeout) (\(last)):\n\(log)")
    }

    /// Waits (at most `timeout`) until the routes of `family` satisfy `condition`, and returns them;
    /// throws with the last routes seen otherwise.
    @discardableResult
    public func waitForRoutes(family: String, timeout: Duration = .seconds(60), _ condition: ([GoBGPRoute]) -> Bool) async throws
        -> [GoBGPRoute]
    {
        let deadline = ContinuousClock.now + timeout
        var last: [GoBGPRoute] = []
        while ContinuousClock.now < deadline {
            last = try await routes(family: family)
            if condition(last) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PeerError("gobgpd's \(family) RIB did not reach the expected state within \(timeout); it holds:\n\(last)")
    }

    /// gobgpd's log so far (JSON lines; for the message of a failing test).
    public var log: String { describeFiles(directory.path + "/gobgpd.log") }

    /// Stops gobgpd (SIGTERM, then SIGKILL after 10 s); idempotent.
    public func stop() { process.stop() }

    deinit { process.stop(signal: SIGKILL) }
}

/// One path of gobgpd's RIB, from `gobgp global rib -a <family> -j`.
public struct GoBGPRoute: Sendable, Equatable, CustomStringConvertible {
    /// The prefix (`203.0.113.7/32`) or the FlowSpec rule as GoBGP writes it
    /// (`[destination: 203.0.113.7/32][protocol: ==udp][source-port: ==123]`).
    public var nlri: String
    /// The NEXT_HOP attribute, or MP_REACH_NLRI's next hop (`0.0.0.0` / `::` for FlowSpec).
    public var nextHop: String?
    /// AS_PATH's AS numbers, in order (empty for a locally added route).
    public var asPath: [UInt32]
    /// COMMUNITIES as `"65535:666"` (well-known ones numeric too: NO_EXPORT is `"65535:65281"`).
    public var communities: [String]
    /// EXTENDED_COMMUNITIES: `"traffic-rate:<as>:<bytes per second>"` (0: discard),
    /// `"traffic-action:…"`, `"redirect:…"`, otherwise GoBGP's JSON of it.
    public var extendedCommunities: [String]
    /// LARGE_COMMUNITY as `"65001:1:2"`.
    public var largeCommunities: [String]
    /// Whether gobgpd chose this path.
    public var isBest: Bool

    public func hasCommunity(_ asn: UInt16, _ value: UInt16) -> Bool { communities.contains("\(asn):\(value)") }

    public var description: String {
        "\(nlri) next hop \(nextHop ?? "-") as path \(asPath) communities \(communities) ext \(extendedCommunities) large \(largeCommunities)"
    }

    /// Parses the JSON object `{ "<nlri>": [path, …], … }`.
    public static func parse(_ json: String) throws -> [GoBGPRoute] {
        let trimmed = json.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty || trimmed == "null" { return [] }
        guard let table = try JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [String: Any] else {
            throw PeerError("unexpected `gobgp global rib -j` output: \(json)")
        }
        var routes: [GoBGPRoute] = []
        for key in table.keys.sorted() {
            for path in table[key] as? [[String: Any]] ?? [] {
                var route = GoBGPRoute(
                    nlri: key, nextHop: nil, asPath: [], communities: [], extendedCommunities: [], largeCommunities: [],
                    isBest: path["best"] as? Bool ?? false)
                for attribute in path["attrs"] as? [[String: Any]] ?? [] { route.add(attribute) }
                routes.append(route)
            }
        }
        return routes
    }

    private mutating func add(_ a: [String: Any]) {
        func number(_ v: Any?) -> UInt64? { (v as? NSNumber)?.uint64Value }
        switch number(a["type"]) {
        case 2: // AS_PATH: {"as_paths":[{"segment_type":2,"num":1,"asns":[65002]}]}
            for segment in a["as_paths"] as? [[String: Any]] ?? [] {
                asPath += (segment["asns"] as? [Any] ?? []).compactMap { number($0).map { UInt32($0) } }
            }
        case 3: nextHop = a["nexthop"] as? String
        case 8:
            communities = (a["communities"] as? [Any] ?? []).compactMap(number).map { "\($0 >> 16):\($0 & 0xffff)" }
        case 14: if nextHop == nil { nextHop = a["nexthop"] as? String }
        case 16:
            extendedCommunities = (a["value"] as? [[String: Any]] ?? []).map { e in
                switch (number(e["type"]), number(e["subtype"])) {
                case (128, 6): return "traffic-rate:\(number(e["as"]) ?? 0):\(e["rate"].map { "\($0)" } ?? "0")"
                default:
                    let data = (try? JSONSerialization.data(withJSONObject: e, options: [.sortedKeys])) ?? Data()
                    return String(decoding: data, as: UTF8.self)
                }
            }
        case 32:
            largeCommunities = (a["value"] as? [[String: Any]] ?? []).map {
                "\(number($0["ASN"]) ?? 0):\(number($0["LocalData1"]) ?? 0):\(number($0["LocalData2"]) ?? 0)"
            }
        default: break
        }
    }
}
