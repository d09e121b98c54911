import MamoriCore

/// Puts a `NoticeContent` into words: the e-mail (subject, plain text, HTML) and the notice page.
/// Japanese (です・ます, Japan time) for "ja" and any language it does not know; plain English
/// (UTC) for "en". Pure: no I/O, no clock. It says only what the content holds — no addresses,
/// no other parties — and every value taken from the content is escaped in HTML.
public enum NoticeRenderer {
    /// The e-mail: subject, plain text, HTML (the same content).
    public static func email(_ c: NoticeContent) -> RenderedNotice {
        let w = NoticeWording(c)
        let doc = w.document(on: .email)
        return RenderedNotice(
            subject: w.subject, text: NoticeText.render(doc),
            html: NoticeHTML.email(doc, lang: w.lang, title: w.subject))
    }

    /// The notice page (a complete HTML5 document, UTF-8, inline CSS, no external resources, no
    /// JavaScript): the same explanation plus the remediation steps, an "I have done this /
    /// 対応しました" form that POSTs to `acknowledgeAction`, and — when `c.optOutAvailable` — an
    /// opt-out form that POSTs to `optOutAction`. `state` is "open", "acknowledged" or
    /// "opted_out" (anything else reads as "open"): after acknowledging or opting out the page
    /// says so and shows no forms. A link leads to the other language (`?lang=en` / `?lang=ja`).
    /// `formToken`, when given, goes into both forms as the hidden field `csrf`.
    public static func page(
        _ c: NoticeContent, acknowledgeAction: String, optOutAction: String, state: String, formToken: String? = nil
    ) -> String {
        let w = NoticeWording(c)
        let pageState = NoticePageState(state)
        let doc = w.document(on: .page(pageState))
        return NoticeHTML.page(
            doc, wording: w, state: pageState, acknowledgeAction: acknowledgeAction, optOutAction: optOutAction, formToken: formToken)
    }

    /// `&`, `<`, `>`, `"` and `'` as HTML character references: safe in text and in quoted attributes.
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}

// MARK: - The notice as a document (before text or HTML)

/// A notice laid out in sections of paragraphs, bullet lists, numbered steps and links.
struct NoticeDocument {
    enum Block {
        case paragraph(String)
        case bullets([String])
        case steps([String])
        /// A URL on a line of its own (a link in HTML when it is http or https).
        case link(String)
    }

    struct Section {
        var heading: String?
        var blocks: [Block]
        /// A marker the page uses to put its forms in the right place.
        var role: Role = .plain
    }

    enum Role { case plain, remediation, optOut }

    var sections: [Section]
    var japanese: Bool
}

enum NoticePageState {
    case open, acknowledged, optedOut

    init(_ raw: String) {
        switch raw.lowercased() {
        case "acknowledged": self = .acknowledged
        case "opted_out", "opted-out", "optedout": self = .optedOut
        default: self = .open
        }
    }
}

enum NoticeSurface {
    case email
    case page(NoticePageState)
}

// MARK: - Words

/// Everything the notice says, in one language.
struct NoticeWording {
    let c: NoticeContent
    let ja: Bool
    let reference: String

    init(_ c: NoticeContent) {
        self.c = c
        let lang = c.language.trimmingWhitespace().lowercased()
        ja = !(lang == "en" || lang.hasPrefix("en-") || lang.hasPrefix("en_"))
        reference = Self.clean(c.caseReference)
    }

    var lang: String { ja ? "ja" : "en" }

    /// What the notice is about, as the subject and the page title put it.
    var title: String {
        switch c.kind {
        case .infection: ja ? "ご利用の回線からの不審な通信について" : "suspicious traffic from your connection"
        case .vulnerability: ja ? "ご利用の回線に接続された機器の脆弱性について" : "a vulnerable device on your connection"
        case .abuseReport: ja ? "ご利用の回線に関する他社からの通報について" : "a complaint about traffic from your connection"
        }
    }

    var pageHeading: String {
        ja ? title : String(title.prefix(1).uppercased() + title.dropFirst())
    }

    var subject: String {
        if ja {
            return (c.reminder > 0 ? "【再送】" : "") + "【重要】" + title + "（お問い合わせ番号 \(reference)）"
        }
        return (c.reminder > 0 ? "[Reminder] " : "") + "Important: " + title + " (reference \(reference))"
    }

