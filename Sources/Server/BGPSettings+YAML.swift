import BGPSpeaker
import BGPWire
import FlowCodec
import MamoriCore
import Mitigation
import Yams

extension BGPSettings {
    /// Parses the `bgp:` mapping (see the example in ``BGPSettings`` and `mamori.example.yaml`).
    /// A present section is on unless `enabled: false`; when on, `router_id` and at least one
    /// neighbour are required. Every refusal names the key as `bgp.<path>` and its line.
    static func parse(_ v: YAMLValue) throws(ConfigurationError) -> BGPSettings {
        var s = BGPSettings()
        s.enabled = true
        let m = try BGPSection(v.node, path: "bgp")
        try m.allowOnly([
            "enabled", "local_as", "router_id", "neighbors", "retry_initial_seconds", "retry_maximum_seconds", "blackhole", "flowspec",
            "protected", "minimum_ipv4_length", "minimum_ipv6_length", "maximum_active", "maximum_new_per_minute", "maximum_pending",
            "maximum_lifetime_hours", "on_shutdown", "triggers", "reflection_minimum_share", "reflection_minimum_packet_length",
            "quiet_minutes", "graceful_restart_seconds",
        ])
        if let x = m["enabled"] { s.enabled = try x.bool() }
        if let x = m["quiet_minutes"] { s.quietMinutes = try x.int(in: 1...1440) }
        if let x = m["graceful_restart_seconds"] { s.gracefulRestartSeconds = try x.int(in: 0...4095) }
        if let x = m["local_as"] { s.localAS = try x.asNumber() }
        if let x = m["router_id"] {
            let text = try x.string()
            guard !text.contains(":"), let id = BGPSpeakerConfiguration.routerID(text), id != 0 else {
                throw x.error(
                    "\(x.key): '\(text)' is not a BGP identifier; write an IPv4 address other than 0.0.0.0 in dotted-quad form, "
                        + "usually Mamori's own IPv4 address (e.g. 192.0.2.5)")
            }
            s.routerID = text
        }
        if let x = m["neighbors"] { s.neighbors = try Self.neighbors(x) }
        if let x = m["retry_initial_seconds"] { s.retryInitialSeconds = try x.int(in: 1...3600) }
        if let x = m["retry_maximum_seconds"] { s.retryMaximumSeconds = try x.int(in: 1...3600) }
        if s.retryMaximumSeconds < s.retryInitialSeconds {
            let x = m["retry_maximum_seconds"] ?? m["retry_initial_seconds"] ?? v
            throw x.error(
                "bgp.retry_maximum_seconds (\(s.retryMaximumSeconds)) must be at least bgp.retry_initial_seconds "
                    + "(\(s.retryInitialSeconds)): the back-off doubles the first up to the maximum")
        }
        if let x = m["blackhole"] { try Self.blackhole(x, into: &s) }
        if let x = m["flowspec"] {
            let f = try BGPSection(x.node, path: "bgp.flowspec")
            try f.allowOnly(["communities"])
            if let c = f["communities"] { s.flowSpecCommunities = try c.communities() }
        }
        try Self.rails(m, into: &s.policy)
        if s.policy.shutdown == .leave && s.gracefulRestartSeconds == 0 {
            throw (m["graceful_restart_seconds"] ?? v).error(
                "bgp.on_shutdown: leave needs graceful restart (graceful_restart_seconds 1 to 4095): without it a router "
                    + "removes every rule the moment the session closes, so nothing would be left")
        }
        if let x = m["triggers"] { try Self.triggers(x, into: &s.policy) }
        if s.enabled {
            guard m["router_id"] != nil else {
                throw v.error(
                    "bgp needs router_id (Mamori's BGP identifier, an IPv4 address such as 192.0.2.5), or enabled: false")
            }
            guard !s.neighbors.isEmpty else {
                throw (m["neighbors"] ?? v).error(
                    "bgp needs at least one entry in neighbors (name, address, peer_as), or enabled: false")
            }
        }
        return s
    }

