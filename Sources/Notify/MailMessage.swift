import Foundation

/// An e-mail address with an optional display name, as written in a From or To header.
public struct MailAddress: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The addr-spec, `local@domain`, used on the SMTP envelope (MAIL FROM, RCPT TO).
    public var address: String
    /// A human name shown beside the address; may be any Unicode text.
    public var name: String?

    /// An address, optionally with a display name.
    public init(_ address: String, name: String? = nil) {
        self.address = address
        self.name = name
    }

    /// A bare address from a literal: `"ops@example.net"`.
    public init(stringLiteral value: String) {
        self.init(value)
    }

    /// The address as it appears in a header: `ops@example.net` or `Name <ops@example.net>`.
    public var description: String { MailMessage.headerAddress(self) }
}

/// One e-mail message: who it is from and to, what it says, and how it renders as RFC 5322 text.
///
/// ``rendered()`` produces a MIME message with CRLF line endings that any mail server accepts:
/// the subject (and non-ASCII display names) as RFC 2047 encoded-words, the body as UTF-8
/// `text/plain` in base64 — or `multipart/alternative` with a `text/html` part when ``htmlBody`` is set.
/// The result is all ASCII, so it passes any 7-bit hop; body lines and encoded-word header lines
/// are at most 76 characters long.
public struct MailMessage: Sendable {
    /// The author (From header and, for ``SMTPClient``, the envelope sender).
    public var from: MailAddress
    /// The recipients (To header and envelope recipients); at least one.
    public var to: [MailAddress]
    /// The subject line, any Unicode text.
    public var subject: String
    /// The plain-text body. Line breaks may be `\n` or `\r\n`; they are sent as CRLF.
    public var textBody: String
    /// An optional HTML rendering of the same content, sent as the preferred alternative.
    public var htmlBody: String?
    /// More header fields, in order, e.g. `("X-Mamori-Finding", "42")`. Names must be printable
    /// ASCII without a colon; line breaks in values are replaced by spaces. Non-ASCII values are
    /// sent as encoded-words.
    public var extraHeaders: [(name: String, value: String)]
    /// The Message-ID, including the angle brackets: `<unique@host>`.
    public var messageID: String
    /// The origination date (Date header).
    public var date: Date

    /// A message. `messageID` defaults to a random UUID at the sender's domain, `date` to now.
    public init(
        from: MailAddress,
        to: [MailAddress],
        subject: String,
        textBody: String,
        htmlBody: String? = nil,
        extraHeaders: [(name: String, value: String)] = [],
        messageID: String? = nil,
        date: Date = Date()
    ) {
        self.from = from
        self.to = to
        self.subject = subject
        self.textBody = textBody
        self.htmlBody = htmlBody
        self.extraHeaders = extraHeaders
        let domain = from.address.split(separator: "@").last.map(String.init) ?? "localhost"
        self.messageID = messageID ?? "<\(UUID().uuidString.lowercased())@\(domain.isEmpty ? "localhost" : domain)>"
        self.date = date
    }

