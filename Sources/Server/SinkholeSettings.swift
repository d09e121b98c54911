import FlowCodec
import MamoriCore
import Yams

/// The `sinkhole:` section: the DNS sinkhole served to the carrier's resolvers as RPZ zones
/// (docs/rpz.md shows the resolvers' side).
///
/// ```yaml
/// sinkhole:
///   listen: 192.0.2.5:53          # zone transfers (TCP) and SOA queries (UDP)
///   zone: rpz.mamori.              # the sinkhole zone; exemptions are in exempt.rpz.mamori.
///   sinkhole_name: sinkhole.isp.example.   # CNAME target: resolves to the sinkhole listener
///   secondaries:
///     - address: 192.0.2.53/32     # a BIND resolver: transfers signed with this key
///       notify: 192.0.2.53:53
///       tsig_key_name: mamori-xfr.
///       tsig_secret_file: /etc/mamori/xfr.key   # the base64 secret, as in BIND's `secret`
///     - address: 192.0.2.54/32     # an Unbound resolver: cannot sign, admitted by address
///       notify: 192.0.2.54:53
///   confirm_score: 0.9
/// ```
public struct SinkholeSettings: Sendable, Hashable {
    /// One resolver that follows the zones.
    public struct Secondary: Sendable, Hashable {
        /// Who may transfer: an address or prefix.
        public var address: IPPrefix
        /// Where NOTIFYs go (nil: the secondary polls at the SOA refresh only).
        public var notify: SocketEndpoint?
        /// The TSIG key's name; with ``tsigSecretFile``, transfers must be signed with it.
        public var tsigKeyName: String?
        /// A file holding the key's secret in base64 (kept out of the configuration file).
        public var tsigSecretFile: String?
    }

    /// Whether the sinkhole runs (`sinkhole:` present and `enabled` not false).
    public var enabled = false
    /// Where zone transfers (TCP) and SOA queries (UDP) are answered.
    public var listen = SocketEndpoint(host: "127.0.0.1", port: 5353)
    /// The sinkhole zone's apex.
    public var zone = "rpz.mamori."
    /// The exemption zone's apex (opted-out subscribers' PASSTHRU rules); default `exempt.<zone>`.
    public var exemptionZone: String?
    /// The name every sinkholed answer points to (CNAME); it must resolve to the sinkhole listener.
    public var sinkholeName = "sinkhole.mamori.invalid."
    /// SOA primary name and responsible mailbox of both zones.
    public var primaryName = "mamori.invalid."
    public var responsibleName = "hostmaster.mamori.invalid."
    /// TTL of the sinkhole zone's records and of the exemption zone's.
    public var ttl = 300
    public var exemptionTTL = 60
    public var secondaries: [Secondary] = []
    /// A C&C finding enters the policy by itself at this score or above; below it, an analyst's
    /// true-positive verdict puts it in.
    public var confirmScore = 0.9
    /// How long an entry from a finding lasts unless confirmed again (days).
    public var entryDays = 30
    /// The most entries the policy holds (beyond: refused and counted).
    public var maximumEntries = 1_000_000
    /// Names never sinkholed, nor anything below or above them (added to the built-in list).
    public var protectedNames: [String] = []
    /// Prefixes never sinkholed (the resolvers', the carrier's own services).
    public var protectedPrefixes: [IPPrefix] = []
    /// How often the opted-out subscribers' current addresses are looked up again (seconds).
    public var exemptionRefreshSeconds = 60
    /// The addresses `sinkhole_name` resolves to (the sinkhole listener's): an answer in the
    /// resolvers' dnstap log pointing here was sinkholed.
    public var addresses: [IPAddress] = []
    /// Whether names that the resolvers' log shows resolving to a C&C address in the policy are
    /// added as name entries too (so the name stays sinkholed when the C&C moves).
    public var learnNames = true
    /// Where the sinkhole listener accepts connections (`listener: [HOST:PORT, …]`: the addresses
    /// in `addresses`, on 80, 443 and the botnets' ports); empty: no listener.
    public var listener: [SocketEndpoint] = []

