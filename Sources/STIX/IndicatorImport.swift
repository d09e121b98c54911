/// An indicator a peer shared, ready for a matcher: what it matches and how far to trust and
/// pass it on. Made by ``STIXImport`` (from a bundle or a TAXII envelope) and ``MISPFeed``.
public struct ImportedIndicator: Sendable, Hashable {
    /// Where it came from.
    public enum Source: Sendable, Hashable {
        /// A STIX indicator, with the identity that made it when it says.
        case stix(createdBy: STIXIdentifier?)
        /// An attribute of a MISP event (its UUID), published by an organisation.
        case misp(event: String, organisation: String?)
    }

    /// The STIX id (`indicator--…`) or the MISP attribute's UUID.
    public var id: String
    public var source: Source
    public var match: IndicatorMatch
    /// The STIX pattern, or the MISP attribute as `type value`.
    public var pattern: String
    public var name: String?
    /// 0…100 when stated.
    public var confidence: Int?
    /// From the object's markings (or the MISP tags); nil when unmarked or unknown.
    public var tlp: TLP?
    /// ms since the epoch.
    public var validFrom: Int64?
    public var validUntil: Int64?
    /// The producer withdrew it: a matcher should drop it.
    public var revoked: Bool
    /// ms since the epoch: the version's `modified` (MISP: the attribute's timestamp).
    public var modified: Int64?
    /// The STIX `indicator_types` (`malicious-activity`, `anomalous-activity`, …); empty when not stated.
    public var types: [String] = []

    public init(
        id: String, source: Source, match: IndicatorMatch, pattern: String, name: String? = nil, confidence: Int? = nil, tlp: TLP? = nil,
        validFrom: Int64? = nil, validUntil: Int64? = nil, revoked: Bool = false, modified: Int64? = nil, types: [String] = []
    ) {
        self.types = types
        self.id = id
        self.source = source
        self.match = match
        self.pattern = pattern
        self.name = name
        self.confidence = confidence
        self.tlp = tlp
        self.validFrom = validFrom
        self.validUntil = validUntil
        self.revoked = revoked
        self.modified = modified
    }
}

/// An indicator that was read but not imported, and why.
public struct SkippedIndicator: Sendable, Hashable {
    /// The STIX id or the MISP attribute's UUID (or its position when it has none).
    public var id: String
    /// ``STIXError/Code/notEvaluable``, ``STIXError/Code/patternSyntax``, ``STIXError/Code/limitExceeded``
    /// or ``STIXError/Code/malformedObject``, with the reason.
    public var reason: STIXError

    public init(id: String, reason: STIXError) {
        self.id = id
        self.reason = reason
    }
}

/// What one import gave: the indicators a matcher can use, those skipped with their reasons,
/// and (for STIX) every object read, untouched.
public struct IndicatorImport: Sendable, Hashable {
    public var indicators: [ImportedIndicator]
    public var skipped: [SkippedIndicator]
    /// Every object of the bundle or envelope as read, whatever its type.
    public var objects: [STIXObject]

    public init(indicators: [ImportedIndicator] = [], skipped: [SkippedIndicator] = [], objects: [STIXObject] = []) {
        self.indicators = indicators
        self.skipped = skipped
        self.objects = objects
    }

    /// The skipped indicators counted by the kind of reason (for metrics).
    public var skippedByCode: [STIXError.Code: Int] {
        skipped.reduce(into: [:]) { $0[$1.reason.code, default: 0] += 1 }
    }
}

/// Reads indicators from STIX 2.1: a bundle's bytes, a TAXII 2.1 envelope's bytes, or objects.
///
/// A malformed document is an error for all of it (nothing is imported from half a bundle); an
/// indicator whose pattern cannot be evaluated is skipped with its reason and the rest kept.
/// When an indicator comes in several versions (same id), the latest `modified` is the one
/// imported; a revoked one is imported as revoked, for the matcher to drop.
public enum STIXImport {
    /// - Throws: as ``STIXBundle/decode(_:limits:)``.
    public static func bundle(
        _ bytes: some Collection<UInt8>, limits: JSONValue.Limits = JSONValue.Limits(),
        patternLimits: STIXPattern.Limits = STIXPattern.Limits()
    ) throws(STIXError) -> IndicatorImport {
        objects(try STIXBundle.decode(bytes, limits: limits).objects, patternLimits: patternLimits)
    }

    /// A TAXII 2.1 envelope (`{"more": …, "next": …, "objects": [...]}`, TAXII 2.1 §3.7).
    /// - Throws: ``STIXError/Code/malformedBundle`` when it is not an envelope, or as ``bundle(_:limits:patternLimits:)``.
    public static func envelope(
        _ bytes: some Collection<UInt8>, limits: JSONValue.Limits = JSONValue.Limits(),
        patternLimits: STIXPattern.Limits = STIXPattern.Limits()
    ) throws(STIXError) -> IndicatorImport {
        guard case .object(let envelope) = try JSONValue.parse(bytes, limits: limits) else {
            throw STIXError(.malformedBundle, "an envelope is a JSON object")
        }
        guard let elements = (envelope["objects"] ?? .array([])).arrayValue else {
            throw STIXError(.malformedBundle, "objects is not an array")
        }
        var objects: [STIXObject] = []
        for (i, e) in elements.enumerated() {
            do {
                objects.append(try STIXObject(json: e))
            } catch {
                throw STIXError(.malformedObject, "object \(i): \(error.reason)")
            }
        }
        return Self.objects(objects, patternLimits: patternLimits)
    }

    /// The indicators among `objects`; the marking definitions among them also name TLP levels.
    public static func objects(_ objects: [STIXObject], patternLimits: STIXPattern.Limits = STIXPattern.Limits()) -> IndicatorImport {
        var result = IndicatorImport(objects: objects)
        var markings: [STIXIdentifier: TLP] = [:]
        for o in objects where o.type == "marking-definition" {
            if let t = TLP(markingDefinitionObject: o) { markings[o.id] = t }
        }
        // The latest version of each indicator, in the order first seen.
        var latest: [STIXIdentifier: STIXObject] = [:]
        var order: [STIXIdentifier] = []
        for o in objects where o.type == Indicator.type {
            if let seen = latest[o.id] {
                if (o.modified ?? 0) >= (seen.modified ?? 0) { latest[o.id] = o }
            } else {
                latest[o.id] = o
                order.append(o.id)
            }
        }
        for id in order {
            let object = latest[id]!
            do throws(STIXError) {
                let indicator = try Indicator(object)
                guard indicator.patternType == "stix" else {
                    throw STIXError(.notEvaluable, "pattern_type \(STIXError.excerpt(indicator.patternType))")
                }
                let match = try STIXPattern.evaluate(indicator.pattern, limits: patternLimits)
                let tlp = object.objectMarkingRefs.compactMap { TLP(markingDefinition: $0) ?? markings[$0] }.max()
                result.indicators.append(
                    ImportedIndicator(
                        id: id.description, source: .stix(createdBy: object.createdByRef), match: match, pattern: indicator.pattern,
                        name: indicator.name, confidence: indicator.confidence, tlp: tlp, validFrom: indicator.validFrom,
                        validUntil: indicator.validUntil, revoked: object.revoked, modified: object.modified,
                        types: indicator.indicatorTypes))
            } catch {
                result.skipped.append(SkippedIndicator(id: id.description, reason: error))
            }
        }
        return result
    }
}
