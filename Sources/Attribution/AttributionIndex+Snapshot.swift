import FlowCodec

/// The index as bytes, so `mamori serve` keeps what it knows across a restart: a CGNAT logs a port
/// block once, at allocation, and a lost allocation makes every flow from that block
/// unattributable until the block is handed out again.
///
/// Layout (all integers little-endian): the magic `MAMORI-ATTRIBUTION`, a format version, then
/// claims, holding slots, translation slots, chain links, translated addresses, subscriber names,
/// inside addresses and open sessions, each as a count and fixed fields (strings as a length and
/// UTF-8). Field by field rather than a memory image, so the format does not depend on the
/// compiler's struct layout; every index is checked on the way back in.
extension AttributionIndex {
    static let snapshotMagic = Array("MAMORI-ATTRIBUTION".utf8)
    static let snapshotVersion: UInt32 = 1

    /// An error in a snapshot: the file is not one, is of another version, or is damaged.
    public struct SnapshotError: Error, Hashable, CustomStringConvertible {
        public let description: String
    }

    /// The whole index (not its configuration) as bytes.
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter()
        w.bytes += Self.snapshotMagic
        w.u32(Self.snapshotVersion)
        w.u64(UInt64(claims.count))
        for c in claims {
            // Facts only: what lookups cache (chain heads, a translation's `insideHead`) is rebuilt on the way in.
            w.i64(c.start)
            w.i64(c.end)
            w.u32(c.target)
            w.i32(c.source.isTranslation ? -1 : c.next)
            w.u16(c.portLow)
            w.u16(c.portHigh)
            w.u8(c.source.rawValue)
            w.u8(c.flags.subtracting(.chainHead).rawValue)
        }
        for table in [holdingHeads, translationHeads, translatedAddresses] {
            let all = table.all
            w.u64(UInt64(all.count))
            for (slot, head) in all {
                w.u64(slot.high)
                w.u64(slot.low)
                w.u8(slot.length)
                w.i32(head)
            }
        }
        w.u64(UInt64(translationLinks.count))
        for l in translationLinks {
            w.i32(l.next)
            w.i32(l.claim)
        }
        w.u64(UInt64(subscriberNames.count))
        for n in subscriberNames { w.string(n) }
        w.u64(UInt64(insideAddresses.count))
        for a in insideAddresses {
            w.u64(a.high)
            w.u64(a.low)
        }
        w.u64(UInt64(sessions.count))
        for (key, list) in sessions {
            w.u64(key.nas.high)
            w.u64(key.nas.low)
            w.string(key.sessionID)
            w.u64(UInt64(list.count))
            for i in list { w.i32(i) }
        }
        w.u64(UInt64(forgottenCount))
        return w.bytes
    }

    /// Restores an index from ``snapshot()`` bytes, under `configuration` (which is not stored).
    public init(snapshot bytes: [UInt8], configuration: Configuration = .init()) throws(SnapshotError) {
        self.init(configuration: configuration)
        var r = SnapshotReader(bytes: bytes)
        guard r.take(Self.snapshotMagic.count).map(Array.init) == Self.snapshotMagic else {
            throw SnapshotError(description: "not an attribution snapshot")
        }
        let version = try r.u32()
        guard version == Self.snapshotVersion else {
            throw SnapshotError(description: "snapshot format \(version), this build reads \(Self.snapshotVersion)")
        }
        let claimCount = try r.count(bytesEach: 30)
        claims.reserveCapacity(claimCount)
        for _ in 0..<claimCount {
            let start = try r.i64()
            let end = try r.i64()
            let target = try r.u32()
            let next = try r.i32()
            let low = try r.u16()
            let high = try r.u16()
            guard let source = AttributionSource(rawValue: try r.u8()) else { throw SnapshotError(description: "unknown source in claim") }
            var c = Claim(
                start: start, end: end, target: target, source: source, flags: ClaimFlags(rawValue: try r.u8()), ports: low...max(low, high)
            )
            c.next = next
            claims.append(c)
            claimCounts[Int(c.source.rawValue) & 7] += 1
        }
        var tables: [SlotTable] = []
        for _ in 0..<3 {
            let n = try r.count(bytesEach: 21)
            var t = SlotTable(capacity: n)
            for _ in 0..<n {
                let slot = Slot(high: try r.u64(), low: try r.u64(), length: try r.u8())
                guard slot.length <= 128 else { throw SnapshotError(description: "damaged: a prefix length over 128") }
                t.set(slot, head: try r.i32())
            }
            tables.append(t)
        }
        holdingHeads = tables[0]
        translationHeads = tables[1]
        translatedAddresses = tables[2]
        let linkCount = try r.count(bytesEach: 8)
        translationLinks.reserveCapacity(linkCount)
        for _ in 0..<linkCount { translationLinks.append(Link(next: try r.i32(), claim: try r.i32(), ports: 0...0)) } // ports: below
        for _ in 0..<(try r.count(bytesEach: 4)) {
            let name = try r.string()
            subscriberNumbers[name] = UInt32(subscriberNames.count)
            subscriberNames.append(name)
        }
        for _ in 0..<(try r.count(bytesEach: 16)) { insideAddresses.append(.v6(high: try r.u64(), low: try r.u64())) }
        for _ in 0..<(try r.count(bytesEach: 28)) {
            let nas = IPAddress.v6(high: try r.u64(), low: try r.u64())
            let id = try r.string()
            var list: [Int32] = []
            for _ in 0..<(try r.count(bytesEach: 4)) { list.append(try r.i32()) }
            sessions[SessionKey(nas: nas, sessionID: id)] = list
        }
        guard let forgotten = Int(exactly: try r.u64()) else { throw SnapshotError(description: "damaged: forgotten count out of range") }
        forgottenCount = forgotten
        guard r.atEnd else { throw SnapshotError(description: "trailing bytes after the snapshot") }

        // Every reference must point inside its array, or a lookup would trap.
        func valid(_ i: Int32, _ count: Int) -> Bool { i == -1 || (i >= 0 && Int(i) < count) }
        for c in claims {
            guard valid(c.next, claims.count) else {
                throw SnapshotError(description: "damaged: a claim's chain points outside the claims")
            }
            if c.source.isTranslation {
                guard c.flags.contains(.insideV4) || Int(c.target) < insideAddresses.count else {
                    throw SnapshotError(description: "damaged: inside address out of range")
                }
            } else {
                guard Int(c.target) < subscriberNames.count else { throw SnapshotError(description: "damaged: subscriber out of range") }
            }
        }
        for (_, head) in holdingHeads.all where !valid(head, claims.count) {
            throw SnapshotError(description: "damaged: holding chain head out of range")
        }
        for (_, head) in translationHeads.all where !valid(head, translationLinks.count) {
            throw SnapshotError(description: "damaged: translation chain head out of range")
        }
        for l in translationLinks where !valid(l.next, translationLinks.count) || l.claim < 0 || Int(l.claim) >= claims.count {
            throw SnapshotError(description: "damaged: translation link out of range")
        }
        // Each layer's chains hold only its own kind of claim (a lookup reads them as such).
        for l in translationLinks where !claims[Int(l.claim)].source.isTranslation {
            throw SnapshotError(description: "damaged: a translation chain holds a holding claim")
        }
        for (_, list) in sessions where list.contains(where: { $0 < 0 || Int($0) >= claims.count }) {
            throw SnapshotError(description: "damaged: session claim out of range")
        }
        // Chains must end: a cycle would hang a lookup.
        var seen = [Bool](repeating: false, count: claims.count)
        for (_, head) in holdingHeads.all {
            var i = head
            while i >= 0 {
                guard !seen[Int(i)] else { throw SnapshotError(description: "damaged: a claim is on two chains or a chain loops") }
                guard !claims[Int(i)].source.isTranslation else {
                    throw SnapshotError(description: "damaged: a holding chain holds a translation")
                }
                seen[Int(i)] = true
                i = claims[Int(i)].next
            }
        }
        var seenLinks = [Bool](repeating: false, count: translationLinks.count)
        for (_, head) in translationHeads.all {
            var l = head
            while l >= 0 {
                guard !seenLinks[Int(l)] else { throw SnapshotError(description: "damaged: a translation chain loops") }
                seenLinks[Int(l)] = true
                l = translationLinks[Int(l)].next
            }
        }

        // Derived state. Every translation chain's address is a translated address (lookups rely on it).
        for (slot, _) in translationHeads.all {
            let address = Slot(high: slot.high, low: slot.low, length: 128)
            if translatedAddresses[address] == nil { translatedAddresses.set(address, head: 0) }
        }
        rebuildLookupCaches()
        let slots = holdingHeads.all.map(\.0)
        holdingLengthsV4 = Array(Set(slots.filter(\.isIPv4).map(\.length))).sorted(by: >)
        holdingLengthsV6 = Array(Set(slots.filter { !$0.isIPv4 }.map(\.length))).sorted(by: >)
        for (slot, _) in translatedAddresses.all {
            let a = IPAddress.v6(high: slot.high, low: slot.low)
            if let v4 = a.ipv4 {
                if translatedV4Slash24.isEmpty { translatedV4Slash24 = Array(repeating: 0, count: 1 << 18) }
                translatedV4Slash24[Int(v4 >> 14)] |= 1 << UInt64((v4 >> 8) & 63)
            } else {
                hasIPv6Translations = true
            }
        }
    }
}

