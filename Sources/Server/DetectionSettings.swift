import Detection
import FlowCodec
import MamoriCore

/// The `detection:` section of the configuration file.
public struct DetectionSettings: Sendable {
    /// The carrier's subscriber address space. The default is the address plan of
    /// `mamori simulate` (benchmarking and documentation ranges no real network uses), so the
    /// README's demo works out of the box; a carrier sets its own.
    public var subscriberPrefixes: [IPPrefix] = [IPPrefix("198.18.0.0/15")!, IPPrefix("100.64.0.0/10")!, IPPrefix("2001:db8::/32")!]
    public var infrastructurePrefixes: [IPPrefix] = [IPPrefix("198.19.254.0/23")!]
    public var cgnatPools: [CGNATPool] = [CGNATPool(prefix: IPPrefix("198.18.0.0/17")!, firstPort: 1024, portsPerBlock: 1008)]
    /// Indicator list file (see `EndpointList`), read at start.
    public var indicatorsFile: String?
    /// Allowlist file, read at start (analyst false-positive verdicts are added to it).
    public var allowlistFile: String?
    /// Findings not seen for this long are deleted.
    public var retentionDays: Int = 90
    /// Whether the subscriber prefixes were left at the demo default (logged as a warning).
    public var usesDemoNetwork = true

    public init() {}

    public func network() -> NetworkLayout {
        NetworkLayout(subscriberPrefixes: subscriberPrefixes, infrastructurePrefixes: infrastructurePrefixes, cgnatPools: cgnatPools)
    }
}