    var support: String { Self.clean(c.support) }
    var url: String { Self.clean(c.noticePageURL) }

    // MARK: The document

    func document(on surface: NoticeSurface) -> NoticeDocument {
        var sections: [NoticeDocument.Section] = []
        let onPage: Bool
        let state: NoticePageState
        switch surface {
        case .email:
            onPage = false
            state = .open
        case .page(let s):
            onPage = true
            state = s
        }

        // Greeting and what this is.
        var opening: [NoticeDocument.Block] = []
        if !onPage {
            opening.append(.paragraph(ja ? "ご契約者様" : "Dear customer,"))
            opening.append(.paragraph(ja ? "いつも弊社のサービスをご利用いただき、誠にありがとうございます。" : "Thank you for using our service."))
        }
        opening.append(.paragraph(intro))
        if c.reminder > 0 && !onPage {
            opening.append(
                .paragraph(
                    ja
                        ? "このお知らせは再送です。先日お送りしたお知らせについて、まだ対応が済んだとのご連絡をいただいていないため、改めてご連絡しております。すでに対応済みの場合は、ご容赦ください。"
                        : "This is a reminder. We wrote to you about this before and have not yet heard that it has been dealt with, so we are writing again. If you have already dealt with it, thank you, and please excuse this message."
                ))
        }
        sections.append(.init(heading: nil, blocks: opening))

        let reported = c.kind != .infection
        sections.append(
            .init(
                heading: ja ? (reported ? "報告された内容" : "確認した内容") : (reported ? "What was reported" : "What we saw"), blocks: [.bullets(seen)]
            ))
        sections.append(.init(heading: ja ? (reported ? "確認された日時" : "確認した日時") : "When", blocks: [.paragraph(window)]))
        sections.append(.init(heading: ja ? "このままにしておくと" : "Why it matters", blocks: [.bullets(risks)]))

        var todo: [NoticeDocument.Block] = [.paragraph(ja ? "お手数ですが、次の対応をお願いいたします。" : "Please take these steps:"), .steps(steps)]
        todo.append(
            .paragraph(
                ja
                    ? "機器の操作方法がわからない場合は、機器の取扱説明書をご覧いただくか、メーカーにお問い合わせください。"
                    : "If you are not sure how to do this on a device, see its manual or ask its maker."))
        sections.append(.init(heading: ja ? "お願いしたい対応" : "What to do", blocks: todo, role: .remediation))

        if !onPage {
            sections.append(
                .init(
                    heading: ja ? "詳しいご案内のページ" : "The notice page",
                    blocks: [
                        .paragraph(
                            ja
                                ? "同じ内容と対応の手順を、次のページでもご案内しています。対応が済みましたら、ページの「対応しました」ボタンを押してお知らせください。"
                                : "The same explanation and the steps are also on this page. When you have done them, please let us know with the \"I have done this\" button there."
                        ),
                        .link(url),
                        .paragraph(ja ? "このページは\(expiry)までご覧いただけます。" : "This link works until \(expiry)."),
                    ]))
        }

        if let optOut = optOutBlocks(onPage: onPage, state: state) {
            sections.append(.init(heading: ja ? "このお知らせの停止（オプトアウト）について" : "Opting out of these notices", blocks: optOut, role: .optOut))
        }

        if !support.isEmpty {
            sections.append(
                .init(
                    heading: ja ? "お問い合わせ" : "Contact us",
                    blocks: [
                        .paragraph(ja ? "お問い合わせ先: \(support)" : "Support: \(support)"),
                        .paragraph(
                            ja ? "お問い合わせの際は、お問い合わせ番号 \(reference) をお伝えください。" : "Please quote reference \(reference) when you contact us."),
                    ]))
        }

        var about: [NoticeDocument.Block] = found.map { .paragraph($0) }
        about.append(
            .paragraph(
                ja
                    ? "弊社がこのお知らせに関して、パスワードやクレジットカード番号などをお尋ねすることはありません。"
                    : "We will never ask you for passwords or card numbers in connection with this notice."))
        if onPage {
            about.append(.paragraph(ja ? "このページは\(expiry)までご覧いただけます。" : "This page is available until \(expiry)."))
        }
        about.append(.paragraph(ja ? "お問い合わせ番号: \(reference)" : "Reference: \(reference)"))
        sections.append(.init(heading: ja ? "このお知らせについて" : "How we found this", blocks: about))

        if !onPage {
            sections.append(
                .init(
                    heading: nil,
                    blocks: [.paragraph(ja ? "今後とも弊社のサービスをよろしくお願いいたします。" : "Thank you for your help in keeping the network safe.")]))
        }
        return NoticeDocument(sections: sections, japanese: ja)
    }

