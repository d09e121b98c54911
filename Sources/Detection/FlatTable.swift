/// A key of a ``FlatTable``: equality and a well-mixed hash, stable across runs.
protocol FlatTableKey: Equatable, Sendable {
    var tableHash: UInt64 { get }
}

/// A hash table for the detectors' per-record state: entries (key and value side by side) dense
/// in one array, in insertion order, found through an open-addressing index of 8-byte slots
/// (the low 32 bits of the key's hash and the entry's position): linear probing in a power-of-two
/// capacity kept at most 3/4 full, deletion by backward shift in the index (no tombstones) and by
/// moving the last entry into the hole.
///
/// Written by hand because the detectors follow millions of (host, endpoint) pairs, look one up
/// for every record and walk them all every minute. Swift's `Dictionary` keeps keys and values in
/// separate arrays (two cache misses a lookup on tables that size), hashes through SipHash,
/// keeps no hash beside the key (each growth rehashes every key) and holds its free buckets at
/// full entry size. Here a probe reads 8-byte slots, the hash is one multiply-xorshift, growth
/// rewrites only the index from the stored hashes, free capacity costs 8 bytes a slot, and a walk
/// reads one dense array. (The attribution index's ``SlotTable`` is the same idea without deletion.)
///
/// The order of entries depends only on the sequence of insertions and removals, never on the
/// process (no per-process hash seed), so two runs over the same records walk alike.
struct FlatTable<Key: FlatTableKey, Value: Sendable>: Sendable {
    struct Entry: Sendable {
        var key: Key
        var value: Value
    }

    /// A slot of the index: the low 32 bits of the key's hash (high half: enough to place it again
    /// without the key, as the index never exceeds 2^32 slots) and its entry's position + 1 (low
    /// half); 0 is a free slot.
    private var index: [UInt64]
    private var mask: Int
    private var entries: [Entry] = []

    init() {
        index = Array(repeating: 0, count: 16)
        mask = 15
    }

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }
    /// Slots of the index.
    var indexCapacity: Int { index.count }

    @inline(__always)
    private static func short(_ hash: UInt64) -> UInt64 { hash & 0xFFFF_FFFF }

    /// The position of `key`'s entry, or nil; `hash` is `key.tableHash`.
    @inline(__always)
    func position(of key: Key, hash: UInt64) -> Int? {
        let h = Self.short(hash)
        let m = mask
        return index.withUnsafeBufferPointer { slots in
            entries.withUnsafeBufferPointer { e in
                var i = Int(truncatingIfNeeded: hash) & m
                while true {
                    let s = slots[i]
                    if s == 0 { return nil }
                    if s >> 32 == h {
                        let p = Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1
                        if e[p].key == key { return p }
                    }
                    i = (i + 1) & m
                }
            }
        }
    }

    @inline(__always)
    func position(of key: Key) -> Int? { position(of: key, hash: key.tableHash) }

    /// Adds `key`, which must not be present (see ``position(of:hash:)``), as the last entry, and
    /// returns its position.
    @discardableResult
    mutating func insert(_ key: Key, hash: UInt64, value: Value) -> Int {
        if (entries.count + 1) * 4 > index.count * 3 { growIndex() }
        let p = entries.count
        entries.append(Entry(key: key, value: value))
        var i = Int(truncatingIfNeeded: hash) & mask
        while index[i] != 0 { i = (i + 1) & mask }
        index[i] = Self.short(hash) << 32 | UInt64(p + 1)
        return p
    }

    /// The value at `position` (`0..<count`). Read in place (`_read`): reading one field of a
    /// pair (`pairs[position: i].contacts`) copied the whole value, retaining its arrays.
    @inline(__always)
    subscript(position position: Int) -> Value {
        _read { yield entries[position].value }
        _modify { yield &entries[position].value }
    }

    /// The key at `position`.
    @inline(__always)
    func key(at position: Int) -> Key { entries[position].key }

    /// The value of `key`; setting nil removes it.
    subscript(key: Key) -> Value? {
        get { position(of: key).map { entries[$0].value } }
        set {
            let hash = key.tableHash
            switch (position(of: key, hash: hash), newValue) {
            case (let p?, let v?): entries[p].value = v
            case (let p?, nil): remove(at: p)
            case (nil, let v?): insert(key, hash: hash, value: v)
            case (nil, nil): break
            }
        }
    }

    /// Removes `key` if present.
    mutating func remove(_ key: Key) {
        if let p = position(of: key) { remove(at: p) }
    }

    /// Removes the entry at `position`; the last entry takes its position.
    mutating func remove(at position: Int) {
        clearSlot(pointingTo: position, hash: entries[position].key.tableHash)
        let last = entries.count - 1
        if position != last {
            let moved = entries[last].key.tableHash
            var i = Int(truncatingIfNeeded: moved) & mask
            while Int(truncatingIfNeeded: index[i] & 0xFFFF_FFFF) != last + 1 { i = (i + 1) & mask }
            index[i] = Self.short(moved) << 32 | UInt64(position + 1)
            entries.swapAt(position, last)
        }
        entries.removeLast()
    }

    /// Frees the index slot of the entry at `position` and shifts back the slots after it that
    /// probed past it, so that no probe needs a tombstone to go on.
    private mutating func clearSlot(pointingTo position: Int, hash: UInt64) {
        var hole = Int(truncatingIfNeeded: hash) & mask
        while Int(truncatingIfNeeded: index[hole] & 0xFFFF_FFFF) != position + 1 { hole = (hole + 1) & mask }
        var i = (hole + 1) & mask
        while index[i] != 0 {
            let home = Int(truncatingIfNeeded: index[i] >> 32) & mask
            // It may fill the hole if the hole lies on its probe path (home … i).
            if (i &- home) & mask >= (i &- hole) & mask {
                index[hole] = index[i]
                hole = i
            }
            i = (i + 1) & mask
        }
        index[hole] = 0
    }

    /// When over `limit`, drops the entries with the smallest `age` down to nine tenths of it
    /// (ties at the cut broken in position order; the cut found by selection, not a sort); returns
    /// how many were dropped.
    mutating func trimOldest(to limit: Int, by age: (Value) -> Int64) -> Int {
        guard count > limit else { return 0 }
        let excess = count - limit * 9 / 10
        var ages = entries.map { age($0.value) }
        let cutoff = kthSmallest(&ages, excess - 1)
        var doomed: [Key] = []
        doomed.reserveCapacity(excess)
        for e in entries where doomed.count < excess && age(e.value) <= cutoff { doomed.append(e.key) }
        for key in doomed { remove(key) }
        return doomed.count
    }

    /// Doubles the index and places every slot again by the hash bits it holds (no key is read).
    private mutating func growIndex() {
        let old = index
        index = Array(repeating: 0, count: old.count * 2)
        mask = index.count - 1
        let m = mask
        index.withUnsafeMutableBufferPointer { slots in
            for s in old where s != 0 {
                var i = Int(truncatingIfNeeded: s >> 32) & m
                while slots[i] != 0 { i = (i + 1) & m }
                slots[i] = s
            }
        }
    }
}

/// Every key and value, in position order (of the table as it was when the walk began).
extension FlatTable: Sequence {
    struct Iterator: IteratorProtocol {
        fileprivate var base: IndexingIterator<[Entry]>

        mutating func next() -> (key: Key, value: Value)? { base.next().map { ($0.key, $0.value) } }
    }

    func makeIterator() -> Iterator { Iterator(base: entries.makeIterator()) }
    var underestimatedCount: Int { entries.count }
}
