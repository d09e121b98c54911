/// A JSON value (RFC 8259), the form every STIX object is read into and written from.
///
/// STIX content is open: peers add custom properties, extensions and object types Mamori does not
/// model. Objects are therefore kept as JSON values, and the typed STIX views (``Indicator``,
/// ``Sighting``, …) read through them, so nothing a peer sent is lost on the way through.
///
/// Numbers keep the distinction the text made: an integer literal that fits in 64 bits is
/// ``integer(_:)``, anything else (a fraction, an exponent, a larger integer) ``number(_:)``.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The member `key` of an object; nil for a missing member or a value that is not an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// An integer, or a number without a fraction that fits in 64 bits.
    public var integerValue: Int64? {
        switch self {
        case .integer(let i): return i
        case .number(let d):
            guard d.rounded() == d, d >= -9.2e18, d <= 9.2e18 else { return nil }
            return Int64(d)
        default: return nil
        }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// Equal as JSON values: like `==`, except that an integer and a number of the same value are
    /// equal (`1` and `1.0`), as they are to a JSON reader that does not keep the distinction.
    public func isSemanticallyEqual(to other: JSONValue) -> Bool {
        switch (self, other) {
        case (.integer(let a), .number(let b)), (.number(let b), .integer(let a)): return Double(a) == b
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isSemanticallyEqual(to: $1) }
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (k, v) in a {
                guard let w = b[k], v.isSemanticallyEqual(to: w) else { return false }
            }
            return true
        default: return self == other
        }
    }
}