    /// The whole message as RFC 5322 / MIME text with CRLF line endings, ready for SMTP DATA
    /// (before dot-stuffing, which ``SMTPClient`` does).
    public func rendered() -> String {
        var lines: [String] = []
        lines.append("Date: " + Self.rfc5322Date(date))
        lines.append(Self.foldAddressList(name: "From", [from]))
        lines.append(Self.foldAddressList(name: "To", to))
        lines.append(Self.unstructuredHeader(name: "Subject", value: subject))
        lines.append("Message-ID: " + Self.sanitized(messageID))
        lines.append("MIME-Version: 1.0")
        for header in extraHeaders {
            let name = String(header.name.unicodeScalars.filter { $0.value > 32 && $0.value < 127 && $0 != ":" })
            guard !name.isEmpty else { continue }
            lines.append(Self.unstructuredHeader(name: name, value: header.value))
        }
        if let htmlBody {
            // "=_" cannot occur in base64 text, so the boundary never collides with a part's content.
            let boundary = "=_mamori_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
            lines.append("Content-Type: multipart/alternative;")
            lines.append(" boundary=\"\(boundary)\"")
            lines.append("")
            lines.append("This is a MIME message in plain text and HTML.")
            lines.append("--" + boundary)
            lines += Self.base64Part(contentType: "text/plain; charset=UTF-8", text: textBody)
            lines.append("--" + boundary)
            lines += Self.base64Part(contentType: "text/html; charset=UTF-8", text: htmlBody)
            lines.append("--" + boundary + "--")
        } else {
            lines += Self.base64Part(contentType: "text/plain; charset=UTF-8", text: textBody)
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    // MARK: - Pieces of the rendering

    /// Header lines and body of one base64 text part (the header block, a blank line, the body).
    static func base64Part(contentType: String, text: String) -> [String] {
        ["Content-Type: " + contentType, "Content-Transfer-Encoding: base64", ""]
            + wrappedBase64(Array(canonicalLineBreaks(text).utf8))
    }

    /// `text` with every line break (`\n`, `\r\n`, lone `\r`) as CRLF: the canonical form of text/* (RFC 2046).
    static func canonicalLineBreaks(_ text: String) -> String {
        text.replacingOccurrences(of: "\r\n", with: "\n")
            .replacingOccurrences(of: "\r", with: "\n")
            .replacingOccurrences(of: "\n", with: "\r\n")
    }

    /// Base64 of `bytes` in lines of at most 76 characters (RFC 2045 §6.8).
    static func wrappedBase64(_ bytes: [UInt8]) -> [String] {
        let encoded = Data(bytes).base64EncodedString()
        guard !encoded.isEmpty else { return [] }
        var out: [String] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            out.append(String(encoded[index..<end]))
            index = end
        }
        return out
    }

    /// The longest a header line may be here: RFC 2047 §2 limits a line with encoded-words to 76.
    static let maxLineLength = 76

    /// `Name: value` for an unstructured field: as is when it is short printable ASCII, else as
    /// RFC 2047 `B` encoded-words, one per line, each line at most 76 characters.
    static func unstructuredHeader(name: String, value: String) -> String {
        let clean = sanitized(value)
        let prefix = name + ": "
        let isPlainASCII = clean.unicodeScalars.allSatisfy { $0.value >= 32 && $0.value < 127 }
        // A value that itself looks like an encoded-word must be encoded so that it reads back literally.
        if isPlainASCII && !clean.contains("=?") && prefix.utf8.count + clean.utf8.count <= maxLineLength {
            return prefix + clean
        }
        return prefix
            + encodedWords(clean, firstLineRoom: maxLineLength - prefix.utf8.count)
            .joined(separator: "\r\n ")
    }

    /// `text` as RFC 2047 encoded-words (`=?UTF-8?B?…?=`). The first word fits in `firstLineRoom`
    /// characters, each later one in a continuation line (a space and the word) of at most 76. A
    /// Unicode scalar is never split between two words, as RFC 2047 §5 requires.
    static func encodedWords(_ text: String, firstLineRoom: Int) -> [String] {
        let overhead = "=?UTF-8?B?".utf8.count + "?=".utf8.count
        /// How many UTF-8 bytes fit in base64 of at most `room - overhead` characters.
        func byteBudget(_ room: Int) -> Int { max(((room - overhead) / 4) * 3, 4) }
        var words: [String] = []
        var chunk: [UInt8] = []
        var budget = byteBudget(firstLineRoom)
        for scalar in text.unicodeScalars {
            let bytes = Array(String(scalar).utf8)
            if !chunk.isEmpty && chunk.count + bytes.count > budget {
                words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
                chunk = []
                budget = byteBudget(maxLineLength - 1)
            }
            chunk += bytes
        }
        words.append("=?UTF-8?B?" + Data(chunk).base64EncodedString() + "?=")
        return words
    }

    /// An address list header (`From`, `To`), folded before an address that would pass 76 characters.
    static func foldAddressList(name: String, _ addresses: [MailAddress]) -> String {
        var result = name + ":"
        var lineLength = result.utf8.count
        for (i, address) in addresses.enumerated() {
            let rendered = headerAddress(address) + (i < addresses.count - 1 ? "," : "")
            let firstLine = rendered.split(separator: "\r\n", omittingEmptySubsequences: false).first.map(String.init) ?? rendered
            if i > 0 && lineLength + 1 + firstLine.utf8.count > maxLineLength {
                result += "\r\n"
                lineLength = 0
            }
            result += " " + rendered
            let lastLine = rendered.split(separator: "\r\n", omittingEmptySubsequences: false).last.map(String.init) ?? rendered
            lineLength = (rendered.contains("\r\n") ? 0 : lineLength) + 1 + lastLine.utf8.count
        }
        return result
    }

    /// One address for a header: bare, `"Name" <addr>`, or `=?UTF-8?B?…?= <addr>` for a non-ASCII name.
    static func headerAddress(_ a: MailAddress) -> String {
        let address = sanitized(a.address)
        guard let name = a.name.map(sanitized), !name.isEmpty else { return address }
        if name.unicodeScalars.allSatisfy({ $0.value >= 32 && $0.value < 127 }) && !name.contains("=?") {
            let quoted = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(quoted)\" <\(address)>"
        }
        // Encoded-words may stand for a display name (RFC 2047 §5 (3)); keep each line short.
        return encodedWords(name, firstLineRoom: 40).joined(separator: "\r\n ") + " <\(address)>"
    }

    /// `value` with CR, LF and other control characters replaced by spaces: no header injection.
    static func sanitized(_ value: String) -> String {
        String(String.UnicodeScalarView(value.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? " " : $0 }))
    }

    /// An RFC 5322 date-time in UTC, e.g. `Tue, 05 Mar 2024 09:07:01 +0000`.
    static func rfc5322Date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int?) -> String {
            let v = n ?? 0
            return v < 10 ? "0\(v)" : "\(v)"
        }
        return "\(days[(c.weekday ?? 1) - 1]), \(two(c.day)) \(months[(c.month ?? 1) - 1]) \(c.year ?? 1970) "
            + "\(two(c.hour)):\(two(c.minute)):\(two(c.second)) +0000"
    }
}
