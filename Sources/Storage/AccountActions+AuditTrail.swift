import Accounts
import Lawful

extension AccountStore {
    /// Carries out an ``AccountWorkflow`` step's actions in order: audit entries into `audit`
    /// (under their `AuditKind`), the rest into this store. An audit entry that cannot be written
    /// stops the rest: a change the log cannot record is not made. The one executor of account
    /// actions, for the server and for `mamori user`/`mamori token` alike.
    public func carryOut(_ actions: [AccountAction], audit: any AuditTrail) async throws {
        for action in actions {
            switch action {
            case .audit(let r):
                let kind: AuditKind =
                    switch r.kind {
                    case .authentication: .authentication
                    case .accountChange: .accountChange
                    }
                try audit.append(at: r.at, kind: kind, actor: r.actor, subject: r.subject, summary: r.summary, detail: r.detail)
            case .saveAccount(let a): try await save(a)
            case .saveToken(let t): try await save(t)
            case .saveSession(let s): try await save(s)
            case .deleteSession(let digest): try await deleteSession(digest: digest)
            case .deleteSessions(let accountID): try await deleteSessions(accountID: accountID)
            }
        }
    }
}
