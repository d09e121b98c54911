/// One STIX object of any type — domain object, relationship, sighting, marking definition,
/// cyber observable, or a type Mamori does not know — as the JSON object it is.
///
/// Every property is kept, custom ones and extensions included; the typed views
/// (``Indicator``, ``Infrastructure``, ``Malware``, ``Relationship``, ``Sighting``,
/// ``Identity``, ``MarkingDefinition``, ``Observable``) read through ``properties``.
/// Making an object checks what every STIX object must have: a `type` that is a valid type
/// name and an `id` of that type; and, where present, that the common properties have their form
/// (`spec_version` a string, `created`/`modified` RFC 3339 UTC timestamps, `created_by_ref` an
/// identifier, `object_marking_refs` marking-definition identifiers, `revoked` a boolean).
public struct STIXObject: Sendable, Hashable {
    /// All the properties, as read or as made.
    public let properties: [String: JSONValue]
    public let id: STIXIdentifier

    /// - Throws: ``STIXError/Code/malformedObject`` when `json` is not an object, or a common
    ///   property is missing or malformed.
    public init(json: JSONValue) throws(STIXError) {
        guard case .object(let properties) = json else { throw STIXError(.malformedObject, "not a JSON object") }
        try self.init(properties: properties)
    }

    /// - Throws: ``STIXError/Code/malformedObject`` as ``init(json:)``.
    public init(properties: [String: JSONValue]) throws(STIXError) {
        guard let type = properties["type"]?.stringValue, STIXIdentifier.isValidType(type) else {
            throw STIXError(.malformedObject, "no valid type")
        }
        guard let text = properties["id"]?.stringValue, let id = STIXIdentifier(text), id.type == type else {
            throw STIXError(.malformedObject, "a \(type) without a valid id of its type")
        }
        if let v = properties["spec_version"], v.stringValue == nil { throw STIXError(.malformedObject, "\(id): spec_version") }
        for key in ["created", "modified"] {
            if let v = properties[key], v.stringValue.flatMap(STIXTimestamp.parse) == nil {
                throw STIXError(.malformedObject, "\(id): \(key) is not an RFC 3339 UTC timestamp")
            }
        }
        if let v = properties["created_by_ref"], v.stringValue.flatMap({ STIXIdentifier($0) })?.type != "identity" {
            throw STIXError(.malformedObject, "\(id): created_by_ref is not an identity")
        }
        if let v = properties["object_marking_refs"] {
            guard let refs = v.arrayValue,
                refs.allSatisfy({ $0.stringValue.flatMap { STIXIdentifier($0) }?.type == "marking-definition" })
            else { throw STIXError(.malformedObject, "\(id): object_marking_refs") }
        }
        if let v = properties["revoked"], v.boolValue == nil { throw STIXError(.malformedObject, "\(id): revoked is not a boolean") }
        self.properties = properties
        self.id = id
    }

    public var type: String { id.type }
    public var json: JSONValue { .object(properties) }
    public subscript(key: String) -> JSONValue? { properties[key] }

    public var specVersion: String? { properties["spec_version"]?.stringValue }
    /// ms since the epoch.
    public var created: Int64? { properties["created"]?.stringValue.flatMap(STIXTimestamp.parse) }
    /// ms since the epoch.
    public var modified: Int64? { properties["modified"]?.stringValue.flatMap(STIXTimestamp.parse) }
    public var createdByRef: STIXIdentifier? { properties["created_by_ref"]?.stringValue.flatMap { STIXIdentifier($0) } }
    public var objectMarkingRefs: [STIXIdentifier] {
        (properties["object_marking_refs"]?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { STIXIdentifier($0) } }
    }
    public var revoked: Bool { properties["revoked"]?.boolValue ?? false }
    public var labels: [String] { (properties["labels"]?.arrayValue ?? []).compactMap(\.stringValue) }

    /// The most restrictive TLP among the object's markings (TLP 2.0 or 1.0 ids), nil when it has none.
    public var tlp: TLP? { objectMarkingRefs.compactMap { TLP(markingDefinition: $0) }.max() }

    /// Every identifier the object points at: the values of properties named `*_ref` and
    /// `*_refs`, at any depth (extensions and embedded objects included).
    public var references: Set<STIXIdentifier> {
        var out = Set<STIXIdentifier>()
        func walk(_ v: JSONValue, key: String?) {
            switch v {
            case .string(let s):
                if let key, key.hasSuffix("_ref") || key.hasSuffix("_refs"), let id = STIXIdentifier(s) { out.insert(id) }
            case .array(let a): for e in a { walk(e, key: key) }
            case .object(let o): for (k, e) in o { walk(e, key: k) }
            default: break
            }
        }
        for (k, v) in properties where k != "id" { walk(v, key: k) }
        return out
    }

    /// Whether the type is one of STIX 2.1's cyber observables (they have no `created`).
    public var isObservable: Bool { Self.observableTypes.contains(type) }

    static let observableTypes: Set<String> = [
        "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message", "file", "ipv4-addr", "ipv6-addr",
        "mac-addr", "mutex", "network-traffic", "process", "software", "url", "user-account", "windows-registry-key",
        "x509-certificate",
    ]
}