    private var intro: String {
        switch c.kind {
        case .infection:
            ja
                ? "お客様の回線に接続された機器から、コンピューターウイルス（マルウェア）に感染している可能性が高い通信を確認しましたので、お知らせいたします。"
                : "We have seen traffic from a device connected to your line which shows that the device is very likely infected with malicious software (malware)."
        case .vulnerability:
            ja
                ? "お客様の回線に接続された機器に、第三者に悪用されるおそれのある弱点（脆弱性）があるとの報告を受けましたので、お知らせいたします。"
                : "We have received a report that a device connected to your line has a weakness (a vulnerability) that others could misuse."
        case .abuseReport:
            ja
                ? "他社のネットワークから、お客様の回線からの通信について通報を受けましたので、お知らせいたします。"
                : "Another network has complained to us about traffic from your line, and we are letting you know."
        }
    }

    /// Each behaviour in words a non-expert understands.
    private var seen: [String] {
        var lines: [String] = []
        var explainedBotnet = false
        for b in c.behaviours {
            switch b {
            case .commandAndControl(let family, let contacts):
                let fam = family.map(Self.clean).flatMap { $0.isEmpty ? nil : $0 }
                if ja {
                    lines.append(
                        "お客様の回線に接続された機器が、ボットネットの制御に使われているサーバーと\(Self.count(contacts))回通信していました"
                            + (fam.map { "（マルウェアの種類: \($0)）" } ?? "") + "。"
                            + (explainedBotnet ? "" : "ボットネットとは、乗っ取った多数の機器を遠隔操作して、攻撃などに使う仕組みです。"))
                } else {
                    lines.append(
                        "A device connected to your line communicated \(contacts == 1 ? "once" : "\(Self.count(contacts)) times") with a server used to control a botnet"
                            + (fam.map { " (malware family: \($0))" } ?? "") + "."
                            + (explainedBotnet
                                ? "" : " A botnet is a network of hijacked devices that someone controls remotely, often to attack others.")
                    )
                }
                explainedBotnet = true
            case .scanning(let port, let perMinute):
                if ja {
                    lines.append(
                        "お客様の回線に接続された機器が、インターネット上の多数の他のコンピューターに接続を試みていました（1分間に約\(Self.count(perMinute))件"
                            + (port.map { "、ポート番号 \($0)" } ?? "") + "）。")
                } else {
                    lines.append(
                        "A device connected to your line tried to connect to many other computers on the Internet (about \(Self.count(perMinute)) per minute)"
                            + (port.map { " on port \($0)" } ?? "") + ".")
                }
            case .attack(let kind, let pps):
                let k = Self.clean(kind)
                let rate = pps.isFinite && pps >= 1 && pps < 1e15 ? Self.count(Int(pps.rounded())) : nil
                if ja {
                    let detail = [k.isEmpty ? nil : k, rate.map { "毎秒約\($0)パケット" }].compactMap { $0 }.joined(separator: "、")
                    lines.append("お客様の回線に接続された機器が、他者への攻撃とみられる通信" + (detail.isEmpty ? "" : "（\(detail)）") + "を送信していました。")
                } else {
                    let detail = [k.isEmpty ? nil : k, rate.map { "about \($0) packets per second" }].compactMap { $0 }.joined(
                        separator: ", ")
                    lines.append("A device connected to your line sent attack traffic" + (detail.isEmpty ? "" : " (\(detail))") + ".")
                }
            case .reported(let p):
                lines += ReportedProblemText.text(Self.clean(p), japanese: ja).found
            case .vulnerability(let source, let description, _):
                let s = Self.clean(source)
                let d = Self.clean(description)
                if ja {
                    lines.append((s.isEmpty ? "" : "\(s)から、") + "お客様の回線に接続された機器について、次の報告がありました: \(d)")
                } else {
                    lines.append((s.isEmpty ? "A report" : "A report from \(s)") + " about a device connected to your line: \(d)")
                }
            }
        }
        if lines.isEmpty {
            lines.append(
                ja
                    ? "お客様の回線に接続された機器から、マルウェアへの感染が疑われる通信を確認しました。"
                    : "Traffic from a device connected to your line that suggests malware.")
        }
        return lines
    }

