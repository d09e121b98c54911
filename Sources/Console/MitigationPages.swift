import Accounts
import Foundation
import MamoriCore

/// BGP mitigation: the sessions with the routers, the kill switch, the rules announced, waiting
/// for approval and in dry run, and the latest refusals by the safety rails; for those who may
/// control mitigation, the forms that approve, reject and withdraw rules and throw or release the
/// kill switch (the same steps as `/api/v1/bgp` and `mamori bgp`, audited under their name). The
/// server hands it plain values; the speaker's and the book's types stay out of the console.
public struct MitigationView {
    /// One BGP neighbour.
    public struct Neighbor {
        var name: String
        var address: String
        var peerAS: String
        var state: String
        var stateClass: String
        var since: String
        var families: String
        var routes: Int
        var lastError: String

        /// `since` in ms since 1970.
        public init(
            name: String, address: String, port: Int, peerAS: UInt32, state: String, since: Int64, families: [String], routes: Int,
            lastError: String?
        ) {
            self.name = name
            self.address = address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
            self.peerAS = String(peerAS)
            self.state = state
            stateClass = state == "established" ? "up" : "down"
            self.since = Format.time(since)
            self.families = families.joined(separator: ", ")
            self.routes = routes
            self.lastError = lastError ?? ""
        }
    }

    /// One rule as the lists show it.
    public struct Rule {
        var id: String
        var kind: String
        var summary: String
        var trigger: String
        var findingID: String
        var findingPath: String
        var hasFinding: Bool
        var reason: String
        var origin: String
        var approver: String
        var legalBasis: String
        var created: String
        var expires: String

        /// Times in ms since 1970.
        public init(
            id: String, kind: String, summary: String, trigger: String?, findingID: String?, reason: String, origin: String,
            approver: String?, legalBasis: String?, createdAt: Int64, expiresAt: Int64
        ) {
            self.id = id
            self.kind = kind
            self.summary = summary
            self.trigger = trigger ?? "—"
            self.findingID = findingID ?? ""
            findingPath = findingID.map(Format.escapeQuery) ?? ""
            hasFinding = findingID != nil
            self.reason = reason
            self.origin = origin
            self.approver = approver ?? "—"
            self.legalBasis = legalBasis ?? "—"
            created = Format.time(createdAt)
            expires = Format.time(expiresAt)
        }
    }

    /// A rule a rail refused.
    public struct Refusal {
        var summary: String
        var rail: String
        var reason: String
        var at: String

        public init(summary: String, rail: String, reason: String, at: Int64) {
            self.summary = summary
            self.rail = rail
            self.reason = reason
            self.at = Format.time(at)
        }
    }

    /// Who threw the kill switch, why and when.
    public struct KillSwitch {
        var engagedBy: String
        var reason: String
        var at: String

        public init(engagedBy: String, reason: String, at: Int64) {
            self.engagedBy = engagedBy
            self.reason = reason
            self.at = Format.time(at)
        }
    }

    var enabled: Bool
    var localAS: String
    var neighbors: [Neighbor]
    var killSwitch: KillSwitch?
    var killSwitchOff: Bool
    var active: [Rule]
    var pending: [Rule]
    var dryRun: [Rule]
    var refusals: [Refusal]
    var noActive: Bool
    var noPending: Bool
    var noDryRun: Bool
    var noRefusals: Bool
    var mayControl: Bool

    /// Mitigation is not configured (no `bgp:` section): the page says how to turn it on.
    public static var off: MitigationView {
        MitigationView(localAS: nil, neighbors: [], killSwitch: nil, active: [], pending: [], dryRun: [], refusals: [], mayControl: false)
    }

    /// `localAS` nil: not configured.
    public init(
        localAS: UInt32?, neighbors: [Neighbor], killSwitch: KillSwitch?, active: [Rule], pending: [Rule], dryRun: [Rule],
        refusals: [Refusal], mayControl: Bool
    ) {
        enabled = localAS != nil
        self.localAS = localAS.map(String.init) ?? ""
        self.neighbors = neighbors
        self.killSwitch = killSwitch
        killSwitchOff = killSwitch == nil
        self.active = active
        self.pending = pending
        self.dryRun = dryRun
        self.refusals = refusals
        noActive = active.isEmpty
        noPending = pending.isEmpty
        noDryRun = dryRun.isEmpty
        noRefusals = refusals.isEmpty
        self.mayControl = mayControl && localAS != nil
    }
}
