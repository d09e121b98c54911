import FlowCodec
import IdentityCodec

/// The CGNAT box as an IPFIX exporter of NAT events (198.19.253.1, observation domain 1): turns
/// port-block events into export datagrams that travel with the routers' flow export.
public struct CGNATEventExporter: Sendable {
    private var encoder = NATEventEncoder(observationDomain: 1)
    /// Index given to its datagrams (after the routers'), e.g. for a distinct source port in a pcap.
    public let exporterIndex: Int

    public init(exporterIndex: Int) { self.exporterIndex = exporterIndex }

    /// The IPFIX messages carrying `blocks`, sent at `time`.
    public mutating func datagrams(for blocks: [NATPortBlockEvent], time: Int64) -> [SimulatedDatagram] {
        guard !blocks.isEmpty else { return [] }
        return encoder.encode(IdentityPlan.natEventRecords(blocks), exportTimeMilliseconds: time).map {
            SimulatedDatagram(exporterIndex: exporterIndex, exporter: IdentityPlan.cgnatLoggerAddress, timeMilliseconds: time, payload: $0)
        }
    }
}
