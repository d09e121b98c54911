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

/// Templates per export session, with expiry and a per-session limit.
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
    private var perSession: [ExportSessionKey: Int] = [:]
    public let timeoutMilliseconds: Int64
    public let maxTemplatesPerSession: Int

    public init(timeoutMilliseconds: Int64 = 1_800_000, maxTemplatesPerSession: Int = 1024) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxTemplatesPerSession = maxTemplatesPerSession
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
            return old.hasSameDefinition(as: template) ? .refreshed : .redefined
        }
        let n = perSession[key.session, default: 0]
        guard n < maxTemplatesPerSession else { return .refused }
        perSession[key.session] = n + 1
        byKey[key] = template
        return .learned
    }

    /// Removes one template; returns whether it existed.
    @discardableResult
    mutating func withdraw(_ key: TemplateKey) -> Bool {
        guard byKey.removeValue(forKey: key) != nil else { return false }
        decrement(key.session)
        return true
    }

    /// Removes every template (or every options template) of a session; returns how many.
    mutating func withdrawAll(session: ExportSessionKey, options: Bool) -> Int {
        let keys = byKey.filter { $0.key.session == session && $0.value.isOptions == options }.map(\.key)
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

    private mutating func decrement(_ session: ExportSessionKey) {
        let n = perSession[session, default: 1] - 1
        if n <= 0 { perSession.removeValue(forKey: session) } else { perSession[session] = n }
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
            let key = TemplateKey(session: ExportSessionKey(exporter: exporter, observationDomain: p.observationDomain, exportProtocol: proto), templateID: p.templateID)
            let t = Template(id: p.templateID, fields: p.fields, scopeFieldCount: p.scopeFieldCount, isOptions: p.isOptions, exportProtocol: proto, refreshedAt: p.refreshedAt)
            guard t.layout.isUsable else { continue }
            if insert(t, for: key) != .refused { restored += 1 }
        }
        return restored
    }
}
