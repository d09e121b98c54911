/// A STIX 2.1 bundle as it was read (STIX 2.1 §8): its id and every object, in order, each with
/// all its properties. Made only by ``decode(_:limits:)``; a bundle to send is a
/// ``GuardedBundle``, which only ``SharingGuard`` makes.
public struct STIXBundle: Sendable, Hashable {
    public let id: STIXIdentifier
    public let objects: [STIXObject]
    /// The bundle's own properties (`type`, `id`, and any others a producer added), without `objects`.
    public let properties: [String: JSONValue]
    /// Whether the document had an `objects` member (an empty bundle may or may not).
    let hasObjectsMember: Bool

    /// Reads a bundle. Nothing of a malformed bundle is kept: the document must be a JSON
    /// object of type `bundle` with a bundle id, `objects` (when present) an array, and every
    /// object a valid STIX object (``STIXObject/init(json:)``).
    /// - Throws: ``STIXError/Code/malformedJSON``, ``STIXError/Code/limitExceeded``,
    ///   ``STIXError/Code/malformedBundle`` or ``STIXError/Code/malformedObject``.
    public static func decode(_ bytes: some Collection<UInt8>, limits: JSONValue.Limits = JSONValue.Limits()) throws(STIXError)
        -> STIXBundle
    {
        try STIXBundle(json: JSONValue.parse(bytes, limits: limits))
    }

    /// - Throws: as ``decode(_:limits:)``.
    public init(json: JSONValue) throws(STIXError) {
        guard case .object(var properties) = json else { throw STIXError(.malformedBundle, "not a JSON object") }
        guard properties["type"]?.stringValue == "bundle" else { throw STIXError(.malformedBundle, "type is not bundle") }
        guard let text = properties["id"]?.stringValue, let id = STIXIdentifier(text), id.type == "bundle" else {
            throw STIXError(.malformedBundle, "no bundle id")
        }
        var objects: [STIXObject] = []
        hasObjectsMember = properties["objects"] != nil
        if let list = properties.removeValue(forKey: "objects") {
            guard let elements = list.arrayValue else { throw STIXError(.malformedBundle, "objects is not an array") }
            objects.reserveCapacity(elements.count)
            for (i, e) in elements.enumerated() {
                do {
                    objects.append(try STIXObject(json: e))
                } catch {
                    throw STIXError(.malformedObject, "object \(i): \(error.reason)")
                }
            }
        }
        self.id = id
        self.objects = objects
        self.properties = properties
    }

    /// The bundle as JSON again: its properties and its objects, unchanged.
    public var json: JSONValue {
        var p = properties
        if hasObjectsMember { p["objects"] = .array(objects.map(\.json)) }
        return .object(p)
    }
}
