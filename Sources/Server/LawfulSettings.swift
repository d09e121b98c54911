import Lawful

/// The `lawful:` section: where the carrier's policy is, the audit log's key and retention.
public struct LawfulSettings: Sendable {
    /// The policy file (`mamori.policy.example.yaml` shows every key). Nil: the built-in policy,
    /// which discloses nothing, so only individual consent opens subscriber actions.
    public var policyFile: String?
    /// The parsed policy (from `policyFile`, or the built-in one).
    public var policy = LawfulPolicy()
    /// The audit key; default `<data_directory>/audit.key`. Keep it off the machine's backups of the log.
    public var auditKeyFile: String?
    /// Entries per audit segment file; retention removes whole segments.
    public var auditSegmentEntries: Int = 10_000
    /// Days audit entries are kept (whole segments older than this are removed, and the removal is recorded).
    public var auditRetentionDays: Int = 1825

    /// Where notices are sent from; nil: no e-mail is sent (cases list subscribers for the call-centre export).
    public var smtp: SMTPSettings?
    /// The address subscribers open the notice page at (this server's HTTP listener as the
    /// outside sees it, usually behind a reverse proxy with TLS).
    public var noticeBaseURL: String?
    /// Days finished cases (closed, remediated, false positive, held) are kept after their last change.
    public var caseRetentionDays: Int = 365

    public init() {}
}

/// The `lawful.smtp:` section: the carrier's mail relay.
public struct SMTPSettings: Sendable, Hashable {
    public var host: String = "127.0.0.1"
    public var port: Int = 25
    /// `starttls_if_offered` (default without credentials), `starttls_required` (the default, and
    /// the only value accepted, with `username` and `password_file`), `none`.
    public var tls: String = "starttls_if_offered"
    /// PEM file of the CA that signed the relay's certificate (default: the system's trust store).
    public var caFile: String?
    public var username: String?
    /// A file holding the password (kept out of the configuration file).
    public var passwordFile: String?
    /// The sender, e.g. `"Example ISP Security <security@example.jp>"` or a bare address.
    public var from: String = "security@localhost"
    public init() {}
}
