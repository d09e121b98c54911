import BGPSpeaker
import BGPWire
import FlowCodec
import Foundation
import MamoriCore
import Mitigation

/// The `bgp:` section: Mamori's BGP speaker, its neighbours, the attributes of its routes and the
/// safety rails of the mitigations it announces (docs/bgp.md shows the routers' side).
///
/// ```yaml
/// bgp:
///   local_as: 64512
///   router_id: 192.0.2.5
///   neighbors:
///     - name: edge-1
///       address: 192.0.2.1
///       peer_as: 64512
///       local_address: 192.0.2.5
///   blackhole:
///     next_hop_ipv4: 192.0.2.1      # routed to a discard interface on every router
///     next_hop_ipv6: "100::1"       # RFC 6666 discard prefix
///     communities: ["64512:666"]    # added to BLACKHOLE (65535:666) and NO_EXPORT
///   protected: [192.0.2.0/24, 198.51.100.53/32]
///   triggers:
///     inbound_flood: { mode: manual_approval, ttl_minutes: 30 }
///     inbound_reflection: { mode: automatic, ttl_minutes: 30 }
///     outbound_attack: { mode: manual_approval, ttl_minutes: 60, rate_limit_bytes_per_second: 125000 }
///     scanning: { mode: dry_run, ttl_minutes: 60 }
/// ```
public struct BGPSettings: Sendable, Hashable {
    /// One neighbour (`bgp.neighbors[]`).
    public struct Neighbor: Sendable, Hashable {
        public var name: String
        public var address: String
        public var port = 179
        public var peerAS: UInt32
        public var localAddress: String?
        public var holdTime: UInt16 = 90
        public var families: [BGPFamily] = BGPFamily.supported
        /// A file holding the session's TCP MD5 key (RFC 2385), kept out of the configuration.
        public var md5PasswordFile: String?

        public init(name: String, address: String, peerAS: UInt32) {
            self.name = name
            self.address = address
            self.peerAS = peerAS
        }
    }

    /// Whether the speaker runs (`bgp:` present and `enabled` not false).
    public var enabled = false
    public var localAS: UInt32 = 64512
    /// The BGP identifier (an IPv4 address); required when enabled.
    public var routerID = "0.0.0.0"
    public var neighbors: [Neighbor] = []
    public var retryInitialSeconds = 1
    public var retryMaximumSeconds = 60
    /// Next hop of black-hole routes: an address every router sends to a discard interface.
    public var blackholeNextHopIPv4 = "192.0.2.1"
    public var blackholeNextHopIPv6 = "100::1"
    /// The carrier's own communities on black-hole routes, besides BLACKHOLE (65535:666).
    public var blackholeCommunities: [BGPCommunity] = []
    public var blackholeLargeCommunities: [BGPLargeCommunity] = []
    /// NO_EXPORT on black-hole routes (RFC 7999 §3.2: keep them inside the AS).
    public var blackholeNoExport = true
    /// Communities on FlowSpec rules (a carrier's routers may select rules by community).
    public var flowSpecCommunities: [BGPCommunity] = []
    /// The attack behind a rule is over once the detectors have not reported it for this long
    /// (they report an attack at every evaluation while it lasts): its rules are withdrawn then,
    /// before their time to live runs out.
    public var quietMinutes = 5
    /// Graceful restart (RFC 4724) offered to the neighbours: how long (seconds, 1–4095) they may
    /// keep Mamori's rules while it restarts — after a crash, and after a shutdown with
    /// `on_shutdown: leave`; 0: not offered (the rules go with the session).
    public var gracefulRestartSeconds = 120
    /// The rails and triggers. `policy.protected` holds `bgp.protected` only; ``effectivePolicy``
    /// adds the neighbours' own addresses.
    public var policy = MitigationPolicy()

    public init() {}

    /// The policy with every neighbour's address protected too: a rule that could cut Mamori off
    /// from its own routers is never announced.
    public var effectivePolicy: MitigationPolicy {
        var p = policy
        let neighborPrefixes = neighbors.compactMap { n in
            IPAddress(n.address).flatMap { IPPrefix(address: $0, length: $0.isIPv6 ? 128 : 32) }
        }
        p.protected = PrefixSet(p.protected.prefixes + neighborPrefixes)
        return p
    }

    /// The speaker's configuration, with each neighbour's MD5 key read from its file.
    public func speakerConfiguration() throws(ConfigurationError) -> BGPSpeakerConfiguration {
        var configured: [BGPNeighborConfiguration] = []
        for n in neighbors {
            var key: String?
            if let file = n.md5PasswordFile {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw ConfigurationError(line: nil, "bgp.neighbors (\(n.name)).md5_password_file: cannot read \(file)")
                }
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard (1...80).contains(trimmed.utf8.count) else {
                    throw ConfigurationError(
                        line: nil, "bgp.neighbors (\(n.name)).md5_password_file: \(file) must hold a key of 1 to 80 octets (RFC 2385)")
                }
                key = trimmed
            }
            configured.append(
                BGPNeighborConfiguration(
                    name: n.name, address: n.address, port: n.port, peerAS: n.peerAS, localAddress: n.localAddress,
                    holdTime: n.holdTime, families: n.families, md5Password: key))
        }
        return BGPSpeakerConfiguration(
            localAS: localAS, routerID: BGPSpeakerConfiguration.routerID(routerID) ?? 0, neighbors: configured,
            retryInitial: .seconds(retryInitialSeconds), retryMaximum: .seconds(retryMaximumSeconds),
            gracefulRestartTime: gracefulRestartSeconds > 0 ? UInt16(clamping: gracefulRestartSeconds) : nil)
    }
}
