import Foundation
import Logging
import NATSClient
import NATSWire
import NIOCore
import ServiceLifecycle

/// What one node says of itself when `mamori cluster status` asks (over NATS request/reply: every
/// node of the cluster answers on the stream's status subject).
public struct NodeStatus: Codable, Sendable, Hashable {
    public var node: String
    public var role: String
    /// The partitions a detector reads (empty for other roles).
    public var partitions: [Int]
    public var ready: Bool
    /// Why it is not ready (empty when it is).
    public var reasons: [String]
    /// `ok`, or `degraded` when a store cannot be written (as /healthz says).
    public var storage: String
    /// Records decoded (collector) or read from the bus (detector) since the start.
    public var flowRecords: Int
    public var uptimeSeconds: Int

    public init(
        node: String, role: String, partitions: [Int], ready: Bool, reasons: [String], storage: String, flowRecords: Int, uptimeSeconds: Int
    ) {
        self.node = node
        self.role = role
        self.partitions = partitions
        self.ready = ready
        self.reasons = reasons
        self.storage = storage
        self.flowRecords = flowRecords
        self.uptimeSeconds = uptimeSeconds
    }
}

/// Answers `mamori cluster status` for this node: subscribes to the stream's status subject and
/// replies to each request with ``NodeStatus`` as JSON. Requests carry nothing the node reads.
public struct ClusterStatusResponder: Service {
    let client: NATSClient
    let subject: String
    let report: @Sendable () async -> NodeStatus
    let logger: Logger

