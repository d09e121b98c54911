import Foundation
import IdentityCodec
import MamoriCore
import Testing

@testable import Lawful

/// The notice in words: Japanese (JST) and English (UTC), subject, plain text, HTML e-mail and
/// the notice page — what it must say, what it must leave out, and escaping.
@Suite struct NoticeRendererTests {
    static func ms(_ y: Int, _ mo: Int, _ d: Int, _ h: Int, _ mi: Int, _ s: Int = 0) -> Int64 {
        UTCTime(year: y, month: mo, day: d, hour: h, minute: mi, second: s).milliseconds!
    }

    static let allBehaviours: [NoticeContent.Behaviour] = [
        .commandAndControl(family: "Mirai", contacts: 42),
        .scanning(port: 23, destinationsPerMinute: 1200),
        .attack(kind: "UDP flood", packetsPerSecond: 120_000),
    ]

    static func content(
        language: String = "ja", kind: NoticeContent.Kind = .infection,
        behaviours: [NoticeContent.Behaviour] = allBehaviours,
        from: Int64 = ms(2026, 11, 20, 10, 2), to: Int64 = ms(2026, 11, 20, 10, 9, 30),
        support: String = "abuse@example.jp / 0120-000-000", optOut: Bool = true, reminder: Int = 0,
        reference: String = "M-3F2A9C"
    ) -> NoticeContent {
        NoticeContent(
            language: language, kind: kind, caseReference: reference, observedFrom: from, observedTo: to,
            behaviours: behaviours, noticePageURL: "https://notice.example.jp/n/7Kq2xZ", linkExpires: ms(2026, 12, 4, 10, 2),
            support: support, optOutAvailable: optOut, reminder: reminder)
    }

    static func page(_ c: NoticeContent, state: String = "open") -> String {
        NoticeRenderer.page(c, acknowledgeAction: "/n/7Kq2xZ/ack", optOutAction: "/n/7Kq2xZ/opt-out", state: state)
    }

    /// Without any whitespace: phrases survive line wrapping of the plain text.
    static func squash(_ s: String) -> String { s.filter { !$0.isWhitespace } }

    static func contains(_ text: String, _ phrase: String) -> Bool { squash(text).contains(squash(phrase)) }

    static func count(_ s: String, _ needle: String) -> Int { s.components(separatedBy: needle).count - 1 }

    /// Four dot-separated groups of 1–3 digits, as in 192.0.2.1.
    static func containsIPv4(_ s: String) -> Bool {
        var run = ""
        for ch in s + " " {
            if ch.isASCII && (ch.isNumber || ch == ".") {
                run.append(ch)
                continue
            }
            let parts = run.split(separator: ".", omittingEmptySubsequences: false)
            var consecutive = 0
            for p in parts {
                consecutive = (1...3).contains(p.count) ? consecutive + 1 : 0
                if consecutive >= 4 { return true }
            }
            run = ""
        }
        return false
    }

    // MARK: Both languages

    @Test func bothLanguagesRender() {
        for lang in ["ja", "en"] {
            let mail = NoticeRenderer.email(Self.content(language: lang))
            #expect(!mail.subject.isEmpty)
            #expect(mail.text.count > 500)
            #expect(mail.html.hasPrefix("<!DOCTYPE html>"))
            #expect(mail.html.contains("<html lang=\"\(lang)\">"))
            let page = Self.page(Self.content(language: lang))
            #expect(page.hasPrefix("<!DOCTYPE html>"))
            #expect(page.contains("<html lang=\"\(lang)\">"))
            #expect(page.contains("<meta charset=\"utf-8\">"))
            #expect(page.hasSuffix("</html>\n"))
        }
        #expect(NoticeRenderer.email(Self.content(language: "ja")).text.contains("ご契約者様"))
        #expect(NoticeRenderer.email(Self.content(language: "en")).text.hasPrefix("Dear customer,"))
    }

