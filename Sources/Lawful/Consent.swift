/// One change to what a subscriber agreed to. The registry keeps every event; the state at any
/// moment is derived from the events up to it (``ConsentState/init(events:at:)``), so the question
/// "what had this subscriber agreed to when we sent that notice" always has an answer.
public struct ConsentEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// The subscriber accepted a version of the contract terms (comprehensive consent).
        case termsAccepted = "terms_accepted"
        /// The subscriber agreed to one action specifically (individual consent).
        case consentGiven = "consent_given"
        /// The subscriber withdrew an individual consent.
        case consentWithdrawn = "consent_withdrawn"
        /// The subscriber opted out of one action the terms disclose.
        case optedOut = "opted_out"
        /// The subscriber cancelled an earlier opt-out.
        case optOutCancelled = "opt_out_cancelled"
    }

    /// Subscriber pseudonym (`s:…`), never the account identifier.
    public var subscriber: String
    public var kind: Kind
    /// The action concerned; nil for ``Kind/termsAccepted``.
    public var action: LawfulAction?
    /// The terms version, for ``Kind/termsAccepted``.
    public var termsVersion: String?
    /// When it took effect (ms since the epoch).
    public var at: Int64
    /// How, in words: "web form", "call centre", "uses another DNS resolver", "contract 2025".
    public var method: String
    /// Who recorded it: "import:customers.csv", "api:analyst-7".
    public var recordedBy: String

    public init(
        subscriber: String, kind: Kind, action: LawfulAction? = nil, termsVersion: String? = nil, at: Int64, method: String,
        recordedBy: String
    ) {
        self.subscriber = subscriber
        self.kind = kind
        self.action = action
        self.termsVersion = termsVersion
        self.at = at
        self.method = method
        self.recordedBy = recordedBy
    }

    /// Why the event is malformed, or nil when it is well formed.
    public var problem: String? {
        switch kind {
        case .termsAccepted:
            if termsVersion?.isEmpty ?? true { return "terms_accepted needs a terms version" }
            if action != nil { return "terms_accepted applies to the whole terms, not to one action" }
        case .consentGiven, .consentWithdrawn, .optedOut, .optOutCancelled:
            guard let action else { return "\(kind.rawValue) needs an action" }
            if !action.concernsSubscriber { return "\(action.rawValue) is not decided per subscriber" }
        }
        if subscriber.isEmpty { return "subscriber is empty" }
        return nil
    }
}

/// What one subscriber had agreed to at one moment.
public struct ConsentState: Sendable, Hashable {
    /// Acceptance of one version of the contract terms.
    public struct TermsAcceptance: Sendable, Hashable {
        public var version: String
        public var mark: Mark
    }

    /// A dated statement with how it was made.
    public struct Mark: Sendable, Hashable {
        public var at: Int64
        public var method: String
    }

    /// The latest terms version accepted, and when.
    public private(set) var terms: TermsAcceptance?
    /// Individual consents in force.
    public private(set) var consents: [LawfulAction: Mark] = [:]
    /// Individual consents withdrawn (the latest withdrawal), for the reasons text.
    public private(set) var withdrawals: [LawfulAction: Mark] = [:]
    /// Opt-outs in force.
    public private(set) var optOuts: [LawfulAction: Mark] = [:]

    /// No consent of any kind.
    public static let none = ConsentState()

    public init() {}

    /// Folds the events that took effect at or before `at` (in time order; the order given breaks ties).
    public init(events: [ConsentEvent], at: Int64) {
        let ordered = events.enumerated().filter { $0.element.at <= at }
            .sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }
        for (_, e) in ordered { apply(e) }
    }

    /// Applies one event (later events win).
    public mutating func apply(_ e: ConsentEvent) {
        let mark = Mark(at: e.at, method: e.method)
        switch e.kind {
        case .termsAccepted:
            terms = TermsAcceptance(version: e.termsVersion ?? "", mark: mark)
        case .consentGiven:
            guard let a = e.action else { return }
            consents[a] = mark
            withdrawals[a] = nil
            optOuts[a] = nil // agreeing now cancels an earlier opt-out
        case .consentWithdrawn:
            guard let a = e.action else { return }
            consents[a] = nil
            withdrawals[a] = mark
        case .optedOut:
            guard let a = e.action else { return }
            optOuts[a] = mark
            consents[a] = nil // opting out now ends an earlier individual consent
        case .optOutCancelled:
            guard let a = e.action else { return }
            optOuts[a] = nil
        }
    }
}
