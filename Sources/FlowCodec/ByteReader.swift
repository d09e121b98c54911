/// Bounds-checked big-endian reads over raw bytes.
///
/// Hand-written instead of `ByteBuffer.readMultipleIntegers` because the hot decoding loops read
/// straight from the datagram's storage without copying or reference counting; every read here is
/// checked against the end, and callers check a whole record once before unchecked field loads.
@usableFromInline
struct ByteReader {
    @usableFromInline let base: UnsafeRawBufferPointer
    @usableFromInline var offset: Int
    @usableFromInline let end: Int

    @inlinable init(_ base: UnsafeRawBufferPointer, offset: Int = 0, end: Int? = nil) {
        self.base = base
        self.offset = offset
        self.end = min(end ?? base.count, base.count)
    }

    @inlinable var remaining: Int { end - offset }

    @inlinable mutating func u8() -> UInt8? {
        guard offset + 1 <= end else { return nil }
        defer { offset += 1 }
        return base[offset]
    }
    @inlinable mutating func u16() -> UInt16? {
        guard offset + 2 <= end else { return nil }
        defer { offset += 2 }
        return base.loadBigEndianUInt16(at: offset)
    }
    @inlinable mutating func u32() -> UInt32? {
        guard offset + 4 <= end else { return nil }
        defer { offset += 4 }
        return base.loadBigEndianUInt32(at: offset)
    }
    @inlinable mutating func skip(_ n: Int) -> Bool {
        guard n >= 0, offset + n <= end else { return false }
        offset += n
        return true
    }
}

extension UnsafeRawBufferPointer {
    /// Unchecked big-endian loads; callers have checked `offset + width <= count`.
    @inlinable func loadBigEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inlinable func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inlinable func loadBigEndianUInt64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    /// Unsigned big-endian integer of 1…8 bytes (reduced-size encoding, RFC 7011 §6.2).
    @inlinable @inline(__always) func loadBigEndianUnsigned(at offset: Int, length: Int) -> UInt64 {
        switch length {
        case 1: return UInt64(self[offset])
        case 2: return UInt64(loadBigEndianUInt16(at: offset))
        case 4: return UInt64(loadBigEndianUInt32(at: offset))
        case 8: return loadBigEndianUInt64(at: offset)
        default:
            var v: UInt64 = 0
            for i in 0..<Swift.min(length, 8) { v = v << 8 | UInt64(self[offset + i]) }
            return v
        }
    }
    /// The unsigned big-endian integer in the last bytes of the 8 at `tail`, kept by `mask`
    /// (``FieldSlot``); callers have checked `0 <= tail` and `tail + 8 <= count`.
    @inlinable @inline(__always) func loadBigEndianField(_ tail: Int, mask: UInt64) -> UInt64 {
        loadBigEndianUInt64(at: tail) & mask
    }
    /// An IPv6 address of 16 bytes at `offset`.
    @inlinable func loadIPv6(at offset: Int) -> IPAddress {
        .v6(high: loadBigEndianUInt64(at: offset), low: loadBigEndianUInt64(at: offset + 8))
    }
}