    /// `neighbors:`, a list of `{name, address, peer_as, …}`.
    private static func neighbors(_ x: YAMLValue) throws(ConfigurationError) -> [Neighbor] {
        guard case .sequence(let seq) = x.node else {
            throw x.error("bgp.neighbors must be a list of neighbours, each with name, address and peer_as")
        }
        var out: [Neighbor] = []
        var names: [String: Int] = [:]
        var endpoints: [String: Int] = [:]
        for (i, item) in seq.enumerated() {
            let path = "bgp.neighbors[\(i)]"
            let e = try BGPSection(item, path: path)
            try e.allowOnly(["name", "address", "port", "peer_as", "local_address", "hold_time", "families", "md5_password_file"])
            guard let nameValue = e["name"], let addressValue = e["address"], let peerASValue = e["peer_as"] else {
                let missing = ["name", "address", "peer_as"].filter { e[$0] == nil }.joined(separator: ", ")
                throw ConfigurationError(
                    line: item.mark?.line, "\(path) needs name, address and peer_as; missing: \(missing)")
            }
            let name = try nameValue.string()
            guard (1...64).contains(name.utf8.count), name.utf8.allSatisfy(Self.isNameByte) else {
                throw nameValue.error(
                    "\(nameValue.key): '\(name)' is not a usable name; use 1 to 64 letters, digits, '.', '_' or '-' "
                        + "(it becomes a metrics label), e.g. edge-1")
            }
            if let first = names[name] {
                throw nameValue.error(
                    "\(nameValue.key): the name '\(name)' is already used by bgp.neighbors[\(first)]; names must be unique")
            }
            names[name] = i
            let address = try addressValue.ipAddress()
            var n = Neighbor(name: name, address: address.description, peerAS: try peerASValue.asNumber())
            if let p = e["port"] { n.port = try p.int(in: 1...65_535) }
            let endpoint = "\(n.address) port \(n.port)"
            if let first = endpoints[endpoint] {
                throw addressValue.error(
                    "\(addressValue.key): bgp.neighbors[\(first)] already connects to \(endpoint); one session per neighbour")
            }
            endpoints[endpoint] = i
            if let l = e["local_address"] {
                let local = try l.ipAddress()
                guard local.isIPv6 == address.isIPv6 else {
                    throw l.error(
                        "\(l.key): \(local) and the neighbour's address \(address) are of different families; "
                            + "the session's source address must be an IPv\(address.isIPv6 ? 6 : 4) address")
                }
                n.localAddress = local.description
            }
            if let h = e["hold_time"] {
                let seconds = try h.int(in: 0...65_535)
                guard seconds == 0 || seconds >= 3 else {
                    throw h.error("\(h.key) must be 0 (no keepalives) or 3 to 65535 seconds (RFC 4271 §4.2); got \(seconds)")
                }
                n.holdTime = UInt16(seconds)
            }
            if let f = e["families"] { n.families = try f.families() }
            if let m = e["md5_password_file"] { n.md5PasswordFile = try m.string() }
            out.append(n)
        }
        return out
    }

