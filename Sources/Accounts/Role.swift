/// What an operator may do in general: each role grants everything the role below it grants, and more.
///
/// - `peer` is another carrier or an ISAC's hub: it reads and writes only the shared (TAXII)
///   collections whose lists name it or its role, and sees nothing else (no findings, cases or
///   metrics).
/// - `viewer` reads findings, cases and metrics, and sees subscribers only as pseudonyms.
/// - `analyst` also records verdicts, acts on cases, records consent events, reads the audit log
///   and may reveal an identity (with a reason, which the reveal's own audit entry keeps).
/// - `admin` also manages accounts and tokens, views the configuration and takes the actions
///   that change the network (RPZ, BGP).
public enum Role: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case peer
    case viewer
    case analyst
    case admin

    private var rank: Int {
        switch self {
        case .peer: 0
        case .viewer: 1
        case .analyst: 2
        case .admin: 3
        }
    }

    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }

    /// Every permission this role grants (its own and those of the roles below it).
    public var permissions: Set<Permission> { Set(Permission.allCases.filter { grants($0) }) }

    /// Whether this role grants `permission`.
    public func grants(_ permission: Permission) -> Bool { permission.minimumRole <= self }
}

/// One thing an operator or a machine token may do. A token's scope is a set of these, never more
/// than its creator's role grants (``Role/permissions``).
public enum Permission: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case readFindings = "read_findings"
    case readCases = "read_cases"
    case readMetrics = "read_metrics"
    /// The audit log's entries (the console's audit page).
    case readAudit = "read_audit"
    case recordVerdict = "record_verdict"
    case actOnCase = "act_on_case"
    case changeConsent = "change_consent"
    case revealIdentity = "reveal_identity"
    case manageAccounts = "manage_accounts"
    case manageTokens = "manage_tokens"
    case viewConfiguration = "view_configuration"
    case changeNetwork = "change_network"
    /// Add and remove DNS sinkhole entries (`mamori rpz`, `/api/v1/sinkhole`).
    case changeSinkhole = "change_sinkhole"
    /// Announce and withdraw BGP mitigations by hand, approve or reject waiting ones, and throw
    /// the kill switch (`mamori bgp`, `/api/v1/bgp`).
    case controlMitigation = "control_mitigation"
    /// Read the shared (TAXII) collections whose `read` list names the account or its role.
    case readShared = "read_shared"
    /// Add objects to the shared (TAXII) collections whose `write` list names the account or its
    /// role, and delete revoked ones.
    case writeShared = "write_shared"
    /// Run the sharing: pull and push peers now, import STIX bundles as a source of indicators
    /// (`mamori share pull|push|import`, `/api/v1/sharing/...`). Reading what is held and exported
    /// needs `read_findings`: neither is for peers.
    case manageSharing = "manage_sharing"
    /// Hand Mamori report files from outside (Shadowserver, NOTICE, abuse complaints):
    /// `mamori reports import`, `POST /api/v1/reports` — the scope of an MTA's delivery script.
    case submitReports = "submit_reports"

    /// The one table of the model: the lowest role that grants each permission. A role grants a
    /// permission when it is at least this role.
    public var minimumRole: Role {
        switch self {
        // The sharing permissions are the lowest role's, a peer's: each collection's own lists say
        // who may read or write it.
        case .readShared, .writeShared: .peer
        case .readFindings, .readCases, .readMetrics: .viewer
        case .recordVerdict, .actOnCase, .changeConsent, .revealIdentity, .readAudit, .changeSinkhole, .manageSharing, .submitReports:
            .analyst
        case .manageAccounts, .manageTokens, .viewConfiguration, .changeNetwork, .controlMitigation: .admin
        }
    }

    public static func < (a: Permission, b: Permission) -> Bool { a.rawValue < b.rawValue }

    /// Parses a comma-separated list (`read_findings,read_cases`); nil when any item is unknown
    /// or the list is empty. Total: bounded by the number of permissions, whatever the input.
    public static func parseList(_ text: String) -> Set<Permission>? {
        guard text.utf8.count <= 1_024 else { return nil }
        var result = Set<Permission>()
        for item in text.split(separator: ",", omittingEmptySubsequences: true) {
            let trimmed = item.trimmingCharacters(in: " ")
            guard let p = Permission(rawValue: trimmed) else { return nil }
            result.insert(p)
        }
        return result.isEmpty ? nil : result
    }

    /// The permissions as a sorted, comma-separated list (the form ``parseList(_:)`` reads).
    public static func list(_ permissions: Set<Permission>) -> String {
        permissions.sorted().map(\.rawValue).joined(separator: ",")
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        String(self.drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}