    public init() {}

    /// The exemption zone's apex as configured or derived.
    public var exemptionApex: String { exemptionZone ?? "exempt." + zone }

    /// Names a carrier never wants sinkholed whatever a feed says: the root servers' and the
    /// big public resolvers' names, and the popular platforms an indicator feed sometimes lists
    /// by mistake (a C&C on a shared host). Extended by `protected_names`.
    public static let builtInProtectedNames = [
        "root-servers.net.", "arpa.", "google.com.", "googleapis.com.", "gstatic.com.", "apple.com.", "icloud.com.",
        "microsoft.com.", "windowsupdate.com.", "amazonaws.com.", "cloudflare.com.", "akamaiedge.net.", "github.com.",
        "line.me.", "yahoo.co.jp.", "facebook.com.", "whatsapp.net.",
    ]
}

extension SinkholeSettings {
    /// Parses the `sinkhole:` mapping.
    static func parse(_ v: YAMLValue) throws(ConfigurationError) -> SinkholeSettings {
        var s = SinkholeSettings()
        s.enabled = true
        let m = try YAMLMap(v.node, context: "sinkhole")
        try m.allowOnly([
            "enabled", "listen", "zone", "exemption_zone", "sinkhole_name", "primary_name", "responsible_name", "ttl", "exemption_ttl",
            "secondaries", "confirm_score", "entry_days", "maximum_entries", "protected_names", "protected_prefixes",
            "exemption_refresh_seconds", "addresses", "learn_names", "listener",
        ])
        if let x = m["enabled"] { s.enabled = try x.bool() }
        if let x = m["listen"] { s.listen = try x.endpoint() }
        for (key, path) in [
            ("zone", \SinkholeSettings.zone), ("sinkhole_name", \.sinkholeName), ("primary_name", \.primaryName),
            ("responsible_name", \.responsibleName),
        ] {
            if let x = m[key] { s[keyPath: path] = try x.dnsName() }
        }
        if let x = m["exemption_zone"] { s.exemptionZone = try x.dnsName() }
        if let x = m["ttl"] { s.ttl = try x.int(in: 1...86_400) }
        if let x = m["exemption_ttl"] { s.exemptionTTL = try x.int(in: 1...86_400) }
        if let x = m["confirm_score"] { s.confirmScore = try x.double(in: 0...1) }
        if let x = m["entry_days"] { s.entryDays = try x.int(in: 1...3650) }
        if let x = m["maximum_entries"] { s.maximumEntries = try x.int(in: 1...10_000_000) }
        if let x = m["exemption_refresh_seconds"] { s.exemptionRefreshSeconds = try x.int(in: 5...86_400) }
        if let x = m["protected_names"] { s.protectedNames = try x.strings().map { $0.hasSuffix(".") ? $0 : $0 + "." } }
        if let x = m["protected_prefixes"] { s.protectedPrefixes = try x.prefixes() }
        if let x = m["learn_names"] { s.learnNames = try x.bool() }
        if let l = m["listener"] {
            guard case .sequence(let seq) = l.node else { throw l.error("sinkhole.listener must be a list of HOST:PORT") }
            for item in seq { s.listener.append(try YAMLValue(node: item, key: "sinkhole.listener").endpoint()) }
        }
        if let x = m["addresses"] {
            for text in try x.strings() {
                guard let a = IPAddress(text) else { throw x.error("sinkhole.addresses: '\(text)' is not an address") }
                s.addresses.append(a)
            }
        }
        if let x = m["secondaries"] {
            guard case .sequence(let seq) = x.node else { throw x.error("sinkhole.secondaries must be a list") }
            for item in seq {
                let e = try YAMLMap(item, context: "a sinkhole secondary")
                try e.allowOnly(["address", "notify", "tsig_key_name", "tsig_secret_file"])
                guard let a = e["address"] else {
                    throw ConfigurationError(line: item.mark?.line, "a sinkhole secondary needs an 'address'")
                }
                let text = try a.string()
                guard let prefix = IPPrefix(text) ?? IPAddress(text).flatMap({ IPPrefix(address: $0, length: $0.isIPv6 ? 128 : 32) })
                else { throw a.error("'\(text)' is not an address or prefix") }
                var secondary = Secondary(address: prefix)
                if let n = e["notify"] { secondary.notify = try n.endpoint() }
                if let k = e["tsig_key_name"] { secondary.tsigKeyName = try k.dnsName() }
                if let f = e["tsig_secret_file"] { secondary.tsigSecretFile = try f.string() }
                if (secondary.tsigKeyName == nil) != (secondary.tsigSecretFile == nil) {
                    throw ConfigurationError(
                        line: item.mark?.line, "a sinkhole secondary needs both tsig_key_name and tsig_secret_file, or neither")
                }
                s.secondaries.append(secondary)
            }
        }
        return s
    }
}