    private static func isNameByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"): true
        default: false
        }
    }

    /// `blackhole:`: next hops and communities of RTBH routes.
    private static func blackhole(_ x: YAMLValue, into s: inout BGPSettings) throws(ConfigurationError) {
        let b = try BGPSection(x.node, path: "bgp.blackhole")
        try b.allowOnly(["next_hop_ipv4", "next_hop_ipv6", "communities", "large_communities", "no_export"])
        if let h = b["next_hop_ipv4"] {
            let a = try h.ipAddress()
            guard !a.isIPv6 else {
                throw h.error("\(h.key): \(a) is an IPv6 address; write the IPv4 next hop here (next_hop_ipv6 takes IPv6)")
            }
            s.blackholeNextHopIPv4 = a.description
        }
        if let h = b["next_hop_ipv6"] {
            let a = try h.ipAddress()
            guard a.isIPv6 else {
                throw h.error("\(h.key): \(a) is an IPv4 address; write the IPv6 next hop here, e.g. \"100::1\" (RFC 6666)")
            }
            s.blackholeNextHopIPv6 = a.description
        }
        if let c = b["communities"] { s.blackholeCommunities = try c.communities() }
        if let c = b["large_communities"] {
            guard case .sequence(let seq) = c.node else {
                throw c.error("\(c.key) must be a list of large communities like \"64512:666:0\"")
            }
            var out: [BGPLargeCommunity] = []
            for item in seq {
                let one = YAMLValue(node: item, key: c.key)
                let text = try one.string()
                guard let community = BGPLargeCommunity(text), text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ":") }) else {
                    throw one.error(
                        "\(c.key): '\(text)' is not a large community; write three numbers from 0 to 4294967295 "
                            + "as global:local1:local2, e.g. \"64512:666:0\" (RFC 8092)")
                }
                if !out.contains(community) { out.append(community) }
            }
            s.blackholeLargeCommunities = out
        }
        if let n = b["no_export"] { s.blackholeNoExport = try n.bool() }
    }

    /// The rails: protected prefixes, minimum lengths, caps, lifetime, what happens at shutdown.
    private static func rails(_ m: BGPSection, into p: inout MitigationPolicy) throws(ConfigurationError) {
        if let x = m["protected"] {
            guard case .sequence(let seq) = x.node else {
                throw x.error("bgp.protected must be a list of prefixes or addresses, e.g. [192.0.2.0/24, \"2001:db8::53\"]")
            }
            var prefixes: [IPPrefix] = []
            for item in seq {
                let one = YAMLValue(node: item, key: x.key)
                let text = try one.string()
                guard let prefix = IPPrefix(text) else {
                    throw one.error(
                        "bgp.protected: '\(text)' is not a prefix or address; write e.g. 192.0.2.0/24, 198.51.100.53 or 2001:db8::/32")
                }
                prefixes.append(prefix)
            }
            p.protected = PrefixSet(prefixes)
        }
        if let x = m["minimum_ipv4_length"] { p.minimumIPv4Length = try x.int(in: 8...32) }
        if let x = m["minimum_ipv6_length"] { p.minimumIPv6Length = try x.int(in: 16...128) }
        if let x = m["maximum_active"] { p.maximumActive = try x.int(in: 1...100_000) }
        if let x = m["maximum_new_per_minute"] { p.maximumNewPerMinute = try x.int(in: 1...10_000) }
        if let x = m["maximum_pending"] { p.maximumPending = try x.int(in: 1...100_000) }
        if let x = m["maximum_lifetime_hours"] { p.maximumLifetimeMilliseconds = Int64(try x.int(in: 1...8760)) * 3_600_000 }
        if let x = m["on_shutdown"] {
            let text = try x.string()
            guard let policy = MitigationShutdownPolicy(rawValue: text.replacing("-", with: "_")) else {
                throw x.error(
                    "bgp.on_shutdown must be withdraw_all (withdraw every rule before the sessions close) or leave "
                        + "(the routers keep them, by graceful restart, until Mamori is back or graceful_restart_seconds pass); "
                        + "got '\(text)'")
            }
            p.shutdown = policy
        }
        if let x = m["reflection_minimum_share"] { p.reflectionMinimumShare = try x.double(in: 0.5...1) }
        if let x = m["reflection_minimum_packet_length"] { p.reflectionMinimumPacketLength = try x.int(in: 0...9000) }
    }

    /// `triggers:`: per trigger, its mode, lifetime and FlowSpec action. A trigger not listed,
    /// and a key not given, keep the policy's default.
    private static func triggers(_ x: YAMLValue, into p: inout MitigationPolicy) throws(ConfigurationError) {
        let t = try BGPSection(x.node, path: "bgp.triggers")
        try t.allowOnly(Set(MitigationTrigger.allCases.map(\.rawValue)))
        for trigger in MitigationTrigger.allCases {
            guard let value = t[trigger.rawValue] else { continue }
            let e = try BGPSection(value.node, path: value.key)
            try e.allowOnly(["mode", "ttl_minutes", "rate_limit_bytes_per_second"])
            var settings = p.settings(trigger)
            if let x = e["mode"] {
                let text = try x.string()
                guard let mode = MitigationMode(rawValue: text.replacing("-", with: "_")) else {
                    throw x.error("\(x.key) must be off, dry_run, manual_approval or automatic; got '\(text)'")
                }
                settings.mode = mode
            }
            if let x = e["ttl_minutes"] { settings.ttlMilliseconds = Int64(try x.int(in: 1...10_080)) * 60_000 }
            settings.action = .discard
            if let x = e["rate_limit_bytes_per_second"] {
                guard trigger != .inboundFlood else {
                    throw x.error(
                        "\(x.key): inbound_flood is answered with a black-hole route, which cannot rate-limit; "
                            + "remove the key (rates apply to the FlowSpec triggers)")
                }
                let text = try x.string()
                guard let rate = Double(text.replacing("_", with: "")), rate > 0, rate <= 1e12 else {
                    throw x.error(
                        "\(x.key) must be a number of bytes per second above 0 and at most 1000000000000; got '\(text)' "
                            + "(to discard the traffic instead, leave the key out)")
                }
                settings.action = .rateLimit(bytesPerSecond: Float(rate))
            }
            p.triggers[trigger] = settings
        }
    }
}

