import Foundation

/// One stored version of a STIX object in a collection: the few fields TAXII filters on, and the
/// object's JSON as it is served. TAXII treats the object itself as opaque.
public struct TAXIIObjectVersion: Sendable, Hashable {
    /// `type--uuid`.
    public var id: String
    public var type: String
    public var specVersion: String
    /// The object's `modified`, else its `created`, else (objects with neither, such as
    /// cyber-observables) its `date_added`.
    public var version: TAXIITimestamp
    /// When this server added the version: strictly increasing within a collection.
    public var dateAdded: TAXIITimestamp
    /// The version's `revoked` property.
    public var revoked: Bool
    /// The object's JSON (UTF-8), one JSON object.
    public var json: Data

    public init(
        id: String, type: String, specVersion: String, version: TAXIITimestamp, dateAdded: TAXIITimestamp, revoked: Bool, json: Data
    ) {
        self.id = id
        self.type = type
        self.specVersion = specVersion
        self.version = version
        self.dateAdded = dateAdded
        self.revoked = revoked
        self.json = json
    }

    /// The manifest record of this version.
    public var manifestRecord: TAXIIManifestRecord {
        TAXIIManifestRecord(id: id, dateAdded: dateAdded.microsecondDescription, version: version.description)
    }
}

/// An object offered to a collection and found well-formed, before it has a `date_added`.
public struct TAXIICandidate: Sendable, Hashable {
    public var id: String
    public var type: String
    public var specVersion: String
    /// nil for an object without `modified` or `created`: its version is its `date_added`.
    public var version: TAXIITimestamp?
    public var revoked: Bool
    public var json: Data

    /// The version the object gets when added at `dateAdded`.
    public func stored(at dateAdded: TAXIITimestamp) -> TAXIIObjectVersion {
        TAXIIObjectVersion(
            id: id, type: type, specVersion: specVersion, version: version ?? dateAdded, dateAdded: dateAdded, revoked: revoked, json: json)
    }

    /// Checks one object minimally: a JSON object with a `type` (STIX's rules: 3 to 250 of a–z,
    /// 0–9 and `-`), an `id` of the form `type--uuid`, `spec_version` "2.1" (required except on
    /// cyber-observables, which default to it), `created` and `modified` timestamps on every type
    /// that needs them (all but cyber-observables; a marking definition needs `created` only),
    /// `modified` not before `created`, and `revoked` a boolean when present. Re-serialises the
    /// object with sorted keys.
    public static func validate(_ object: Any) -> Result<TAXIICandidate, TAXIIObjectProblem> {
        guard let o = object as? [String: Any] else { return .failure(TAXIIObjectProblem(id: nil, version: nil, "not a JSON object")) }
        let rawID = o["id"] as? String
        let rawVersion = (o["modified"] as? String) ?? (o["created"] as? String)
        func fail(_ reason: String) -> Result<TAXIICandidate, TAXIIObjectProblem> {
            .failure(
                TAXIIObjectProblem(id: rawID.map { String($0.prefix(300)) }, version: rawVersion.map { String($0.prefix(40)) }, reason))
        }
        guard let type = o["type"] as? String else { return fail("no 'type' (text)") }
        guard isValidType(type) else { return fail("'type' must be 3 to 250 characters of a-z, 0-9 and '-'") }
        guard let id = rawID else { return fail("no 'id' (text)") }
        guard isValidID(id, type: type) else { return fail("'id' must be '\(type)--' followed by a UUID") }
        let observable = cyberObservableTypes.contains(type)
        let specVersion: String
        switch o["spec_version"] {
        case nil where observable: specVersion = "2.1"
        case let s as String where s == "2.1": specVersion = s
        case nil: return fail("no 'spec_version': this server takes STIX 2.1 objects (\"spec_version\": \"2.1\")")
        default: return fail("'spec_version' must be \"2.1\"")
        }
        var created: TAXIITimestamp?
        var modified: TAXIITimestamp?
        if let c = o["created"] {
            guard let s = c as? String, let t = TAXIITimestamp(s) else {
                return fail("'created' must be a timestamp like 2026-01-01T00:00:00.000Z")
            }
            created = t
        }
        if let m = o["modified"] {
            guard let s = m as? String, let t = TAXIITimestamp(s) else {
                return fail("'modified' must be a timestamp like 2026-01-01T00:00:00.000Z")
            }
            modified = t
        }
        if !observable {
            guard created != nil else { return fail("no 'created' timestamp") }
            if type != "marking-definition", modified == nil { return fail("no 'modified' timestamp") }
        }
        if let created, let modified, modified < created { return fail("'modified' is before 'created'") }
        var revoked = false
        if let r = o["revoked"] {
            guard CFBooleanCheck.isBoolean(r), let b = r as? Bool else { return fail("'revoked' must be true or false") }
            revoked = b
        }
        guard let json = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            return fail("the object cannot be written as JSON")
        }
        return .success(
            TAXIICandidate(id: id, type: type, specVersion: specVersion, version: modified ?? created, revoked: revoked, json: json))
    }

    /// STIX 2.1's cyber-observable object types: no `created`, `modified`, and an optional `spec_version`.
    public static let cyberObservableTypes: Set<String> = [
        "artifact", "autonomous-system", "directory", "domain-name", "email-addr", "email-message", "file", "ipv4-addr", "ipv6-addr",
        "mac-addr", "mutex", "network-traffic", "process", "software", "url", "user-account", "windows-registry-key",
        "x509-certificate",
    ]

    static func isValidType(_ type: String) -> Bool {
        let u = type.utf8
        return (3...250).contains(u.count)
            && u.allSatisfy {
                ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                    || $0 == UInt8(ascii: "-")
            }
    }

    /// `type--xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex digits, either case).
    public static func isValidID(_ id: String, type: String) -> Bool {
        let u = Array(id.utf8.prefix(300))
        let prefix = Array(type.utf8) + Array("--".utf8)
        guard u.count == prefix.count + 36, u.starts(with: prefix) else { return false }
        return isUUID(u[prefix.count...])
    }

    /// Whether `id` has the form of an object id (`type--uuid` with a valid type).
    public static func isObjectID(_ id: String) -> Bool {
        guard id.utf8.count <= 300, let r = id.range(of: "--") else { return false }
        let type = String(id[..<r.lowerBound])
        return isValidType(type) && isValidID(id, type: type)
    }

    static func isUUID(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count == 36 else { return false }
        for (i, b) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(i) {
                guard b == UInt8(ascii: "-") else { return false }
            } else {
                let hex =
                    (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f"))
                    || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F"))
                guard hex else { return false }
            }
        }
        return true
    }
}

/// Why an object was not added: what it said its id and version were (when it said), and the reason.
public struct TAXIIObjectProblem: Error, Sendable, Hashable {
    public var id: String?
    public var version: String?
    public var reason: String

    public init(id: String?, version: String?, _ reason: String) {
        self.id = id
        self.version = version
        self.reason = reason
    }

    /// As a status resource's failure.
    public var details: TAXIIStatusDetails { TAXIIStatusDetails(id: id ?? "", version: version ?? "", message: reason) }
}

/// JSONSerialization gives numbers and booleans alike as NSNumber; this tells them apart.
enum CFBooleanCheck {
    static func isBoolean(_ value: Any) -> Bool {
        guard let n = value as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }
}