    @Test func japaneseSubjectAndBody() {
        let mail = NoticeRenderer.email(Self.content())
        #expect(mail.subject == "【重要】ご利用の回線からの不審な通信について（お問い合わせ番号 M-3F2A9C）")
        for body in [mail.text, mail.html] {
            #expect(Self.contains(body, "2026年11月20日 19:02〜19:09（日本時間）"))
            #expect(Self.contains(body, "ボットネットとは、乗っ取った多数の機器を遠隔操作して"))
            #expect(Self.contains(body, "サーバーと42回通信していました（マルウェアの種類: Mirai）"))
            #expect(Self.contains(body, "1分間に約1,200件、ポート番号 23"))
            #expect(Self.contains(body, "攻撃とみられる通信（UDP flood、毎秒約120,000パケット）"))
            #expect(Self.contains(body, "他の方への攻撃に使われるおそれがあります"))
            #expect(Self.contains(body, "外部に漏れるおそれがあります"))
            #expect(Self.contains(body, "接続が遅くなる"))
            #expect(Self.contains(body, "ファームウェア"))
            #expect(Self.contains(body, "初期設定"))
            #expect(Self.contains(body, "再起動"))
            #expect(Self.contains(body, "セキュリティ対策ソフト"))
            #expect(Self.contains(body, "機械的・自動的に分析"))
            #expect(Self.contains(body, "通信の内容（メールの本文や閲覧したページの中身など）は見ていません"))
            #expect(Self.contains(body, "https://notice.example.jp/n/7Kq2xZ"))
            #expect(Self.contains(body, "2026年12月4日 19:02（日本時間）までご覧いただけます"))
            #expect(Self.contains(body, "お問い合わせ番号: M-3F2A9C"))
            #expect(!body.contains("UTC"))
        }
        #expect(mail.text.contains("1. "))
        #expect(mail.text.contains("5. "))
        #expect(mail.html.contains("<ol"))
    }

    @Test func japanTimeAcrossTheDateBoundary() {
        // 20:00–20:07 UTC on the 20th is 05:00–05:07 on the 21st in Japan.
        let next = NoticeRenderer.email(Self.content(from: Self.ms(2026, 11, 20, 20, 0), to: Self.ms(2026, 11, 20, 20, 7)))
        #expect(next.text.contains("2026年11月21日 05:00〜05:07（日本時間）"))
        #expect(!next.text.contains("2026年11月20日"))
        // A window crossing midnight JST names both dates.
        let across = NoticeRenderer.email(Self.content(from: Self.ms(2026, 11, 20, 14, 58), to: Self.ms(2026, 11, 20, 15, 3)))
        #expect(across.text.contains("2026年11月20日 23:58〜2026年11月21日 00:03（日本時間）"))
        let en = NoticeRenderer.email(Self.content(language: "en", from: Self.ms(2026, 11, 20, 14, 58), to: Self.ms(2026, 11, 20, 15, 3)))
        #expect(en.text.contains("2026-11-20 14:58–15:03 UTC"))
        // A single instant is one time, not a range.
        let instant = NoticeRenderer.email(Self.content(from: Self.ms(2026, 11, 20, 20, 0), to: Self.ms(2026, 11, 20, 20, 0)))
        #expect(instant.text.contains("2026年11月21日 05:00（日本時間）"))
        #expect(!instant.text.contains("05:00〜"))
    }

