import Detection
import FlowCodec
import MamoriCore
import Simulator

/// The bots a detector could see: per labelled C&C endpoint, the distinct subscriber hosts that
/// the flows show contacting it. ``LabelEvaluation`` uses the counts to pick the C&C endpoints
/// with at least ten bots.
public struct CommandAndControlContacts: Sendable {
    private let layout: NetworkLayout
    private let endpoints: [Endpoint: String]
    private var hosts: [String: Set<InternalHost>] = [:]

    public init(labels: Labels, layout: NetworkLayout) {
        self.layout = layout
        var endpoints: [Endpoint: String] = [:]
        for c in labels.commandAndControl {
            guard let a = IPAddress(c.address) else { continue }
            let e = Endpoint(address: a, port: c.port, ipProtocol: c.protocol == "udp" ? 17 : 6)
            endpoints[e] = e.description
        }
        self.endpoints = endpoints
    }

    /// Notes one flow record.
    public mutating func observe(_ r: FlowRecord) {
        guard !endpoints.isEmpty,
            let key = endpoints[Endpoint(address: r.destinationAddress, port: r.destinationPort, ipProtocol: r.ipProtocol)],
            layout.subscriberPrefixes.contains(r.sourceAddress)
        else { return }
        hosts[key, default: []].insert(layout.host(r.sourceAddress, port: r.sourcePort))
    }

    /// Distinct hosts per endpoint (`Endpoint.description`).
    public var counts: [String: Int] { hosts.mapValues(\.count) }
}
