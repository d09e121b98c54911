/// The filters of a TAXII 2.1 request (section 3.4): `added_after`, `limit`, `next`,
/// `match[id]`, `match[type]`, `match[version]`, `match[spec_version]`, parsed from the query
/// string's parameters. Each `match[…]` takes a comma-separated list; repeating a parameter
/// adds to its list.
///
/// ```swift
/// let q = try TAXIIQuery.parse([("limit", "500"), ("match[type]", "indicator")], maximumLimit: 1000)
/// ```
public struct TAXIIQuery: Sendable, Hashable {
    public enum VersionMatch: Sendable, Hashable {
        case last
        case first
        case all
        case at(TAXIITimestamp)
    }

    public var addedAfter: TAXIITimestamp?
    /// The page size asked for (nil: the server's default); at most the server's maximum.
    public var limit: Int?
    /// Where the previous page ended: that page's last `date_added`.
    public var next: TAXIITimestamp?
    public var ids: Set<String> = []
    public var types: Set<String> = []
    /// Empty: the endpoint's default (`last` for objects and the manifest, `all` for versions).
    public var versions: Set<VersionMatch> = []
    public var specVersions: Set<String> = []

    public init(
        addedAfter: TAXIITimestamp? = nil, limit: Int? = nil, next: TAXIITimestamp? = nil, ids: Set<String> = [], types: Set<String> = [],
        versions: Set<VersionMatch> = [], specVersions: Set<String> = []
    ) {
        self.addedAfter = addedAfter
        self.limit = limit
        self.next = next
        self.ids = ids
        self.types = types
        self.versions = versions
        self.specVersions = specVersions
    }

    /// Parameters beyond this many, or values longer than this, are refused.
    public static let maximumParameters = 64
    public static let maximumValueBytes = 8_192
    /// Items in one `match[…]` list.
    public static let maximumListItems = 256

    /// Parses the query string's parameters. Unknown parameters are refused (a filter the server
    /// ignored would answer a different question than was asked), as are bad timestamps, limits
    /// below 1, `next` values this server did not give and malformed `match[…]` values.
    ///
    /// - Parameters:
    ///   - allowed: the filters this endpoint takes (the others are refused).
    public static func parse(_ parameters: [(String, String)], allowed: Set<Filter> = Set(Filter.allCases)) throws(TAXIIError) -> TAXIIQuery
    {
        guard parameters.count <= maximumParameters else {
            throw TAXIIError(.badRequest, "too many query parameters (at most \(maximumParameters))")
        }
        var q = TAXIIQuery()
        for (name, value) in parameters {
            guard value.utf8.count <= maximumValueBytes else { throw TAXIIError(.badRequest, "\(name.prefix(40)): value too long") }
            guard let filter = Filter(rawValue: name) else {
                throw TAXIIError(
                    .badRequest,
                    "unknown query parameter '\(name.prefix(40))' (known: \(Filter.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard allowed.contains(filter) else { throw TAXIIError(.badRequest, "\(name) is not a filter of this endpoint") }
            switch filter {
            case .addedAfter:
                guard let t = TAXIITimestamp(value) else {
                    throw TAXIIError(.badRequest, "added_after must be a timestamp like 2026-01-01T00:00:00.000Z")
                }
                q.addedAfter = t
            case .limit:
                guard value.utf8.count <= 9, let n = Int(value), n >= 1 else {
                    throw TAXIIError(.badRequest, "limit must be a whole number of at least 1")
                }
                q.limit = n
            case .next:
                guard let t = nextCursor(value) else { throw TAXIIError(.badRequest, "next is not a value this server gave") }
                q.next = t
            case .id:
                for item in try list(value, name) {
                    guard TAXIICandidate.isObjectID(item) else {
                        throw TAXIIError(.badRequest, "match[id]: '\(item.prefix(80))' is not an object id (type--uuid)")
                    }
                    q.ids.insert(item)
                }
            case .type:
                for item in try list(value, name) {
                    guard TAXIICandidate.isValidType(item) else {
                        throw TAXIIError(.badRequest, "match[type]: '\(item.prefix(80))' is not a STIX type")
                    }
                    q.types.insert(item)
                }
            case .version:
                for item in try list(value, name) {
                    switch item {
                    case "last": q.versions.insert(.last)
                    case "first": q.versions.insert(.first)
                    case "all": q.versions.insert(.all)
                    default:
                        guard let t = TAXIITimestamp(item) else {
                            throw TAXIIError(.badRequest, "match[version]: '\(item.prefix(40))' is not last, first, all or a timestamp")
                        }
                        q.versions.insert(.at(t))
                    }
                }
            case .specVersion:
                for item in try list(value, name) {
                    guard item.utf8.count <= 8, item.allSatisfy({ $0.isNumber || $0 == "." }) else {
                        throw TAXIIError(.badRequest, "match[spec_version]: '\(item.prefix(20))' is not a version like 2.1")
                    }
                    q.specVersions.insert(item)
                }
            }
        }
        return q
    }

    public enum Filter: String, Sendable, Hashable, CaseIterable {
        case addedAfter = "added_after"
        case limit
        case next
        case id = "match[id]"
        case type = "match[type]"
        case version = "match[version]"
        case specVersion = "match[spec_version]"
    }

    static func list(_ value: String, _ name: String) throws(TAXIIError) -> [String] {
        let items = value.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
        guard items.count <= maximumListItems else { throw TAXIIError(.badRequest, "\(name): at most \(maximumListItems) items") }
        guard !items.contains(where: \.isEmpty) else { throw TAXIIError(.badRequest, "\(name): an empty item") }
        return items
    }

    /// The `next` value of a page that ended at `dateAdded`: the microseconds, in decimal.
    public static func nextValue(after dateAdded: TAXIITimestamp) -> String { String(dateAdded.microseconds) }

    /// The cursor in a `next` value; nil unless it is one this server could have given.
    static func nextCursor(_ value: String) -> TAXIITimestamp? {
        guard (1...19).contains(value.utf8.count), value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let n = Int64(value)
        else { return nil }
        return TAXIITimestamp(microseconds: n)
    }
}