struct SnapshotWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func i32(_ v: Int32) { u32(UInt32(bitPattern: v)) }
    mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u32(UInt32(utf8.count))
        bytes += utf8
    }
}

struct SnapshotReader {
    let bytes: [UInt8]
    var offset = 0

    var atEnd: Bool { offset == bytes.count }

    mutating func take(_ n: Int) -> ArraySlice<UInt8>? {
        guard n >= 0, bytes.count - offset >= n else { return nil }
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    mutating func integer<T: FixedWidthInteger>(_: T.Type) throws(AttributionIndex.SnapshotError) -> T {
        guard let s = take(MemoryLayout<T>.size) else { throw AttributionIndex.SnapshotError(description: "truncated") }
        var v: T = 0
        for (k, b) in s.enumerated() { v |= T(b) << (8 * k) }
        return v
    }

    mutating func u8() throws(AttributionIndex.SnapshotError) -> UInt8 { try integer(UInt8.self) }
    mutating func u16() throws(AttributionIndex.SnapshotError) -> UInt16 { try integer(UInt16.self) }
    mutating func u32() throws(AttributionIndex.SnapshotError) -> UInt32 { try integer(UInt32.self) }
    mutating func u64() throws(AttributionIndex.SnapshotError) -> UInt64 { try integer(UInt64.self) }
    mutating func i32() throws(AttributionIndex.SnapshotError) -> Int32 { Int32(bitPattern: try u32()) }
    mutating func i64() throws(AttributionIndex.SnapshotError) -> Int64 { Int64(bitPattern: try u64()) }

    /// A count of items of at least `bytesEach` bytes: larger than what is left means damage
    /// (and would otherwise reserve absurd memory).
    mutating func count(bytesEach: Int) throws(AttributionIndex.SnapshotError) -> Int {
        let n = try u64()
        guard n <= UInt64((bytes.count - offset) / max(1, bytesEach)) else {
            throw AttributionIndex.SnapshotError(description: "damaged: a count larger than the file")
        }
        return Int(n)
    }

    mutating func string() throws(AttributionIndex.SnapshotError) -> String {
        let n = Int(try u32())
        guard let s = take(n) else { throw AttributionIndex.SnapshotError(description: "truncated string") }
        return String(decoding: s, as: UTF8.self)
    }
}