    @Test func englishSubjectAndBody() {
        let mail = NoticeRenderer.email(Self.content(language: "en"))
        #expect(mail.subject == "Important: suspicious traffic from your connection (reference M-3F2A9C)")
        for body in [mail.text, mail.html] {
            #expect(Self.contains(body, "2026-11-20 10:02–10:09 UTC"))
            #expect(Self.contains(body, "A device connected to your line communicated 42 times with a server used to control a botnet"))
            #expect(Self.contains(body, "(malware family: Mirai)"))
            #expect(Self.contains(body, "tried to connect to many other computers on the Internet (about 1,200 per minute) on port 23"))
            #expect(Self.contains(body, "sent attack traffic (UDP flood, about 120,000 packets per second)"))
            #expect(Self.contains(body, "The device may be infected and used, without your knowledge, to attack others."))
            #expect(Self.contains(body, "Update the firmware"))
            #expect(Self.contains(body, "automatic, mechanical analysis of traffic records"))
            #expect(Self.contains(body, "We did not look at the content of your communications"))
            #expect(Self.contains(body, "This link works until 2026-12-04 10:02 UTC."))
            #expect(Self.contains(body, "Reference: M-3F2A9C"))
            #expect(!body.contains("日本時間"))
            #expect(!body.contains("19:02"))
        }
    }

    @Test func reminderSubject() {
        #expect(NoticeRenderer.email(Self.content(reminder: 1)).subject.hasPrefix("【再送】【重要】"))
        #expect(NoticeRenderer.email(Self.content(language: "en", reminder: 2)).subject.hasPrefix("[Reminder] Important:"))
        #expect(NoticeRenderer.email(Self.content(reminder: 1)).text.contains("再送"))
        #expect(!NoticeRenderer.email(Self.content()).subject.contains("再送"))
        #expect(!NoticeRenderer.email(Self.content()).text.contains("再送"))
        #expect(!NoticeRenderer.email(Self.content(language: "en")).subject.contains("Reminder"))
    }

    @Test func familyAndPortWhenGiven() {
        let without: [NoticeContent.Behaviour] = [
            .commandAndControl(family: nil, contacts: 7), .scanning(port: nil, destinationsPerMinute: 300),
        ]
        let en = NoticeRenderer.email(Self.content(language: "en", behaviours: without)).text
        #expect(Self.contains(en, "communicated 7 times with a server used to control a botnet"))
        #expect(!en.contains("family"))
        #expect(Self.contains(en, "(about 300 per minute)."))
        #expect(!en.contains("on port"))
        let ja = NoticeRenderer.email(Self.content(behaviours: without)).text
        #expect(Self.contains(ja, "ボットネット"))
        #expect(Self.contains(ja, "サーバーと7回通信していました。"))
        #expect(!ja.contains("マルウェアの種類"))
        #expect(!ja.contains("ポート番号"))

        let with: [NoticeContent.Behaviour] = [
            .commandAndControl(family: "Mozi", contacts: 1), .scanning(port: 2323, destinationsPerMinute: 300),
        ]
        let en2 = NoticeRenderer.email(Self.content(language: "en", behaviours: with)).text
        #expect(Self.contains(en2, "communicated once with a server"))
        #expect(Self.contains(en2, "(malware family: Mozi). A botnet is"))
        #expect(Self.contains(en2, "on port 2323"))
        let ja2 = NoticeRenderer.email(Self.content(behaviours: with)).text
        #expect(Self.contains(ja2, "（マルウェアの種類: Mozi）"))
        #expect(Self.contains(ja2, "ポート番号 2323"))
    }

    @Test func vulnerabilityPutsTheGivenFixFirst() {
        let vuln: [NoticeContent.Behaviour] = [
            .vulnerability(
                source: "NOTICE", description: "Telnet login with a default password",
                remediation: "Set a strong password and turn off Telnet.")
        ]
        let ja = NoticeRenderer.email(Self.content(kind: .vulnerability, behaviours: vuln))
        #expect(ja.subject.contains("脆弱性"))
        #expect(Self.contains(ja.text, "NOTICEから、お客様の回線に接続された機器について、次の報告がありました: Telnet login with a default password"))
        #expect(Self.contains(ja.text, "1. 報告された弱点への対処: Set a strong password and turn off Telnet."))
        #expect(Self.contains(ja.text, "2. インターネットにつながっている機器を確認してください"))
        #expect(Self.contains(ja.text, "NOTICEによる調査の報告を受け"))
        let en = NoticeRenderer.email(Self.content(language: "en", kind: .vulnerability, behaviours: vuln))
        #expect(en.subject == "Important: a vulnerable device on your connection (reference M-3F2A9C)")
        #expect(Self.contains(en.text, "A report from NOTICE about a device connected to your line: Telnet login with a default password"))
        #expect(Self.contains(en.text, "1. Fix the reported weakness: Set a strong password and turn off Telnet."))
        #expect(Self.contains(en.text, "then do steps 3 and 4 again"))
        #expect(!en.text.contains("botnet"))
        #expect(en.text.contains("What was reported"))
        #expect(!en.text.contains("What we saw"))
    }

