import Accounts
import Foundation
import MamoriCore

/// The findings list's filters, sort and page, as read from its query string.
public struct FindingListQuery: Sendable, Hashable {
    public enum Sort: String, Sendable, CaseIterable {
        case newest, score
        case lastSeen = "last_seen"
    }
    public var kind: FindingKind?
    public var minimumScore: Double?
    /// Text to find in the subject, summary or family.
    public var text: String?
    /// "none" for findings without a verdict, or a verdict's raw value.
    public var verdict: String?
    public var sort: Sort = .newest
    public var page: Int = 1
    public static let pageSize = 50

    public init() {}

    /// Reads the query parameters; anything unreadable is ignored (a console link never fails).
    public init(_ parameters: [String: String]) {
        kind = parameters["kind"].flatMap(FindingKind.init(rawValue:))
        minimumScore = parameters["min_score"].flatMap(Double.init).flatMap { (0...1).contains($0) ? $0 : nil }
        text = parameters["q"].map { String($0.prefix(100)) }.flatMap { $0.isEmpty ? nil : $0 }
        verdict = parameters["verdict"].flatMap { ["none", "true-positive", "false-positive"].contains($0) ? $0 : nil }
        sort = parameters["sort"].flatMap(Sort.init(rawValue:)) ?? .newest
        page = parameters["page"].flatMap(Int.init).map { min(max($0, 1), 1_000) } ?? 1
    }

    /// The findings that pass the filters, sorted.
    public func apply(_ findings: [Finding]) -> [Finding] {
        let needle = text?.lowercased()
        let kept = findings.filter { f in
            if let kind, f.kind != kind { return false }
            if let minimumScore, f.score < minimumScore { return false }
            if let verdict {
                if verdict == "none" ? f.verdict != nil : f.verdict?.verdict.rawValue != verdict { return false }
            }
            if let needle {
                let hay = "\(f.subject.description) \(f.summary) \(f.family ?? "") \(f.id)".lowercased()
                if !hay.contains(needle) { return false }
            }
            return true
        }
        switch sort {
        case .newest: return kept.sorted { ($0.detectedAt, $0.id) > ($1.detectedAt, $1.id) }
        case .score: return kept.sorted { ($0.score, $0.id) > ($1.score, $1.id) }
        case .lastSeen: return kept.sorted { ($0.lastSeen, $0.id) > ($1.lastSeen, $1.id) }
        }
    }

    func link(page: Int? = nil, sort: Sort? = nil) -> String {
        "/console/findings"
            + Format.query([
                ("kind", kind?.rawValue), ("min_score", minimumScore.map { Format.number($0) }), ("q", text), ("verdict", verdict),
                ("sort", (sort ?? self.sort).rawValue), ("page", String(page ?? 1)),
            ])
    }
}

/// The findings list: a table, its filters and its pages.
public struct FindingListView {
    struct Row {
        var id: String
        var href: String
        var kind: String
        var subject: String
        var score: String
        var scoreClass: String
        var lastSeen: String
        var detected: String
        var verdict: String
        var subscriber: String
        var summary: String
    }
    struct Option {
        var value: String
        var label: String
        var selected: Bool
    }
    var rows: [Row]
    var total: Int
    var page: Int
    var pages: Int
    var previous: String?
    var next: String?
    var kinds: [Option]
    var verdicts: [Option]
    var sorts: [Option]
    var text: String
    var minScore: String
    var empty: Bool

    public init(findings: [Finding], query: FindingListQuery, language: ConsoleLanguage) {
        let t = language.texts
        let all = query.apply(findings)
        total = all.count
        pages = max(1, (all.count + FindingListQuery.pageSize - 1) / FindingListQuery.pageSize)
        page = min(query.page, pages)
        let slice = all.dropFirst((page - 1) * FindingListQuery.pageSize).prefix(FindingListQuery.pageSize)
        rows = slice.map { f in
            Row(
                id: f.id, href: "/console/findings/\(Format.escapeQuery(f.id))", kind: f.kind.rawValue, subject: f.subject.description,
                score: Format.score(f.score), scoreClass: f.score >= 0.8 ? "high" : f.score >= 0.5 ? "mid" : "low",
                lastSeen: Format.time(f.lastSeen), detected: Format.time(f.detectedAt),
                verdict: f.verdict.map { Self.verdictLabel($0.verdict, t) } ?? "",
                subscriber: f.subscriber?.pseudonym ?? "", summary: f.summary)
        }
        previous = page > 1 ? query.link(page: page - 1) : nil
        next = page < pages ? query.link(page: page + 1) : nil
        kinds =
            [Option(value: "", label: t["all"] ?? "", selected: query.kind == nil)]
            + FindingKind.allCases.map { Option(value: $0.rawValue, label: $0.rawValue, selected: query.kind == $0) }
        verdicts = [
            Option(value: "", label: t["all"] ?? "", selected: query.verdict == nil),
            Option(value: "none", label: t["none"] ?? "", selected: query.verdict == "none"),
            Option(value: "true-positive", label: t["confirm"] ?? "", selected: query.verdict == "true-positive"),
            Option(value: "false-positive", label: t["falsePositive"] ?? "", selected: query.verdict == "false-positive"),
        ]
        sorts = [
            Option(value: "newest", label: t["newest"] ?? "", selected: query.sort == .newest),
            Option(value: "score", label: t["highestScore"] ?? "", selected: query.sort == .score),
            Option(value: "last_seen", label: t["lastSeenSort"] ?? "", selected: query.sort == .lastSeen),
        ]
        text = query.text ?? ""
        minScore = query.minimumScore.map { Format.number($0) } ?? ""
        empty = rows.isEmpty
    }

