/// What a notice to a subscriber says, before it is put into words: only what was seen from the
/// subscriber's own line — never another party's address, another subscriber, or a flow record.
public struct NoticeContent: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case infection, vulnerability
        /// Another network complained about the device (spam, attacks, an infection it saw).
        case abuseReport = "abuse-report"
    }

    /// One thing seen from the subscriber's line, as the notice may describe it.
    public enum Behaviour: Sendable, Hashable {
        /// Contact with a botnet's command-and-control server (family when an indicator names it).
        case commandAndControl(family: String?, contacts: Int)
        /// Scanning other hosts on the Internet.
        case scanning(port: UInt16?, destinationsPerMinute: Int)
        /// Sending attack traffic (a flood).
        case attack(kind: String, packetsPerSecond: Double)
        /// A vulnerable device reported by a scan programme, with its fix.
        case vulnerability(source: String, description: String, remediation: String)
        /// A problem another party reported (a scan programme, an abuse complaint), explained
        /// with its fix from ``ReportedProblemText``.
        case reported(ReportedProblem)
    }

    /// "ja" or "en".
    public var language: String
    public var kind: Kind
    /// The case reference the subscriber quotes to support ("M-3F2A9C").
    public var caseReference: String
    /// When it was seen (ms since the epoch); shown in Japan time for "ja", UTC for "en".
    public var observedFrom: Int64
    public var observedTo: Int64
    public var behaviours: [Behaviour]
    /// The notice page (remediation steps, acknowledgement, opt-out).
    public var noticePageURL: String
    /// When the link stops working (ms since the epoch).
    public var linkExpires: Int64
    /// How to reach support (from the policy).
    public var support: String
    /// Whether the subscriber may opt out of these notices (on the page or through support).
    public var optOutAvailable: Bool
    /// 0 for the first notice about this case, 1 for the first reminder …
    public var reminder: Int

    public init(
        language: String, kind: Kind, caseReference: String, observedFrom: Int64, observedTo: Int64, behaviours: [Behaviour],
        noticePageURL: String, linkExpires: Int64, support: String, optOutAvailable: Bool, reminder: Int = 0
    ) {
        self.language = language
        self.kind = kind
        self.caseReference = caseReference
        self.observedFrom = observedFrom
        self.observedTo = observedTo
        self.behaviours = behaviours
        self.noticePageURL = noticePageURL
        self.linkExpires = linkExpires
        self.support = support
        self.optOutAvailable = optOutAvailable
        self.reminder = reminder
    }
}

/// A notice in words: an e-mail (subject, plain text, HTML) and the notice page.
public struct RenderedNotice: Sendable, Hashable {
    public var subject: String
    public var text: String
    public var html: String

    public init(subject: String, text: String, html: String) {
        self.subject = subject
        self.text = text
        self.html = html
    }
}
