import Foundation
import Testing

@testable import Notify

@Suite("MailMessage rendering")
struct MailMessageTests {
    static let japaneseSubject = "【Mamori】不審な通信を検出しました：加入者 12345 のルーターがボットネットの C&C サーバーへ定期的に接続しています"

    /// Decodes a header value made of RFC 2047 `B` encoded-words (for the tests only).
    static func decodeEncodedWords(_ value: String) -> String? {
        var bytes: [UInt8] = []
        for word in value.replacingOccurrences(of: "\r\n", with: "").split(separator: " ") {
            guard word.hasPrefix("=?UTF-8?B?"), word.hasSuffix("?="),
                let data = Data(base64Encoded: String(word.dropFirst(10).dropLast(2)))
            else { return nil }
            bytes += data
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The header block, unfolded into "Name: value" strings, and the body.
    static func split(_ rendered: String) -> (headers: [String], body: String) {
        let parts = rendered.components(separatedBy: "\r\n\r\n")
        var headers: [String] = []
        for line in parts[0].components(separatedBy: "\r\n") {
            if line.hasPrefix(" "), !headers.isEmpty { headers[headers.count - 1] += "\r\n" + line } else { headers.append(line) }
        }
        return (headers, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    @Test("Japanese subject as encoded-words of at most 76 characters per line, body base64 in UTF-8")
    func japanese() throws {
        let body = "検出日時: 2026-11-20 09:00 JST\n対象: 加入者 12345\n.この行はドットで始まります\n"
        let message = MailMessage(
            from: MailAddress("mamori@example.net", name: "守り 監視"), to: ["noc@example.net"],
            subject: Self.japaneseSubject, textBody: body)
        let rendered = message.rendered()

        #expect(!rendered.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "only CRLF line endings")
        #expect(!rendered.replacingOccurrences(of: "\r\n", with: "").contains("\r"), "only CRLF line endings")
        #expect(rendered.utf8.allSatisfy { $0 < 0x80 }, "the rendered message is ASCII")
        for line in rendered.components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 76, "line too long: \(line)")
        }
        let (headers, encodedBody) = Self.split(rendered)
        let subject = try #require(headers.first { $0.hasPrefix("Subject: ") })
        #expect(subject.contains("\r\n "), "a long subject is folded over several encoded-words")
        #expect(Self.decodeEncodedWords(String(subject.dropFirst("Subject: ".count))) == Self.japaneseSubject)
        #expect(headers.contains("MIME-Version: 1.0"))
        #expect(headers.contains("Content-Type: text/plain; charset=UTF-8"))
        #expect(headers.contains("Content-Transfer-Encoding: base64"))
        #expect(headers.contains { $0.hasPrefix("Message-ID: <") && $0.hasSuffix("@example.net>") })
        let from = try #require(headers.first { $0.hasPrefix("From: ") })
        #expect(from.hasPrefix("From: =?UTF-8?B?") && from.hasSuffix(" <mamori@example.net>"))

        let decoded = try #require(Data(base64Encoded: encodedBody.replacingOccurrences(of: "\r\n", with: "")))
        #expect(String(decoding: decoded, as: UTF8.self) == body.replacingOccurrences(of: "\n", with: "\r\n"))
    }

    @Test("An encoded-word never splits a UTF-8 character; emoji and 4-byte scalars survive")
    func scalarsStayWhole() throws {
        let subject = String(repeating: "𠮷野家🍚と寿司🍣", count: 12)
        let header = MailMessage.unstructuredHeader(name: "Subject", value: subject)
        let words = String(header.dropFirst("Subject: ".count)).replacingOccurrences(of: "\r\n", with: "").split(separator: " ")
        for word in words {
            let data = try #require(Data(base64Encoded: String(word.dropFirst(10).dropLast(2))))
            #expect(String(validating: Array(data), as: UTF8.self) != nil, "each word is valid UTF-8 on its own")
        }
        for line in header.components(separatedBy: "\r\n") { #expect(line.utf8.count <= 76) }
        #expect(Self.decodeEncodedWords(String(header.dropFirst("Subject: ".count))) == subject)
    }

    @Test("Short ASCII headers stay readable; CR and LF in values cannot inject headers")
    func asciiAndInjection() {
        #expect(MailMessage.unstructuredHeader(name: "Subject", value: "Beacon found") == "Subject: Beacon found")
        let injected = MailMessage.unstructuredHeader(name: "X-Finding", value: "42\r\nBcc: victim@example.net")
        #expect(!injected.contains("\r\nBcc"))
        #expect(MailMessage.rfc5322Date(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
    }

    @Test("With HTML: multipart/alternative with a text and an HTML part, both base64 UTF-8")
    func multipart() throws {
        let message = MailMessage(
            from: "mamori@example.net", to: ["a@example.net", "b@example.net"], subject: "通知",
            textBody: "本文", htmlBody: "<p>本文</p>", extraHeaders: [("X-Mamori-Finding", "42")])
        let rendered = message.rendered()
        let (headers, body) = Self.split(rendered)
        #expect(headers.contains("To: a@example.net, b@example.net"))
        #expect(headers.contains("X-Mamori-Finding: 42"))
        let contentType = try #require(headers.first { $0.hasPrefix("Content-Type: multipart/alternative;") })
        let boundary = try #require(contentType.components(separatedBy: "boundary=\"").last?.dropLast())
        #expect(body.contains("--\(boundary)\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"))
        #expect(body.contains("--\(boundary)\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"))
        #expect(body.hasSuffix("--\(boundary)--\r\n"))
    }

    @Test("Dot-stuffing doubles a leading dot, normalises line breaks and ends with CRLF.CRLF")
    func dotStuffing() {
        let stuffed = String(decoding: SMTPConversation.dotStuffed(".\nline\r\n..two\r.x\nend"), as: UTF8.self)
        #expect(stuffed == "..\r\nline\r\n...two\r\n..x\r\nend\r\n.\r\n")
        #expect(String(decoding: SMTPConversation.dotStuffed("a\r\n"), as: UTF8.self) == "a\r\n.\r\n")
    }
}