    static func verdictLabel(_ v: Verdict.Kind, _ t: [String: String]) -> String {
        v == .truePositive ? t["confirm"] ?? v.rawValue : t["falsePositive"] ?? v.rawValue
    }
}

/// One finding, with everything an analyst needs to agree or disagree.
public struct FindingView {
    struct Pair {
        var name: String
        var value: String
    }
    struct Sample {
        var start: String
        var source: String
        var destination: String
        var proto: String
        var packets: String
        var bytes: String
    }
    struct Link {
        var href: String
        var label: String
    }
    var id: String
    var idPath: String
    var kind: String
    var subject: String
    var score: String
    var summary: String
    var family: String?
    var firstSeen: String
    var lastSeen: String
    var detected: String
    var window: String
    var reasons: [String]
    var features: [Pair]
    var scoreChart: String?
    var cohort: [String]
    var cohortSize: Int
    var cohortMore: Int
    var beaconChart: String?
    var intervalChart: String?
    var samples: [Sample]
    var related: [Link]
    var verdict: String?
    var verdictBy: String?
    var verdictNote: String?
    var subscriber: String?
    var subscriberHref: String?
    var attribution: String?
    var mayJudge: Bool
    var isCommandAndControl: Bool
    var hasReasons: Bool = false
    var hasCohortMore: Bool = false
    var hasFeatures: Bool = false
    var hasSamples: Bool = false
    var hasRelated: Bool = false

    public init(finding f: Finding, related: [Finding], viewer: ConsoleViewer) {
        let t = viewer.language.texts
        id = f.id
        idPath = Format.escapeQuery(f.id)
        kind = f.kind.rawValue
        subject = f.subject.description
        score = Format.score(f.score)
        summary = f.summary
        family = f.family
        firstSeen = Format.time(f.firstSeen)
        lastSeen = Format.time(f.lastSeen)
        detected = Format.time(f.detectedAt)
        window = "\(Format.time(f.firstSeen)) – \(Format.time(f.lastSeen)) UTC"
        reasons = f.evidence.reasons
        features = f.evidence.features.map {
            Pair(name: $0.name.rawValue, value: Format.number($0.value) + ($0.unit.map { " " + $0 } ?? ""))
        }
        let checks = f.evidence.thresholds
        scoreChart =
            checks.isEmpty
            ? nil
            : SVGChart.thresholds(
                checks.map { ($0.name, $0.value, $0.limit, $0.comparison, $0.crossed) }, label: t["scoreBreakdown"] ?? "")
        cohort = Array(f.evidence.cohort.prefix(50))
        cohortSize = max(f.evidence.cohortSize, f.evidence.cohort.count)
        cohortMore = max(0, cohortSize - cohort.count)
        // The beacon plot: each host's contact times as the detector kept them, or else the
        // sampled flows, one row per host.
        let flows = f.evidence.flows
        var rows: [String: [Int64]] = [:]
        if let contacts = f.evidence.contacts, !contacts.isEmpty {
            for c in contacts { rows[c.host, default: []] += c.times }
        } else {
            for s in flows {
                let host = f.subject.type == .endpoint ? s.source : s.destination == f.subject.address ? s.source : s.destination
                rows[host, default: []].append(s.start)
            }
        }
        if !rows.isEmpty {
            let ordered = rows.sorted { ($0.value.count, $0.key) > ($1.value.count, $1.key) }.map {
                (name: $0.key, times: $0.value.sorted())
            }
            let times = ordered.flatMap(\.times)
            let from = min(f.firstSeen, times.min() ?? f.firstSeen)
            let to = max(f.lastSeen, times.max() ?? f.lastSeen, from + 1)
            beaconChart = SVGChart.contacts(ordered, from: from, to: to, label: t["beaconPlot"] ?? "", empty: t["noData"] ?? "")
            let intervals = ordered.flatMap { row in zip(row.times.dropFirst(), row.times).map { Double($0 - $1) / 1000 } }
            intervalChart =
                intervals.isEmpty
                ? nil
                : SVGChart.histogram(intervals, unit: t["seconds"] ?? "s", label: t["intervals"] ?? "", empty: t["noData"] ?? "")
        }
        samples = flows.prefix(20).map {
            Sample(
                start: Format.time($0.start), source: "\($0.source):\($0.sourcePort)",
                destination: "\($0.destination):\($0.destinationPort)",
                proto: $0.protocol, packets: String($0.packets), bytes: String($0.bytes))
        }
        self.related = related.filter { $0.id != f.id }.prefix(20).map {
            Link(
                href: "/console/findings/\(Format.escapeQuery($0.id))",
                label: "\($0.kind.rawValue) \($0.subject.description) (\(Format.score($0.score)))")
        }
        verdict = f.verdict.map { FindingListView.verdictLabel($0.verdict, t) }
        verdictBy = f.verdict.map { "\($0.analyst), \(Format.time($0.at))" }
        verdictNote = f.verdict?.note
        subscriber = f.subscriber?.pseudonym
        subscriberHref = f.subscriber?.pseudonym.map { "/console/subscribers/\(Format.escapeQuery($0))" }
        attribution = f.subscriber.map { "\($0.outcome.rawValue): \($0.reason)" }
        mayJudge = viewer.may(.recordVerdict)
        isCommandAndControl = f.kind == .commandAndControl
        hasReasons = !reasons.isEmpty
        hasCohortMore = cohortMore > 0
        hasFeatures = !features.isEmpty
        hasSamples = !samples.isEmpty
        hasRelated = !self.related.isEmpty
    }
}
