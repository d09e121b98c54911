/// Where a notice for one subscriber goes.
public struct SubscriberContact: Sendable, Hashable, Codable {
    public var email: String?
    public var language: String?
    public init(email: String?, language: String?) {
        self.email = email
        self.language = language
    }
}

/// What one import of the customer system's export did.
public struct ConsentImportSummary: Sendable, Hashable, Codable {
    public var lines: Int
    public var subscribers: Int
    public var events: Int
    public var contacts: Int
    public var rejected: [RejectedLine]

    public struct RejectedLine: Sendable, Hashable, Codable {
        public var line: Int
        public var reason: String
        public init(line: Int, reason: String) {
            self.line = line
            self.reason = reason
        }
    }

    public init(lines: Int, subscribers: Int = 0, events: Int = 0, contacts: Int = 0, rejected: [RejectedLine] = []) {
        self.lines = lines
        self.subscribers = subscribers
        self.events = events
        self.contacts = contacts
        self.rejected = rejected
    }
}

/// The consent registry: every consent event ever recorded per subscriber pseudonym (full
/// history, never updated in place), and the contact a notice goes to. SQLite in production
/// (`Storage.SQLiteConsentRegistry`), memory in tests (`MamoriTesting.InMemoryConsentRegistry`);
/// the store contract tests hold both to the same answers.
public protocol ConsentRegistry: Sendable {
    /// Records events; each must be well formed (``ConsentEvent/problem``), else nothing is recorded.
    func record(_ events: [ConsentEvent], recordedAt: Int64) throws
    /// Every event for `subscriber`, in the order recorded.
    func history(of subscriber: String) throws -> [ConsentEvent]
    func setContact(_ contact: SubscriberContact, for subscriber: String, at: Int64) throws
    func contact(of subscriber: String) throws -> SubscriberContact?
    /// Subscribers with any event or contact.
    func subscriberCount() throws -> Int
    /// Subscribers with an event about `action` (an opt-out, a consent given or withdrawn), at
    /// most `limit`: whose decision on that action may differ from the terms' default. The DNS
    /// sinkhole asks it for the subscribers it may have to exempt.
    func subscribers(withEventsFor action: LawfulAction, limit: Int) throws -> [String]
    /// Imports a customer export: pseudonymises each account, records the events that bring the
    /// registry to what the line says, updates the contact — all or nothing. Bad lines are
    /// reported, good ones kept.
    func importCustomers(_ file: CustomerConsentFile, pseudonym: (String) -> String, at: Int64, source: String) throws
        -> ConsentImportSummary
}

extension ConsentRegistry {
    /// What `subscriber` had agreed to at `at`.
    public func state(of subscriber: String, at: Int64) throws -> ConsentState {
        ConsentState(events: try history(of: subscriber), at: at)
    }
}

extension CustomerConsentRow {
    /// The contact this line leaves: what it says, and what `old` had where it says nothing; nil
    /// when that is `old` itself (nothing to write). Shared by every registry's import.
    public func contact(updating old: SubscriberContact?) -> SubscriberContact? {
        guard email != nil || language != nil else { return nil }
        let new = SubscriberContact(email: email ?? old?.email, language: language ?? old?.language)
        return new == old ? nil : new
    }
}
