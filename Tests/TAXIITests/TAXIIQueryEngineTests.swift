import Foundation
import Testing

@testable import TAXII

/// The query engine over a collection's versions: filters, paging edges, version semantics, bounds.
@Suite struct TAXIIQueryEngineTests {
    static let t0 = TAXIITimestamp("2026-01-01T00:00:00.000Z")!

    static func uuid(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        return "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - hex.count) + hex
    }

    /// A valid indicator (as JSON text) with the given modified time (ms after t0).
    static func indicator(_ n: Int, modified: Int64 = 0, revoked: Bool = false, type: String = "indicator") -> [String: Any] {
        let created = TAXIITimestamp(microseconds: t0.microseconds)
        let mod = TAXIITimestamp(microseconds: t0.microseconds + modified * 1000)
        var o: [String: Any] = [
            "type": type, "spec_version": "2.1", "id": "\(type)--\(uuid(n))", "created": created.description, "modified": mod.description,
            "pattern": "[ipv4-addr:value = '198.51.100.\(n % 250)']", "pattern_type": "stix", "valid_from": created.description,
        ]
        if revoked { o["revoked"] = true }
        return o
    }

    static func candidates(_ objects: [[String: Any]]) -> [Result<TAXIICandidate, TAXIIObjectProblem>] {
        objects.map { TAXIICandidate.validate($0) }
    }

    /// An index with `objects` added at `now` (ms after t0).
    static func index(_ objects: [[String: Any]], at now: Int64 = 0) -> TAXIICollectionIndex {
        var index = TAXIICollectionIndex()
        let plan = index.plan(
            adding: candidates(objects), now: TAXIITimestamp(microseconds: t0.microseconds + now * 1000), capacity: 1_000_000)
        index.insert(plan.added)
        return index
    }

    @Test("timestamps: parse and print round-trip; bad ones are nil")
    func timestamps() {
        for text in ["2026-01-01T00:00:00.000Z", "1999-12-31T23:59:59.123456Z", "2024-02-29T12:00:00.000Z"] {
            #expect(TAXIITimestamp(text)?.description == text)
        }
        #expect(TAXIITimestamp("2026-01-01T00:00:00Z")?.description == "2026-01-01T00:00:00.000Z")
        #expect(TAXIITimestamp("2026-01-01T00:00:00.1Z")?.microseconds == TAXIITimestamp("2026-01-01T00:00:00.100Z")?.microseconds)
        #expect(TAXIITimestamp("1970-01-01T00:00:01.000Z")?.microseconds == 1_000_000)
        // date_added is always written with microseconds, so that it sorts as text.
        #expect(TAXIITimestamp("2026-01-01T00:00:00.001Z")?.microsecondDescription == "2026-01-01T00:00:00.001000Z")
        let texts = [Int64(1_000), 1_001, 1_010, 2_000].map { TAXIITimestamp(microseconds: $0).microsecondDescription }
        #expect(texts == texts.sorted())
        for bad in [
            "", "2026-01-01", "2026-01-01T00:00:00.000", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00.0000000000Z", "2026-01-01T00:00:00+09:00", "２０２６-01-01T00:00:00Z",
            String(repeating: "9", count: 10_000),
        ] {
            #expect(TAXIITimestamp(bad) == nil, "\(bad.prefix(40))")
        }
    }

    @Test("objects are validated minimally: type, id of the form type--uuid, spec_version 2.1, created/modified where required")
    func validation() {
        #expect((try? TAXIICandidate.validate(Self.indicator(1)).get()) != nil)
        var noSpec = Self.indicator(1)
        noSpec["spec_version"] = nil
        var oldSpec = Self.indicator(1)
        oldSpec["spec_version"] = "2.0"
        var badID = Self.indicator(1)
        badID["id"] = "malware--" + Self.uuid(1)
        var noModified = Self.indicator(1)
        noModified["modified"] = nil
        var backwards = Self.indicator(1)
        backwards["created"] = "2027-01-01T00:00:00.000Z"
        var badRevoked = Self.indicator(1)
        badRevoked["revoked"] = "yes"
        var numberRevoked = Self.indicator(1)
        numberRevoked["revoked"] = 1
        for (name, o) in [
            ("no spec_version", noSpec as Any), ("2.0", oldSpec), ("id of another type", badID), ("no modified", noModified),
            ("modified before created", backwards), ("revoked text", badRevoked), ("revoked number", numberRevoked), ("a list", [1, 2]),
            ("no type", ["id": "x"]), ("bad type", ["type": "A!", "id": "A!--" + Self.uuid(1)]),
        ] {
            guard case .failure = TAXIICandidate.validate(o) else {
                Issue.record("\(name) was accepted")
                continue
            }
        }
        // A cyber-observable needs neither created nor spec_version.
        let ip: [String: Any] = ["type": "ipv4-addr", "id": "ipv4-addr--" + Self.uuid(9), "value": "198.51.100.1"]
        let c = try? TAXIICandidate.validate(ip).get()
        #expect(c?.version == nil && c?.specVersion == "2.1")
    }

