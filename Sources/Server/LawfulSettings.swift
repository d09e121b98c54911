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

    public init() {}
}
