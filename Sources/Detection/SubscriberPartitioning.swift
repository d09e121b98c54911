import FlowCodec

/// Which share of the subscriber base an address belongs to: the one split that the detector
/// workers of one process (``ShardedFlowAnalyzer``) and a cluster's bus partitions (the
/// `FlowBus` module, issue 25) both use, so that every record about a subscriber host reaches the
/// one analyzer that follows that host.
///
/// A record belongs to its subscriber-side host (``NetworkLayout/crossing(of:)``), whichever way
/// it crosses; records that cross nowhere analysed belong to no host and may go anywhere.
public enum SubscriberPartitioning {
    /// The partition (0..<`count`) of a subscriber address: a keyless 64-bit mix of both halves,
    /// the same on every node and in every release (a change would move hosts between nodes).
    @inlinable public static func partition(of address: IPAddress, count: Int) -> Int {
        guard count > 1 else { return 0 }
        return Int(mix64(address.high ^ mix64(address.low)) % UInt64(count))
    }

    /// The subscriber host a record is about (nil when it crosses nowhere analysed).
    public static func subscriberAddress(of record: FlowRecord, in network: NetworkLayout) -> IPAddress? {
        switch network.crossing(of: record) {
        case .outbound(let host, _, _, _), .inbound(let host, _, _, _): host.address
        case .other, .specialPurpose: nil
        }
    }
}
