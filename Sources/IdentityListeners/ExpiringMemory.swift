/// A bounded memory of recent keys, forgotten first in, first out: each entry expires
/// ``window`` milliseconds after it was stored, and when ``capacity`` entries are held the oldest
/// is dropped early and counted in ``evictions`` — the price of a bounded table, made visible.
/// Pure; the caller passes the time (ms).
struct ExpiringMemory<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    let window: Int64
    let capacity: Int
    /// Entries forgotten before their window ended, to stay within ``capacity``.
    private(set) var evictions = 0
    private var entries: [Key: Entry] = [:]
    /// Insertion order; an entry whose key was stored again later is skipped when reached.
    private var order: [(key: Key, at: Int64)] = []
    private var head = 0

    struct Entry: Sendable {
        var value: Value
        var at: Int64
    }

    init(window: Int64, capacity: Int) {
        self.window = window
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    /// The value stored for `key` within the window before `now`.
    func value(for key: Key, now: Int64) -> Value? {
        guard let e = entries[key], now - e.at <= window else { return nil }
        return e.value
    }

    mutating func insert(_ key: Key, _ value: Value, now: Int64) {
        expire(now: now)
        while entries[key] == nil, entries.count >= capacity, head < order.count {
            if dropHead() { evictions += 1 }
        }
        entries[key] = Entry(value: value, at: now)
        order.append((key, now))
        compact()
    }

    /// Forgets what is older than the window.
    mutating func expire(now: Int64) {
        while head < order.count, now - order[head].at > window { dropHead() }
        compact()
    }

    /// Drops the oldest order slot; true if that removed a live entry.
    @discardableResult
    private mutating func dropHead() -> Bool {
        let slot = order[head]
        head += 1
        guard let e = entries[slot.key], e.at == slot.at else { return false }
        entries[slot.key] = nil
        return true
    }

    private mutating func compact() {
        if head > 4096, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
