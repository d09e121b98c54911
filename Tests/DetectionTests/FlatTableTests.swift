import FlowCodec
import MamoriTesting
import Testing

@testable import Detection

/// The detectors' open-addressing table against `Dictionary` as the model.
@Suite(.heavyWork) struct FlatTableTests {
    /// A key whose hash keeps only a few bits: long probe runs and wrap-around at the table's
    /// end, where backward-shift deletion can go wrong.
    struct CrowdedKey: FlatTableKey, Hashable {
        var id: UInt64
        var tableHash: UInt64 { (id % 7) &* 0x9E37_79B9 | 0xFFFF_FFF0 }
    }

    struct Count: Equatable {
        var n: Int
    }

    /// One expectation per check (thousands of them made this test hold a thread of the suite's
    /// cooperative pool for seconds).
    static func check<K: FlatTableKey & Hashable>(_ table: FlatTable<K, Count>, _ model: [K: Count]) {
        var seen = 0
        var wrong = 0
        for (k, v) in table {
            seen += 1
            if model[k] != v { wrong += 1 }
        }
        let missing = model.reduce(0) { $0 + (table[$1.key] == $1.value ? 0 : 1) }
        #expect(
            table.count == model.count && seen == model.count && wrong == 0 && missing == 0,
            "count \(table.count), model \(model.count), walked \(seen), wrong values \(wrong), not found \(missing)")
    }

    @Test("random inserts, updates and removals, crowded and well-mixed hashes, agree with Dictionary")
    func agreesWithDictionary() {
        var rng = SystemRandomNumberGenerator()
        for crowded in [true, false] {
            var table = FlatTable<CrowdedKey, Count>()
            var plain = FlatTable<Endpoint, Count>()
            var model: [CrowdedKey: Count] = [:]
            var plainModel: [Endpoint: Count] = [:]
            for step in 0..<8_000 {
                let id = UInt64.random(in: 0..<(crowded ? 300 : 5_000), using: &rng)
                let key = CrowdedKey(id: id)
                let endpoint = Endpoint(address: .v4(UInt32(id)), port: UInt16(id % 3), ipProtocol: 6)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0:
                    table[key] = nil
                    model[key] = nil
                    plain[endpoint] = nil
                    plainModel[endpoint] = nil
                case 1:
                    if let p = table.position(of: key) {
                        table[position: p].n += 1
                    } else {
                        table.insert(key, hash: key.tableHash, value: Count(n: 0))
                    }
                    model[key, default: Count(n: -1)].n += 1
                    if let p = plain.position(of: endpoint) { plain[position: p].n += 1 } else { plain[endpoint] = Count(n: 0) }
                    plainModel[endpoint, default: Count(n: -1)].n += 1
                default:
                    table[key] = Count(n: step)
                    model[key] = Count(n: step)
                    plain[endpoint] = Count(n: step)
                    plainModel[endpoint] = Count(n: step)
                }
                if step % 997 == 0 {
                    Self.check(table, model)
                    Self.check(plain, plainModel)
                }
            }
            Self.check(table, model)
            Self.check(plain, plainModel)
        }
    }

    @Test("trimming drops the oldest down to nine tenths of the limit")
    func trimsOldest() {
        var table = FlatTable<Endpoint, Count>()
        for i in 0..<1_000 { table[Endpoint(address: .v4(UInt32(i)), port: 443, ipProtocol: 6)] = Count(n: i) }
        #expect(table.trimOldest(to: 2_000) { Int64($0.n) } == 0)
        #expect(table.trimOldest(to: 500) { Int64($0.n) } == 550)
        #expect(table.count == 450)
        var oldest = Int.max
        for (_, v) in table { oldest = min(oldest, v.n) }
        #expect(oldest == 550)
    }
}
