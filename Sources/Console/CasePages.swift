import Accounts
import Foundation
import Lawful
import MamoriCore

/// The case queue, by state.
public struct CaseListView {
    struct Row {
        var href: String
        var reference: String
        var state: String
        var subscriber: String
        var device: String
        var opened: String
        var updated: String
        var notices: Int
        var escalated: Bool

        init(_ c: LawfulCase) {
            href = "/console/cases/\(Format.escapeQuery(c.id))"
            reference = c.reference
            state = c.state.rawValue
            subscriber = c.subscriber
            device = c.device
            opened = Format.time(c.opened)
            updated = Format.time(c.updated)
            notices = c.notices.count
            escalated = c.escalated
        }
    }
    struct Tab {
        var href: String
        var label: String
        var count: Int
        var current: Bool
    }
    var rows: [Row]
    var tabs: [Tab]
    var empty: Bool

    /// `cases` is every case (for the counts); `state` the one shown, nil for all.
    public init(cases: [LawfulCase], state: CaseState?, language: ConsoleLanguage) {
        let t = language.texts
        let shown = cases.filter { state == nil || $0.state == state }.sorted { ($0.updated, $0.id) > ($1.updated, $1.id) }
        rows = shown.map(Row.init)
        var counts: [CaseState: Int] = [:]
        for c in cases { counts[c.state, default: 0] += 1 }
        tabs =
            [Tab(href: "/console/cases", label: t["anyState"] ?? "", count: cases.count, current: state == nil)]
            + CaseState.allCases.map { s in
                Tab(href: "/console/cases?state=\(s.rawValue)", label: s.rawValue, count: counts[s] ?? 0, current: state == s)
            }
        empty = rows.isEmpty
    }
}

/// One case: the legal basis and its reasons, the notices, the consent history that decided
/// it, the findings behind it, its history, and the identity reveal.
public struct CaseView {
    struct Notice {
        var at: String
        var channel: String
        var language: String
        var outcome: String
        var delivered: Bool
    }
    struct Transition {
        var at: String
        var change: String
        var reason: String
    }
    struct Consent {
        var at: String
        var event: String
        var action: String
        var terms: String

        init(_ e: ConsentEvent) {
            at = Format.time(e.at)
            event = e.kind.rawValue
            action = e.action?.rawValue ?? ""
            terms = e.termsVersion ?? ""
        }
    }
    struct Link {
        var href: String
        var label: String
    }
    struct Revealed {
        var name: String
        var value: String
    }
    var id: String
    var idPath: String
    var reference: String
    var state: String
    var subscriber: String
    var subscriberHref: String
    var device: String
    var kind: String
    var opened: String
    var updated: String
    var evidenceWindow: String
    var decision: String?
    var permitted: Bool
    var basis: String?
    var reasons: [String]
    var notices: [Notice]
    var history: [Transition]
    var consent: [Consent]
    var findings: [Link]
    var mayReveal: Bool
    var revealEnabled: Bool
    var revealed: [Revealed]?
    var revealNone: Bool
    var mayClose: Bool
    var isFinal: Bool
    var hasReasons: Bool = false
    var hasRevealed: Bool = false
    var hasNotices: Bool = false
    var hasConsent: Bool = false

    /// `revealed`: the identifiers just revealed (shown this once), nil when none was asked;
    /// an empty dictionary when the identity data covers nothing.
    public init(
        case c: LawfulCase, consent events: [ConsentEvent], viewer: ConsoleViewer, revealEnabled: Bool, revealed: [String: String]?
    ) {
        let t = viewer.language.texts
        id = c.id
        idPath = Format.escapeQuery(c.id)
        reference = c.reference
        state = c.state.rawValue
        subscriber = c.subscriber
        subscriberHref = "/console/subscribers/\(Format.escapeQuery(c.subscriber))"
        device = c.device
        kind = c.kind.rawValue
        opened = Format.time(c.opened)
        updated = Format.time(c.updated)
        evidenceWindow = "\(Format.time(c.evidence.from)) – \(Format.time(c.evidence.to)) UTC"
        decision = c.decision.map { "\($0.action.rawValue): \($0.permitted ? t["permitted"] ?? "" : t["withheld"] ?? "")" }
        permitted = c.decision?.permitted ?? false
        basis = c.decision.map { $0.basis.rawValue }
        reasons = c.decision?.reasons ?? []
        notices = c.notices.map {
            Notice(
                at: Format.time($0.at), channel: $0.channel, language: $0.language, outcome: $0.outcome,
                delivered: $0.delivered)
        }
        history = c.history.map {
            Transition(at: Format.time($0.at), change: "\($0.from?.rawValue ?? "–") → \($0.to.rawValue)", reason: $0.reason)
        }
        consent = events.sorted { $0.at < $1.at }.map(CaseView.Consent.init)
        findings = c.findings.map { Link(href: "/console/findings/\(Format.escapeQuery($0))", label: $0) }
        mayReveal = viewer.may(.revealIdentity)
        self.revealEnabled = revealEnabled
        self.revealed = revealed.map { r in r.sorted { $0.key < $1.key }.map { Revealed(name: $0.key, value: $0.value) } }
        revealNone = revealed?.isEmpty ?? false
        mayClose = viewer.may(.actOnCase) && !c.state.isFinal
        isFinal = c.state.isFinal
        hasReasons = !reasons.isEmpty
        hasRevealed = !(self.revealed ?? []).isEmpty
        hasNotices = !notices.isEmpty
        hasConsent = !consent.isEmpty
    }
}

/// A subscriber, by pseudonym: consent state and history, and their cases.
public struct SubscriberView {
    var pseudonym: String
    var consent: [CaseView.Consent]
    var cases: [CaseListView.Row]
    var hasContact: Bool
    var empty: Bool
    var found: Bool

    public init(pseudonym: String, events: [ConsentEvent], cases: [LawfulCase], hasContact: Bool) {
        self.pseudonym = pseudonym
        consent = events.sorted { $0.at < $1.at }.map(CaseView.Consent.init)
        self.cases = cases.filter { $0.subscriber == pseudonym }.map(CaseListView.Row.init)
        self.hasContact = hasContact
        empty = consent.isEmpty
        found = !pseudonym.isEmpty
    }
}

/// The subscribers seen in cases, for the lookup page.
public struct SubscriberListView {
    struct Row {
        var href: String
        var pseudonym: String
        var cases: Int
        var latest: String
    }
    var rows: [Row]
    var empty: Bool

    public init(cases: [LawfulCase]) {
        var by: [String: (Int, Int64)] = [:]
        for c in cases {
            let old = by[c.subscriber] ?? (0, 0)
            by[c.subscriber] = (old.0 + 1, max(old.1, c.updated))
        }
        rows = by.sorted { ($0.value.1, $0.key) > ($1.value.1, $1.key) }.prefix(500).map {
            Row(
                href: "/console/subscribers/\(Format.escapeQuery($0.key))", pseudonym: $0.key, cases: $0.value.0,
                latest: Format.time($0.value.1))
        }
        empty = rows.isEmpty
    }
}
