import Accounts
import Foundation
import Lawful
import MamoriCore
import Mustache

/// Renders the console's pages: each page is a value built from the domain's values (findings,
/// cases, audit entries, accounts) by a pure function here, then filled into a bundled Mustache
/// template (`Templates/`). Mustache escapes every `{{value}}`; only the SVG charts, which
/// ``SVGChart`` escapes itself, are inserted raw (`{{{chart}}}`).
///
/// The templates are read once, when the renderer is made; rendering does no I/O.
public struct ConsoleRenderer: @unchecked Sendable {
    let library: MustacheLibrary
    /// Immutable after init (Data and String are Sendable; the tuple keeps the checker from seeing it).
    let staticFiles: [String: (data: Data, contentType: String)]

    public init() throws {
        guard let directory = Bundle.module.resourceURL?.appendingPathComponent("Templates").path else {
            throw ConsoleError("the console's templates are missing from the bundle")
        }
        var templates: [String: MustacheTemplate] = [:]
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".mustache") }
        for file in names {
            let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            templates[String(file.dropLast(".mustache".count))] = try MustacheTemplate(string: text)
        }
        library = MustacheLibrary(templates: templates)
        staticFiles = try Self.loadStaticFiles()
    }

    /// The page as HTML; a template that is missing renders as an error page, never a blank.
    public func render(_ page: ConsolePage) -> String {
        let context = PageContext(page)
        return library.render(context, withTemplate: page.template)
            ?? "<!doctype html><title>Mamori</title><p>missing template \(SVGChart.escape(page.template))</p>"
    }

    /// The files under `Static/` (the stylesheet and the one small script), by name; nil for any
    /// other name. Read once, with the templates.
    public func staticFile(_ name: String) -> (data: Data, contentType: String)? { staticFiles[name] }

    /// Every file of `Static/` whose name is a plain `name.css|js|svg`, with its content type.
    static func loadStaticFiles() throws -> [String: (data: Data, contentType: String)] {
        guard let directory = Bundle.module.resourceURL?.appendingPathComponent("Static") else { return [:] }
        var files: [String: (data: Data, contentType: String)] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path)
        where name.range(of: #"^[a-z0-9-]+\.(css|js|svg)$"#, options: .regularExpression) != nil {
            let type =
                name.hasSuffix(".css")
                ? "text/css; charset=utf-8" : name.hasSuffix(".js") ? "text/javascript; charset=utf-8" : "image/svg+xml"
            files[name] = (try Data(contentsOf: directory.appendingPathComponent(name)), type)
        }
        return files
    }
}

public struct ConsoleError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// Who is looking, in which language, and the CSRF token their forms carry.
public struct ConsoleViewer: Sendable {
    public var language: ConsoleLanguage
    public var operatorName: String?
    public var role: Role?
    public var csrf: String?

    public init(language: ConsoleLanguage, operatorName: String? = nil, role: Role? = nil, csrf: String? = nil) {
        self.language = language
        self.operatorName = operatorName
        self.role = role
        self.csrf = csrf
    }

    public func may(_ p: Permission) -> Bool { role?.grants(p) ?? false }
}

/// One page: which template, its title key, the section it belongs to, and its content.
public struct ConsolePage: @unchecked Sendable {
    public var template: String
    public var title: String
    public var section: String
    public var viewer: ConsoleViewer
    public var content: Any
    /// A one-line message shown above the content (a verdict saved, a form refused).
    public var flash: String?
    public var path: String

    public init(template: String, title: String, section: String, viewer: ConsoleViewer, content: Any, path: String, flash: String? = nil) {
        self.template = template
        self.title = title
        self.section = section
        self.viewer = viewer
        self.content = content
        self.path = path
        self.flash = flash
    }
}

/// What the templates see: `t.KEY` for words, `viewer`, `nav`, `p` for the page's content.
struct PageContext {
    struct Nav {
        var href: String
        var label: String
        var current: Bool
    }
    var t: [String: String]
    var lang: String
    var otherLang: String
    var title: String
    var signedIn: Bool
    var operatorName: String
    var role: String
    var csrf: String
    var nav: [Nav]
    var flash: String?
    var path: String
    var p: Any

    init(_ page: ConsolePage) {
        let t = page.viewer.language.texts
        self.t = t
        lang = page.viewer.language.rawValue
        otherLang = page.viewer.language.other.rawValue
        title = t[page.title] ?? page.title
        signedIn = page.viewer.operatorName != nil
        operatorName = page.viewer.operatorName ?? ""
        role = page.viewer.role?.rawValue ?? ""
        csrf = page.viewer.csrf ?? ""
        var items: [(String, String, Permission?)] = [
            ("/console", "overview", .readFindings), ("/console/findings", "findings", .readFindings),
            ("/console/cases", "cases", .readCases), ("/console/subscribers", "subscribers", .readCases),
            ("/console/sinkhole", "sinkhole", .readFindings), ("/console/bgp", "bgp", .readFindings),
            ("/console/sharing", "sharing", .readFindings), ("/console/reports", "reports", .readCases),
            ("/console/fraud", "fraud", .readFindings),
            ("/console/audit", "audit", .readAudit),
            ("/console/accounts", "accounts", .manageAccounts),
            ("/console/settings", "settings", .viewConfiguration),
        ]
        if page.viewer.operatorName == nil { items = [] }
        nav = items.filter { $0.2.map(page.viewer.may) ?? true }.map {
            Nav(href: $0.0, label: t[$0.1] ?? $0.1, current: $0.1 == page.section)
        }
        flash = page.flash.map { t[$0] ?? $0 }
        path = page.path
        p = page.content
    }
}

// MARK: - Formatting

enum Format {
    static func time(_ ms: Int64) -> String {
        let u = UTCTime(milliseconds: ms)
        return String(format: "%04d-%02d-%02d %02d:%02d:%02d", u.year, u.month, u.day, u.hour, u.minute, u.second)
    }

    static func score(_ s: Double) -> String { String(format: "%.2f", s.isFinite ? s : 0) }

    static func number(_ v: Double) -> String {
        guard v.isFinite else { return "–" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: abs(v) < 10 ? "%.3g" : "%.1f", v)
    }

    /// A query string from its parts, each escaped.
    static func query(_ items: [(String, String?)]) -> String {
        let parts = items.compactMap { k, v in v.flatMap { $0.isEmpty ? nil : $0 }.map { "\(k)=\(escapeQuery($0))" } }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }

    static func escapeQuery(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
