import FlowCodec
import FlowEncoding
import IdentityCodec

/// The CGNAT box as an IPFIX exporter of NAT events (198.19.253.1, observation domain 1): turns
/// port-block events into export datagrams that travel with the routers' flow export.
public struct CGNATEventExporter: Sendable {
    private var encoder = NATEventEncoder(observationDomain: 1)
    /// Index given to its datagrams (after the routers'), e.g. for a distinct source port in a pcap.
    public let exporterIndex: Int

    public init(exporterIndex: Int) { self.exporterIndex = exporterIndex }

    /// How long before its export a block's allocation may be stamped (ms).
    public static let earliestAnnouncement: Int64 = 6 * 3_600_000

    /// The IPFIX messages carrying `blocks`, sent at `time`.
    ///
    /// A block allocated more than six hours before `time` (the blocks held when the simulated
    /// world begins, some allocated days earlier) is announced as allocated six hours before:
    /// a real CGNAT exported that event when it happened, to a collector listening then, and a
    /// live collector refuses a record that started more than a day before it arrives
    /// (`collector.max_record_age_seconds`). Six hours still cover everything the world's first
    /// hours are asked about (a scan window reaches ten minutes back), and leave room for a
    /// `--fast` world of up to 18 hours.
    public mutating func datagrams(for blocks: [NATPortBlockEvent], time: Int64) -> [SimulatedDatagram] {
        guard !blocks.isEmpty else { return [] }
        let announced = blocks.map { b in
            var b = b
            b.timeMilliseconds = max(b.timeMilliseconds, time - Self.earliestAnnouncement)
            return b
        }
        return encoder.encode(IdentityPlan.natEventRecords(announced), exportTimeMilliseconds: time).map {
            SimulatedDatagram(exporterIndex: exporterIndex, exporter: IdentityPlan.cgnatLoggerAddress, timeMilliseconds: time, payload: $0)
        }
    }
}