    private var risks: [String] {
        let device: String
        switch c.kind {
        case .infection:
            device =
                ja
                ? "機器がマルウェアに感染していて、知らないうちに他の方への攻撃に使われるおそれがあります。"
                : "The device may be infected and used, without your knowledge, to attack others."
        case .vulnerability, .abuseReport:
            device =
                ja
                ? "機器が第三者に乗っ取られ、知らないうちに他の方への攻撃に使われるおそれがあります。"
                : "The device may be taken over and used, without your knowledge, to attack others."
        }
        var reported: [String] = []
        for case .reported(let p) in c.behaviours {
            for line in ReportedProblemText.text(Self.clean(p), japanese: ja).why where !reported.contains(line) { reported.append(line) }
        }
        return reported + [
            device,
            ja
                ? "お客様の個人情報や、機器・パソコンに保存されているデータが外部に漏れるおそれがあります。"
                : "Your personal information and the data on your devices may leak to others.",
            ja ? "お客様のインターネット接続が遅くなることがあります。" : "Your Internet connection may become slow.",
        ]
    }

    /// Numbered steps: the fix a vulnerability report gives first, then what helps any device.
    private var steps: [String] {
        var steps: [String] = []
        for b in c.behaviours {
            switch b {
            case .vulnerability(_, _, let remediation):
                let r = Self.clean(remediation)
                if !r.isEmpty { steps.append(ja ? "報告された弱点への対処: \(r)" : "Fix the reported weakness: \(r)") }
            case .reported(let p):
                for step in ReportedProblemText.text(Self.clean(p), japanese: ja).steps where !steps.contains(step) { steps.append(step) }
            default:
                break
            }
        }
        let first = steps.count + 1
        if ja {
            steps += [
                "インターネットにつながっている機器を確認してください（ルーター、ネットワークカメラ・防犯カメラ、NAS〔ネットワーク接続型のハードディスク〕、パソコン、スマートフォン、テレビ、ゲーム機など）。",
                "それぞれの機器のファームウェア（機器本体のソフトウェア）を最新版に更新してください。",
                "購入時のまま（初期設定）のパスワードを使っている機器は、他人に推測されにくいパスワードに変更してください。",
                "機器を再起動してください。改善しない場合は、初期化（工場出荷時の状態に戻すこと）をしたうえで、\(first + 1)と\(first + 2)をもう一度行ってください。",
                "パソコンやスマートフォンでは、セキュリティ対策ソフトを最新の状態にして、ウイルス検査（スキャン）を行ってください。",
            ]
        } else {
            steps += [
                "Find the devices connected to the Internet at your home or office: routers, network or security cameras, NAS (network storage), computers, smartphones, TVs, game consoles.",
                "Update the firmware (the device's own software) of each device to the latest version.",
                "Change any password that is still the one the device came with (the default) to one that others cannot guess.",
                "Restart the devices. If that does not help, reset them to their factory settings, then do steps \(first + 1) and \(first + 2) again.",
                "On computers and smartphones, update your security software and run a full scan.",
            ]
        }
        return steps
    }

