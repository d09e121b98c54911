import Foundation

// The resources of TAXII 2.1 (OASIS TAXII Version 2.1, section 4 and 5) as values, with the
// spec's snake_case keys. Optional values are left out of the JSON when nil.

/// `GET /taxii2/`: the server and its API roots (absolute URLs).
public struct TAXIIDiscovery: Codable, Sendable, Hashable {
    public var title: String
    public var description: String?
    public var contact: String?
    public var `default`: String?
    public var apiRoots: [String]?

    public init(title: String, description: String? = nil, contact: String? = nil, default: String? = nil, apiRoots: [String]? = nil) {
        self.title = title
        self.description = description
        self.contact = contact
        self.default = `default`
        self.apiRoots = apiRoots
    }

    enum CodingKeys: String, CodingKey {
        case title, description, contact, `default`
        case apiRoots = "api_roots"
    }
}

/// `GET /{api-root}/`.
public struct TAXIIAPIRoot: Codable, Sendable, Hashable {
    public var title: String
    public var description: String?
    public var versions: [String]
    public var maxContentLength: Int

    public init(title: String, description: String? = nil, versions: [String] = [TAXIIMediaType.taxii], maxContentLength: Int) {
        self.title = title
        self.description = description
        self.versions = versions
        self.maxContentLength = maxContentLength
    }

    enum CodingKeys: String, CodingKey {
        case title, description, versions
        case maxContentLength = "max_content_length"
    }
}

/// One collection as `GET …/collections/` and `GET …/collections/{id}/` show it to a requester.
public struct TAXIICollectionResource: Codable, Sendable, Hashable {
    public var id: String
    public var title: String
    public var description: String?
    public var alias: String?
    public var canRead: Bool
    public var canWrite: Bool
    public var mediaTypes: [String]?

    public init(
        id: String, title: String, description: String? = nil, alias: String? = nil, canRead: Bool, canWrite: Bool,
        mediaTypes: [String]? = [TAXIIMediaType.stix]
    ) {
        self.id = id
        self.title = title
        self.description = description
        self.alias = alias
        self.canRead = canRead
        self.canWrite = canWrite
        self.mediaTypes = mediaTypes
    }

    enum CodingKeys: String, CodingKey {
        case id, title, description, alias
        case canRead = "can_read"
        case canWrite = "can_write"
        case mediaTypes = "media_types"
    }
}

/// `GET …/collections/`: the collections the requester may read or write (no key when none).
public struct TAXIICollections: Codable, Sendable, Hashable {
    public var collections: [TAXIICollectionResource]?

    public init(collections: [TAXIICollectionResource]?) { self.collections = collections?.isEmpty == true ? nil : collections }
}

/// One object version in a manifest.
public struct TAXIIManifestRecord: Codable, Sendable, Hashable {
    public var id: String
    public var dateAdded: String
    public var version: String
    public var mediaType: String?

    public init(id: String, dateAdded: String, version: String, mediaType: String? = TAXIIMediaType.stix) {
        self.id = id
        self.dateAdded = dateAdded
        self.version = version
        self.mediaType = mediaType
    }

    enum CodingKeys: String, CodingKey {
        case id, version
        case dateAdded = "date_added"
        case mediaType = "media_type"
    }
}

/// `GET …/manifest/`.
public struct TAXIIManifest: Codable, Sendable, Hashable {
    public var more: Bool?
    public var next: String?
    public var objects: [TAXIIManifestRecord]?

    public init(more: Bool?, next: String? = nil, objects: [TAXIIManifestRecord]?) {
        self.more = more
        self.next = next
        self.objects = objects?.isEmpty == true ? nil : objects
    }
}

/// `GET …/objects/{id}/versions/`.
public struct TAXIIVersions: Codable, Sendable, Hashable {
    public var more: Bool?
    public var next: String?
    public var versions: [String]?

    public init(more: Bool?, next: String? = nil, versions: [String]?) {
        self.more = more
        self.next = next
        self.versions = versions?.isEmpty == true ? nil : versions
    }
}

/// One object of a status resource's successes, failures or pendings.
public struct TAXIIStatusDetails: Codable, Sendable, Hashable {
    public var id: String
    public var version: String
    public var message: String?

    public init(id: String, version: String, message: String? = nil) {
        self.id = id
        self.version = version
        self.message = message
    }
}

/// The status resource of an envelope added (`POST …/objects/`, `GET …/status/{id}/`). Mamori
/// adds an envelope before it answers, so its status is always `complete` with no pendings.
public struct TAXIIStatus: Codable, Sendable, Hashable {
    public var id: String
    public var status: String
    public var requestTimestamp: String?
    public var totalCount: Int
    public var successCount: Int
    public var successes: [TAXIIStatusDetails]?
    public var failureCount: Int
    public var failures: [TAXIIStatusDetails]?
    public var pendingCount: Int
    public var pendings: [TAXIIStatusDetails]?

    public init(id: String, requestTimestamp: TAXIITimestamp, successes: [TAXIIStatusDetails], failures: [TAXIIStatusDetails]) {
        self.id = id
        status = "complete"
        self.requestTimestamp = requestTimestamp.description
        totalCount = successes.count + failures.count
        successCount = successes.count
        self.successes = successes.isEmpty ? nil : successes
        failureCount = failures.count
        self.failures = failures.isEmpty ? nil : failures
        pendingCount = 0
        pendings = nil
    }

    enum CodingKeys: String, CodingKey {
        case id, status, successes, failures, pendings
        case requestTimestamp = "request_timestamp"
        case totalCount = "total_count"
        case successCount = "success_count"
        case failureCount = "failure_count"
        case pendingCount = "pending_count"
    }
}

/// TAXII's error resource: every refusal's body.
public struct TAXIIErrorBody: Codable, Sendable, Hashable {
    public var title: String
    public var description: String?
    public var errorID: String?
    public var errorCode: String?
    public var httpStatus: String?
    public var externalDetails: String?
    public var details: [String: String]?

    public init(
        title: String, description: String? = nil, errorID: String? = nil, errorCode: String? = nil, httpStatus: String? = nil,
        externalDetails: String? = nil, details: [String: String]? = nil
    ) {
        self.title = title
        self.description = description
        self.errorID = errorID
        self.errorCode = errorCode
        self.httpStatus = httpStatus
        self.externalDetails = externalDetails
        self.details = details
    }

    enum CodingKeys: String, CodingKey {
        case title, description, details
        case errorID = "error_id"
        case errorCode = "error_code"
        case httpStatus = "http_status"
        case externalDetails = "external_details"
    }
}

/// The one JSON encoder of TAXII resources: sorted keys, slashes unescaped.
public enum TAXIIJSON {
    public static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
