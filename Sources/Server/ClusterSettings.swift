import ClusterBus
import Foundation
import NATSClient
import NATSWire
import Yams

/// What this node is in a cluster (`cluster:`, docs/cluster.md): one process doing everything
/// (`role: all`, the default), a collector that decodes flow exports and publishes them to NATS
/// JetStream, or a detector that analyses the partitions of the subscriber base it owns.
///
/// ```yaml
/// cluster:
///   role: collector            # all | collector | detector (mamori serve --role overrides it)
///   node: collector-1          # this node's name (default: the host name)
///   nats:
///     servers: [nats://10.0.0.11:4222, nats://10.0.0.12:4222, nats://10.0.0.13:4222]
///     user: mamori
///     password_file: /etc/mamori/nats-password
///   bus:
///     partitions: 16           # the same on every node
///     replicas: 3
///     max_megabytes: 4096
///     max_age_minutes: 60
///     ack_wait_seconds: 30
///   partitions: all            # detector: the partitions it reads (a list, or all)
/// ```
public struct ClusterSettings: Sendable {
    public enum Role: String, Sendable, CaseIterable {
        /// Collector and detectors in one process (no bus).
        case all
        /// Decodes flow exports and publishes them to the bus; no detection.
        case collector
        /// Reads its partitions from the bus and runs the detectors; no flow listener.
        case detector
    }

    public var role: Role = .all
    /// This node's name (message ids, the NATS connection's name, logs): 1–64 letters, digits,
    /// '-' or '_'. The default is the host name, with anything else turned into '-'.
    public var node: String = ClusterSettings.nodeName(from: ClusterSettings.localHostName())

    /// The kernel's host name (gethostname(2)), without a DNS lookup: `ProcessInfo.hostName` asks
    /// the resolver for the canonical name, a second or more per configuration where DNS is slow.
    static func localHostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "mamori" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether `name` can name a node.
    public static func isValidNodeName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// A node name made of a host name.
    static func nodeName(from host: String) -> String {
        let cleaned = String(host.prefix(64).map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") ? $0 : "-" })
        return cleaned.isEmpty ? "mamori" : cleaned
    }
    /// The NATS servers (any of a cluster; the client learns the others).
    public var servers: [NATSServerAddress] = []
    public var user: String?
    /// The file holding the NATS password, read at start.
    public var passwordFile: String?
    public var bus = FlowBusSettings()
    /// The partitions a detector reads; nil: all of them.
    public var partitionsOwned: [Int]?

    public init() {}

    /// The partitions this node reads (a detector), in order.
    public var ownedPartitions: [Int] { partitionsOwned ?? Array(0..<bus.partitions) }

    /// Refuses a role that cannot run: a collector or detector without NATS servers, partitions
    /// outside the stream's.
    func validate() throws(ConfigurationError) {
        guard role != .all else { return }
        guard !servers.isEmpty else {
            throw ConfigurationError(
                line: nil, "cluster.nats.servers is required for role \(role.rawValue) (the NATS JetStream servers the nodes share)")
        }
        if let owned = partitionsOwned, let bad = owned.first(where: { !(0..<bus.partitions).contains($0) }) {
            throw ConfigurationError(line: nil, "cluster.partitions: \(bad) is not a partition of 0…\(bus.partitions - 1)")
        }
    }

    /// The NATS client's configuration, with the password read from ``passwordFile``.
    public func natsConfiguration() throws(ConfigurationError) -> NATSClient.Configuration {
        var c = NATSClient.Configuration(servers: servers, name: "mamori-\(role.rawValue)-\(node)")
        c.user = user
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw ConfigurationError(line: nil, "cluster.nats.password_file: cannot read \(passwordFile)")
            }
            c.password = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // A server keeps trying: the bus may come back long after it went away.
        c.maxReconnectAttempts = .max
        c.connectionWait = .seconds(30)
        return c
    }