    /// How it was found: mechanically, from records, never from the content.
    private var found: [String] {
        var traffic = false
        var report = c.kind != .infection
        var sources: [String] = []
        for b in c.behaviours {
            let source: String
            switch b {
            case .vulnerability(let s, _, _): source = s
            case .reported(let p): source = p.source
            default:
                traffic = true
                continue
            }
            report = true
            let s = Self.clean(source)
            if !s.isEmpty && !sources.contains(s) { sources.append(s) }
        }
        if !traffic && !report { traffic = true }
        var out: [String] = []
        if traffic {
            out.append(
                ja
                    ? "このお知らせは、弊社がネットワークの安全を守るため、通信の記録（いつ、どこと、どのくらい通信したかという情報）を機械的・自動的に分析して検知したものです。"
                    : "We found this by automatic, mechanical analysis of traffic records (when, with whom and how much a connection communicated), which we do to keep the network safe."
            )
        }
        if report {
            let from = sources.joined(separator: ja ? "、" : ", ")
            out.append(
                ja
                    ? (from.isEmpty ? "" : "\(from)による調査の報告を受け、") + "弊社の通信の記録と機械的・自動的に照合して、お客様の回線であることを確認しました。"
                    : "We received " + (from.isEmpty ? "a report" : "a report from \(from)")
                        + " and matched it against our traffic records by automatic, mechanical processing to find your line.")
        }
        out.append(
            ja
                ? "弊社は、お客様の通信の内容（メールの本文や閲覧したページの中身など）は見ていません。"
                : "We did not look at the content of your communications (such as the text of e-mails or the pages you visit).")
        return out
    }

    private func optOutBlocks(onPage: Bool, state: NoticePageState) -> [NoticeDocument.Block]? {
        guard c.optOutAvailable else { return nil }
        let keep =
            ja
            ? "なお、お知らせを停止された場合でも、ネットワーク全体を守るために必要な措置は、引き続き行うことがあります。"
            : "Opting out does not stop the measures we need to take to protect the network."
        switch (onPage, state) {
        case (false, _):
            let via =
                ja
                ? (support.isEmpty ? "上記のページから" : "上記のページ、または下記のお問い合わせ先から")
                : (support.isEmpty ? "on the notice page above" : "on the notice page above or through our support desk")
            return [
                .paragraph(
                    ja
                        ? "このようなお知らせの受け取りを希望されない場合は、\(via)停止（オプトアウト）のお手続きができます。" + keep
                        : "If you do not want to receive these notices, you can opt out \(via). " + keep)
            ]
        case (true, .open):
            return [
                .paragraph(
                    ja
                        ? "このようなお知らせの受け取りを希望されない場合は、下のボタンから停止（オプトアウト）できます。" + keep
                        : "If you do not want to receive these notices, you can opt out with the button below. " + keep)
            ]
        case (true, .acknowledged):
            guard !support.isEmpty else { return nil }
            return [
                .paragraph(
                    ja
                        ? "このようなお知らせの停止（オプトアウト）をご希望の場合は、下記のお問い合わせ先までご連絡ください。" + keep
                        : "If you do not want to receive these notices, you can opt out through our support desk below. " + keep)
            ]
        case (true, .optedOut):
            return [.paragraph(keep)]
        }
    }

    // MARK: Times and numbers

    /// ja: 2026年11月20日 19:02〜19:09（日本時間）; en: 2026-11-20 10:02–10:09 UTC.
    var window: String {
        let from = min(c.observedFrom, c.observedTo)
        let to = max(c.observedFrom, c.observedTo)
        let sameMinute = from / 60_000 == to / 60_000
        if ja {
            let a = Self.jst(from)
            let b = Self.jst(to)
            let start = Self.jaDate(a) + " " + Self.hm(a)
            let end = (a.year, a.month, a.day) == (b.year, b.month, b.day) ? Self.hm(b) : Self.jaDate(b) + " " + Self.hm(b)
            return (sameMinute ? start : start + "〜" + end) + "（日本時間）"
        }
        let a = UTCTime(milliseconds: from)
        let b = UTCTime(milliseconds: to)
        let start = Self.isoDate(a) + " " + Self.hm(a)
        let end = (a.year, a.month, a.day) == (b.year, b.month, b.day) ? Self.hm(b) : Self.isoDate(b) + " " + Self.hm(b)
        return (sameMinute ? start : start + "–" + end) + " UTC"
    }

    /// When the link stops working, in the same clock as the window.
    var expiry: String {
        if ja {
            let t = Self.jst(c.linkExpires)
            return Self.jaDate(t) + " " + Self.hm(t) + "（日本時間）"
        }
        let t = UTCTime(milliseconds: c.linkExpires)
        return Self.isoDate(t) + " " + Self.hm(t) + " UTC"
    }

