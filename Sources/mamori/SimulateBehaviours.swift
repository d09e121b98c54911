import ArgumentParser
import Simulator

/// `mamori simulate`'s switches for the behaviours real captures showed (issue 17): threats the
/// first detectors missed and benign traffic they flagged. All on by default at modest shares;
/// `--classic` gives the world of earlier versions, packet for packet.
struct BehaviourOptions: ParsableArguments {
    enum Behaviour: String, ExpressibleByArgument, CaseIterable {
        case bittorrentSwarm = "bittorrent-swarm"
        case ssdpMDNS = "ssdp-mdns"
        case publicNTP = "public-ntp"
        case gameConsoles = "game-consoles"
        case irc
        case slowScan = "slow-scan"
        case icmpFlood = "icmp-flood"
        case singleHostSYNFlood = "single-host-syn-flood"
    }

    @Flag(
        help:
            "Only the behaviours of earlier versions: the same seed gives the same datagrams and labels as before the ones below were added."
    )
    var classic = false

    @Option(
        name: .customLong("without"),
        help: ArgumentHelp(
            "Leave out one behaviour (repeatable): bittorrent-swarm (bootstrap nodes, inbound peers, uTP, seeding — back to plain DHT), ssdp-mdns, public-ntp, game-consoles, irc (the IRC family), slow-scan (the Hide'n'Seek-like scanner), icmp-flood, single-host-syn-flood.",
            valueName: "behaviour"))
    var without: [Behaviour] = []

    @Option(
        help: ArgumentHelp(
            "Bots of the IRC family: one long-lived TCP connection each to a C&C on 6667/6697/7000, PING/PONG every 90–180 s, a reconnect from a new port after a drop (default: one per 1500 subscribers, at least 3).",
            valueName: "n"))
    var ircBots: Int?

    @Option(
        help: ArgumentHelp(
            "Slow scanners (Hide'n'Seek-like IoT bots): SYN-only probes of random addresses on 23, 2323, 80, 81, 8080, 9527 (default: one per 2500 subscribers, at least 1).",
            valueName: "n"))
    var slowScanners: Int?

    @Option(help: ArgumentHelp("Probes per second of a slow scanner (each bot varies it by ±15 %).", valueName: "rate"))
    var slowScanRate: Double = 1

    @Option(
        help: ArgumentHelp(
            "SYNs per second of the single-host SYN flood (one host, one target, unanswered, a new source port each).", valueName: "rate"))
    var synFloodRate: Double = 70

    @Option(help: ArgumentHelp("Share of PCs running BitTorrent, 0–1.", valueName: "share"))
    var bittorrentShare: Double = 0.05

    @Option(
        help: ArgumentHelp(
            "Share of broadband households sending SSDP (NOTIFY every 120 s to 239.255.255.250:1900, M-SEARCH) and mDNS (224.0.0.251, ff02::fb), 0–1.",
            valueName: "share"))
    var ssdpShare: Double = 0.25

    @Option(
        help: ArgumentHelp(
            "Share of home routers and PCs polling one of three public NTP servers every 64–1024 s, 0–1.", valueName: "share"))
    var publicNTPShare: Double = 0.5

    @Option(
        help: ArgumentHelp(
            "Share of broadband households with a game console (keepalives to the vendor, P2P UDP with other players while playing), 0–1.",
            valueName: "share"))
    var consoleShare: Double = 0.12

    func validate() throws {
        for (name, v) in [
            ("--bittorrent-share", bittorrentShare), ("--ssdp-share", ssdpShare), ("--public-ntp-share", publicNTPShare),
            ("--console-share", consoleShare),
        ] where !(0...1).contains(v) {
            throw ValidationError("\(name) must be between 0 and 1")
        }
        if let n = ircBots, n < 0 { throw ValidationError("--irc-bots must not be negative") }
        if let n = slowScanners, n < 0 { throw ValidationError("--slow-scanners must not be negative") }
        guard (0.01...100).contains(slowScanRate) else { throw ValidationError("--slow-scan-rate must be 0.01 to 100 per second") }
        guard (1...10_000).contains(synFloodRate) else { throw ValidationError("--syn-flood-rate must be 1 to 10,000 per second") }
    }

    func apply(to c: inout ISPModel.Configuration) {
        c.benign.bitTorrentFraction = bittorrentShare
        c.benign.ssdpMDNSFraction = ssdpShare
        c.benign.publicNTPFraction = publicNTPShare
        c.benign.gameConsoleFraction = consoleShare
        c.botnets.ircBots = ircBots
        c.botnets.slowScanBots = slowScanners
        c.botnets.slowScanProbesPerSecond = slowScanRate
        c.botnets.singleHostSYNPerSecond = synFloodRate
        if classic { c.useClassicBehavioursOnly() }
        for b in without {
            switch b {
            case .bittorrentSwarm: c.benign.bitTorrentSwarm = false
            case .ssdpMDNS: c.benign.ssdpMDNSFraction = 0
            case .publicNTP: c.benign.publicNTPFraction = 0
            case .gameConsoles: c.benign.gameConsoleFraction = 0
            case .irc: c.botnets.ircBots = 0
            case .slowScan: c.botnets.slowScanBots = 0
            case .icmpFlood: c.botnets.icmpFlood = false
            case .singleHostSYNFlood: c.botnets.singleHostSYNFlood = false
            }
        }
    }
}
