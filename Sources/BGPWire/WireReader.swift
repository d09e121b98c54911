import FlowCodec

/// A cursor over a message's octets. Every read checks the bounds and throws the
/// NOTIFICATION the caller chose for "this part ended early".
struct WireReader {
    let bytes: [UInt8]
    var offset: Int
    let end: Int
    let truncated: BGPNotification

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil, truncated: BGPNotification) {
        self.bytes = bytes
        offset = start
        self.end = end ?? bytes.count
        self.truncated = truncated
    }

    var remaining: Int { end - offset }
    var isAtEnd: Bool { offset >= end }

    mutating func u8() throws(BGPNotification) -> UInt8 {
        guard offset < end else { throw truncated }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(BGPNotification) -> UInt16 {
        guard remaining >= 2 else { throw truncated }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32() throws(BGPNotification) -> UInt32 {
        guard remaining >= 4 else { throw truncated }
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[offset + i]) }
        offset += 4
        return v
    }

    mutating func u64() throws(BGPNotification) -> UInt64 {
        guard remaining >= 8 else { throw truncated }
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return v
    }

    mutating func take(_ n: Int) throws(BGPNotification) -> ArraySlice<UInt8> {
        guard n >= 0, remaining >= n else { throw truncated }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    /// A reader over the next `n` octets, which this one skips.
    mutating func sub(_ n: Int, truncated: BGPNotification) throws(BGPNotification) -> WireReader {
        guard n >= 0, remaining >= n else { throw self.truncated }
        defer { offset += n }
        return WireReader(bytes, from: offset, to: offset + n, truncated: truncated)
    }
}

extension Array where Element == UInt8 {
    mutating func put16(_ v: UInt16) { append(contentsOf: [UInt8(v >> 8), UInt8(v & 0xFF)]) }
    mutating func put32(_ v: UInt32) {
        append(contentsOf: [
            UInt8(v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v),
        ])
    }
    mutating func put64(_ v: UInt64) {
        for s in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
    }
}

extension IPPrefix {
    /// The prefix's significant octets (RFC 4271 §4.3 NLRI encoding, without the length octet).
    var significantBytes: [UInt8] { Array(network.bytes.prefix((length + 7) / 8)) }

    /// A prefix of `length` bits from its significant octets. Bits past the length are
    /// irrelevant (RFC 4271 §4.3) and are cleared.
    static func from(significant: ArraySlice<UInt8>, length: Int, ipv6: Bool) -> IPPrefix? {
        let width = ipv6 ? 16 : 4
        guard length <= width * 8, significant.count == (length + 7) / 8 else { return nil }
        var full = Array(significant)
        full += [UInt8](repeating: 0, count: width - full.count)
        guard let address = IPAddress(bytes: full) else { return nil }
        return IPPrefix(address: address, length: length)
    }
}

/// Reads a length-prefixed IP prefix (RFC 4271 §4.3 / RFC 4760 §5).
func readPrefix(_ r: inout WireReader, ipv6: Bool, invalid: BGPNotification) throws(BGPNotification) -> IPPrefix {
    let length = Int(try r.u8())
    guard length <= (ipv6 ? 128 : 32) else { throw invalid }
    let octets = try r.take((length + 7) / 8)
    guard let prefix = IPPrefix.from(significant: octets, length: length, ipv6: ipv6) else { throw invalid }
    return prefix
}

func writePrefix(_ prefix: IPPrefix, into out: inout [UInt8]) {
    out.append(UInt8(prefix.length))
    out += prefix.significantBytes
}