    static func jst(_ ms: Int64) -> UTCTime { UTCTime(milliseconds: ms + 9 * 3_600_000) }
    static func jaDate(_ t: UTCTime) -> String { "\(t.year)年\(t.month)月\(t.day)日" }
    static func isoDate(_ t: UTCTime) -> String { "\(t.year)-\(pad(t.month))-\(pad(t.day))" }
    static func hm(_ t: UTCTime) -> String { "\(pad(t.hour)):\(pad(t.minute))" }
    private static func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

    /// 1234567 → "1,234,567".
    static func count(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, d) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(d)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// A value from the content on one line: control characters (a line break in a subject
    /// would start a new mail header) become spaces, runs of spaces one, ends trimmed.
    /// Every name a reporter supplied, cleaned as any outside text in a notice is.
    static func clean(_ p: ReportedProblem) -> ReportedProblem {
        var p = p
        func short(_ s: String?) -> String? { s.map { String(clean($0).prefix(80)) }.flatMap { $0.isEmpty ? nil : $0 } }
        p.source = short(p.source) ?? ""
        p.service = short(p.service)
        p.transport = short(p.transport)
        p.device = short(p.device)
        p.endOfSupport = short(p.endOfSupport)
        p.family = short(p.family)
        return p
    }

    static func clean(_ s: String) -> String {
        var out = ""
        var space = false
        for ch in s.unicodeScalars {
            if ch.properties.generalCategory == .control || ch == "\u{2028}" || ch == "\u{2029}" || ch == " " {
                space = true
                continue
            }
            if space && !out.isEmpty { out.append(" ") }
            space = false
            out.unicodeScalars.append(ch)
        }
        return out
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}

// MARK: - Plain text

enum NoticeText {
    static let width = 76

