import FlowCodec

extension ISPModel {
    /// Everything that shapes a simulated world. Two equal configurations build identical worlds
    /// and identical export datagrams.
    public struct Configuration: Sendable, Hashable {
        /// Seed of every random choice.
        public var seed: UInt64
        /// Subscriber lines (up to 4,000,000).
        public var subscribers: Int
        /// Share of lines that are mobile (always behind CGNAT, one phone each).
        public var mobileFraction: Double = 0.3
        /// Share of broadband lines with their own public IPv4 address; the rest are behind CGNAT.
        public var publicIPv4Fraction: Double = 0.1
        /// Share of lines with an IPv6 prefix (/56 broadband, /64 mobile).
        public var ipv6Fraction: Double = 0.6
        /// Border routers exporting flows (1–200).
        public var exporters: Int = 4
        /// Export protocol of every exporter: NetFlow v9 or IPFIX.
        public var exportProtocol: ExportProtocol = .ipfix
        /// 1-in-N packet sampling at the exporters (1 = unsampled).
        public var samplingInterval: UInt32 = 1
        /// Simulated start, ms since the Unix epoch (default 2026-01-01T00:00:00Z).
        public var startMilliseconds: Int64 = 1_767_225_600_000
        /// Simulated duration in ms.
        public var durationMilliseconds: Int64 = 3_600_000
        /// Flows are generated and exported window by window (like a router's active timeout).
        public var windowMilliseconds: Int64 = 10_000
        public var botnets: Botnets = Botnets()

        public init(seed: UInt64 = 1, subscribers: Int = 5000) {
            self.seed = seed
            self.subscribers = subscribers
        }

        public var endMilliseconds: Int64 { startMilliseconds + durationMilliseconds }

        func validate() throws(SimulationConfigurationError) {
            guard (1...4_000_000).contains(subscribers) else { throw .init("subscribers must be 1 to 4,000,000 (got \(subscribers))") }
            for (name, v) in [("mobileFraction", mobileFraction), ("publicIPv4Fraction", publicIPv4Fraction), ("ipv6Fraction", ipv6Fraction)] where !(0...1).contains(v) {
                throw .init("\(name) must be between 0 and 1 (got \(v))")
            }
            guard (1...200).contains(exporters) else { throw .init("exporters must be 1 to 200 (got \(exporters))") }
            guard exportProtocol == .ipfix || exportProtocol == .netflowV9 else { throw .init("the simulator exports NetFlow v9 or IPFIX") }
            guard samplingInterval >= 1 else { throw .init("sampling interval must be at least 1") }
            guard windowMilliseconds >= 1000, windowMilliseconds <= 60_000 else { throw .init("window must be 1 s to 60 s") }
            guard durationMilliseconds >= windowMilliseconds else { throw .init("duration must be at least one window (\(windowMilliseconds / 1000) s)") }
            guard botnets.beaconPeriodSeconds.lowerBound >= 5 else { throw .init("beacon periods must be at least 5 s") }
            guard botnets.dgaRotationSeconds >= 60 else { throw .init("DGA rotation must be at least 60 s") }
        }
    }

    /// Sizes and behaviour of the botnets and attacks.
    public struct Botnets: Sendable, Hashable {
        /// Infected IoT cameras and home routers (Mirai-like); nil = one per 250 subscribers (at least 3).
        public var miraiBots: Int? = nil
        /// Infected PCs beaconing over HTTPS; nil = one per 500 subscribers (at least 2).
        public var beaconBots: Int? = nil
        /// Infected PCs of the DGA-like family; nil = one per 1000 subscribers (at least 2).
        public var dgaBots: Int? = nil
        /// Infected home routers and cameras of the peer-to-peer family; nil = one per 1000 subscribers (at least 2).
        public var peerToPeerBots: Int? = nil
        /// Range of beacon periods (each bot draws one), seconds.
        public var beaconPeriodSeconds: ClosedRange<Int> = 30...3600
        /// How long one DGA C&C address is used before the family moves on, seconds.
        public var dgaRotationSeconds: Int = 3600
        /// Telnet scan attempts per second per Mirai-like bot.
        public var scansPerSecond: Double = 2
        /// Share of bots infected during the simulation (the rest are infected before it starts).
        /// Mirai-like ones among them are infected by an earlier bot's telnet brute force.
        public var lateInfectionFraction: Double = 0.3
        /// Share of bots cleaned up during the simulation.
        public var cleanupFraction: Double = 0.2
        /// One outbound DDoS burst by Mirai-like bots.
        public var outboundAttack: Bool = true
        /// One inbound reflection DDoS against a subscriber.
        public var inboundAttack: Bool = true

        public init() {}

        func count(_ explicit: Int?, per: Int, minimum: Int, subscribers: Int) -> Int {
            explicit ?? max(minimum, subscribers / per)
        }
    }
}