    // MARK: What is said only sometimes

    @Test func optOutOnlyWhenAvailable() {
        let jaOn = NoticeRenderer.email(Self.content(optOut: true))
        let jaOff = NoticeRenderer.email(Self.content(optOut: false))
        #expect(Self.contains(jaOn.text, "停止（オプトアウト）のお手続きができます"))
        #expect(Self.contains(jaOn.text, "ネットワーク全体を守るために必要な措置は、引き続き行うことがあります"))
        #expect(!jaOff.text.contains("オプトアウト"))
        #expect(!jaOff.html.contains("オプトアウト"))
        let enOn = NoticeRenderer.email(Self.content(language: "en", optOut: true)).text
        let enOff = NoticeRenderer.email(Self.content(language: "en", optOut: false)).text
        #expect(Self.contains(enOn, "you can opt out on the notice page above or through our support desk"))
        #expect(Self.contains(enOn, "Opting out does not stop the measures we need to take to protect the network."))
        #expect(!enOff.lowercased().contains("opt out"))
        #expect(!enOff.lowercased().contains("opting out"))
        // Without a support contact, the page is the only way named.
        let enNoSupport = NoticeRenderer.email(Self.content(language: "en", support: "", optOut: true)).text
        #expect(Self.contains(enNoSupport, "you can opt out on the notice page above."))
        #expect(!enNoSupport.contains("support desk"))

        let pageOff = Self.page(Self.content(optOut: false))
        #expect(Self.count(pageOff, "<form") == 1)
        #expect(!pageOff.contains("/n/7Kq2xZ/opt-out"))
        #expect(!pageOff.contains("オプトアウト"))
    }

    @Test func supportLineOmittedWhenEmpty() {
        let with = NoticeRenderer.email(Self.content(language: "en"))
        #expect(with.text.contains("Support: abuse@example.jp / 0120-000-000"))
        let without = NoticeRenderer.email(Self.content(language: "en", support: ""))
        #expect(!without.text.contains("Support"))
        #expect(!without.html.contains("Support"))
        #expect(without.text.contains("Reference: M-3F2A9C"))
        let ja = NoticeRenderer.email(Self.content(support: "   "))
        #expect(!ja.text.contains("お問い合わせ先"))
        #expect(!Self.page(Self.content(support: "")).contains("お問い合わせ先:"))
        #expect(Self.page(Self.content()).contains("お問い合わせ先: abuse@example.jp / 0120-000-000"))
    }

    // MARK: Escaping and leaks

    @Test func contentValuesAreEscapedInHTML() {
        let evil: [NoticeContent.Behaviour] = [
            .commandAndControl(family: "<script>alert('x')</script>", contacts: 3),
            .attack(kind: "\"flood\" & <b>", packetsPerSecond: 5000),
        ]
        for lang in ["ja", "en"] {
            let c = Self.content(language: lang, behaviours: evil, support: "<img src=x onerror=alert(1)>", reference: "M-<i>1</i>")
            let mail = NoticeRenderer.email(c)
            let page = NoticeRenderer.page(c, acknowledgeAction: "/n/a\"b/ack?x=1&y='2'", optOutAction: "/n/<o>", state: "open")
            for html in [mail.html, page] {
                #expect(!html.contains("<script"))
                #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
                #expect(html.contains("&quot;flood&quot; &amp; &lt;b&gt;"))
                #expect(!html.contains("<img"))
                #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;"))
                #expect(!html.contains("<i>"))
                #expect(html.contains("M-&lt;i&gt;1&lt;/i&gt;"))
            }
            #expect(page.contains("action=\"/n/a&quot;b/ack?x=1&amp;y=&#39;2&#39;\""))
            #expect(page.contains("action=\"/n/&lt;o&gt;\""))
            // The plain text carries the value as it is.
            #expect(mail.text.contains("<script>alert('x')</script>"))
        }
        #expect(NoticeRenderer.escape("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&#39;f")
    }

