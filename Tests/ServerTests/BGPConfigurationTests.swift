import BGPSpeaker
import BGPWire
import FlowCodec
import Foundation
import MamoriCore
import Mitigation
import Testing

@testable import Server

/// The `bgp:` section of the configuration: every key read, the defaults, and every refusal
/// naming its key and line.
@Suite
struct BGPConfigurationTests {
    /// A section with exactly what an enabled speaker needs (lines 1 to 4); cases append to it.
    static let minimal = """
        bgp:
          router_id: 192.0.2.5
          neighbors:
            - {name: edge-1, address: 192.0.2.1, peer_as: 64512}

        """

    @Test("absent, the section is off with every default; enabled: false alone needs nothing else")
    func absentOrDisabled() throws {
        let c = try MamoriConfiguration.parse(yaml: "log_level: info\n")
        #expect(c.bgp == BGPSettings() && !c.bgp.enabled)
        let d = try MamoriConfiguration.parse(yaml: "bgp:\n  enabled: false\n")
        #expect(!d.bgp.enabled && d.bgp.neighbors.isEmpty)
    }

    @Test("a minimal section: on, with the defaults of every other key")
    func minimalSection() throws {
        let s = try MamoriConfiguration.parse(yaml: Self.minimal).bgp
        #expect(s.enabled && s.localAS == 64512 && s.routerID == "192.0.2.5")
        #expect(s.neighbors.count == 1)
        let n = try #require(s.neighbors.first)
        #expect(n.name == "edge-1" && n.address == "192.0.2.1" && n.port == 179 && n.peerAS == 64512)
        #expect(n.localAddress == nil && n.holdTime == 90 && n.families == BGPFamily.supported)
        #expect(s.retryInitialSeconds == 1 && s.retryMaximumSeconds == 60)
        #expect(try s.gracefulRestartSeconds == 120 && s.speakerConfiguration().gracefulRestartTime == 120)
        #expect(s.blackholeNextHopIPv4 == "192.0.2.1" && s.blackholeNextHopIPv6 == "100::1")
        #expect(s.blackholeCommunities.isEmpty && s.blackholeLargeCommunities.isEmpty && s.blackholeNoExport)
        #expect(s.flowSpecCommunities.isEmpty)
        #expect(s.policy == MitigationPolicy())
        #expect(try s.speakerConfiguration().routerID == 0xC000_0205)
        // The neighbour's own address is protected although bgp.protected is empty.
        #expect(s.effectivePolicy.protected.contains(IPAddress("192.0.2.1")!))
    }