    public init(client: NATSClient, settings: FlowBusSettings, logger: Logger, report: @escaping @Sendable () async -> NodeStatus) {
        self.client = client
        self.subject = ClusterStatus.subject(settings)
        self.report = report
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let subscription = try await client.subscribe(to: subject)
                    for try await request in subscription {
                        guard let replyTo = request.replyTo else { continue }
                        let body = (try? JSONEncoder().encode(await report())) ?? Data("{}".utf8)
                        try? await client.publish(ByteBuffer(bytes: body), to: replyTo)
                    }
                } catch {
                    if Task.isCancelled { return }
                    logger.debug("cluster status: the subscription ended; subscribing again", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}

/// The cluster as NATS sees it: the nodes that answer, the flow stream, and each partition's
/// consumer (its backlog, what waits for an ack, what was delivered again).
public struct ClusterStatus: Sendable {
    public struct Partition: Sendable, Hashable {
        public var partition: Int
        /// Nil when the partition has no consumer yet (no detector ever read it).
        public var consumer: JetStreamConsumerInfo?
        /// The nodes that say they read it.
        public var owners: [String]
    }

    public var nodes: [NodeStatus]
    public var stream: JetStreamStreamInfo?
    /// Why the stream could not be read (nil when it was).
    public var streamError: String?
    public var partitions: [Partition]

    /// The subject the nodes answer status requests on.
    public static func subject(_ settings: FlowBusSettings) -> String { "mamori.status.\(settings.stream)" }

    /// Asks every node (answers that come within `wait`), and reads the stream and its consumers.
    public static func gather(client: NATSClient, settings: FlowBusSettings, wait: Duration = .seconds(2)) async throws -> ClusterStatus {
        let replies = try await client.collect(ByteBuffer(), to: subject(settings), limit: 1_000, timeout: wait, isLast: { _ in false })
        let nodes = replies.compactMap { try? JSONDecoder().decode(NodeStatus.self, from: Data($0.payload.readableBytesView)) }
            .sorted { ($0.role, $0.node) < ($1.role, $1.node) }
        let js = JetStream(client: client)
        var stream: JetStreamStreamInfo?
        var streamError: String?
        do {
            stream = try await js.streamInfo(settings.stream)
        } catch {
            streamError = "\(error)"
        }
        var partitions: [Partition] = []
        for p in 0..<settings.partitions {
            let name = settings.consumerConfig(partition: p).durableName ?? "\(p)"
            let info = stream == nil ? nil : try? await js.consumerInfo(stream: settings.stream, consumer: name)
            let owners = nodes.filter { $0.role == "detector" && $0.partitions.contains(p) }.map(\.node)
            partitions.append(Partition(partition: p, consumer: info, owners: owners))
        }
        return ClusterStatus(nodes: nodes, stream: stream, streamError: streamError, partitions: partitions)
    }

    /// A table for a terminal.
    public var rendered: String {
        var out = ""
        if let s = stream {
            let servers = [s.cluster?.leader].compactMap { $0 } + (s.cluster?.replicas ?? []).map(\.name)
            out += "stream \(s.config.name): \(s.state.messages) batches, \(s.state.bytes / 1_048_576) MiB"
            out += ", replicas \(s.config.replicas ?? 1)"
            if let leader = s.cluster?.leader { out += ", leader \(leader)" }
            if !servers.isEmpty { out += " (servers \(servers.joined(separator: ", ")))" }
            out += "\n"
        } else {
            out += "stream: not readable (\(streamError ?? "unknown"))\n"
        }
        out += "\nnodes (\(nodes.count) answered):\n"
        let nodeWidths = [max(12, (nodes.map(\.node.count).max() ?? 0) + 2), 10, 6, 9, 12, 10]
        out += pad(["node", "role", "ready", "storage", "records", "uptime", "partitions / reasons"], nodeWidths) + "\n"
        for n in nodes {
            let detail = n.ready ? (n.partitions.isEmpty ? "-" : ranges(n.partitions)) : n.reasons.joined(separator: "; ")
            out +=
                pad([n.node, n.role, n.ready ? "yes" : "NO", n.storage, "\(n.flowRecords)", "\(n.uptimeSeconds) s", detail], nodeWidths)
                + "\n"
        }
        out += "\npartitions:\n"
        let partitionWidths = [11, 10, 13, 13]
        out += pad(["partition", "pending", "ack-pending", "redelivered", "read by"], partitionWidths) + "\n"
        for p in partitions {
            let c = p.consumer
            out +=
                pad(
                    [
                        "\(p.partition)", c.map { "\($0.pending)" } ?? "-", c.map { "\($0.ackPending)" } ?? "-",
                        c.map { "\($0.redelivered)" } ?? "-", p.owners.isEmpty ? "NOBODY" : p.owners.joined(separator: ", "),
                    ], partitionWidths) + "\n"
        }
        let unread = partitions.filter(\.owners.isEmpty).map(\.partition)
        if !unread.isEmpty && !nodes.isEmpty {
            out += "\nwarning: no detector answered for partitions \(ranges(unread)): their hosts are not analysed\n"
        }
        return out
    }

    /// Columns padded to `widths` (each at least one wider than its text); the last is not padded.
    func pad(_ columns: [String], _ widths: [Int]) -> String {
        columns.enumerated().map { i, c in
            i < columns.count - 1 ? c.padding(toLength: max(i < widths.count ? widths[i] : 0, c.count + 1), withPad: " ", startingAt: 0) : c
        }.joined()
    }

    /// `0-7,9`.
    func ranges(_ list: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        let sorted = list.sorted()
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
            parts.append(i == j ? "\(sorted[i])" : "\(sorted[i])-\(sorted[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}

extension ClusterStatus {
    /// The status as one JSON document.
    public var json: String {
        struct Partition: Encodable {
            var partition: Int
            var pending: UInt64?
            var ackPending: Int?
            var redelivered: Int?
            var readBy: [String]
        }
        struct Stream: Encodable {
            var name: String
            var messages: UInt64
            var bytes: UInt64
            var replicas: Int
            var leader: String?
        }
        struct Document: Encodable {
            var stream: Stream?
            var streamError: String?
            var nodes: [NodeStatus]
            var partitions: [Partition]
        }
        let document = Document(
            stream: stream.map {
                Stream(
                    name: $0.config.name, messages: $0.state.messages, bytes: $0.state.bytes, replicas: $0.config.replicas ?? 1,
                    leader: $0.cluster?.leader)
            },
            streamError: streamError, nodes: nodes,
            partitions: partitions.map {
                Partition(
                    partition: $0.partition, pending: $0.consumer?.pending, ackPending: $0.consumer?.ackPending,
                    redelivered: $0.consumer?.redelivered, readBy: $0.owners)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: (try? encoder.encode(document)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