    @Test func noLinkUnlessHTTP() {
        var c = Self.content(language: "en")
        c.noticePageURL = "javascript:alert(1)"
        let html = NoticeRenderer.email(c).html
        #expect(!html.contains("href=\"javascript"))
        #expect(html.contains("javascript:alert(1)"))
        #expect(NoticeRenderer.email(Self.content(language: "en")).html.contains("<a href=\"https://notice.example.jp/n/7Kq2xZ\">"))
    }

    @Test func subjectIsOneLine() {
        let mail = NoticeRenderer.email(Self.content(language: "en", reference: "M-1\r\nBcc: victim@example.com"))
        #expect(!mail.subject.contains("\r"))
        #expect(!mail.subject.contains("\n"))
        #expect(mail.subject == "Important: suspicious traffic from your connection (reference M-1 Bcc: victim@example.com)")
    }

    @Test func noAddressesWhenBehavioursHaveNone() {
        #expect(Self.containsIPv4("seen from 192.0.2.17 at noon")) // the check itself can fail
        #expect(!Self.containsIPv4("2026-11-20 10:02 version 1.2.3"))
        for lang in ["ja", "en"] {
            for kind in [NoticeContent.Kind.infection, .vulnerability] {
                let c = Self.content(language: lang, kind: kind)
                let mail = NoticeRenderer.email(c)
                for s in [mail.subject, mail.text, mail.html] + ["open", "acknowledged", "opted_out"].map({ Self.page(c, state: $0) }) {
                    #expect(!Self.containsIPv4(s))
                }
            }
        }
    }

    @Test func unknownLanguageFallsBackToJapanese() {
        let ja = NoticeRenderer.email(Self.content(language: "ja"))
        for lang in ["fr", "", "JA", "zh-TW"] {
            let other = NoticeRenderer.email(Self.content(language: lang))
            #expect(other == ja)
            #expect(Self.page(Self.content(language: lang)) == Self.page(Self.content(language: "ja")))
        }
        #expect(NoticeRenderer.email(Self.content(language: "EN")).subject.hasPrefix("Important:"))
    }

    // MARK: The page

    @Test func openPageHasBothFormsAndTheOtherLanguage() {
        let ja = Self.page(Self.content())
        #expect(Self.count(ja, "<form") == 2)
        #expect(ja.contains("<form method=\"post\" action=\"/n/7Kq2xZ/ack\">"))
        #expect(ja.contains("<form method=\"post\" action=\"/n/7Kq2xZ/opt-out\">"))
        #expect(ja.contains(">対応しました</button>"))
        #expect(ja.contains("<a href=\"?lang=en\""))
        #expect(!ja.contains("?lang=ja"))
        #expect(Self.contains(ja, "2026年11月20日 19:02〜19:09（日本時間）"))
        #expect(ja.contains("<ol>"))
        #expect(ja.contains("ファームウェア"))
        #expect(Self.contains(ja, "このページは2026年12月4日 19:02（日本時間）までご覧いただけます。"))
        #expect(ja.range(of: "までご覧いただけます")!.lowerBound > ja.range(of: "/n/7Kq2xZ/opt-out")!.lowerBound)
        // The acknowledgement form follows the steps; the opt-out form follows its explanation.
        let steps = ja.range(of: "セキュリティ対策ソフト")!.lowerBound
        let ack = ja.range(of: "/n/7Kq2xZ/ack")!.lowerBound
        let optOutText = ja.range(of: "下のボタンから停止（オプトアウト）できます")!.lowerBound
        let optOut = ja.range(of: "/n/7Kq2xZ/opt-out")!.lowerBound
        #expect(steps < ack)
        #expect(optOutText < optOut)

        let en = Self.page(Self.content(language: "en"))
        #expect(Self.count(en, "<form") == 2)
        #expect(en.contains(">I have done this</button>"))
        #expect(en.contains(">Stop these notices</button>"))
        #expect(en.contains("<a href=\"?lang=ja\""))
        #expect(en.contains("2026-11-20 10:02–10:09 UTC"))
        #expect(!en.contains("Dear customer"))
    }

