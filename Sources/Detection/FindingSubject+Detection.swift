import FlowCodec
import MamoriCore

/// Finding subjects from the detectors' own types (the finding itself is a core value).
extension FindingSubject {
    public static func endpoint(_ e: Endpoint) -> FindingSubject {
        FindingSubject(type: .endpoint, address: "\(e.address)", port: e.port, protocol: protocolName(e.ipProtocol), ports: nil)
    }

    public static func host(_ h: InternalHost) -> FindingSubject {
        FindingSubject(
            type: .host, address: h.address.isIPv6 ? "\(h.address)/64" : "\(h.address)", port: nil, protocol: nil,
            ports: h.ports.map { PortRange(first: $0.lowerBound, last: $0.upperBound) })
    }

    public static func address(_ a: IPAddress) -> FindingSubject {
        FindingSubject(type: .address, address: "\(a)", port: nil, protocol: nil, ports: nil)
    }
}
