import Detection
import FlowCodec

/// How the cluster's flow records are split over the bus (issue 25): a fixed number of
/// partitions, each a subject of the stream (`<prefix>.<partition>`), each record on the partition
/// of its subscriber host (``SubscriberPartitioning``) — so the detector that owns a partition
/// sees every record about its hosts, as a worker of one process does.
///
/// Records about no subscriber host (transit, both ends inside, special-purpose remotes) are
/// spread round-robin: the detectors only count them.
public struct FlowBusRouting: Sendable {
    /// Partitions of the stream; every node of a cluster must agree on it.
    public let partitions: Int
    /// The subject prefix (`mamori.flows`): partition `p` is `<prefix>.<p>`.
    public let subjectPrefix: String
    let network: NetworkLayout
    var spread = 0

    public static let maximumPartitions = 1_024

    public init(partitions: Int, subjectPrefix: String = "mamori.flows", network: NetworkLayout) {
        self.partitions = min(max(1, partitions), Self.maximumPartitions)
        self.subjectPrefix = subjectPrefix
        self.network = network
    }

    /// Partition `p`'s subject.
    public func subject(of partition: Int) -> String { "\(subjectPrefix).\(partition)" }

    /// The wildcard that covers every partition (the stream's subject).
    public var wildcard: String { "\(subjectPrefix).*" }

    /// The partition a subject names (nil for any other subject).
    public func partition(ofSubject subject: String) -> Int? {
        guard subject.hasPrefix(subjectPrefix + "."), let p = Int(subject.dropFirst(subjectPrefix.count + 1)), (0..<partitions).contains(p)
        else { return nil }
        return p
    }

    /// The partition of one record.
    public mutating func partition(of record: FlowRecord) -> Int {
        if let host = SubscriberPartitioning.subscriberAddress(of: record, in: network) {
            return SubscriberPartitioning.partition(of: host, count: partitions)
        }
        spread = (spread + 1) % partitions
        return spread
    }

    /// The records split by partition, each list in the order the records came (`into` is
    /// emptied first and keeps its capacity).
    public mutating func split(_ records: some Sequence<FlowRecord>, into parts: inout [[FlowRecord]]) {
        if parts.count != partitions { parts = Array(repeating: [], count: partitions) }
        for i in parts.indices { parts[i].removeAll(keepingCapacity: true) }
        for r in records { parts[partition(of: r)].append(r) }
    }

    /// ``split(_:into:)``, and each record's place in `records` beside it (so that a detector
    /// owning several partitions can put the records back in their order).
    public mutating func split(_ records: some Sequence<FlowRecord>, into parts: inout [[FlowRecord]], positions: inout [[Int]]) {
        if parts.count != partitions { parts = Array(repeating: [], count: partitions) }
        if positions.count != partitions { positions = Array(repeating: [], count: partitions) }
        for i in parts.indices {
            parts[i].removeAll(keepingCapacity: true)
            positions[i].removeAll(keepingCapacity: true)
        }
        for (i, r) in records.enumerated() {
            let p = partition(of: r)
            parts[p].append(r)
            positions[p].append(i)
        }
    }
}
