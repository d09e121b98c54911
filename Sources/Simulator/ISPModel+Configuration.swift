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
        /// Benign behaviours added after real captures fooled the detectors (issue 17).
        public var benign: BenignTraffic = BenignTraffic()

        public init(seed: UInt64 = 1, subscribers: Int = 5000) {
            self.seed = seed
            self.subscribers = subscribers
        }

        public var endMilliseconds: Int64 { startMilliseconds + durationMilliseconds }

        /// Switches off everything added after real captures fooled the detectors (issue 17):
        /// BitTorrent swarms, SSDP/mDNS, public NTP, game consoles, the IRC family, the slow
        /// scanner, the ICMP flood and the single-host SYN flood. The world is then packet for
        /// packet the one of earlier versions, for comparisons across them.
        public mutating func useClassicBehavioursOnly() {
            benign = .classic
            botnets.ircBots = 0
            botnets.slowScanBots = 0
            botnets.icmpFlood = false
            botnets.singleHostSYNFlood = false
        }

        func validate() throws(SimulationConfigurationError) {
            guard (1...4_000_000).contains(subscribers) else { throw .init("subscribers must be 1 to 4,000,000 (got \(subscribers))") }
            for (name, v) in [
                ("mobileFraction", mobileFraction), ("publicIPv4Fraction", publicIPv4Fraction), ("ipv6Fraction", ipv6Fraction),
            ] where !(0...1).contains(v) {
                throw .init("\(name) must be between 0 and 1 (got \(v))")
            }
            guard (1...200).contains(exporters) else { throw .init("exporters must be 1 to 200 (got \(exporters))") }
            guard exportProtocol == .ipfix || exportProtocol == .netflowV9 else { throw .init("the simulator exports NetFlow v9 or IPFIX") }
            guard samplingInterval >= 1 else { throw .init("sampling interval must be at least 1") }
            guard windowMilliseconds >= 1000, windowMilliseconds <= 60_000 else { throw .init("window must be 1 s to 60 s") }
            guard durationMilliseconds >= windowMilliseconds else {
                throw .init("duration must be at least one window (\(windowMilliseconds / 1000) s)")
            }
            guard botnets.beaconPeriodSeconds.lowerBound >= 5 else { throw .init("beacon periods must be at least 5 s") }
            guard botnets.dgaRotationSeconds >= 60 else { throw .init("DGA rotation must be at least 60 s") }
            for (name, v) in [
                ("bitTorrentFraction", benign.bitTorrentFraction), ("ssdpMDNSFraction", benign.ssdpMDNSFraction),
                ("publicNTPFraction", benign.publicNTPFraction), ("gameConsoleFraction", benign.gameConsoleFraction),
            ] where !(0...1).contains(v) {
                throw .init("\(name) must be between 0 and 1 (got \(v))")
            }
            for (name, v) in [("ircBots", botnets.ircBots), ("slowScanBots", botnets.slowScanBots)] where (v ?? 0) < 0 {
                throw .init("\(name) must not be negative")
            }
            guard (0.01...100).contains(botnets.slowScanProbesPerSecond) else {
                throw .init("slow-scan probes per second must be 0.01 to 100")
            }
            guard (1...10_000).contains(botnets.singleHostSYNPerSecond) else {
                throw .init("single-host SYN flood rate must be 1 to 10,000 per second")
            }
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
        /// Infected PCs, cameras and home routers of an IRC botnet (Kaiten/Tsunami-like): each holds
        /// ONE long-lived TCP connection to its C&C on 6667, 6697 or 7000, answers the server's PING
        /// every 90–180 s, and reconnects from a new source port after a drop (about one drop per
        /// 10 h). nil = one per 1500 subscribers (at least 3); 0 = none.
        public var ircBots: Int? = nil
        /// Infected cameras and home routers scanning slowly (Hide'n'Seek-like): SYN-only probes of
        /// random addresses on 23, 2323, 80, 81, 8080 and 9527, for hours. nil = one per 2500
        /// subscribers (at least 1); 0 = none.
        public var slowScanBots: Int? = nil
        /// Probes per second of a slow scanner (each bot scales it by 0.85–1.15).
        public var slowScanProbesPerSecond: Double = 1
        /// One ICMP echo flood by three infected hosts (100–2000 packets/s each) against one
        /// victim on the Internet, for a few minutes at 70 % of the run.
        public var icmpFlood: Bool = true
        /// One SYN flood from a single infected host (``singleHostSYNPerSecond``, unanswered, a new
        /// source port per SYN) against one target, for a few minutes at 35 % of the run.
        public var singleHostSYNFlood: Bool = true
        public var singleHostSYNPerSecond: Double = 70

        public init() {}

        func count(_ explicit: Int?, per: Int, minimum: Int, subscribers: Int) -> Int {
            explicit ?? max(minimum, subscribers / per)
        }
    }
}

extension ISPModel {
    /// Benign behaviours that real traffic showed and that fooled the detectors tuned on earlier
    /// worlds (issue 17). Each is a decoy in the labels: nothing may be reported about it.
    public struct BenignTraffic: Sendable, Hashable {
        /// Share of PCs running a BitTorrent client (whole percent; about 5 %).
        public var bitTorrentFraction: Double = 0.05
        /// BitTorrent clients behave like a real swarm member (BEP 3, 5, 29): they contact DHT
        /// bootstrap nodes on 6881 when they start, accept peers' connections and DHT queries on
        /// their listening port (lines with their own address), transfer over uTP as well as TCP,
        /// try many peers (some on 6881) and seed. Off: the earlier DHT-and-a-few-peers model.
        public var bitTorrentSwarm: Bool = true
        /// Share of broadband households whose devices announce themselves on the link: SSDP
        /// NOTIFY to 239.255.255.250:1900 every 120 s, M-SEARCH when an app looks for a TV, mDNS
        /// to 224.0.0.251:5353 (and ff02::fb). Seen where the export sees the access side.
        public var ssdpMDNSFraction: Double = 0.25
        /// Share of home routers and PCs polling one of three public NTP servers (RFC 5905 poll
        /// interval 64–1024 s, one 76-byte packet each way).
        public var publicNTPFraction: Double = 0.5
        /// Share of broadband households with an online game console: presence and NAT keepalives
        /// to the vendor's service, and peer-to-peer UDP with a handful of players while playing.
        public var gameConsoleFraction: Double = 0.12

        public init() {}

        /// None of the above: the benign traffic of earlier versions.
        public static var classic: BenignTraffic {
            var b = BenignTraffic()
            b.bitTorrentSwarm = false
            b.ssdpMDNSFraction = 0
            b.publicNTPFraction = 0
            b.gameConsoleFraction = 0
            return b
        }
    }
}
