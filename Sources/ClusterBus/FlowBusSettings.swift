import FlowBus
import NATSWire

/// The flow stream of a cluster (`cluster.bus` in the configuration): one JetStream stream whose
/// subjects are the partitions (``FlowBus/FlowBusRouting``). Every node of a cluster must be given
/// the same stream name, subject prefix and partition count.
public struct FlowBusSettings: Sendable, Hashable {
    /// The stream's name.
    public var stream = "MAMORI_FLOWS"
    /// Partition `p` is the subject `<subjectPrefix>.<p>`.
    public var subjectPrefix = "mamori.flows"
    /// Partitions of the subscriber base: the most detector nodes that can share the work.
    public var partitions = 16
    /// Copies of the stream in the NATS cluster (1, or 3 to survive a server's loss).
    public var replicas = 1
    /// The stream's size at most; when it is full, collectors' publishes are refused and counted
    /// (`mamori_bus_lost_records_total{reason="stream_full"}`), never dropped silently.
    public var maximumBytes: Int64 = 1 << 30
    /// How long records stay in the stream once acknowledged or not (a detector that takes over
    /// partitions reads what is still there).
    public var maximumAge: Duration = .seconds(3_600)
    /// A delivered batch not acknowledged within this time goes to the partition's next reader.
    public var acknowledgementWait: Duration = .seconds(30)
    /// Batches one partition may have delivered and not yet acknowledged.
    public var maximumAcknowledgementsPending = 256
    /// The durable consumers' names: `<consumerPrefix>-<partition>`.
    public var consumerPrefix = "mamori-detector"

    public init() {}

    /// The stream as JetStream is asked to keep it.
    public var streamConfig: JetStreamStreamConfig {
        JetStreamStreamConfig(
            name: stream, subjects: ["\(subjectPrefix).*"], retention: .limits, storage: .file, replicas: replicas,
            maxBytes: maximumBytes, maxAge: maximumAge, discard: .new, duplicateWindow: .seconds(120))
    }

    /// Partition `p`'s durable consumer.
    public func consumerConfig(partition p: Int) -> JetStreamConsumerConfig {
        JetStreamConsumerConfig(
            durableName: "\(consumerPrefix)-\(p)", ackPolicy: .explicit, ackWait: acknowledgementWait, maxDeliver: -1,
            filterSubject: "\(subjectPrefix).\(p)", maxAckPending: maximumAcknowledgementsPending)
    }
}
