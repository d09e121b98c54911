// Typed views over STIXObject: each checks, when made, that the object is of its type and has the
// properties STIX 2.1 requires of it, and reads them; everything else stays in `object`.

/// A typed view of one STIX object type.
public protocol STIXView: Sendable, Hashable {
    /// The STIX `type` the view reads.
    static var type: String { get }
    /// The object, with every property it came with.
    var object: STIXObject { get }
    /// - Throws: ``STIXError/Code/malformedObject`` when `object` is of another type or lacks a
    ///   property its type requires.
    init(_ object: STIXObject) throws(STIXError)
}

extension STIXView {
    public var id: STIXIdentifier { object.id }

    static func check(_ object: STIXObject, requires keys: [String]) throws(STIXError) {
        guard object.type == Self.type else { throw STIXError(.malformedObject, "\(object.id) is not a \(Self.type)") }
        for key in keys where object[key] == nil { throw STIXError(.malformedObject, "\(object.id) has no \(key)") }
        if !object.isObservable, object.type != "marking-definition", object.created == nil || object.modified == nil {
            throw STIXError(.malformedObject, "\(object.id) has no created or modified")
        }
    }

    static func strings(_ v: JSONValue?) -> [String] { (v?.arrayValue ?? []).compactMap(\.stringValue) }
}

/// `indicator` (STIX 2.1 §4.7): a pattern of what to look for, and when it is valid.
public struct Indicator: STIXView {
    public static let type = "indicator"
    public let object: STIXObject

    public init(_ object: STIXObject) throws(STIXError) {
        try Self.check(object, requires: ["pattern", "pattern_type", "valid_from"])
        guard object["pattern"]?.stringValue != nil, object["pattern_type"]?.stringValue != nil else {
            throw STIXError(.malformedObject, "\(object.id): pattern or pattern_type is not a string")
        }
        guard object["valid_from"]?.stringValue.flatMap(STIXTimestamp.parse) != nil else {
            throw STIXError(.malformedObject, "\(object.id): valid_from is not a timestamp")
        }
        if let v = object["valid_until"], v.stringValue.flatMap(STIXTimestamp.parse) == nil {
            throw STIXError(.malformedObject, "\(object.id): valid_until is not a timestamp")
        }
        self.object = object
    }

    public var pattern: String { object["pattern"]?.stringValue ?? "" }
    /// `stix`, `snort`, `yara`, …
    public var patternType: String { object["pattern_type"]?.stringValue ?? "" }
    public var patternVersion: String? { object["pattern_version"]?.stringValue }
    public var name: String? { object["name"]?.stringValue }
    public var indicatorTypes: [String] { Self.strings(object["indicator_types"]) }
    /// ms since the epoch.
    public var validFrom: Int64 { object["valid_from"]?.stringValue.flatMap(STIXTimestamp.parse) ?? 0 }
    /// ms since the epoch.
    public var validUntil: Int64? { object["valid_until"]?.stringValue.flatMap(STIXTimestamp.parse) }
    /// 0…100 when present and in range.
    public var confidence: Int? { object["confidence"]?.integerValue.flatMap { (0...100).contains($0) ? Int($0) : nil } }
}

/// `infrastructure` (STIX 2.1 §4.8), such as a command-and-control server.
public struct Infrastructure: STIXView {
    public static let type = "infrastructure"
    public let object: STIXObject

    public init(_ object: STIXObject) throws(STIXError) {
        try Self.check(object, requires: ["name"])
        self.object = object
    }

    public var name: String { object["name"]?.stringValue ?? "" }
    /// `command-and-control`, `botnet`, `amplification`, …
    public var infrastructureTypes: [String] { Self.strings(object["infrastructure_types"]) }
}

/// `malware` (STIX 2.1 §4.11), an instance or a family.
public struct Malware: STIXView {
    public static let type = "malware"
    public let object: STIXObject

    public init(_ object: STIXObject) throws(STIXError) {
        try Self.check(object, requires: ["is_family"])
        guard object["is_family"]?.boolValue != nil else { throw STIXError(.malformedObject, "\(object.id): is_family") }
        self.object = object
    }

    public var name: String? { object["name"]?.stringValue }
    public var isFamily: Bool { object["is_family"]?.boolValue ?? false }
    public var malwareTypes: [String] { Self.strings(object["malware_types"]) }
}

/// `relationship` (STIX 2.1 §5.1): `source_ref` — `relationship_type` → `target_ref`.
public struct Relationship: STIXView {
    public static let type = "relationship"
    public let object: STIXObject

