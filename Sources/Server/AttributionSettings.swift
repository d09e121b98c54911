import Attribution
import FlowCodec
import IdentityListeners
import MamoriCore

/// The `attribution:` section of the configuration file: how identity data is interpreted and
/// kept. (Where it comes from — RADIUS, lease files, syslog — is configured beside it.)
public struct AttributionSettings: Sendable {
    /// How far the clocks of NAS, DHCP server, CGNAT and exporters may disagree, seconds.
    public var clockSkewSeconds: Double = 2
    /// A RADIUS session without a Stop stops counting this long after its last Interim-Update.
    public var maximumSessionHours: Double = 24
    /// A CGNAT port block without a release stops counting this long after its allocation.
    public var maximumPortBlockDays: Double = 30
    /// Attribution records (sessions, leases, port blocks) that ended longer ago are forgotten.
    public var retentionDays: Int = 90
    /// Deterministic CGNAT pools (RFC 7422).
    public var deterministicNAT: [DeterministicNAT] = []
    /// Whether `POST /api/v1/attribution/reveal` may show real identifiers (each reveal is recorded
    /// in `<data_directory>/reveal-audit.jsonl` first).
    public var revealEnabled = false
    /// Static assignments CSV (`prefix,subscriber,valid_from,valid_until`), read at start.
    public var staticAssignmentsFile: String?
    /// Who may send IPFIX NAT events (the CGNATs' exporter addresses or prefixes). Nil (not
    /// configured): loopback only, with a line at start saying so — see ``AttributionService``.
    /// An empty list takes NAT events from nobody.
    public var natEventExporters: [IPPrefix]?
    /// The RADIUS accounting server: where it listens (none: off) and which NASes may send.
    public var radius = RADIUSAccountingServer.Configuration()
    /// CGNAT port-block syslog over UDP (and who may send it: ``SyslogListener/Configuration/senders``).
    public var syslog = SyslogListener.Configuration()
    /// Identity files read at start and followed as they grow (Kea leases, FreeRADIUS detail,
    /// CGNAT syslog).
    public var files = IdentityFileFollower.Configuration()

    public init() {}

    /// The index configuration these settings describe.
    public var index: AttributionIndex.Configuration {
        var c = AttributionIndex.Configuration()
        c.clockSkewMilliseconds = Int64(clockSkewSeconds * 1000)
        c.maximumOpenMilliseconds = Int64(maximumSessionHours * 3_600_000)
        c.maximumOpenTranslationMilliseconds = Int64(maximumPortBlockDays * 86_400_000)
        c.deterministicNAT = deterministicNAT
        return c
    }
}