    @Test("every key set is read into the settings, the triggers and the rails")
    func everyKey() throws {
        let s = try MamoriConfiguration.parse(
            yaml: """
                bgp:
                  enabled: true
                  local_as: 4200000001
                  router_id: 198.51.100.5
                  neighbors:
                    - name: edge-1
                      address: 198.51.100.1
                      port: 1179
                      peer_as: 4200000001
                      local_address: 198.51.100.5
                      hold_time: 30
                      families: [ipv4-flowspec, IPv4-Unicast]
                    - name: rr_2.tokyo
                      address: "2001:DB8::2"
                      peer_as: 65001
                      local_address: "2001:db8::5"
                      hold_time: 0
                      families: [ipv6-unicast, ipv6-flowspec, ipv6-unicast]
                  retry_initial_seconds: 5
                  retry_maximum_seconds: 300
                  blackhole:
                    next_hop_ipv4: 198.51.100.254
                    next_hop_ipv6: "2001:db8:ffff::1"
                    communities: ["64512:666", no-export, "64512:666", "0:65535"]
                    large_communities: ["4200000001:666:0"]
                    no_export: false
                  flowspec:
                    communities: ["64512:1000", no-advertise]
                  protected: [192.0.2.0/24, 198.51.100.53, "2001:db8:53::/48"]
                  minimum_ipv4_length: 28
                  minimum_ipv6_length: 64
                  maximum_active: 1000
                  maximum_new_per_minute: 10
                  maximum_pending: 50
                  maximum_lifetime_hours: 6
                  quiet_minutes: 7
                  graceful_restart_seconds: 600
                  on_shutdown: leave
                  triggers:
                    inbound_flood: { mode: automatic, ttl_minutes: 15 }
                    inbound_reflection: { mode: dry-run, ttl_minutes: 45 }
                    outbound_attack: { mode: manual-approval, ttl_minutes: 120, rate_limit_bytes_per_second: 125_000 }
                  reflection_minimum_share: 0.9
                  reflection_minimum_packet_length: 0
                """
        ).bgp
        #expect(s.enabled && s.localAS == 4_200_000_001 && s.routerID == "198.51.100.5")
        #expect(s.neighbors.count == 2)
        let a = s.neighbors[0]
        #expect(a.name == "edge-1" && a.address == "198.51.100.1" && a.port == 1179 && a.peerAS == 4_200_000_001)
        #expect(a.localAddress == "198.51.100.5" && a.holdTime == 30 && a.families == [.ipv4Unicast, .ipv4FlowSpec])
        let b = s.neighbors[1]
        #expect(b.name == "rr_2.tokyo" && b.address == "2001:db8::2" && b.port == 179 && b.peerAS == 65001)
        #expect(b.localAddress == "2001:db8::5" && b.holdTime == 0 && b.families == [.ipv6Unicast, .ipv6FlowSpec])
        #expect(s.retryInitialSeconds == 5 && s.retryMaximumSeconds == 300)
        #expect(s.blackholeNextHopIPv4 == "198.51.100.254" && s.blackholeNextHopIPv6 == "2001:db8:ffff::1")
        #expect(s.blackholeCommunities == [BGPCommunity(64512, 666), .noExport, BGPCommunity(0, 65535)])
        #expect(s.blackholeLargeCommunities == [BGPLargeCommunity(4_200_000_001, 666, 0)])
        #expect(!s.blackholeNoExport)
        #expect(s.flowSpecCommunities == [BGPCommunity(64512, 1000), .noAdvertise])
        let p = s.policy
        #expect(
            Set(p.protected.prefixes) == [IPPrefix("192.0.2.0/24")!, IPPrefix("198.51.100.53/32")!, IPPrefix("2001:db8:53::/48")!])
        #expect(p.minimumIPv4Length == 28 && p.minimumIPv6Length == 64)
        #expect(p.maximumActive == 1000 && p.maximumNewPerMinute == 10 && p.maximumPending == 50)
        #expect(p.maximumLifetimeMilliseconds == 6 * 3_600_000 && p.shutdown == .leave)
        #expect(s.quietMinutes == 7)
        #expect(try s.gracefulRestartSeconds == 600 && s.speakerConfiguration().gracefulRestartTime == 600)
        #expect(p.settings(.inboundFlood) == .init(mode: .automatic, ttlMilliseconds: 15 * 60_000, action: .discard))
        #expect(p.settings(.inboundReflection) == .init(mode: .dryRun, ttlMilliseconds: 45 * 60_000, action: .discard))
        #expect(
            p.settings(.outboundAttack)
                == .init(mode: .manualApproval, ttlMilliseconds: 120 * 60_000, action: .rateLimit(bytesPerSecond: 125_000)))
        // Not listed: the policy's default.
        #expect(p.settings(.scanning) == MitigationPolicy().settings(.scanning))
        #expect(p.reflectionMinimumShare == 0.9 && p.reflectionMinimumPacketLength == 0)
        // bgp.protected holds what was written; the effective policy adds the neighbours.
        #expect(!p.protected.contains(IPAddress("198.51.100.1")!))
        #expect(s.effectivePolicy.protected.contains(IPAddress("198.51.100.1")!))
        #expect(s.effectivePolicy.protected.contains(IPAddress("2001:db8::2")!))
    }

    @Test("a trigger given only a mode keeps its default lifetime")
    func partialTrigger() throws {
        let p = try MamoriConfiguration.parse(yaml: Self.minimal + "  triggers:\n    scanning: { mode: off }\n").bgp.policy
        #expect(p.settings(.scanning) == .init(mode: .off, ttlMilliseconds: 60 * 60_000))
        #expect(p.triggers.count == MitigationTrigger.allCases.count)
    }

    /// An invalid input, the line its error names, and words its reason must contain.
    struct Refusal: Sendable, CustomTestStringConvertible {
        var yaml: String
        var line: Int
        var words: String
        var testDescription: String { words }

        init(_ extra: String, line: Int, _ words: String) {
            self.yaml = BGPConfigurationTests.minimal + extra
            self.line = line
            self.words = words
        }

        init(whole yaml: String, line: Int, _ words: String) {
            self.yaml = yaml
            self.line = line
            self.words = words
        }
    }

    /// A missing key is reported at the section's first line.
    static let refusals: [Refusal] = [
        Refusal(whole: "bgp: [a, b]\n", line: 1, "bgp must be a mapping"),
        Refusal("  neighbours: []\n", line: 5, "unknown key 'neighbours' in bgp"),
        Refusal("  local_as: 0\n", line: 5, "bgp.local_as must be between 1 and 4294967295; got 0"),
        Refusal("  local_as: 23456\n", line: 5, "bgp.local_as: 23456 is AS_TRANS"),
        Refusal("  local_as: 4294967296\n", line: 5, "bgp.local_as must be between 1 and 4294967295"),
        Refusal(
            whole: "bgp:\n  neighbors:\n    - {name: edge-1, address: 192.0.2.1, peer_as: 64512}\n", line: 2,
            "bgp needs router_id"),
        Refusal(
            whole: "bgp:\n  router_id: 0.0.0.0\n  neighbors: []\n", line: 2,
            "bgp.router_id: '0.0.0.0' is not a BGP identifier"),
        Refusal(whole: "bgp:\n  router_id: \"2001:db8::5\"\n", line: 2, "bgp.router_id: '2001:db8::5' is not a BGP identifier"),
        Refusal(whole: "bgp:\n  router_id: 192.0.2.5\n", line: 2, "bgp needs at least one entry in neighbors"),
        Refusal(whole: "bgp:\n  router_id: 192.0.2.5\n  neighbors: []\n", line: 3, "bgp needs at least one entry in neighbors"),
        Refusal(whole: "bgp:\n  router_id: 192.0.2.5\n  neighbors: edge-1\n", line: 3, "bgp.neighbors must be a list"),
        Refusal(
            whole: "bgp:\n  router_id: 192.0.2.5\n  neighbors:\n    - {name: a, address: 192.0.2.1, peer_as: 1}\n"
                + "    - {name: b, address: edge, peer_as: 1}\n", line: 5,
            "bgp.neighbors[1].address: 'edge' is not an IP address"),
        Refusal(
            whole: "bgp:\n  router_id: 192.0.2.5\n  neighbors:\n    - {name: a, address: 192.0.2.1, peer_as: 1}\n"
                + "    - {name: a, address: 192.0.2.2, peer_as: 1}\n", line: 5,
            "bgp.neighbors[1].name: the name 'a' is already used by bgp.neighbors[0]"),
        Refusal(
            whole: "bgp:\n  router_id: 192.0.2.5\n  neighbors:\n    - {name: a, address: 192.0.2.1, peer_as: 1}\n"
                + "    - {name: b, address: 192.0.2.1, peer_as: 1}\n", line: 5,
            "bgp.neighbors[0] already connects to 192.0.2.1 port 179"),
        Refusal(
            whole: "bgp:\n  router_id: 192.0.2.5\n  neighbors:\n    - {name: edge 1, address: 192.0.2.1, peer_as: 1}\n", line: 4,
            "bgp.neighbors[0].name: 'edge 1' is not a usable name"),
        Refusal(
            whole: "bgp:\n  router_id: 192.0.2.5\n  neighbors:\n    - {name: edge-1, address: 192.0.2.1}\n", line: 4,
            "bgp.neighbors[0] needs name, address and peer_as; missing: peer_as"),
        Refusal(
            whole: "bgp:\n  router_id: 192.0.2.5\n  neighbors:\n    - {name: e, address: 192.0.2.1, peer_as: 1, remote_as: 2}\n",
            line: 4, "unknown key 'remote_as' in bgp.neighbors[0]"),
        Refusal(
            whole: "bgp:\n  router_id: 192.0.2.5\n  neighbors:\n    - {name: e, address: 192.0.2.1, peer_as: 1, port: 0}\n",
            line: 4, "bgp.neighbors[0].port must be between 1 and 65535; got 0"),
        Refusal(
            whole: "bgp:\n  router_id: 192.0.2.5\n  neighbors:\n    - {name: e, address: 192.0.2.1, peer_as: 1, hold_time: 2}\n",
            line: 4, "bgp.neighbors[0].hold_time must be 0 (no keepalives) or 3 to 65535"),
        Refusal(
            whole:
                "bgp:\n  router_id: 192.0.2.5\n  neighbors:\n    - {name: e, address: 192.0.2.1, peer_as: 1, local_address: \"::1\"}\n",
            line: 4, "different families"),
        Refusal(
            whole:
                "bgp:\n  router_id: 192.0.2.5\n  neighbors:\n    - {name: e, address: 192.0.2.1, peer_as: 1, families: [ipv4-mvpn]}\n",
            line: 4, "bgp.neighbors[0].families: 'ipv4-mvpn' is not a family Mamori speaks"),
        Refusal(
            whole: "bgp:\n  router_id: 192.0.2.5\n  neighbors:\n    - {name: e, address: 192.0.2.1, peer_as: 1, families: []}\n",
            line: 4, "bgp.neighbors[0].families must name at least one family"),
        Refusal(
            "  retry_initial_seconds: 120\n", line: 5, "bgp.retry_maximum_seconds (60) must be at least bgp.retry_initial_seconds (120)"),
        Refusal("  blackhole:\n    next_hop_ipv6: 192.0.2.1\n", line: 6, "bgp.blackhole.next_hop_ipv6: 192.0.2.1 is an IPv4 address"),
        Refusal("  blackhole:\n    next_hop_ipv4: \"100::1\"\n", line: 6, "bgp.blackhole.next_hop_ipv4: 100::1 is an IPv6 address"),
        Refusal(
            "  blackhole:\n    communities: [\"64512:70000\"]\n", line: 6, "bgp.blackhole.communities: '64512:70000' is not a community"),
        Refusal("  blackhole:\n    communities: [blackhole]\n", line: 6, "bgp.blackhole.communities: 'blackhole' is not a community"),
        Refusal(
            "  blackhole:\n    large_communities: [\"1:2\"]\n", line: 6, "bgp.blackhole.large_communities: '1:2' is not a large community"),
        Refusal("  flowspec:\n    communities: \"64512:1\"\n", line: 6, "bgp.flowspec.communities must be a list of communities"),
        Refusal("  protected: [192.0.2.0/33]\n", line: 5, "bgp.protected: '192.0.2.0/33' is not a prefix or address"),
        Refusal("  minimum_ipv4_length: 4\n", line: 5, "bgp.minimum_ipv4_length must be between 8 and 32; got 4"),
        Refusal("  maximum_lifetime_hours: 9000\n", line: 5, "bgp.maximum_lifetime_hours must be between 1 and 8760"),
        Refusal("  quiet_minutes: 0\n", line: 5, "bgp.quiet_minutes must be between 1 and 1440"),
        Refusal("  on_shutdown: keep\n", line: 5, "bgp.on_shutdown must be withdraw_all"),
        Refusal("  graceful_restart_seconds: 4096\n", line: 5, "bgp.graceful_restart_seconds must be between 0 and 4095"),
        Refusal(
            "  graceful_restart_seconds: 0\n  on_shutdown: leave\n", line: 5,
            "bgp.on_shutdown: leave needs graceful restart (graceful_restart_seconds 1 to 4095)"),
        Refusal("  triggers:\n    flood: { mode: automatic }\n", line: 6, "unknown key 'flood' in bgp.triggers"),
        Refusal(
            "  triggers:\n    inbound_reflection: { mode: auto }\n", line: 6,
            "bgp.triggers.inbound_reflection.mode must be off, dry_run, manual_approval or automatic; got 'auto'"),
        Refusal(
            "  triggers:\n    scanning: { ttl_minutes: 0 }\n", line: 6, "bgp.triggers.scanning.ttl_minutes must be between 1 and 10080"),
        Refusal(
            "  triggers:\n    outbound_attack: { rate_limit_bytes_per_second: 0 }\n", line: 6,
            "bgp.triggers.outbound_attack.rate_limit_bytes_per_second must be a number of bytes per second above 0"),
        Refusal(
            "  triggers:\n    inbound_flood: { rate_limit_bytes_per_second: 1000 }\n", line: 6,
            "inbound_flood is answered with a black-hole route, which cannot rate-limit"),
        Refusal("  reflection_minimum_share: 0.3\n", line: 5, "bgp.reflection_minimum_share must be between 0.5 and 1.0"),
        Refusal("  enabled: maybe\n", line: 5, "bgp.enabled must be true or false"),
    ]

    @Test("an invalid bgp section is refused with its key, its line and the fix", arguments: refusals)
    func refused(_ r: Refusal) {
        do {
            let c = try MamoriConfiguration.parse(yaml: r.yaml)
            Issue.record("accepted:\n\(r.yaml)\n→ \(c.bgp)")
        } catch {
            #expect(error.reason.contains(r.words), "\(error)")
            #expect(error.line == r.line, "\(error)")
        }
    }

    @Test("the commented bgp section of mamori.example.yaml parses once uncommented, with the default rails")
    func exampleSection() throws {
        let text = try String(contentsOfFile: ConfigurationTests.examplePath, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex(of: "# bgp:"), "mamori.example.yaml has no '# bgp:' section")
        var section: [Substring] = []
        for line in lines[start...] {
            guard line == "# bgp:" || line.hasPrefix("#  ") else { break }
            section.append(line.dropFirst(2))
        }
        let s = try MamoriConfiguration.parse(yaml: section.joined(separator: "\n")).bgp
        #expect(s.enabled && s.routerID == "192.0.2.5" && s.localAS == 64512)
        #expect(s.neighbors.map(\.name) == ["edge-1"])
        // Every value other than the EXAMPLE ones is the default.
        var expected = BGPSettings()
        expected.enabled = true
        expected.routerID = s.routerID
        expected.neighbors = s.neighbors
        #expect(s == expected)
        #expect(s.neighbors[0].port == 179 && s.neighbors[0].holdTime == 90 && s.neighbors[0].families == BGPFamily.supported)
        // Commented out, it leaves the speaker off.
        #expect(!(try MamoriConfiguration.load(path: ConfigurationTests.examplePath).bgp.enabled))
    }

    @Test("the settings page shows the bgp section, communities, families and prefixes as written")
    func effectiveDescription() throws {
        let c = try MamoriConfiguration.parse(
            yaml: Self.minimal + "  blackhole:\n    communities: [\"64512:666\"]\n  protected: [192.0.2.0/24]\n")
        let text = c.effectiveDescription
        #expect(text.contains("bgp:") && text.contains("routerID: 192.0.2.5") && text.contains("name: edge-1"))
        #expect(text.contains("-: 64512:666") && text.contains("-: ipv4-flowspec") && text.contains("-: 192.0.2.0/24"))
    }
}
