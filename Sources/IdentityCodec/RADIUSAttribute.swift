import FlowCodec

/// One RADIUS attribute: Type, and the Value without its Type and Length octets (RFC 2865 §5).
///
/// Values are raw octets; the typed constructors and accessors below encode and decode the data
/// types of RFC 2865 §5 (text, string, address, integer, time) and RFC 3162 §2.3 (IPv6 prefix).
///
/// ```swift
/// let a = RADIUSAttribute.framedIPAddress(IPAddress("100.64.0.1")!)
/// a.address   // 100.64.0.1
/// ```
public struct RADIUSAttribute: Sendable, Hashable {
    /// The Type octet (``RADIUSAttributeType`` names the ones Mamori uses).
    public var type: UInt8
    /// The Value octets: at most 253 (Length is one octet and counts Type and Length).
    public var value: [UInt8]

    /// An attribute with a raw value; throws ``IdentityCodecError/Code/tooLong`` past 253 octets.
    public init(type: UInt8, value: [UInt8]) throws(IdentityCodecError) {
        guard value.count <= 253 else {
            throw IdentityCodecError(.tooLong, "attribute \(type) value of \(value.count) octets (at most 253)")
        }
        self.type = type
        self.value = value
    }

    init(unchecked type: UInt8, _ value: [UInt8]) {
        self.type = type
        self.value = value
    }

    /// A `text`/`string` attribute (RFC 2865 §5: UTF-8, 1–253 octets). Longer text is cut at 253 octets.
    public static func text(_ type: RADIUSAttributeType, _ text: String) -> RADIUSAttribute {
        RADIUSAttribute(unchecked: type.rawValue, Array(Array(text.utf8).prefix(253)))
    }

    /// A 32-bit unsigned `integer` attribute (network byte order).
    public static func integer(_ type: RADIUSAttributeType, _ value: UInt32) -> RADIUSAttribute {
        RADIUSAttribute(
            unchecked: type.rawValue,
            [
                UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
                UInt8(truncatingIfNeeded: value),
            ])
    }

    /// An `address` attribute: 4 octets for IPv4 (NAS-IP-Address, Framed-IP-Address), 16 for IPv6 (NAS-IPv6-Address).
    public static func address(_ type: RADIUSAttributeType, _ address: IPAddress) -> RADIUSAttribute {
        RADIUSAttribute(unchecked: type.rawValue, address.ipv4 != nil ? Array(address.bytes.suffix(4)) : address.bytes)
    }

    /// A `time` attribute: seconds since 1970-01-01 UTC as a 32-bit integer (RFC 2869 §5.3 Event-Timestamp).
    public static func time(_ type: RADIUSAttributeType, secondsSinceEpoch: Int64) -> RADIUSAttribute {
        integer(type, UInt32(clamping: secondsSinceEpoch))
    }

    /// An `ipv6prefix` attribute (RFC 3162 §2.3, RFC 4818 §3): Reserved (0), Prefix-Length,
    /// then only the octets the prefix length needs.
    public static func prefix(_ type: RADIUSAttributeType, _ prefix: IPPrefix) -> RADIUSAttribute {
        let octets = (Int(prefix.length) + 7) / 8
        return RADIUSAttribute(unchecked: type.rawValue, [0, UInt8(prefix.length)] + prefix.network.bytes.prefix(octets))
    }

    public static func userName(_ name: String) -> RADIUSAttribute { text(.userName, name) }
    public static func framedIPAddress(_ a: IPAddress) -> RADIUSAttribute { address(.framedIPAddress, a) }
    public static func nasIPAddress(_ a: IPAddress) -> RADIUSAttribute { address(.nasIPAddress, a) }
    public static func statusType(_ s: AccountingStatusType) -> RADIUSAttribute { integer(.acctStatusType, s.rawValue) }

    /// The value as UTF-8 text (invalid sequences are replaced, never trapped on).
    public var text: String { String(decoding: value, as: UTF8.self) }

    /// The value as a 32-bit integer; nil unless it has exactly 4 octets.
    public var integer: UInt32? {
        guard value.count == 4 else { return nil }
        return UInt32(value[0]) << 24 | UInt32(value[1]) << 16 | UInt32(value[2]) << 8 | UInt32(value[3])
    }

    /// The value as an address; nil unless it has 4 or 16 octets.
    public var address: IPAddress? { IPAddress(bytes: value) }

    /// The value as an RFC 3162 prefix; nil unless 2–18 octets with a length ≤ 128 that the octets cover.
    public var prefix: IPPrefix? {
        guard value.count >= 2, value.count <= 18, value[1] <= 128 else { return nil }
        let octets = Array(value[2...])
        guard octets.count * 8 >= Int(value[1]) else { return nil }
        return IPAddress(bytes: octets + Array(repeating: 0, count: 16 - octets.count)).flatMap {
            IPPrefix(address: $0, length: Int(value[1]))
        }
    }
}