/// A mapping inside `bgp:` whose values carry their full path (`bgp.neighbors[0].port`) for
/// error messages.
struct BGPSection {
    let map: YAMLMap
    let path: String

    init(_ node: Node, path: String) throws(ConfigurationError) {
        map = try YAMLMap(node, context: path)
        self.path = path
    }

    func allowOnly(_ keys: Set<String>) throws(ConfigurationError) { try map.allowOnly(keys) }

    subscript(_ key: String) -> YAMLValue? {
        map[key].map { YAMLValue(node: $0.node, key: "\(path).\(key)") }
    }
}

extension YAMLValue {
    /// An AS number: 1 to 4294967295 (4-octet ASes too), not AS_TRANS.
    fileprivate func asNumber() throws(ConfigurationError) -> UInt32 {
        let n = try int(in: 1...Int(UInt32.max))
        guard n != 23_456 else {
            throw error("\(key): 23456 is AS_TRANS (RFC 6793), a placeholder for 4-octet ASes; write the real AS number")
        }
        return UInt32(n)
    }

    /// An IPv4 or IPv6 address (no prefix length, no port).
    fileprivate func ipAddress() throws(ConfigurationError) -> IPAddress {
        let text = try string()
        guard let a = IPAddress(text) else {
            throw error("\(key): '\(text)' is not an IP address; write an IPv4 or IPv6 literal such as 192.0.2.1 or \"2001:db8::1\"")
        }
        return a
    }

    /// A list of communities: `high:low` (each 0 to 65535) or `no-export`, `no-advertise`.
    fileprivate func communities() throws(ConfigurationError) -> [BGPCommunity] {
        guard case .sequence(let seq) = node else {
            throw error("\(key) must be a list of communities like \"64512:666\" or no-export")
        }
        var out: [BGPCommunity] = []
        for item in seq {
            let one = YAMLValue(node: item, key: key)
            let text = try one.string()
            let named = ["no-export", "no-advertise"].contains(text.lowercased())
            let numeric = text.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ":") }
            guard named || numeric, let community = BGPCommunity(text) else {
                throw one.error(
                    "\(key): '\(text)' is not a community; write two numbers from 0 to 65535 as high:low "
                        + "(quoted, e.g. \"64512:666\") or no-export or no-advertise")
            }
            if !out.contains(community) { out.append(community) }
        }
        return out
    }

    /// A list of address families, kept in the order End-of-RIB is sent.
    fileprivate func families() throws(ConfigurationError) -> [BGPFamily] {
        let known = BGPFamily.supported.map(\.description).joined(separator: ", ")
        guard case .sequence(let seq) = node else { throw error("\(key) must be a list of families: \(known)") }
        var chosen: Set<BGPFamily> = []
        for item in seq {
            let one = YAMLValue(node: item, key: key)
            let text = try one.string()
            guard let family = BGPFamily.supported.first(where: { $0.description == text.lowercased() }) else {
                throw one.error("\(key): '\(text)' is not a family Mamori speaks; use \(known)")
            }
            chosen.insert(family)
        }
        guard !chosen.isEmpty else { throw error("\(key) must name at least one family (\(known)), or be left out for all four") }
        return BGPFamily.supported.filter { chosen.contains($0) }
    }
}
