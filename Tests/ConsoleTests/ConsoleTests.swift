import Accounts
import Foundation
import Lawful
import MamoriCore
import Testing

@testable import Console

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The console's pages, charts and texts, rendered without a server.
@Suite struct ConsoleTests {
    static let templates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/Console/Templates")

    /// Parses `xml` as XML; nil when it is well-formed, else the parser's error.
    static func xmlProblem(_ xml: String) -> String? {
        let parser = XMLParser(data: Data(xml.utf8))
        return parser.parse() ? nil : "\(parser.parserError.map { "\($0)" } ?? "unknown") in \(xml.prefix(300))"
    }

    static func finding(summary: String = "beacon to 203.0.113.9:443/tcp", hostile: Bool = false) -> Finding {
        var evidence = Evidence()
        evidence.features = [Feature(.c2Contacts, 42, about: "203.0.113.9:443/tcp")]
        evidence.thresholds = [
            .atLeast("cohort size", 12, 3),
            .below("period jitter", 0.04, 0.2),
        ]
        evidence.cohort = (1...12).map { "s:\(String(format: "%012x", $0))" }
        evidence.cohortSize = 12
        evidence.reasons = [hostile ? "<img src=x onerror=alert(1)>" : "12 hosts beacon every 60 s"]
        let base: Int64 = 1_780_000_000_000
        for h in 0..<3 {
            for k in 0..<10 {
                evidence.flows.append(
                    FlowSample(
                        start: base + Int64(k) * 60_000 + Int64(h) * 7_000, end: base + Int64(k) * 60_000 + Int64(h) * 7_000 + 500,
                        source: "100.64.0.\(h + 1)", sourcePort: 40000, destination: "203.0.113.9", destinationPort: 443, protocol: "tcp",
                        tcpFlags: 0x1B, packets: 6, bytes: 600, samplingInterval: 1))
            }
        }
        return Finding(
            id: "c2-server:0123456789abcdef", kind: .commandAndControl,
            subject: FindingSubject(type: .endpoint, address: "203.0.113.9", port: 443, protocol: "tcp", ports: nil),
            score: 0.93, firstSeen: base, lastSeen: base + 600_000, detectedAt: base + 600_000, updatedAt: base + 600_000,
            family: hostile ? "<script>alert('x')</script>" : "mirai", summary: summary, evidence: evidence)
    }

