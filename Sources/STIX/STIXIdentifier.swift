import Crypto

/// A STIX identifier, `object-type--UUID` (STIX 2.1 §2.9).
///
/// Mamori's own identifiers are name-based (UUIDv5, RFC 9562 §5.5), so the same thing exported
/// twice has the same id:
/// - cyber observables under the spec's namespace over the canonical JSON of their
///   id-contributing properties (``observable(type:contributing:)``);
/// - the objects Mamori makes (indicators, infrastructure, sightings, …) under
///   ``mamoriNamespace`` over a stable key such as the pattern and the carrier
///   (``mamori(type:key:)``), so that a re-export is a new version (a new `modified`), never a
///   duplicate.
public struct STIXIdentifier: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The object type: 3–250 of `a-z`, `0-9` and `-`.
    public let type: String
    /// The UUID in lowercase 8-4-4-4-12 form.
    public let uuid: String

    /// The namespace of cyber observable ids, STIX 2.1 §2.9.
    public static let observableNamespace: [UInt8] = uuidBytes("00abedb4-aa42-466c-9c01-fed23315a9b7")!
    /// The namespace of Mamori's objects: UUIDv5 of the DNS name `stix.mamori.invalid`
    /// (`c76d3f7f-640d-5e21-af2e-4fd08ec4b483`). Fixed for ever: changing it changes every id
    /// Mamori has exported.
    public static let mamoriNamespace: [UInt8] = uuidBytes("c76d3f7f-640d-5e21-af2e-4fd08ec4b483")!

    /// Parses `type--uuid`. The UUID may be in either case (peers write both); it is kept in lowercase.
    public init?(_ text: some StringProtocol) {
        guard let range = text.firstRange(of: "--") else { return nil }
        let type = String(text[..<range.lowerBound])
        let uuid = text[range.upperBound...]
        guard Self.isValidType(type), let bytes = Self.uuidBytes(uuid) else { return nil }
        self.type = type
        self.uuid = Self.format(bytes)
    }

    /// An id of `type` with the 16 bytes of a UUID; nil for an invalid type or another length.
    public init?(type: String, uuidBytes: [UInt8]) {
        guard Self.isValidType(type), uuidBytes.count == 16 else { return nil }
        self.type = type
        self.uuid = Self.format(uuidBytes)
    }

    public var description: String { "\(type)--\(uuid)" }

    public static func < (a: STIXIdentifier, b: STIXIdentifier) -> Bool { a.description < b.description }

    /// Whether `type` is a valid STIX type name: 3–250 characters of `a-z`, `0-9`, `-`.
    public static func isValidType(_ type: some StringProtocol) -> Bool {
        (3...250).contains(type.utf8.count)
            && type.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
    }

    /// The id of a cyber observable: UUIDv5 under ``observableNamespace`` over the RFC 8785
    /// canonical JSON of its id-contributing properties (for `ipv4-addr`, `ipv6-addr` and
    /// `domain-name`, `{"value": …}`).
    public static func observable(type: String, contributing: [String: JSONValue]) -> STIXIdentifier {
        // The digest is 16 bytes: only an invalid type (a caller's mistake) fails.
        STIXIdentifier(
            type: type, uuidBytes: uuidV5(namespace: observableNamespace, name: JSONValue.object(contributing).canonicalEncoding))!
    }

    /// The id of an object Mamori makes: UUIDv5 under ``mamoriNamespace`` over `type|key`.
    public static func mamori(type: String, key: String) -> STIXIdentifier {
        STIXIdentifier(type: type, uuidBytes: uuidV5(namespace: mamoriNamespace, name: Array("\(type)|\(key)".utf8)))!
    }

    /// RFC 9562 §5.5: SHA-1 over the namespace's 16 bytes and the name, the first 16 bytes of
    /// the digest with the version (5) and variant (10) bits set.
    public static func uuidV5(namespace: [UInt8], name: [UInt8]) -> [UInt8] {
        var sha = Insecure.SHA1()
        sha.update(data: namespace)
        sha.update(data: name)
        var bytes = Array(sha.finalize().prefix(16))
        bytes[6] = bytes[6] & 0x0F | 0x50
        bytes[8] = bytes[8] & 0x3F | 0x80
        return bytes
    }

    /// The 16 bytes of a UUID in 8-4-4-4-12 hex form (either case).
    public static func uuidBytes(_ text: some StringProtocol) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count == 36, u[8] == 0x2D, u[13] == 0x2D, u[18] == 0x2D, u[23] == 0x2D else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(16)
        var high: UInt8?
        for (i, c) in u.enumerated() where i != 8 && i != 13 && i != 18 && i != 23 {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            case 0x41...0x46: v = c - 0x41 + 10
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        return out
    }

    static func format(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(0x2D) }
            out += [hex[Int(b >> 4)], hex[Int(b & 0xF)]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The UUID's version nibble (4 random, 5 name-based SHA-1).
    public var version: Int { Int(Self.uuidBytes(uuid)![6] >> 4) }
}
