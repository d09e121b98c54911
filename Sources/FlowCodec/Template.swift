import NIOCore

/// One field of a template: an information element ID, its length on the wire, and its enterprise
/// number (0 for IETF elements; NetFlow v9 has none).
public struct FieldSpecifier: Sendable, Hashable, Codable {
    /// Element ID without the enterprise bit.
    public var id: UInt16
    /// Length in bytes; 65535 marks a variable-length field (IPFIX, RFC 7011 §7).
    public var length: UInt16
    /// Private enterprise number, or 0.
    public var enterprise: UInt32

    public init(id: UInt16, length: UInt16, enterprise: UInt32 = 0) {
        self.id = id
        self.length = length
        self.enterprise = enterprise
    }

    public static let variableLength: UInt16 = 65535
    public var isVariableLength: Bool { length == Self.variableLength }
}

/// A (options) template as the exporter announced it, plus its compiled record layout.
public struct Template: Sendable {
    public var id: UInt16
    public var fields: [FieldSpecifier]
    /// Number of leading scope fields (options templates only).
    public var scopeFieldCount: Int
    public var isOptions: Bool
    /// When the exporter last (re)sent it, ms since the Unix epoch.
    public var refreshedAt: Int64
    /// Precomputed offsets and targets for fast record decoding.
    let layout: RecordLayout

    init(id: UInt16, fields: [FieldSpecifier], scopeFieldCount: Int, isOptions: Bool, exportProtocol: ExportProtocol, refreshedAt: Int64) {
        self.id = id
        self.fields = fields
        self.scopeFieldCount = scopeFieldCount
        self.isOptions = isOptions
        self.refreshedAt = refreshedAt
        self.layout = RecordLayout(fields: fields, scopeFieldCount: scopeFieldCount, isOptions: isOptions, exportProtocol: exportProtocol)
    }

    /// Same definition (fields and kind), ignoring refresh time.
    func hasSameDefinition(as other: Template) -> Bool {
        fields == other.fields && scopeFieldCount == other.scopeFieldCount && isOptions == other.isOptions
    }
}

/// Key of a template: its export session and template ID.
public struct TemplateKey: Sendable, Hashable {
    public var session: ExportSessionKey
    public var templateID: UInt16

    public init(session: ExportSessionKey, templateID: UInt16) {
        self.session = session
        self.templateID = templateID
    }
}

/// A template in a form that can be written to disk and read back after a restart.
public struct PersistedTemplate: Sendable, Hashable, Codable {
    public var exporter: String
    public var observationDomain: UInt32
    public var exportProtocol: UInt8
    public var templateID: UInt16
    public var isOptions: Bool
    public var scopeFieldCount: Int
    public var fields: [FieldSpecifier]
    public var refreshedAt: Int64
}

/// Templates per export session, with expiry, a per-session limit and a limit on the whole
/// cache.
///
/// Any UDP sender can announce templates, so both limits hold under spoofing: a session (an
/// exporter address and observation domain) keeps at most ``maxTemplatesPerSession`` (more are
/// refused), and the cache at most ``maxTemplates`` in all — beyond that, learning a new template
/// forgets the one refreshed longest ago (``evictions`` counts them). A real exporter re-sends
/// its templates every few seconds or packets, so an evicted one is learned again on its next
/// refresh, while a sender who stops refreshing is the first forgotten. Eviction does not scan the
/// cache: the refresh order is a queue (rebuilt, sorted, once it holds twice as many entries as
/// there are templates: amortised over those refreshes), and a session's templates are indexed
/// by session.
public struct TemplateCache: Sendable {
    /// What inserting a template did.
    public enum InsertResult: Sendable, Hashable {
        case learned, refreshed, redefined, refused
    }

    private var byKey: [TemplateKey: Template] = [:] {
        didSet { generation &+= 1 }
    }
    /// Changes whenever a template is added, replaced or removed (for lookup caches).
    private(set) var generation: UInt64 = 0
    /// The template IDs held per session (options and data alike).
    private var perSession: [ExportSessionKey: Set<UInt16>] = [:]
    /// Keys in the order they were learned or refreshed, with the refresh time then: an entry
    /// whose time is no longer its template's is stale and skipped (and dropped) on eviction.
    private var refreshOrder = CircularBuffer<(key: TemplateKey, refreshedAt: Int64)>()
    public let timeoutMilliseconds: Int64
    public let maxTemplatesPerSession: Int
    /// Templates held in all sessions together.
    public let maxTemplates: Int
    /// Templates forgotten because the cache was full, since creation.
    public private(set) var evictions = 0