    @Test("both languages have every key, and every {{t.key}} in the templates exists in both")
    func texts() throws {
        #expect(Set(ConsoleLanguage.ja.texts.keys) == Set(ConsoleLanguage.en.texts.keys))
        var used = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(atPath: Self.templates.path) where file.hasSuffix(".mustache") {
            let text = try String(contentsOfFile: Self.templates.path + "/" + file, encoding: .utf8)
            for m in text.matches(of: /\{\{t\.([A-Za-z0-9]+)\}\}/) { used.insert(String(m.1)) }
        }
        #expect(used.count > 60, "\(used.count) keys used")
        for key in used { #expect(ConsoleLanguage.ja.texts[key] != nil && ConsoleLanguage.en.texts[key] != nil, "\(key)") }
        // Japanese is Japanese: most values carry kana or kanji.
        let japanese = ConsoleLanguage.ja.texts.values.filter { $0.unicodeScalars.contains { (0x3040...0x9FFF).contains($0.value) } }
        #expect(japanese.count > ConsoleLanguage.ja.texts.count * 3 / 4)
    }

    @Test("every chart is well-formed SVG with a label; hostile names are escaped; NaN and empty input draw, not crash")
    func charts() throws {
        let hostile = "<script>alert(\"x\")</script>&"
        let now: Int64 = 1_780_000_000_000
        let series = [
            SVGChart.Series(name: hostile, points: (0..<30).map { (now + Int64($0) * 10_000, Double($0 % 7) * 1000) }),
            SVGChart.Series(name: "192.0.2.1", points: [(now, .nan), (now + 10_000, .infinity), (now + 20_000, 5)]),
        ]
        let charts = [
            SVGChart.lines(series, from: now, to: now + 300_000, unit: "records/s", label: hostile, empty: "none"),
            SVGChart.lines([], from: now, to: now, unit: "", label: "empty", empty: "No data yet"),
            SVGChart.stackedBars(
                buckets: (0..<24).map { (now + Int64($0) * 3_600_000, [$0 % 3, 1]) }, categories: ["c2-server", hostile],
                bucketLength: 3_600_000, label: "findings", empty: "none"),
            SVGChart.contacts([(hostile, [now, now + 60_000]), ("b", [])], from: now, to: now + 120_000, label: "beacon", empty: "none"),
            SVGChart.contacts([], from: now, to: now, label: "beacon", empty: "none"),
            SVGChart.histogram([60, 60.5, 59.8, .nan, -1, 3600], unit: "s", label: "intervals", empty: "none"),
            SVGChart.histogram([], unit: "s", label: "intervals", empty: "none"),
            SVGChart.thresholds([("a", 12, 3, ">=", true), ("b", 0, 0, "<", false), (hostile, .nan, 1, ">", false)], label: "score"),
        ]
        for svg in charts {
            #expect(Self.xmlProblem(svg) == nil, "\(Self.xmlProblem(svg) ?? "")")
            #expect(svg.contains("role=\"img\"") && svg.contains("aria-label="))
            #expect(!svg.contains("<script"), "hostile text escaped")
            #expect(!svg.contains("nan") && !svg.contains("inf"), "no non-finite numbers in coordinates")
        }
        #expect(charts[1].contains("No data yet"))
        #expect(charts[0].contains("&lt;script&gt;"))
        // A beacon's evenly spaced contacts: one tick per contact of the row.
        let ticks = charts[3].components(separatedBy: "stroke-width=\"1.5\"").count - 1
        #expect(ticks == 2)
        // The histogram puts the three 60 s intervals in one bar, the 3600 s one in another.
        let bars = charts[5].matches(of: /<title>[^<]*: (\d+)<\/title>/).map { Int($0.1)! }
        #expect(bars.sorted() == [1, 3], "\(bars)")
    }

    @Test(
        "the metrics history reads the Prometheus text it is given: rates per exporter, summed counters, a restart gives no negative rate")
    func metricsHistory() {
        var h = MetricsHistory(capacity: 3)
        func text(_ a: Int, _ b: Int, errors: Int) -> String {
            """
            # TYPE mamori_collector_flow_records_total counter
            mamori_collector_flow_records_total{exporter="192.0.2.1"} \(a)
            mamori_collector_flow_records_total{exporter="192.0.2.2"} \(b)
            mamori_collector_decode_errors_total{exporter="192.0.2.1",kind="short"} \(errors)
            mamori_unrelated_total 99
            garbage line without value
            mamori_collector_queue_batches 4
            """
        }
        h.record(exposition: text(0, 0, errors: 0), at: 0)
        h.record(exposition: text(1000, 500, errors: 2), at: 10_000)
        h.record(exposition: text(3000, 100, errors: 2), at: 20_000) // the second exporter's counter restarted
        h.record(exposition: text(4000, 200, errors: 3), at: 30_000)
        #expect(h.samples.count == 3, "bounded by its capacity")
        let rates = h.rates("mamori_collector_flow_records_total", by: "exporter")
        #expect(rates.map(\.name) == ["192.0.2.1", "192.0.2.2"])
        #expect(rates[0].points.map(\.value) == [200, 100])
        #expect(rates[1].points.map(\.value) == [10], "no point for the step where the counter went down")
        #expect(h.rates("mamori_collector_decode_errors_total", by: nil, perSeconds: 60).first?.points.map(\.value) == [0, 6])
        #expect(h.gauge("mamori_collector_queue_batches", name: "q").points.map(\.value) == [4, 4, 4])
        #expect(MetricsHistory.parse(text(1, 1, errors: 1))["mamori_unrelated_total"] == nil)
        // Many exporters: bounded, the rest summed as "other".
        let many = (0..<100).map { "mamori_collector_flow_records_total{exporter=\"10.0.0.\($0)\"} 1" }.joined(separator: "\n")
        let parsed = MetricsHistory.parse(many)
        #expect(parsed.count == MetricsHistory.maximumSeries + 1)
        #expect(parsed["mamori_collector_flow_records_total{other}"] == Double(100 - MetricsHistory.maximumSeries))
    }

    @Test("the findings list filters, sorts and pages; links keep the filters")
    func findingList() {
        var findings: [Finding] = []
        for i in 0..<120 {
            var f = Self.finding()
            f.id = "c2-server:\(i)"
            f.score = Double(i % 10) / 10
            f.detectedAt = Int64(i)
            if i % 4 == 0 { f.kind = .scanning }
            if i == 7 { f.verdict = Verdict(verdict: .falsePositive, analyst: "hana", note: nil, at: 1) }
            findings.append(f)
        }
        var q = FindingListQuery(["kind": "c2-server", "min_score": "0.5", "sort": "score", "page": "2"])
        #expect(q.kind == .commandAndControl && q.minimumScore == 0.5 && q.sort == .score && q.page == 2)
        let kept = q.apply(findings)
        #expect(kept.allSatisfy { $0.kind == .commandAndControl && $0.score >= 0.5 })
        #expect(kept.map(\.score) == kept.map(\.score).sorted(by: >))
        let view = FindingListView(findings: findings, query: q, language: .en)
        #expect(view.total == kept.count && view.page == 1, "page 2 of a one-page result is page 1")
        q = FindingListQuery(["verdict": "false-positive"])
        #expect(q.apply(findings).map(\.id) == ["c2-server:7"])
        q = FindingListQuery(["min_score": "7", "page": "-3", "sort": "nonsense", "kind": "<b>"])
        #expect(q.minimumScore == nil && q.page == 1 && q.sort == .newest && q.kind == nil, "unreadable parameters are ignored")
        let all = FindingListView(findings: findings, query: FindingListQuery(), language: .ja)
        #expect(all.rows.count == FindingListQuery.pageSize && all.pages == 3 && all.next?.contains("page=2") == true)
        #expect(all.rows.first?.id == "c2-server:119", "newest first")
    }

    @Test("every page renders in both languages with no template text left, and escapes what came from the network")
    func pages() throws {
        let renderer = try ConsoleRenderer()
        let f = Self.finding(summary: "<script>alert(1)</script>", hostile: true)
        let now: Int64 = 1_780_000_700_000
        var evidence = InfectionEvidence(from: now - 600_000, to: now)
        evidence.commandAndControl = [.init(endpoint: "203.0.113.9:443/tcp", family: "mirai", contacts: 42)]
        var c = LawfulCase(
            id: "case-1", subscriber: "s:00000000000a", kind: .infection, device: "100.64.0.1", finding: f.id, evidence: evidence, at: now)
        c.move(to: .notified, at: now + 1, reason: "notice mailed")
        var history = MetricsHistory()
        history.record(exposition: "mamori_collector_flow_records_total{exporter=\"192.0.2.1\"} 0", at: now - 20_000)
        history.record(exposition: "mamori_collector_flow_records_total{exporter=\"192.0.2.1\"} 500", at: now - 10_000)
        let account = OperatorAccount(
            id: "a1", name: "hana", role: .analyst, passwordHash: "x", createdAt: now, language: .ja)
        let token = MachineToken(
            id: "t1", name: "whois-script", permissions: [.readFindings], createdBy: "a1", createdAt: now, expiresAt: now + 86_400_000,
            digest: "d")
        for language in ConsoleLanguage.allCases {
            let viewer = ConsoleViewer(language: language, operatorName: "hana", role: .admin, csrf: "CSRF-TOKEN-1")
            let pages: [(String, String, Any)] = [
                (
                    "overview", "overview",
                    OverviewView(history: history, findings: [f], cases: [c], health: "ok", now: now, language: language)
                ),
                ("findings", "findings", FindingListView(findings: [f], query: FindingListQuery(), language: language)),
                ("finding", "findings", FindingView(finding: f, related: [], viewer: viewer)),
                ("cases", "cases", CaseListView(cases: [c], state: nil, language: language)),
                (
                    "case", "cases",
                    CaseView(case: c, consent: [], viewer: viewer, revealEnabled: true, revealed: ["s:00000000000a": "user7@isp.example"])
                ),
                ("subscribers", "subscribers", SubscriberListView(cases: [c])),
                ("subscriber", "subscribers", SubscriberView(pseudonym: c.subscriber, events: [], cases: [c], hasContact: true)),
                (
                    "audit", "audit",
                    AuditView(
                        entries: [
                            AuditLine(
                                sequence: 7,
                                record: AuditRecord(at: now, kind: .identityReveal, actor: "analyst:hana", subject: "x", summary: "<b>"))
                        ], kind: nil, actor: nil, verification: (7, 1, []))
                ),
                ("accounts", "accounts", AccountsView(accounts: [account], tokens: [token], now: now, language: language)),
                ("settings", "settings", SettingsView(text: "http: 127.0.0.1:8080 <x>")),
                ("login", "", LoginView(error: "wrong", next: "//evil.example/")),
                ("message", "", MessageView(message: "<i>refused</i>", back: "/console")),
            ]
            for (template, section, content) in pages {
                let html = renderer.render(
                    ConsolePage(template: template, title: section, section: section, viewer: viewer, content: content, path: "/console"))
                #expect(html.hasPrefix("<!doctype html>"), "\(template)")
                #expect(html.contains("<html lang=\"\(language.rawValue)\">"), "\(template)")
                #expect(!html.contains("{{") && !html.contains("}}"), "\(template): template text left")
                #expect(
                    !html.contains("<script>alert") && !html.contains("<img src=x") && !html.contains("<b>") && !html.contains("<i>"),
                    "\(template)")
                #expect(!html.contains("<script>") || html.contains("<script src=\"/static/console.js\" defer></script>"), "\(template)")
                #expect(html.components(separatedBy: "<script").count == 2, "\(template): only the one script file")
                #expect(
                    !html.contains(" style=") && !html.contains("onclick") && !html.contains("javascript:"), "\(template): nothing inline")
            }
            let finding = renderer.render(
                ConsolePage(
                    template: "finding", title: "x", section: "findings", viewer: viewer,
                    content: FindingView(finding: f, related: [], viewer: viewer),
                    path: "/"))
            #expect(
                finding.contains("id=\"chart-beacon\"") && finding.contains("id=\"chart-intervals\"")
                    && finding.contains("id=\"chart-score\""))
            #expect(finding.contains("name=\"csrf\" value=\"CSRF-TOKEN-1\""), "forms carry the CSRF token")
            #expect(finding.contains("s:00000000000c"), "the cohort, by pseudonym")
            #expect(finding.contains(language.texts["falsePositive"]!))
            let casePage = renderer.render(
                ConsolePage(
                    template: "case", title: "x", section: "cases", viewer: viewer,
                    content: CaseView(
                        case: c, consent: [], viewer: viewer, revealEnabled: true, revealed: ["s:00000000000a": "user7@isp.example"]),
                    path: "/"))
            #expect(casePage.contains("user7@isp.example") && casePage.contains("id=\"revealed\""))
            #expect(casePage.components(separatedBy: "id=\"revealed\"").count == 2, "the reveal is shown once on the page")
        }
        // A viewer sees no verdict buttons and no reveal form.
        let viewer = ConsoleViewer(language: .en, operatorName: "ken", role: .viewer, csrf: "c")
        let asViewer = renderer.render(
            ConsolePage(
                template: "finding", title: "x", section: "findings", viewer: viewer,
                content: FindingView(finding: f, related: [], viewer: viewer),
                path: "/"))
        #expect(!asViewer.contains("verdict-actions"))
        #expect(!asViewer.contains("/console/audit"), "the viewer's navigation has no audit page")
        let analyst = ConsoleViewer(language: .en, operatorName: "hana", role: .analyst, csrf: "c")
        let asAnalyst = renderer.render(
            ConsolePage(
                template: "message", title: "x", section: "", viewer: analyst, content: MessageView(message: "m", back: "/"), path: "/"))
        #expect(asAnalyst.contains("href=\"/console/audit\"") && !asAnalyst.contains("href=\"/console/accounts\""))
        let caseAsViewer = renderer.render(
            ConsolePage(
                template: "case", title: "x", section: "cases", viewer: viewer,
                content: CaseView(case: c, consent: [], viewer: viewer, revealEnabled: true, revealed: nil), path: "/"))
        #expect(!caseAsViewer.contains("reveal-form") && !caseAsViewer.contains("close-form"))
    }

    @Test("after sign-in, only a path of the console is followed: never another site")
    func safeNext() {
        for bad in ["//evil.example/", "https://evil.example/console", "/console//evil", "/console\\@evil", "/x", "", "/console\n/x"] {
            #expect(LoginView.safeNext(bad) == "/console", "\(bad)")
        }
        for good in ["/console", "/console/findings?kind=c2-server&page=2", "/console/cases/abc"] {
            #expect(LoginView.safeNext(good) == good)
        }
    }

    @Test("the stylesheet and the script are served by name; nothing else is")
    func staticFiles() throws {
        let renderer = try ConsoleRenderer()
        #expect(renderer.staticFile("console.css")?.contentType.hasPrefix("text/css") == true)
        #expect(renderer.staticFile("console.js")?.contentType.hasPrefix("text/javascript") == true)
        for bad in ["../Templates/layout.mustache", "console.CSS", "x.html", "", "..", "a/b.css"] {
            #expect(renderer.staticFile(bad) == nil, "\(bad)")
        }
    }
}