    @Test("date_added is strictly increasing even within one batch and when the clock stands still or goes back")
    func dateAdded() {
        var index = Self.index((0..<100).map { Self.indicator($0) })
        let plan = index.plan(adding: Self.candidates([Self.indicator(500)]), now: Self.t0, capacity: 1_000)
        index.insert(plan.added)
        let dates = index.versions.map(\.dateAdded)
        #expect(dates.count == 101)
        #expect(zip(dates, dates.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test("paging: every object exactly once over pages, more/next right at the edges, limit above the maximum cut")
    func paging() {
        let index = Self.index((0..<1_234).map { Self.indicator($0) })
        let limits = TAXIICollectionIndex.Limits(defaultLimit: 100, maximumLimit: 500)
        for limit in [1, 7, 100, 617, 1_234, 5_000] {
            var query = TAXIIQuery(limit: limit)
            var seen: [String] = []
            var pages = 0
            while true {
                let page = index.select(query, limits: limits)
                pages += 1
                #expect(page.versions.count <= min(limit, 500))
                seen += page.versions.map(\.id)
                guard page.more else {
                    #expect(page.next == nil)
                    break
                }
                let next = try? TAXIIQuery.parse([("next", page.next ?? "")])
                #expect(next?.next == page.dateAddedLast)
                query.next = next?.next
                if pages > 2_000 { break }
            }
            #expect(seen.count == 1_234 && Set(seen).count == 1_234, "limit \(limit)")
            #expect(pages == (1_234 + min(limit, 500) - 1) / min(limit, 500), "limit \(limit): \(pages) pages")
        }
        // Exactly a page's worth: no 'more'.
        let exact = Self.index((0..<10).map { Self.indicator($0) })
        let page = exact.select(TAXIIQuery(limit: 10), limits: limits)
        #expect(page.versions.count == 10 && !page.more && page.next == nil)
        // An empty collection.
        let empty = TAXIICollectionIndex().select(TAXIIQuery(), limits: limits)
        #expect(empty.versions.isEmpty && !empty.more && empty.dateAddedFirst == nil)
    }

    @Test("added_after returns only later versions; the first/last headers are the page's")
    func addedAfter() {
        var index = Self.index((0..<50).map { Self.indicator($0) })
        let cut = index.lastDateAdded!
        let plan = index.plan(
            adding: Self.candidates((50..<80).map { Self.indicator($0) }), now: TAXIITimestamp(microseconds: cut.microseconds + 5_000_000),
            capacity: 1_000)
        index.insert(plan.added)
        let page = index.select(TAXIIQuery(addedAfter: cut), limits: .init(defaultLimit: 1_000, maximumLimit: 1_000))
        #expect(page.versions.count == 30)
        #expect(page.dateAddedFirst! > cut)
        #expect(page.dateAddedFirst == plan.added.first?.dateAdded && page.dateAddedLast == plan.added.last?.dateAdded)
    }

    @Test("match[version]: last by default, first, all, a timestamp; match[id], match[type], match[spec_version]")
    func versions() {
        // Object 1 in three versions (modified 0, 10, 20 ms), object 2 in one, a malware.
        var objects = [Self.indicator(1, modified: 0), Self.indicator(2), Self.indicator(1, modified: 20), Self.indicator(1, modified: 10)]
        var malware = Self.indicator(3, type: "malware")
        malware["is_family"] = false
        objects.append(malware)
        let index = Self.index(objects)
        let limits = TAXIICollectionIndex.Limits()
        let id1 = "indicator--" + Self.uuid(1)
        func versions(_ q: TAXIIQuery, objectID: String? = nil, defaults: Set<TAXIIQuery.VersionMatch> = [.last]) -> [String] {
            index.select(q, limits: limits, objectID: objectID, defaultVersions: defaults).versions.map {
                "\($0.id.prefix(3)):\(($0.version.microseconds - Self.t0.microseconds) / 1000)"
            }
        }
        #expect(versions(TAXIIQuery()) == ["ind:0", "ind:20", "mal:0"]) // object 2's only version, object 1's last, the malware
        #expect(versions(TAXIIQuery(ids: [id1])) == ["ind:20"])
        #expect(versions(TAXIIQuery(ids: [id1], versions: [.first])) == ["ind:0"])
        #expect(versions(TAXIIQuery(ids: [id1], versions: [.all])) == ["ind:0", "ind:20", "ind:10"]) // date_added order
        #expect(versions(TAXIIQuery(ids: [id1], versions: [.first, .last])) == ["ind:0", "ind:20"])
        let ten = TAXIITimestamp(microseconds: Self.t0.microseconds + 10_000)
        #expect(versions(TAXIIQuery(versions: [.at(ten)])) == ["ind:10"])
        #expect(versions(TAXIIQuery(types: ["malware"])) == ["mal:0"])
        #expect(versions(TAXIIQuery(specVersions: ["2.0"])).isEmpty)
        #expect(versions(TAXIIQuery(specVersions: ["2.1"])).count == 3)
        // An object's versions: all by default.
        #expect(versions(TAXIIQuery(), objectID: id1, defaults: [.all]).count == 3)
        #expect(versions(TAXIIQuery(), objectID: "indicator--" + Self.uuid(77), defaults: [.all]).isEmpty)
    }

    @Test("adding: a version already present is not duplicated; capacity bounds the collection; failures keep their ids")
    func adding() {
        var index = Self.index([Self.indicator(1)])
        var bad = Self.indicator(2)
        bad["created"] = "yesterday"
        let plan = index.plan(
            adding: Self.candidates([
                Self.indicator(1), Self.indicator(1, modified: 5), Self.indicator(1, modified: 5), bad, Self.indicator(3),
            ]),
            now: Self.t0, capacity: 3)
        #expect(plan.added.count == 2) // the new version of 1, and 3 (capacity 3 reached)
        #expect(plan.successes.count == 4) // already present ×2 are successes
        #expect(plan.failures.count == 1 + 0)
        #expect(plan.failures.first?.id == "indicator--" + Self.uuid(2))
        index.insert(plan.added)
        let full = index.plan(adding: Self.candidates([Self.indicator(4)]), now: Self.t0, capacity: 3)
        #expect(full.added.isEmpty && full.failures.first?.message?.contains("full") == true)
    }

    @Test("delete: refused unless the latest version is revoked; then every version goes")
    func deletion() throws {
        var index = Self.index([Self.indicator(1), Self.indicator(1, modified: 10)])
        let id = "indicator--" + Self.uuid(1)
        #expect(throws: TAXIIError(.deleteNeedsRevocation, "")) { try index.checkDeletion(of: id) }
        #expect(throws: TAXIIError(.notFound, "")) { try index.checkDeletion(of: "indicator--" + Self.uuid(2)) }
        let plan = index.plan(adding: Self.candidates([Self.indicator(1, modified: 20, revoked: true)]), now: Self.t0, capacity: 100)
        index.insert(plan.added)
        try index.checkDeletion(of: id)
        #expect(index.removeObject(id) == 3)
        #expect(index.count == 0 && index.objectCount == 0)
        // An older revoked version does not count: the latest must be.
        var again = Self.index([Self.indicator(5, modified: 10, revoked: true), Self.indicator(5, modified: 20)])
        #expect(throws: TAXIIError(.deleteNeedsRevocation, "")) { try again.checkDeletion(of: "indicator--" + Self.uuid(5)) }
        again.removeObject("nothing")
        #expect(again.count == 2)
    }

    @Test("query parsing: bad added_after, limit, next and match values are 400s; lists and repeats add up")
    func parsing() throws {
        let q = try TAXIIQuery.parse([
            ("match[type]", "indicator,malware"), ("match[type]", "report"), ("match[version]", "first,2026-01-01T00:00:00.000Z"),
            ("limit", "5"),
        ])
        #expect(q.types == ["indicator", "malware", "report"] && q.limit == 5)
        #expect(q.versions == [.first, .at(Self.t0)])
        for bad: (String, String) in [
            ("added_after", "yesterday"), ("added_after", "2026-01-01"), ("limit", "0"), ("limit", "-1"), ("limit", "ten"),
            ("limit", "99999999999"), ("next", "abc"), ("next", ""), ("next", "1e9"), ("next", String(repeating: "9", count: 30)),
            ("match[id]", "indicator"), ("match[id]", "indicator--nope"), ("match[type]", "Indicator"), ("match[type]", "a,,b"),
            ("match[version]", "latest"), ("match[spec_version]", "two"), ("match[color]", "red"), ("sort", "asc"),
            ("match[type]", String(repeating: "ab,", count: 300) + "ab"), ("added_after", String(repeating: "x", count: 10_000)),
        ] {
            #expect(throws: TAXIIError(.badRequest, "")) { try TAXIIQuery.parse([bad]) }
        }
        #expect(throws: TAXIIError(.badRequest, "")) { try TAXIIQuery.parse(Array(repeating: ("limit", "1"), count: 100)) }
        #expect(throws: TAXIIError(.badRequest, "")) { try TAXIIQuery.parse([("match[version]", "all")], allowed: [.limit]) }
    }

    @Test("envelopes: malformed, empty, too many objects, too large are refused; per-object failures are listed")
    func envelopes() throws {
        let limits = TAXIIEnvelope.Limits(maximumBytes: 64 * 1024, maximumObjects: 10, maximumObjectBytes: 2_048)
        for (body, code) in [
            ("not json", TAXIIError.Code.badRequest), ("[]", .badRequest), ("{}", .badRequest), (#"{"objects": []}"#, .badRequest),
            (#"{"objects": {}}"#, .badRequest), (String(repeating: "[", count: 100_000), .tooLarge),
            (String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000), .badRequest),
        ] {
            #expect(throws: TAXIIError(code, "")) { try TAXIIEnvelope.parse(Data(body.utf8), limits: limits) }
        }
        let many = try JSONSerialization.data(withJSONObject: ["objects": (0..<11).map { Self.indicator($0) }])
        #expect(throws: TAXIIError(.tooLarge, "")) { try TAXIIEnvelope.parse(many, limits: limits) }
        var big = Self.indicator(1)
        big["description"] = String(repeating: "x", count: 4_096)
        let mixed = try JSONSerialization.data(withJSONObject: ["objects": [Self.indicator(2), big, 42, ["type": "indicator"]]])
        let results = try TAXIIEnvelope.parse(mixed, limits: limits)
        #expect(results.count == 4)
        #expect(results.filter { (try? $0.get()) != nil }.count == 1)
        // Writing: the objects' JSON as it is, no 'objects' key when there are none.
        let out = TAXIIEnvelope.encode(more: true, next: "42", objects: [Data(#"{"a":1}"#.utf8)])
        #expect(String(decoding: out, as: UTF8.self) == #"{"more":true,"next":"42","objects":[{"a":1}]}"#)
        #expect(String(decoding: TAXIIEnvelope.encode(more: false, next: nil, objects: []), as: UTF8.self) == #"{"more":false}"#)
    }

    @Test("media types: Accept negotiation (406) and Content-Type (415)")
    func mediaTypes() {
        for ok in [
            nil, "*/*", "application/*", "application/taxii+json", "application/taxii+json;version=2.1",
            "application/taxii+json; version=2.1", "text/html, application/taxii+json;version=2.1;q=0.5",
        ] {
            #expect(TAXIIMediaType.acceptsTAXII(ok), "\(ok ?? "nil")")
        }
        for refused in [
            "text/html", "application/json", "application/taxii+json;version=2.0", "application/taxii+json;q=0",
            "application/stix+json;version=2.1", String(repeating: "a", count: 5_000),
        ] {
            #expect(!TAXIIMediaType.acceptsTAXII(refused), "\(refused.prefix(40))")
        }
        #expect(TAXIIMediaType.isTAXII(contentType: "application/taxii+json;version=2.1"))
        #expect(TAXIIMediaType.isTAXII(contentType: "application/taxii+json"))
        #expect(!TAXIIMediaType.isTAXII(contentType: "application/json"))
        #expect(!TAXIIMediaType.isTAXII(contentType: "application/taxii+json;version=2.0"))
        #expect(!TAXIIMediaType.isTAXII(contentType: nil))
    }

    @Test("the in-memory store keeps statuses within their bounds")
    func statusBounds() throws {
        let store = InMemoryTAXIIObjectStore()
        for n in 0..<20 {
            let status = TAXIIStatus(id: "s\(n)", requestTimestamp: Self.t0, successes: [], failures: [])
            try store.save(TAXIIStatusRecord(status: status, owner: "peer", createdAt: Int64(n)))
        }
        try store.sweepStatuses(before: 5, keep: 10)
        #expect(store.statusCount == 10)
        #expect(try store.status(id: "s19") != nil && store.status(id: "s9") == nil)
    }
}