    @Test func pageIsSelfContained() {
        for lang in ["ja", "en"] {
            for state in ["open", "acknowledged", "opted_out"] {
                let page = Self.page(Self.content(language: lang), state: state)
                #expect(!page.lowercased().contains("<script"))
                #expect(!page.contains(" src="))
                #expect(!page.contains("<link"))
                #expect(!page.contains("url("))
                #expect(!page.contains("@import"))
                #expect(!page.contains("javascript:"))
                #expect(!page.contains("onclick") && !page.contains("onsubmit") && !page.contains("onload"))
                #expect(page.contains("<style>"))
                #expect(!page.contains("http://"))
                #expect(!page.contains("https://"))
            }
        }
    }

    @Test func acknowledgedPageThanksAndHasNoForms() {
        let ja = Self.page(Self.content(), state: "acknowledged")
        #expect(!ja.contains("<form"))
        #expect(!ja.contains("<button"))
        #expect(ja.contains("ご対応いただき、ありがとうございました。"))
        #expect(ja.contains("ファームウェア")) // the steps stay for reference
        let en = Self.page(Self.content(language: "en"), state: "acknowledged")
        #expect(!en.contains("<form"))
        #expect(en.contains("Thank you for dealing with this."))
        #expect(!Self.page(Self.content(), state: "open").contains("ありがとうございました。"))
    }

    @Test func optedOutPageConfirmsAndHasNoForms() {
        let ja = Self.page(Self.content(), state: "opted_out")
        #expect(!ja.contains("<form"))
        #expect(ja.contains("このようなお知らせの停止（オプトアウト）を承りました。"))
        #expect(ja.contains("ネットワーク全体を守るために必要な措置は、引き続き行うことがあります。"))
        let en = Self.page(Self.content(language: "en"), state: "opted_out")
        #expect(!en.contains("<form"))
        #expect(en.contains("You have opted out of these notices."))
        #expect(en.contains("If you change your mind, please contact us."))
        #expect(!Self.page(Self.content(language: "en", support: ""), state: "opted_out").contains("If you change your mind"))
        // An unknown state reads as open.
        #expect(Self.page(Self.content(), state: "bogus") == Self.page(Self.content(), state: "open"))
    }

    // MARK: Plain text layout

    @Test func plainTextLinesFit() {
        for lang in ["ja", "en"] {
            let text = NoticeRenderer.email(Self.content(language: lang, reminder: 1)).text
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count > 30)
            for line in lines where !line.hasPrefix("https://") {
                #expect(NoticeText.columns(line) <= 76, "\(line)")
            }
            // Closing punctuation never starts a line.
            for line in lines {
                #expect(!(line.first.map { "。、）」".contains($0) } ?? false), "\(line)")
            }
            #expect(text.hasSuffix("\n"))
        }
        #expect(NoticeText.wrap("aaa bbb ccc", first: "- ", rest: "  ") == ["- aaa bbb ccc"])
        #expect(NoticeText.wrap(String(repeating: "word ", count: 30), first: "", rest: "").count == 2)
    }
}