    public init(_ object: STIXObject) throws(STIXError) {
        try Self.check(object, requires: ["relationship_type", "source_ref", "target_ref"])
        guard object["relationship_type"]?.stringValue != nil, object["source_ref"]?.stringValue.flatMap({ STIXIdentifier($0) }) != nil,
            object["target_ref"]?.stringValue.flatMap({ STIXIdentifier($0) }) != nil
        else { throw STIXError(.malformedObject, "\(object.id): relationship_type, source_ref or target_ref") }
        self.object = object
    }

    /// `indicates`, `uses`, `controls`, `consists-of`, …
    public var relationshipType: String { object["relationship_type"]?.stringValue ?? "" }
    public var source: STIXIdentifier { STIXIdentifier(object["source_ref"]?.stringValue ?? "")! }
    public var target: STIXIdentifier { STIXIdentifier(object["target_ref"]?.stringValue ?? "")! }
}

/// `sighting` (STIX 2.1 §5.2): how often and when something was seen. Mamori's sightings say
/// only that (counts and times) and who saw it (the carrier), never whom it was seen with.
public struct Sighting: STIXView {
    public static let type = "sighting"
    public let object: STIXObject

    public init(_ object: STIXObject) throws(STIXError) {
        try Self.check(object, requires: ["sighting_of_ref"])
        guard object["sighting_of_ref"]?.stringValue.flatMap({ STIXIdentifier($0) }) != nil else {
            throw STIXError(.malformedObject, "\(object.id): sighting_of_ref")
        }
        self.object = object
    }

    public var sightingOf: STIXIdentifier { STIXIdentifier(object["sighting_of_ref"]?.stringValue ?? "")! }
    public var count: Int64? { object["count"]?.integerValue }
    public var firstSeen: Int64? { object["first_seen"]?.stringValue.flatMap(STIXTimestamp.parse) }
    public var lastSeen: Int64? { object["last_seen"]?.stringValue.flatMap(STIXTimestamp.parse) }
    public var whereSighted: [STIXIdentifier] { Self.strings(object["where_sighted_refs"]).compactMap { STIXIdentifier($0) } }
}

/// `identity` (STIX 2.1 §4.5): for Mamori, the carrier that makes and sights indicators.
public struct Identity: STIXView {
    public static let type = "identity"
    public let object: STIXObject

    public init(_ object: STIXObject) throws(STIXError) {
        try Self.check(object, requires: ["name"])
        self.object = object
    }

    public var name: String { object["name"]?.stringValue ?? "" }
    /// `organization`, `individual`, `system`, …
    public var identityClass: String? { object["identity_class"]?.stringValue }
}

/// `marking-definition` (STIX 2.1 §7.2): TLP 2.0 by extension, TLP 1.0 or statement markings.
public struct MarkingDefinition: STIXView {
    public static let type = "marking-definition"
    public let object: STIXObject

    public init(_ object: STIXObject) throws(STIXError) {
        try Self.check(object, requires: [])
        self.object = object
    }

    public var name: String? { object["name"]?.stringValue }
    /// The TLP it states, if it is a TLP marking.
    public var tlp: TLP? { TLP(markingDefinitionObject: object) }
}

/// The cyber observables an importer reads: `ipv4-addr`, `ipv6-addr`, `domain-name` (a
/// `value`) and `network-traffic` (ports, protocols and the addresses it refers to).
public struct Observable: STIXView {
    public static let type = "cyber-observable"
    public let object: STIXObject

    public init(_ object: STIXObject) throws(STIXError) {
        switch object.type {
        case "ipv4-addr", "ipv6-addr", "domain-name":
            guard object["value"]?.stringValue != nil else { throw STIXError(.malformedObject, "\(object.id) has no value") }
        case "network-traffic":
            guard object["protocols"]?.arrayValue != nil else { throw STIXError(.malformedObject, "\(object.id) has no protocols") }
        default:
            throw STIXError(.malformedObject, "\(object.id) is not an address, name or network traffic")
        }
        self.object = object
    }

    public var value: String? { object["value"]?.stringValue }
    public var destinationPort: Int64? { object["dst_port"]?.integerValue }
    public var sourcePort: Int64? { object["src_port"]?.integerValue }
    public var protocols: [String] { Self.strings(object["protocols"]) }
    public var destination: STIXIdentifier? { object["dst_ref"]?.stringValue.flatMap { STIXIdentifier($0) } }
}
