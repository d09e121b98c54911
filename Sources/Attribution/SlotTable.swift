/// An open-addressing hash table from an address or prefix (``AttributionIndex/Slot``) to the
/// head of its claim chain, with key and value side by side in one 24-byte entry.
///
/// Written by hand because lookups against millions of claims are bound by cache misses, and
/// Swift's `Dictionary` keeps keys and values in separate arrays (two or three misses a probe)
/// and hashes through SipHash; here a probe is one multiply-xorshift and, at the load kept
/// (≤ 0.7), usually one cache line. No deletion: the index drops claims by rebuilding.
struct SlotTable: Sendable {
    struct Entry: Sendable {
        var high: UInt64
        var low: UInt64
        var head: Int32
        /// Prefix length in the 128-bit space; `empty` marks a free entry.
        var length: UInt8
        static let empty: UInt8 = 255
    }

    private var entries: [Entry]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 16) {
        var size = 16
        while size * 7 / 10 < capacity { size <<= 1 }
        entries = Array(repeating: Entry(high: 0, low: 0, head: -1, length: Entry.empty), count: size)
        mask = size - 1
    }

    @inline(__always)
    static func hash(_ high: UInt64, _ low: UInt64, _ length: UInt8) -> Int {
        // Murmur3's 64-bit finaliser over a fold of the key: cheap, and mixes every input bit.
        var h = high &* 0x9E37_79B9_7F4A_7C15 ^ low ^ UInt64(length) &* 0xC2B2_AE3D_27D4_EB4F
        h = (h ^ (h >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        h = (h ^ (h >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return Int(truncatingIfNeeded: h ^ (h >> 33))
    }

    /// The chain head of `slot`, or nil.
    @inline(__always)
    subscript(slot: AttributionIndex.Slot) -> Int32? {
        entries.withUnsafeBufferPointer { e in
            var i = Self.hash(slot.high, slot.low, slot.length) & mask
            while true {
                let entry = e[i]
                if entry.length == Entry.empty { return nil }
                if entry.high == slot.high && entry.low == slot.low && entry.length == slot.length { return entry.head }
                i = (i + 1) & mask
            }
        }
    }

    /// Loads the entry where a probe for `slot` starts and returns a word of it, so that a batch of
    /// lookups can pull their entries into the cache together before probing (the result only
    /// keeps the load from being optimised away).
    @inline(__always)
    func touch(_ slot: AttributionIndex.Slot) -> UInt64 {
        entries.withUnsafeBufferPointer { e in e[Self.hash(slot.high, slot.low, slot.length) & mask].high }
    }

    /// Sets the chain head of `slot`, adding the slot if it is new.
    mutating func set(_ slot: AttributionIndex.Slot, head: Int32) {
        if (count + 1) * 10 > entries.count * 7 { grow() }
        var i = Self.hash(slot.high, slot.low, slot.length) & mask
        while true {
            let entry = entries[i]
            if entry.length == Entry.empty {
                entries[i] = Entry(high: slot.high, low: slot.low, head: head, length: slot.length)
                count += 1
                return
            }
            if entry.high == slot.high && entry.low == slot.low && entry.length == slot.length {
                entries[i].head = head
                return
            }
            i = (i + 1) & mask
        }
    }

    /// Calls `body` with every present slot and its chain head, in table order.
    func visitSlots(_ body: (AttributionIndex.Slot, Int32) -> Void) {
        for entry in entries where entry.length != Entry.empty {
            body(AttributionIndex.Slot(high: entry.high, low: entry.low, length: entry.length), entry.head)
        }
    }

    /// Mean probes per present key (1.0 = every key in its home entry): a health figure for benchmarks.
    var meanProbes: Double {
        var total = 0
        for (i, e) in entries.enumerated() where e.length != Entry.empty {
            let home = Self.hash(e.high, e.low, e.length) & mask
            total += ((i - home) & mask) + 1
        }
        return count == 0 ? 0 : Double(total) / Double(count)
    }

    /// Every slot and its head.
    var all: [(AttributionIndex.Slot, Int32)] {
        entries.compactMap { e in
            e.length == Entry.empty ? nil : (AttributionIndex.Slot(high: e.high, low: e.low, length: e.length), e.head)
        }
    }

    private mutating func grow() {
        let old = entries
        entries = Array(repeating: Entry(high: 0, low: 0, head: -1, length: Entry.empty), count: old.count * 2)
        mask = entries.count - 1
        count = 0
        for e in old where e.length != Entry.empty {
            set(AttributionIndex.Slot(high: e.high, low: e.low, length: e.length), head: e.head)
        }
    }
}