extension YAMLValue {
    /// A DNS name, written with or without its final dot; returned with it, lower-cased.
    func dnsName() throws(ConfigurationError) -> String {
        let text = try string()
        guard let name = SavedEntry.hostName(text) else { throw error("\(key) must be a DNS name like rpz.example.; got '\(text)'") }
        return name
    }
}

extension SinkholeSettings.Secondary {
    init(address: IPPrefix) {
        self.address = address
    }
}

/// The `dnstap:` section: where the carrier's resolvers send their query log (dnstap over Frame
/// Streams, docs/rpz.md). Only client responses are read; what a finding does not need is
/// discarded as it arrives.
///
/// ```yaml
/// dnstap:
///   unix_socket: /run/mamori/dnstap.sock   # Unbound: dnstap-socket-path; BIND: dnstap-output unix
///   listen: 192.0.2.10:6000                # or TCP (Unbound: dnstap-ip)
/// ```
public struct DnstapSettings: Sendable, Hashable {
    public var enabled = false
    public var unixSocket: String?
    /// Permissions of the socket file (the resolver's user must be able to write to it).
    public var unixSocketMode: Int?
    public var listen: SocketEndpoint?
    public var maximumConnections = 64
    /// The DGA detector's window, and how many generated NXDOMAIN names (and what share of the
    /// client's NXDOMAIN names) make a finding.
    public var dgaWindowSeconds = 600
    public var dgaMinimumNames = 20
    public var dgaMinimumShare = 0.6
    public init() {}

    static func parse(_ v: YAMLValue) throws(ConfigurationError) -> DnstapSettings {
        var s = DnstapSettings()
        s.enabled = true
        let m = try YAMLMap(v.node, context: "dnstap")
        try m.allowOnly([
            "enabled", "unix_socket", "unix_socket_mode", "listen", "maximum_connections", "dga_window_seconds", "dga_minimum_names",
            "dga_minimum_share",
        ])
        if let x = m["enabled"] { s.enabled = try x.bool() }
        if let x = m["unix_socket"] { s.unixSocket = try x.string() }
        if let x = m["unix_socket_mode"] {
            let text = try x.string()
            guard let mode = Int(text, radix: 8), (0...0o777).contains(mode) else {
                throw x.error("unix_socket_mode must be octal like 0660")
            }
            s.unixSocketMode = mode
        }
        if let x = m["listen"] { s.listen = try x.endpoint() }
        if let x = m["maximum_connections"] { s.maximumConnections = try x.int(in: 1...10_000) }
        if let x = m["dga_window_seconds"] { s.dgaWindowSeconds = try x.int(in: 10...86_400) }
        if let x = m["dga_minimum_names"] { s.dgaMinimumNames = try x.int(in: 2...100_000) }
        if let x = m["dga_minimum_share"] { s.dgaMinimumShare = try x.double(in: 0...1) }
        if s.enabled && s.unixSocket == nil && s.listen == nil {
            throw ConfigurationError(line: v.node.mark?.line, "dnstap needs unix_socket or listen")
        }
        return s
    }
}