    public init(timeoutMilliseconds: Int64 = 1_800_000, maxTemplatesPerSession: Int = 1024, maxTemplates: Int = 20_000) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxTemplatesPerSession = maxTemplatesPerSession
        self.maxTemplates = max(1, maxTemplates)
    }

    /// Number of templates held.
    public var count: Int { byKey.count }

    /// The template for `key`, unless it is unknown or has expired at `now`.
    public func lookup(_ key: TemplateKey, now: Int64) -> Template? {
        guard let t = byKey[key] else { return nil }
        if timeoutMilliseconds > 0 && now.saturatingDifference(t.refreshedAt) > timeoutMilliseconds { return nil }
        return t
    }

    mutating func insert(_ template: Template, for key: TemplateKey) -> InsertResult {
        if let old = byKey[key] {
            byKey[key] = template
            noteRefresh(key, template.refreshedAt)
            return old.hasSameDefinition(as: template) ? .refreshed : .redefined
        }
        guard perSession[key.session, default: []].count < maxTemplatesPerSession else { return .refused }
        while byKey.count >= maxTemplates, evictOldest() {}
        perSession[key.session, default: []].insert(key.templateID)
        byKey[key] = template
        noteRefresh(key, template.refreshedAt)
        return .learned
    }

    private mutating func noteRefresh(_ key: TemplateKey, _ time: Int64) {
        refreshOrder.append((key, time))
        // Refreshes of the same templates pile up stale entries: rebuild the queue from the live
        // templates, oldest first, once it holds twice as many entries as templates.
        if refreshOrder.count > 2 * byKey.count + 64 {
            refreshOrder = CircularBuffer(byKey.map { ($0.key, $0.value.refreshedAt) }.sorted { $0.1 < $1.1 })
        }
    }

    /// Forgets the template refreshed longest ago; false when there is none.
    private mutating func evictOldest() -> Bool {
        while let (key, time) = refreshOrder.popFirst() {
            guard let t = byKey[key], t.refreshedAt == time else { continue }
            withdraw(key)
            evictions += 1
            return true
        }
        return false
    }

    /// Removes one template; returns whether it existed.
    @discardableResult
    mutating func withdraw(_ key: TemplateKey) -> Bool {
        guard byKey.removeValue(forKey: key) != nil else { return false }
        if var ids = perSession[key.session] {
            ids.remove(key.templateID)
            perSession[key.session] = ids.isEmpty ? nil : ids
        }
        return true
    }

    /// Removes every template (or every options template) of a session; returns how many. Looks
    /// only at that session's templates.
    mutating func withdrawAll(session: ExportSessionKey, options: Bool) -> Int {
        let keys = (perSession[session] ?? []).map { TemplateKey(session: session, templateID: $0) }.filter {
            byKey[$0]?.isOptions == options
        }
        for k in keys { withdraw(k) }
        return keys.count
    }

    /// Forgets templates older than the timeout; returns how many.
    public mutating func expire(now: Int64) -> Int {
        guard timeoutMilliseconds > 0 else { return 0 }
        let old = byKey.filter { now.saturatingDifference($0.value.refreshedAt) > timeoutMilliseconds }.map(\.key)
        for k in old { withdraw(k) }
        return old.count
    }

    /// Every template, in a stable order, for persisting.
    public func snapshot() -> [PersistedTemplate] {
        byKey.map { key, t in
            PersistedTemplate(
                exporter: key.session.exporter.description,
                observationDomain: key.session.observationDomain,
                exportProtocol: key.session.exportProtocol.rawValue,
                templateID: key.templateID,
                isOptions: t.isOptions,
                scopeFieldCount: t.scopeFieldCount,
                fields: t.fields,
                refreshedAt: t.refreshedAt
            )
        }.sorted { ($0.exporter, $0.observationDomain, $0.templateID) < ($1.exporter, $1.observationDomain, $1.templateID) }
    }

    /// Loads persisted templates, skipping entries that are malformed or already expired at `now`.
    /// Returns how many were restored.
    @discardableResult
    public mutating func restore(_ persisted: [PersistedTemplate], now: Int64) -> Int {
        var restored = 0
        for p in persisted {
            guard let exporter = IPAddress(p.exporter),
                let proto = ExportProtocol(rawValue: p.exportProtocol),
                proto == .netflowV9 || proto == .ipfix,
                p.templateID >= 256, !p.fields.isEmpty,
                p.scopeFieldCount >= 0, p.scopeFieldCount <= p.fields.count
            else { continue }
            if timeoutMilliseconds > 0 && now.saturatingDifference(p.refreshedAt) > timeoutMilliseconds { continue }
            let key = TemplateKey(
                session: ExportSessionKey(exporter: exporter, observationDomain: p.observationDomain, exportProtocol: proto),
                templateID: p.templateID)
            let t = Template(
                id: p.templateID, fields: p.fields, scopeFieldCount: p.scopeFieldCount, isOptions: p.isOptions, exportProtocol: proto,
                refreshedAt: p.refreshedAt)
            guard t.layout.isUsable else { continue }
            if insert(t, for: key) != .refused { restored += 1 }
        }
        return restored
    }
}
