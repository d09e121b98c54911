import Foundation
import Server
import TAXII

extension FuzzTarget {
    /// `taxii`: the first line is an `Authorization` header's value (HTTP Basic), the second a
    /// query string; the rest is a posted envelope. The envelope's objects are checked and added to
    /// an empty collection (in two halves, at a clock that stands still), then the query pages
    /// through it by `next` until no more: every version is served at most once, in strictly
    /// increasing `date_added`, no page is larger than asked or allowed.
    static func taxii(_ bytes: UnsafeRawBufferPointer) {
        let all = Array(bytes)
        let lines = all.split(separator: UInt8(ascii: "\n"), maxSplits: 2, omittingEmptySubsequences: false)
        let header = lines.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let query = lines.count > 1 ? String(decoding: lines[1], as: UTF8.self) : ""
        let body = lines.count > 2 ? Data(lines[2]) : Data()

        if let basic = PresentedBasicCredentials(authorization: header) {
            precondition(header.lowercased().hasPrefix("basic ") && !basic.name.isEmpty, "Basic credentials from another header")
            precondition(!basic.name.contains(":"), "a name with the colon that ends it")
        }

        let limits = TAXIIEnvelope.Limits(maximumBytes: 64 * 1024, maximumObjects: 64, maximumObjectBytes: 8 * 1024)
        var candidates: [Result<TAXIICandidate, TAXIIObjectProblem>] = []
        if let parsed = try? TAXIIEnvelope.parse(body, limits: limits) {
            precondition(!parsed.isEmpty && parsed.count <= limits.maximumObjects, "an envelope past its bounds was taken")
            candidates = parsed
        }
        var index = TAXIICollectionIndex()
        let now = TAXIITimestamp(milliseconds: Self.now)
        for half in [candidates.prefix(candidates.count / 2), candidates.dropFirst(candidates.count / 2)] {
            let plan = index.plan(adding: Array(half), now: now, capacity: 48)
            precondition(plan.successes.count + plan.failures.count == half.count, "an object without a status line")
            precondition(plan.added.count <= plan.successes.count, "an addition that is not a success")
            index.insert(plan.added)
            precondition(index.count <= 48, "the collection grew past its capacity")
        }
        let dates = index.versions.map(\.dateAdded)
        precondition(zip(dates, dates.dropFirst()).allSatisfy { $0 < $1 }, "date_added is not strictly increasing")

        guard case .success(var q) = APIQueryParsing.taxii(query) else { return }
        let pageLimits = TAXIICollectionIndex.Limits(defaultLimit: 5, maximumLimit: 7)
        var seen = Set<TAXIITimestamp>()
        var last: TAXIITimestamp?
        for _ in 0..<100 {
            let page = index.select(q, limits: pageLimits)
            precondition(page.versions.count <= min(q.limit ?? 5, 7), "a page larger than asked or allowed")
            for v in page.versions {
                precondition(last.map { v.dateAdded > $0 } ?? true, "pages out of date_added order")
                precondition(seen.insert(v.dateAdded).inserted, "a version served twice")
                last = v.dateAdded
            }
            guard page.more, let next = page.next else { return }
            guard case .success(let following) = APIQueryParsing.taxii("next=" + next) else {
                preconditionFailure("the server's own next value was refused")
            }
            q.next = following.next
        }
    }
}