    static func parse(_ v: YAMLValue) throws(ConfigurationError) -> ClusterSettings {
        var s = ClusterSettings()
        let m = try YAMLMap(v.node, context: "cluster")
        try m.allowOnly(["role", "node", "nats", "bus", "partitions"])
        if let x = m["role"] {
            let text = try x.string()
            guard let role = Role(rawValue: text) else { throw x.error("cluster.role must be all, collector or detector; got '\(text)'") }
            s.role = role
        }
        if let x = m["node"] {
            let text = try x.string()
            guard isValidNodeName(text) else {
                throw x.error("cluster.node must be 1–64 letters, digits, '-' or '_'; got '\(text)'")
            }
            s.node = text
        }
        if let x = m["nats"] {
            let n = try YAMLMap(x.node, context: "cluster.nats")
            try n.allowOnly(["servers", "user", "password_file"])
            if let list = n["servers"] {
                guard case .sequence(let seq) = list.node, !seq.isEmpty else {
                    throw list.error("cluster.nats.servers must be a list of nats://HOST:PORT")
                }
                for item in seq {
                    let value = YAMLValue(node: item, key: "cluster.nats.servers")
                    let text = try value.string()
                    do throws(NATSWireError) {
                        s.servers.append(try NATSServerAddress(parsing: text))
                    } catch {
                        throw value.error("cluster.nats.servers: '\(text)' is not a NATS server address (nats://HOST:PORT): \(error)")
                    }
                }
            }
            if let u = n["user"] { s.user = try u.string() }
            if let p = n["password_file"] { s.passwordFile = try p.string() }
        }
        if let x = m["bus"] {
            let b = try YAMLMap(x.node, context: "cluster.bus")
            try b.allowOnly(["stream", "subject_prefix", "partitions", "replicas", "max_megabytes", "max_age_minutes", "ack_wait_seconds"])
            if let y = b["stream"] {
                let text = try y.string()
                guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                    throw y.error("cluster.bus.stream must be letters, digits, '-' or '_'; got '\(text)'")
                }
                s.bus.stream = text
            }
            if let y = b["subject_prefix"] {
                let text = try y.string()
                let tokens = text.split(separator: ".", omittingEmptySubsequences: false)
                guard !tokens.isEmpty, tokens.allSatisfy({ !$0.isEmpty && $0.allSatisfy { c in c.isASCII && !" *>\t".contains(c) } }) else {
                    throw y.error("cluster.bus.subject_prefix must be NATS subject tokens without wildcards; got '\(text)'")
                }
                s.bus.subjectPrefix = text
            }
            if let y = b["partitions"] { s.bus.partitions = try y.int(in: 1...1_024) }
            if let y = b["replicas"] { s.bus.replicas = try y.int(in: 1...5) }
            if let y = b["max_megabytes"] { s.bus.maximumBytes = Int64(try y.int(in: 1...16_777_216)) << 20 }
            if let y = b["max_age_minutes"] { s.bus.maximumAge = .seconds(60 * (try y.int(in: 1...525_600))) }
            if let y = b["ack_wait_seconds"] { s.bus.acknowledgementWait = .seconds(try y.int(in: 1...3_600)) }
        }
        if let x = m["partitions"] {
            if case .scalar(let text) = x.node, text.string == "all" {
                s.partitionsOwned = nil
            } else {
                guard case .sequence(let seq) = x.node, !seq.isEmpty else {
                    throw x.error("cluster.partitions must be all or a list of partition numbers")
                }
                var owned: [Int] = []
                for item in seq { owned.append(try YAMLValue(node: item, key: "cluster.partitions").int(in: 0...1_023)) }
                s.partitionsOwned = Array(Set(owned)).sorted()
            }
        }
        if let owned = s.partitionsOwned, let bad = owned.first(where: { $0 >= s.bus.partitions }) {
            throw v.error(
                "cluster.partitions: \(bad) is not a partition of 0…\(s.bus.partitions - 1) (cluster.bus.partitions is \(s.bus.partitions))"
            )
        }
        return s
    }
}
