import Foundation

/// A real BIRD 2 (Debian's `bird2`) as a BGP test peer on loopback: started in the foreground
/// with a generated configuration, its own temporary directory and control socket, read back
/// through `birdc` (``routes(table:)``, ``status()``). Stop it with ``stop()`` (a `defer` in the
/// test); deinit kills it too.
///
/// The configuration that works with a neighbour on another loopback address (127.0.0.2):
/// - `multihop`: BIRD refuses a single-hop eBGP neighbour that is not on a directly connected
///   network ("Invalid remote address 127.0.0.2"; lo's 127.0.0.0/8 does not count).
/// - Next hops are recursive (the default with `multihop`) through IGP tables of their own,
///   `igptab4`/`igptab6`, that hold only a static `0.0.0.0/0 blackhole` and `::/0 blackhole`: any
///   next hop (192.0.2.1, 127.0.0.1, 2001:db8::1) resolves, and the route shows in `master4` /
///   `master6` as `blackhole` — which is what an RTBH router does — while those tables hold BGP
///   routes only.
/// - FlowSpec channels `flow4`/`flow6` into tables `flowtab4`/`flowtab6` with `validate off`, so
///   rules from an eBGP neighbour are accepted without the RFC 8955 origin check.
/// - With `multihop`, the neighbour may also be 127.0.0.1 itself (another port; tried by hand
///   with gobgpd connecting from 127.0.0.1): BIRD tells neighbours apart by address only, so one
///   BIRD protocol per neighbour address.
/// - `strict bind` makes BIRD listen on `localAddress` only (not 0.0.0.0), so parallel
///   instances do not collide.
public final class BIRDPeer: @unchecked Sendable {
    // @unchecked: used from one test task at a time.

    /// What the generated configuration says.
    public struct Configuration: Sendable {
        /// BIRD's router id.
        public var routerID = "127.0.0.1"
        /// Where BIRD listens (and connects from when active).
        public var localAddress = "127.0.0.1"
        /// BIRD's BGP port; nil picks a free one.
        public var localPort: Int?
        public var localAS: UInt32 = 65001
        /// The neighbour's address: BIRD accepts a session from this address only.
        public var neighborAddress = "127.0.0.2"
        /// The neighbour's port, for an active BIRD (`passive == false`).
        public var neighborPort = 179
        /// The same as ``localAS`` for iBGP.
        public var neighborAS: UInt32 = 65002
        /// True: BIRD only listens and never connects.
        public var passive = true
        /// The BGP protocol's name in the configuration and `birdc`.
        public var protocolName = "peer"
        /// BIRD's hold time (nil: BIRD's default, 240 s).
        public var holdTime: Int?
        /// Extra lines for the BGP protocol block (`add paths rx;` …).
        public var extraProtocolLines: [String] = []

        public init() {}
    }

    public let configuration: Configuration
    /// BIRD's BGP port.
    public let port: Int
    /// The generated configuration (for the message of a failing test, and for reuse).
    public let configText: String
    /// BIRD's control socket.
    public let socketPath: String
    private let directory: TemporaryDirectory
    private let process: RunningPeer
    private let birdc: ExternalPeer

