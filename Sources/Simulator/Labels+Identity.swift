import FlowCodec

extension Labels {
    /// The identity systems of a run, so a test or an attribution engine knows what to expect.
    /// Every line's identity is ``IdentityPlan/identity(of:)`` of its subscriber; the infected
    /// devices carry theirs (`account`, `provisioning`).
    public struct IdentitySources: Sendable, Hashable, Codable {
        /// RADIUS NAS-IP-Addresses (BNGs 198.19.252.1+, packet gateways 198.19.252.129+).
        public var nasAddresses: [String]
        /// The CGNAT box's IPFIX source address and syslog host name.
        public var cgnatLoggerAddress: String
        public var cgnatLoggerHost: String
        /// `cust-` and 8 digits.
        public var accountFormat: String
        /// Lines provisioned by RADIUS and by DHCP.
        public var radiusLines: Int
        public var dhcpLines: Int

        init(model: ISPModel) {
            var nas = Set<IPAddress>()
            var radius = 0
            let seed = model.configuration.seed
            let start = model.configuration.startMilliseconds
            for s in model.subscribers {
                nas.insert(IdentityPlan.nasAddress(line: s.line, exporterIndex: Int(s.exporterIndex)))
                if IdentityPlan.timing(of: s, seed: seed, start: start).0 == .radius { radius += 1 }
            }
            nasAddresses = nas.sorted().map { "\($0)" }
            cgnatLoggerAddress = "\(IdentityPlan.cgnatLoggerAddress)"
            cgnatLoggerHost = IdentityPlan.cgnatLoggerHost
            accountFormat = "cust-NNNNNNNN"
            radiusLines = radius
            dhcpLines = model.subscribers.count - radius
        }
    }
}
