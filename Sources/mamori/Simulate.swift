import ArgumentParser
import FlowCodec
import FlowFiles
import Foundation
import MamoriCore
import Senders
import Simulator

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate an ISP with botnets and export its flows as NetFlow v9 or IPFIX, with ground-truth labels.",
        discussion: """
            Builds a synthetic access network from --seed: subscribers on broadband and mobile lines \
            (most behind CGNAT with port blocks in 100.64.0.0/10 → 198.18.0.0/15, many with an \
            IPv6 prefix from 2001:db8::/32), households of PCs, phones, TVs, IoT cameras and home \
            routers with a daily rhythm, and benign services including the periodic ones that fool \
            naive C&C detectors (NTP, push and messaging keepalives, update checks, camera clouds, \
            DNS) and BitTorrent (a P2P decoy). Then adds botnets (Mirai-like telnet scanners whose \
            infections spread during the run, HTTPS beacons with jitter, a DGA-like family whose \
            C&C address rotates, a peer-to-peer family without a central C&C), bots cleaned over \
            time, one outbound DDoS burst and one inbound reflection attack.

            What real captures showed (on by default, see "Behaviours" below): BitTorrent clients \
            as swarm members (DHT bootstrap on 6881, inbound peers, uTP, seeding), SSDP and mDNS \
            multicast chatter, public NTP polled by half the base, game consoles — all labelled \
            decoys; an IRC botnet holding one long-lived connection per bot, a slow \
            (Hide'n'Seek-like) scanner at ~1 probe/s, an ICMP echo flood by three hosts and a \
            70 SYN/s flood from one host — all labelled threats. --classic leaves them out.

            The exporters are border routers outside the CGNAT: flows carry the public address and a \
            port from the subscriber's block. Only documentation and reserved address ranges are used.

            The same seed always gives the same datagrams. --labels writes the ground truth as JSON \
            (docs/simulator-labels.md): every C&C endpoint, every infected device with its addresses \
            and infection/cleanup times, every attack, every decoy service.

            Timing: with --to or --radius the simulation runs in real time (or --speed N times faster, or \
            --fast); writing only a pcap runs as fast as possible.

            Output: a progress line on standard error; at the end one summary line on standard \
            output, e.g. `simulated flows_generated=1200 flows_exported=1200 datagrams=40 \
            export_bytes=52000 send_failures=0 seconds=0.12` (a collector fed with --to should \
            count flows_exported flow records).

            Examples:
              mamori simulate --to 127.0.0.1:2055 --speed 60            # watch mamori serve count flows
              mamori simulate --pcap isp.pcap --labels isp.json --duration 1h
              mamori simulate --subscribers 100000 --sampling 1000 --protocol v9 --pcap big.pcap --duration 10m
              mamori simulate --pcap irc.pcap --labels irc.json --export-interval 60 --irc-bots 20 --without game-consoles
              mamori simulate --pcap old.pcap --labels old.json --classic   # the world of earlier versions

            Identity data (who had which address when — what attribution needs): RADIUS accounting \
            from the BNGs and packet gateways (198.19.252.x) for PPPoE and mobile lines, Kea lease \
            files for IPoE lines (DHCPv4 + DHCPv6 prefix delegation), and the CGNAT's port-block \
            allocations (syslog, or IPFIX NAT events in the export stream). Accounts are in the labels.
              mamori simulate --to 127.0.0.1:4739 --radius 127.0.0.1:1813 --radius-secret mamori-demo-secret-0001 --nat-events --speed 60
              mamori simulate --labels isp.json --radius-detail detail --nat-syslog cgnat.log --duration 2h
              mamori simulate --kea-leases4 kea-leases4.csv --kea-leases6 kea-leases6.csv --labels isp.json
            """,
        subcommands: [SimulateTelephony.self]
    )

    enum ProtocolChoice: String, ExpressibleByArgument, CaseIterable {
        case v9, ipfix
    }

    @Option(help: "Seed of the simulated world: the same seed gives the same packets.")
    var seed: UInt64 = 1

    @Option(help: "Subscriber lines.")
    var subscribers: Int = 5000

    @Option(help: ArgumentHelp("Simulated time to run: 90s, 10m, 1h, 1h30m, 2d.", valueName: "duration"))
    var duration: String = "1h"

    @Option(name: .customLong("protocol"), help: "Export protocol: v9 (NetFlow v9) or ipfix.")
    var exportProtocol: ProtocolChoice = .ipfix

    @Option(help: "1-in-N packet sampling at the routers, announced in the options template (1 = unsampled).")
    var sampling: UInt32 = 1

    @Option(help: "Number of exporting border routers (198.19.254.1 upwards).")
    var exporters: Int = 4

    @Option(help: ArgumentHelp("Send the export datagrams over UDP to a collector.", valueName: "host:port"))
    var to: String?

    @Option(help: ArgumentHelp("Write the export datagrams into a pcap (source address = the exporter).", valueName: "file"))
    var pcap: String?

    @Option(help: ArgumentHelp("Write the ground-truth labels (JSON) to this file.", valueName: "file"))
    var labels: String?

    @Option(help: "Run N times faster than real time (with --to; default 1).")
    var speed: Double?

    @Flag(help: "Run as fast as possible (the default when only writing a pcap).")
    var fast = false

    @Option(help: ArgumentHelp("Seconds of traffic per export (the routers' active timeout), 1–60.", valueName: "seconds"))
    var exportInterval: Int = 10

    @Option(
        help: ArgumentHelp(
            "When the simulated world starts: an RFC 3339 time (2026-01-01T00:00:00Z), or 'live' to end it about now, as a real router's records would be (a live collector refuses records a day old or from the future). Default: live with --to or --radius, else 2026-01-01T00:00:00Z, so that a pcap is the same every run.",
            valueName: "time|live"))
    var start: String?

    @OptionGroup(title: "Identity data (RADIUS, Kea leases, CGNAT logs)")
    var identity: IdentityOptions

    @OptionGroup(title: "Behaviours learned from real traffic (threats the detectors missed, benign traffic they flagged)")
    var behaviours: BehaviourOptions

    func validate() throws {
        guard SimulatedDuration.milliseconds(parsing: duration) != nil else {
            throw ValidationError("--duration '\(duration)' is not a duration like 90s, 10m, 1h30m or 2d")
        }
        if let speed, speed <= 0 { throw ValidationError("--speed must be more than 0") }
        guard (1...60).contains(exportInterval) else { throw ValidationError("--export-interval must be 1 to 60 seconds") }
        if fast && speed != nil { throw ValidationError("--fast and --speed exclude each other") }
        if let start, start != "live", Self.rfc3339Milliseconds(start) == nil {
            throw ValidationError("--start '\(start)' is neither 'live' nor an RFC 3339 time like 2026-01-01T00:00:00Z")
        }
        guard sampling >= 1 else { throw ValidationError("--sampling must be at least 1") }
    }

    func run() async throws {
        // Checked here, not in validate(): the parser validates `simulate` before `simulate telephony`.
        guard to != nil || pcap != nil || labels != nil || identity.anyOutput else {
            throw ValidationError(
                "give --to HOST:PORT, --pcap FILE, --labels FILE and/or an identity output (--radius, --radius-detail, --kea-leases4/6, --nat-syslog)"
            )
        }
        var c = ISPModel.Configuration(seed: seed, subscribers: subscribers)
        c.durationMilliseconds = SimulatedDuration.milliseconds(parsing: duration) ?? 3_600_000
        c.exportProtocol = exportProtocol == .v9 ? .netflowV9 : .ipfix
        c.samplingInterval = sampling
        c.exporters = exporters
        c.windowMilliseconds = Int64(exportInterval) * 1000
        behaviours.apply(to: &c)
        if let t = startMilliseconds(duration: c.durationMilliseconds) { c.startMilliseconds = t }
        var simulation: Simulation
        do { simulation = try Simulation(configuration: c) } catch { throw ValidationError("\(error)") }

        if let labels {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(simulation.labels).write(to: URL(fileURLWithPath: labels))
        }
        var sender: UDPSender? = nil
        if let to {
            let endpoint: SocketEndpoint
            do { endpoint = try SocketEndpoint(parsing: to) } catch { throw ValidationError("--to \(error)") }
            sender = try UDPSender(to: endpoint)
        }
        var file: FileHandle? = nil
        if let pcap {
            guard FileManager.default.createFile(atPath: pcap, contents: Data(PcapWriter().bytes)),
                let handle = FileHandle(forWritingAtPath: pcap)
            else {
                throw ValidationError("cannot create \(pcap)")
            }
            handle.seekToEndOfFile()
            file = handle
        }
        defer { try? file?.close() }
        let collectorPort: UInt16 = c.exportProtocol == .ipfix ? 4739 : 2055
        // Real time only matters when someone listens: a pcap alone is written as fast as possible.
        let pace: Double? = fast || (to == nil && identity.radius == nil && speed == nil) ? nil : (speed ?? 1)
        let identityOutputs =
            identity.anyOutput || identity.natEvents ? try IdentityOutputs(simulation: simulation, options: identity) : nil
        var windowStart = simulation.now
        let wallStart = monotonicSeconds()
        var lastProgress = wallStart
        var failed = 0
        var sequence: Int64 = 0
        while var datagrams = simulation.nextWindow() {
            // Identity events of the window go out at its start, before its flows: whoever
            // attributes the flows already knows the sessions (Event-Timestamps stay exact).
            if let identityOutputs { datagrams = try await identityOutputs.emit(from: windowStart, to: simulation.now) + datagrams }
            windowStart = simulation.now
            if let pace {
                let due = wallStart + Double(simulation.now - c.startMilliseconds) / 1000 / pace
                let wait = due - monotonicSeconds()
                if wait > 0 { try await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
            }
            if let sender {
                for d in datagrams where !d.payload.withUnsafeBytes({ sender.send($0) }) { failed += 1 }
            }
            if let file {
                var writer = PcapWriter()
                for d in datagrams {
                    writer.append(
                        CapturedDatagram(
                            timestampMicroseconds: d.timeMilliseconds * 1000 + sequence % 1000, sourceAddress: d.exporter,
                            sourcePort: UInt16(49152 + d.exporterIndex), destinationAddress: AddressPlan.collectorAddress,
                            destinationPort: collectorPort, payload: d.payload))
                    sequence += 1
                }
                file.write(Data(writer.bytes[24...]))
            }
            let now = monotonicSeconds()
            if now - lastProgress >= 1 || simulation.isFinished {
                lastProgress = now
                progress(simulation, elapsed: now - wallStart, failed: failed)
            }
        }
        FileHandle.standardError.write(Data("\n".utf8))
        if let summary = await identityOutputs?.finish() { FileHandle.standardError.write(Data((summary + "\n").utf8)) }
        if failed > 0 && sender != nil {
            FileHandle.standardError.write(Data("\(failed) datagrams could not be sent: is a collector listening?\n".utf8))
        }
        let st = simulation.statistics
        let summary =
            "simulated flows_generated=\(st.generatedFlows) flows_exported=\(st.exportedFlows) datagrams=\(st.datagrams) export_bytes=\(st.exportBytes) send_failures=\(failed) seconds=\(String(format: "%.2f", monotonicSeconds() - wallStart))\n"
        FileHandle.standardOutput.write(Data(summary.utf8))
    }

    /// The world's start: `--start`, or live when something listens (--to, --radius).
    ///
    /// Live, at N× real time, the world starts `duration × (1 − 1/N)` before now (with --fast, a
    /// whole duration before): its clock then catches up with the real one as it ends and never
    /// runs ahead of it. Rounded down to a whole second.
    func startMilliseconds(duration: Int64) -> Int64? {
        let live = start == "live" || (start == nil && (to != nil || identity.radius != nil))
        guard live else { return start.flatMap(Self.rfc3339Milliseconds) }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let lag = fast ? Double(duration) : Double(duration) * (1 - 1 / max(1, speed ?? 1))
        return (now - Int64(lag)) / 1000 * 1000
    }

    static func rfc3339Milliseconds(_ text: String) -> Int64? {
        let f = ISO8601DateFormatter()
        guard let d = f.date(from: text) else { return nil }
        let ms = d.timeIntervalSince1970 * 1000
        return ms >= 0 && ms < 4.1e12 ? Int64(ms) : nil
    }

    private func progress(_ s: Simulation, elapsed: Double, failed: Int) {
        let simulated = (s.now - s.configuration.startMilliseconds) / 1000
        let total = s.configuration.durationMilliseconds / 1000
        func clock(_ t: Int64) -> String { String(format: "%02d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) }
        let st = s.statistics
        let rate = elapsed > 0 ? Double(st.exportedFlows) / elapsed : 0
        let line =
            "simulated \(clock(simulated))/\(clock(total))  flows \(st.exportedFlows)  datagrams \(st.datagrams)  \(String(format: "%.0f", rate)) flows/s"
            + (failed > 0 ? "  send failures \(failed)" : "")
        FileHandle.standardError.write(Data("\r\(line)   ".utf8))
    }
}