    /// Starts BIRD and waits (at most `timeout`) until its control socket answers; throws with
    /// what BIRD printed when it does not start. Throws a clear error when bird2 is not installed.
    public init(_ configuration: Configuration = Configuration(), timeout: Duration = .seconds(60)) async throws {
        let bird = try ExternalPeer.require("bird", debianPackage: "bird2")
        birdc = try ExternalPeer.require("birdc", debianPackage: "bird2")
        self.configuration = configuration
        directory = try TemporaryDirectory()
        port = try configuration.localPort ?? freeTCPPort()
        socketPath = directory.path + "/bird.ctl"
        let logPath = directory.path + "/bird.log"
        configText = BIRDPeer.config(configuration, port: port, logPath: logPath)
        let configPath = directory.path + "/bird.conf"
        try configText.write(toFile: configPath, atomically: true, encoding: .utf8)
        let outputPath = directory.path + "/bird.out"
        process = try bird.start(["-f", "-c", configPath, "-s", socketPath, "-P", directory.path + "/bird.pid"], outputFile: outputPath)
        let deadline = ContinuousClock.now + timeout
        while true {
            if process.isRunning, let r = try? await birdc.runToExit(["-s", socketPath, "show", "status"], timeout: .seconds(5)),
                r.status == 0, r.stdout.contains("Daemon is up")
            {
                break
            }
            if !process.isRunning || ContinuousClock.now > deadline {
                process.stop()
                throw PeerError(
                    "BIRD did not start\(process.isRunning ? " within \(timeout)" : ""):\n\(describeFiles(outputPath, logPath))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The configuration for `c`, BIRD listening on `port`, logging to `logPath`.
    public static func config(_ c: Configuration, port: Int, logPath: String) -> String {
        var bgp = [
            "local \(c.localAddress) port \(port) as \(c.localAS);",
            "neighbor \(c.neighborAddress) port \(c.neighborPort) as \(c.neighborAS);",
            "multihop;",
            "strict bind;",
            "connect delay time 1;",
            "connect retry time 2;",
            "error wait time 1, 5;",
        ]
        if c.passive { bgp.append("passive;") }
        if let holdTime = c.holdTime { bgp.append("hold time \(holdTime);") }
        bgp += c.extraProtocolLines
        bgp += [
            "ipv4 { import all; export none; igp table igptab4; };",
            "ipv6 { import all; export none; igp table igptab6; };",
            "flow4 { table flowtab4; import all; export none; validate off; };",
            "flow6 { table flowtab6; import all; export none; validate off; };",
        ]
        return """
            router id \(c.routerID);
            log "\(logPath)" all;
            debug protocols { states, events };
            ipv4 table master4;
            ipv6 table master6;
            ipv4 table igptab4;
            ipv6 table igptab6;
            flow4 table flowtab4;
            flow6 table flowtab6;
            protocol device { }
            protocol static igp4 { ipv4 { table igptab4; }; route 0.0.0.0/0 blackhole; }
            protocol static igp6 { ipv6 { table igptab6; }; route ::/0 blackhole; }
            protocol bgp \(c.protocolName) {
            \(bgp.map { "    " + $0 }.joined(separator: "\n"))
            }

            """
    }

    /// Runs `birdc -s <socket> <arguments>` (at most 10 s) and returns what it printed.
    @discardableResult
    public func birdc(_ arguments: [String]) async throws -> String {
        try await birdc.run(["-s", socketPath] + arguments, timeout: .seconds(10))
    }

    /// `show protocols all <name>`, parsed.
    public func status() async throws -> BIRDProtocolStatus {
        try BIRDProtocolStatus.parse(await birdc(["show", "protocols", "all", configuration.protocolName]))
    }

    /// The BGP state (`Established`, `Passive`, `Active`, `Idle` …).
    public var sessionState: String {
        get async throws { try await status().bgpState ?? "" }
    }

    /// BIRD's last error for the session (a NOTIFICATION received or sent, a socket error), if any.
    public var lastError: String? {
        get async throws { try await status().lastError }
    }

    /// Waits (at most `timeout`) until the session is established; throws with BIRD's status and log otherwise.
    public func waitEstablished(timeout: Duration = .seconds(90)) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            guard process.isRunning else { break }
            if let s = try? await status() {
                if s.bgpState == "Established" { return }
                last = s.text
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PeerError(
            "BIRD's session \(configuration.protocolName) was not established within \(timeout):\n\(last)\n\(describeFiles(directory.path + "/bird.log"))"
        )
    }

    /// The routes of `table` (`master4`, `master6`, `flowtab4`, `flowtab6`), parsed from
    /// `show route table <table> all`.
    public func routes(table: String) async throws -> [BIRDRoute] {
        BIRDRoute.parse(try await birdc(["show", "route", "table", table, "all"]))
    }

    /// Waits (at most `timeout`) until the routes of `table` satisfy `condition`, and returns them;
    /// throws with the last routes seen otherwise.
    @discardableResult
    public func waitForRoutes(table: String, timeout: Duration = .seconds(60), _ condition: ([BIRDRoute]) -> Bool) async throws
        -> [BIRDRoute]
    {
        let deadline = ContinuousClock.now + timeout
        var last: [BIRDRoute] = []
        while ContinuousClock.now < deadline {
            last = try await routes(table: table)
            if condition(last) { return last }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw PeerError("BIRD's table \(table) did not reach the expected state within \(timeout); it holds:\n\(last)")
    }

    /// BIRD's log so far (for the message of a failing test).
    public var log: String { describeFiles(directory.path + "/bird.log", directory.path + "/bird.out") }

    /// Stops BIRD (SIGTERM, then SIGKILL after 10 s); idempotent.
    public func stop() { process.stop() }

    deinit { process.stop(signal: SIGKILL) }
}

/// The contents of the files that exist among `paths`, each with its name (the last 4000 characters).
func describeFiles(_ paths: String...) -> String {
    paths.compactMap { p in
        (try? String(contentsOfFile: p, encoding: .utf8)).map { "--- \((p as NSString).lastPathComponent):\n\($0.suffix(4000))" }
    }.joined(separator: "\n")
}

/// One BGP protocol's state from `birdc show protocols all <name>`.
public struct BIRDProtocolStatus: Sendable, Equatable {
    /// The State column: `up`, `start`, `down` …
    public var state: String
    /// The Info column: `Established`, `Passive`, `Error: …` …
    public var info: String
    /// `BGP state:` — `Established`, `Passive`, `Active`, `Idle`, `Down` …
    public var bgpState: String?
    /// `Last error:` — such as `Received: Bad peer AS` or `Error: Hold timer expired`.
    public var lastError: String?
    /// `Neighbor address:`.
    public var neighborAddress: String?
    /// The whole output.
    public var text: String

    public static func parse(_ text: String) throws -> BIRDProtocolStatus {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let header = lines.firstIndex(where: { $0.hasPrefix("Name ") }), header + 1 < lines.count else {
            throw PeerError("unexpected birdc output:\n\(text)")
        }
        let columns = lines[header + 1].split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        // Name Proto Table State Since(time, or date and time) Info…
        guard columns.count >= 5 else { throw PeerError("unexpected birdc protocol line: \(lines[header + 1])") }
        let rest = columns.dropFirst(4)
        // Since is one token ("17:30:14.363") or two ("2026-12-06 17:30:14").
        let sinceTokens = rest.count > 1 && rest[rest.startIndex + 1].contains(":") && rest.first!.contains("-") ? 2 : 1
        let info = rest.dropFirst(sinceTokens).joined(separator: " ")
        func field(_ name: String) -> String? {
            lines.lazy.map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix(name + ":") }.map {
                String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces)
            }
        }
        return BIRDProtocolStatus(
            state: columns[3], info: info, bgpState: field("BGP state"), lastError: field("Last error"),
            neighborAddress: field("Neighbor address"), text: text)
    }
}

/// One route from `birdc show route table <t> all`.
public struct BIRDRoute: Sendable, Equatable, CustomStringConvertible {
    /// The prefix (`203.0.113.7/32`) or the FlowSpec rule as BIRD writes it
    /// (`flow4 { dst 203.0.113.7/32; proto 17; sport 123; }`).
    public var network: String
    /// What comes between the network and the `[protocol …]` part: `blackhole`, `unreachable`,
    /// `via 192.0.2.1 on lo` — empty for FlowSpec.
    public var gateway: String
    /// The protocol the route came from (`peer`).
    public var fromProtocol: String
    /// `BGP.next_hop` (one or two addresses, space-separated as BIRD prints them).
    public var nextHop: String?
    /// `BGP.as_path`.
    public var asPath: [UInt32]
    /// `BGP.community` as `"65535:666"`.
    public var communities: [String]
    /// `BGP.ext_community`, each as BIRD writes it without parentheses: `"generic, 0x80060000, 0x0"`, `"rt, 65001, 1"`.
    public var extendedCommunities: [String]
    /// `BGP.large_community` as `"65001:1:2"`.
    public var largeCommunities: [String]
    /// Every `name: value` attribute line (`BGP.origin`, `BGP.local_pref`, `Type` …).
    public var attributes: [String: String]
    /// True for the best route of its network (BIRD's `*`).
    public var isBest: Bool

    /// Whether the route carries community `asn:value` (BLACKHOLE is 65535:666).
    public func hasCommunity(_ asn: UInt16, _ value: UInt16) -> Bool { communities.contains("\(asn):\(value)") }

    /// `BGP.community` as pairs.
    public var communityPairs: [(UInt16, UInt16)] {
        communities.compactMap { c in
            let parts = c.split(separator: ":")
            guard parts.count == 2, let a = UInt16(parts[0]), let v = UInt16(parts[1]) else { return nil }
            return (a, v)
        }
    }

    /// The FlowSpec traffic-rate in bytes per second (0: discard), decoded from BIRD's
    /// `(generic, 0x8006xxxx, 0x<float>)` extended community; nil when there is none.
    public var trafficRate: Float? {
        for e in extendedCommunities {
            let parts = e.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 3, parts[0] == "generic", parts[1].lowercased().hasPrefix("0x8006"),
                let bits = UInt32(parts[2].dropFirst(2), radix: 16)
            else { continue }
            return Float(bitPattern: bits)
        }
        return nil
    }

    public var description: String {
        "\(network) \(gateway) [\(fromProtocol)] next hop \(nextHop ?? "-") as path \(asPath) communities \(communities) ext \(extendedCommunities) large \(largeCommunities)"
    }

    /// Parses the whole output of `show route … all`.
    public static func parse(_ text: String) -> [BIRDRoute] {
        var routes: [BIRDRoute] = []
        var network = ""
        for raw in text.split(separator: "\n") {
            let line = String(raw)
            if line.hasPrefix("BIRD ") || line.hasPrefix("Table ") || line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            if line.hasPrefix("\t") {
                // An attribute of the route before: "\tBGP.community: (65535,666) (65535,65281)".
                guard !routes.isEmpty, let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].trimmingCharacters(in: .whitespaces)
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                routes[routes.count - 1].add(name, value)
                continue
            }
            var head = Substring(line)
            if line.hasPrefix(" ") {
                // Another route for the network before.
                head = head.drop { $0 == " " }
            } else if line.hasPrefix("flow"),
                let close = line.range(of: "}", options: .backwards, range: line.startIndex..<(line.firstIndex(of: "[") ?? line.endIndex))
            {
                network = String(line[..<close.upperBound])
                head = line[close.upperBound...]
            } else {
                let token = line.prefix { $0 != " " }
                network = String(token)
                head = line[token.endIndex...]
            }
            guard let open = head.firstIndex(of: "[") else { continue }
            let gateway = head[..<open].trimmingCharacters(in: .whitespaces)
            let bracket = head[head.index(after: open)...].prefix { $0 != "]" }
            let protocolName = bracket.split(separator: " ").first.map(String.init) ?? ""
            let afterBracket = head[head.index(after: open)...].drop { $0 != "]" }.dropFirst()
            let isBest = afterBracket.trimmingCharacters(in: .whitespaces).hasPrefix("*")
            routes.append(
                BIRDRoute(
                    network: network, gateway: gateway, fromProtocol: protocolName, nextHop: nil, asPath: [], communities: [],
                    extendedCommunities: [], largeCommunities: [], attributes: [:], isBest: isBest))
        }
        return routes
    }

    private mutating func add(_ name: String, _ value: String) {
        attributes[name] = value
        switch name {
        case "BGP.next_hop": nextHop = value
        case "BGP.as_path": asPath = value.split(separator: " ").compactMap { UInt32($0) }
        case "BGP.community": communities = BIRDRoute.tuples(value).map { $0.joined(separator: ":") }
        case "BGP.large_community": largeCommunities = BIRDRoute.tuples(value).map { $0.joined(separator: ":") }
        case "BGP.ext_community": extendedCommunities = BIRDRoute.tuples(value).map { $0.joined(separator: ", ") }
        default: break
        }
    }

    /// `"(65535,666) (65535,65281)"` → `[["65535", "666"], ["65535", "65281"]]`.
    static func tuples(_ value: String) -> [[String]] {
        value.split(separator: ")").compactMap { chunk in
            let inner = chunk.drop { $0 == " " || $0 == "(" }
            let parts = inner.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            return parts.isEmpty ? nil : parts
        }
    }
}