    static func render(_ doc: NoticeDocument) -> String {
        var out: [String] = []
        for section in doc.sections {
            if !out.isEmpty { out.append("") }
            if let h = section.heading {
                if doc.japanese {
                    out.append("■ " + h)
                } else {
                    out.append(h)
                    out.append(String(repeating: "-", count: min(columns(h), width)))
                }
            }
            var firstBlock = true
            for block in section.blocks {
                if !firstBlock { out.append("") }
                firstBlock = false
                switch block {
                case .paragraph(let p):
                    out += wrap(p, first: "", rest: "")
                case .bullets(let items):
                    let mark = doc.japanese ? "・" : "- "
                    for item in items { out += wrap(item, first: mark, rest: "  ") }
                case .steps(let items):
                    let w = String(items.count).count + 2
                    for (i, item) in items.enumerated() {
                        let n = "\(i + 1). "
                        out += wrap(item, first: n + String(repeating: " ", count: w - n.count), rest: String(repeating: " ", count: w))
                    }
                case .link(let url):
                    out.append(url)
                }
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// Display columns: wide (CJK, full-width) characters take two.
    static func columns(_ s: some StringProtocol) -> Int {
        s.unicodeScalars.reduce(0) { $0 + ($1.value >= 0x1100 ? 2 : 1) }
    }

    private static func isWide(_ ch: Character) -> Bool { ch.unicodeScalars.first.map { $0.value >= 0x1100 } ?? false }

    /// Characters a line may not start with, and ones it may not end with (Japanese line breaking rules, simplified).
    private static let noStart: Set<Character> = [
        "。", "、", "，", "．", "）", "」", "』", "】", "〕", "〉", "》", "・", "ー", "〜", "：", "！", "？", "ぁ", "ぃ", "ぅ", "ぇ", "ぉ", "っ", "ゃ", "ゅ", "ょ",
        "ァ", "ィ", "ゥ", "ェ", "ォ", "ッ", "ャ", "ュ", "ョ",
    ]
    private static let noEnd: Set<Character> = ["（", "「", "『", "【", "〔", "〈", "《"]

    /// Greedy wrapping at `width` columns. Narrow text breaks only at spaces (so URLs stay
    /// whole); wide text breaks between characters, keeping closing punctuation with what it closes.
    static func wrap(_ text: String, first: String, rest: String) -> [String] {
        // Unbreakable pieces, each remembering whether a space came before it.
        var pieces: [(text: String, spaceBefore: Bool)] = []
        var current = ""
        var spaceBefore = false
        var pendingSpace = false
        func flush() {
            if !current.isEmpty {
                pieces.append((current, spaceBefore))
                current = ""
            }
        }
        for ch in text {
            if ch == " " {
                flush()
                pendingSpace = true
                continue
            }
            let startsPiece: Bool
            if current.isEmpty {
                startsPiece = true
            } else if noStart.contains(ch) || noEnd.contains(current.last!) {
                startsPiece = false
            } else if isWide(ch) {
                // A counter after a number (1,200件) stays with it.
                startsPiece = !(current.last!.isNumber && !isWide(current.last!))
            } else {
                startsPiece = isWide(current.last!)
            }
            if startsPiece {
                flush()
                spaceBefore = pendingSpace
                pendingSpace = false
            }
            current.append(ch)
        }
        flush()

        var lines: [String] = []
        var line = first
        var lineCols = columns(first)
        var hasContent = false
        for piece in pieces {
            let cols = columns(piece.text) + (piece.spaceBefore && hasContent ? 1 : 0)
            if hasContent && lineCols + cols > width {
                lines.append(line)
                line = rest + piece.text
                lineCols = columns(rest) + columns(piece.text)
            } else {
                if piece.spaceBefore && hasContent { line += " " }
                line += piece.text
                lineCols += cols
            }
            hasContent = true
        }
        lines.append(line)
        return lines
    }
}

// MARK: - HTML

enum NoticeHTML {
    private static func e(_ s: String) -> String { NoticeRenderer.escape(s) }

    /// Only http and https addresses become links; anything else is shown as text.
    private static func link(_ url: String) -> String {
        let lower = url.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else { return e(url) }
        return "<a href=\"\(e(url))\">\(e(url))</a>"
    }

    /// The blocks of the document; `inline` gives every element its style (for mail clients that drop `<style>`).
    private static func blocks(_ section: NoticeDocument.Section, inline: Bool) -> String {
        func s(_ css: String) -> String { inline ? " style=\"\(css)\"" : "" }
        var out = ""
        if let h = section.heading {
            out += "<h2\(s("font-size:1.1em;margin:1.4em 0 0.4em;padding-bottom:0.2em;border-bottom:1px solid #ccc"))>\(e(h))</h2>\n"
        }
        for block in section.blocks {
            switch block {
            case .paragraph(let p): out += "<p\(s("margin:0.6em 0"))>\(e(p))</p>\n"
            case .bullets(let items):
                out +=
                    "<ul\(s("margin:0.6em 0;padding-left:1.5em"))>\n" + items.map { "<li\(s("margin:0.3em 0"))>\(e($0))</li>\n" }.joined()
                    + "</ul>\n"
            case .steps(let items):
                out +=
                    "<ol\(s("margin:0.6em 0;padding-left:1.8em"))>\n" + items.map { "<li\(s("margin:0.4em 0"))>\(e($0))</li>\n" }.joined()
                    + "</ol>\n"
            case .link(let url): out += "<p\(s("margin:0.6em 0;word-break:break-all"))>\(link(url))</p>\n"
            }
        }
        return out
    }

    static func email(_ doc: NoticeDocument, lang: String, title: String) -> String {
        var out = """
            <!DOCTYPE html>
            <html lang="\(lang)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(e(title))</title>
            </head>
            <body style="margin:0;padding:0;background:#ffffff;color:#1a1a1a;font-family:sans-serif;font-size:16px;line-height:1.7">
            <div style="max-width:640px;margin:0 auto;padding:16px">

            """
        for section in doc.sections { out += blocks(section, inline: true) }
        out += "</div>\n</body>\n</html>\n"
        return out
    }

    static let css = """
        body{margin:0;background:#f4f5f7;color:#1a1a1a;font-family:"Hiragino Sans","Hiragino Kaku Gothic ProN","Noto Sans CJK JP","Yu Gothic",Meiryo,sans-serif;font-size:16px;line-height:1.7}
        main{max-width:720px;margin:0 auto;padding:16px 20px 40px;background:#fff}
        .lang{text-align:right;margin:0 0 8px}
        h1{font-size:1.4em;line-height:1.4;margin:0.4em 0}
        h2{font-size:1.1em;margin:1.6em 0 0.4em;padding-bottom:0.2em;border-bottom:1px solid #ccc}
        p{margin:0.6em 0}
        ul,ol{margin:0.6em 0;padding-left:1.8em}
        li{margin:0.4em 0}
        .ref{color:#555}
        .notice{border-left:4px solid #2e7d32;background:#edf7ee;padding:10px 14px;margin:1em 0}
        form{margin:1em 0}
        button{font:inherit;font-size:1.05em;padding:10px 22px;border-radius:6px;cursor:pointer}
        .primary{background:#1a5fb4;color:#fff;border:1px solid #1a5fb4}
        .secondary{background:#fff;color:#1a1a1a;border:1px solid #888}
        a{color:#1a5fb4}
        """

    static func page(
        _ doc: NoticeDocument, wording w: NoticeWording, state: NoticePageState,
        acknowledgeAction: String, optOutAction: String, formToken: String?
    ) -> String {
        let ja = w.ja
        let hidden = formToken.map { "<input type=\"hidden\" name=\"csrf\" value=\"\(e($0))\">" } ?? ""
        let title = ja ? "\(w.pageHeading)（\(w.reference)）" : "\(w.pageHeading) (\(w.reference))"
        var out = """
            <!DOCTYPE html>
            <html lang="\(w.lang)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="robots" content="noindex, nofollow">
            <meta name="referrer" content="no-referrer">
            <title>\(e(title))</title>
            <style>
            \(css)
            </style>
            </head>
            <body>
            <main>

            """
        out +=
            ja
            ? "<p class=\"lang\"><a href=\"?lang=en\" hreflang=\"en\" lang=\"en\">English</a></p>\n"
            : "<p class=\"lang\"><a href=\"?lang=ja\" hreflang=\"ja\" lang=\"ja\">日本語</a></p>\n"
        out += "<h1>\(e(w.pageHeading))</h1>\n"
        out += "<p class=\"ref\">\(e(ja ? "お問い合わせ番号: \(w.reference)" : "Reference: \(w.reference)"))</p>\n"

        switch state {
        case .open: break
        case .acknowledged:
            out +=
                "<div class=\"notice\" role=\"status\"><p><strong>\(e(ja ? "ご対応いただき、ありがとうございました。" : "Thank you for dealing with this."))</strong></p><p>\(e(ja ? "ご連絡を承りました。同じような通信が再び確認された場合は、改めてお知らせすることがあります。" : "We have your confirmation. If we see similar traffic again, we may write to you again."))</p></div>\n"
        case .optedOut:
            out +=
                "<div class=\"notice\" role=\"status\"><p><strong>\(e(ja ? "このようなお知らせの停止（オプトアウト）を承りました。" : "You have opted out of these notices."))</strong></p><p>\(e(ja ? "今後、このようなお知らせはお送りしません。" : "We will not send you such notices from now on.") + (w.support.isEmpty ? "" : e(ja ? "お考えが変わった場合は、お問い合わせ先までご連絡ください。" : " If you change your mind, please contact us.")))</p></div>\n"
        }

        for section in doc.sections {
            out += blocks(section, inline: false)
            guard state == .open else { continue }
            switch section.role {
            case .remediation:
                out += "<h2>\(e(ja ? "対応が済みましたら" : "When you have done this"))</h2>\n"
                out +=
                    "<p>\(e(ja ? "上記の対応が済みましたら、下のボタンを押してお知らせください。" : "When you have taken the steps above, please let us know with this button."))</p>\n"
                out +=
                    "<form method=\"post\" action=\"\(e(acknowledgeAction))\">\(hidden)<button type=\"submit\" class=\"primary\">\(e(ja ? "対応しました" : "I have done this"))</button></form>\n"
            case .optOut:
                out +=
                    "<form method=\"post\" action=\"\(e(optOutAction))\">\(hidden)<button type=\"submit\" class=\"secondary\">\(e(ja ? "このようなお知らせを停止する" : "Stop these notices"))</button></form>\n"
            case .plain:
                break
            }
        }
        out += "</main>\n</body>\n</html>\n"
        return out
    }
}
