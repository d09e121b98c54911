import Foundation
import MamoriCore

/// An Internet message or one of its MIME parts (RFC 5322 headers, RFC 2045–2047 MIME): the
/// headers, unfolded, the body with its transfer encoding undone, and the parts of a multipart
/// body, parsed in turn.
///
/// Written here because none of the Swift packages available reads e-mail: multipart-kit reads
/// HTTP `multipart/form-data`, not folded RFC 5322 headers, nested `multipart/report`,
/// `message/rfc822` or quoted-printable. Lenient where mail in the wild is (bare LF line ends, a
/// missing closing delimiter, an mbox `From ` line on top), bounded everywhere else.
public struct MIMEEntity: Sendable {
    public struct Header: Sendable, Hashable {
        public var name: String
        public var value: String
    }

    public struct Limits: Sendable {
        /// Parts in the whole message, at every depth.
        public var maxParts = 256
        /// Multipart nesting.
        public var maxDepth = 8
        /// Header fields in one header block.
        public var maxHeaders = 1000
        public init() {}
    }

    public var headers: [Header]
    /// The body, with base64 or quoted-printable undone. For a multipart entity, the raw body.
    public var body: [UInt8]
    /// The parts of a `multipart/*` body, in order.
    public var parts: [MIMEEntity]

    /// The first header of that name (case-insensitive), unfolded.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// `type/subtype`, lowercased (`text/plain` when absent, as RFC 2045 §5.2 says).
    public var contentType: String { Self.parameters(header("Content-Type") ?? "text/plain").value.lowercased() }

    /// A parameter of the Content-Type (`boundary`, `report-type`, `name`).
    public func contentTypeParameter(_ name: String) -> String? {
        Self.parameters(header("Content-Type") ?? "").parameters[name.lowercased()]
    }

    /// The attachment's file name: Content-Disposition's `filename`, else Content-Type's `name`.
    public var fileName: String? {
        let name =
            header("Content-Disposition").flatMap { Self.parameters($0).parameters["filename"] }
            ?? contentTypeParameter("name")
        return name.map { String($0.split(separator: "/").last ?? "") }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// This entity and every part below it, depth first.
    public var allParts: [MIMEEntity] { [self] + parts.flatMap(\.allParts) }

    /// Reads a message. Throws only when nothing of it can be read (no header block); what is
    /// merely malformed inside is read as well as it can be.
    public static func parse(_ bytes: [UInt8], limits: Limits = Limits()) throws(ReportError) -> MIMEEntity {
        var partCount = 0
        return try parse(bytes[...], depth: 0, limits: limits, partCount: &partCount)
    }

    private static func parse(
        _ bytes: ArraySlice<UInt8>, depth: Int, limits: Limits, partCount: inout Int
    ) throws(ReportError) -> MIMEEntity {
        let (headers, bodyStart) = try headerBlock(bytes, limits: limits)
        var entity = MIMEEntity(headers: headers, body: [], parts: [])
        let body = bytes[bodyStart...]
        let type = entity.contentType
        if type.hasPrefix("multipart/"), let boundary = entity.contentTypeParameter("boundary"), !boundary.isEmpty {
            guard depth < limits.maxDepth else { throw ReportError("the message nests multiparts deeper than \(limits.maxDepth)") }
            entity.body = Array(body)
            for part in split(body, boundary: Array(("--" + boundary).utf8)) {
                partCount += 1
                guard partCount <= limits.maxParts else { throw ReportError("the message has more than \(limits.maxParts) parts") }
                entity.parts.append(try parse(part, depth: depth + 1, limits: limits, partCount: &partCount))
            }
        } else {
            switch entity.header("Content-Transfer-Encoding")?.trimmedSpaces.lowercased() {
            case "base64": entity.body = Data(base64Encoded: Data(body), options: .ignoreUnknownCharacters).map { Array($0) } ?? []
            case "quoted-printable": entity.body = quotedPrintable(body)
            default: entity.body = Array(body)
            }
        }
        return entity
    }

    /// The header fields and where the body starts. Continuation lines (starting with a space or
    /// tab) are joined to the field before; a leading mbox `From ` line is skipped; a line with no
    /// colon ends nothing and is dropped.
    static func headerBlock(_ bytes: ArraySlice<UInt8>, limits: Limits) throws(ReportError) -> ([Header], Int) {
        var headers: [Header] = []
        var index = bytes.startIndex
        var first = true
        while index < bytes.endIndex {
            let lineEnd = bytes[index...].firstIndex(of: 0x0A) ?? bytes.endIndex
            var line = bytes[index..<lineEnd]
            if line.last == 0x0D { line = line.dropLast() }
            let next = lineEnd < bytes.endIndex ? lineEnd + 1 : lineEnd
            defer { first = false }
            if line.isEmpty { return (headers, next) }
            if first, line.starts(with: Array("From ".utf8)) {
                index = next
                continue
            }
            if line.first == 0x20 || line.first == 0x09 {
                if !headers.isEmpty { headers[headers.count - 1].value += " " + text(line).trimmedSpaces }
            } else if let colon = line.firstIndex(of: 0x3A) {
                guard headers.count < limits.maxHeaders else { throw ReportError("more than \(limits.maxHeaders) header fields") }
                headers.append(Header(name: text(line[..<colon]).trimmedSpaces, value: text(line[(colon + 1)...]).trimmedSpaces))
            }
            index = next
        }
        // No blank line: all headers, no body (a part that is only headers).
        return (headers, bytes.endIndex)
    }

    /// The parts between `--boundary` lines, without the line break before each delimiter
    /// (RFC 2046 §5.1.1); preamble and epilogue dropped. A missing closing delimiter ends the
    /// last part at the end of the body.
    static func split(_ body: ArraySlice<UInt8>, boundary: [UInt8]) -> [ArraySlice<UInt8>] {
        var parts: [ArraySlice<UInt8>] = []
        var partStart: Int?
        var index = body.startIndex
        while index < body.endIndex {
            let lineEnd = body[index...].firstIndex(of: 0x0A) ?? body.endIndex
            var line = body[index..<lineEnd]
            if line.last == 0x0D { line = line.dropLast() }
            if line.starts(with: boundary) {
                let rest = line.dropFirst(boundary.count)
                let closing = rest.starts(with: [0x2D, 0x2D])
                if closing || rest.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                    if let start = partStart {
                        var end = index
                        if end > start, body[end - 1] == 0x0A { end -= 1 }
                        if end > start, body[end - 1] == 0x0D { end -= 1 }
                        parts.append(body[start..<max(start, end)])
                    }
                    if closing { return parts }
                    partStart = lineEnd < body.endIndex ? lineEnd + 1 : lineEnd
                }
            }
            index = lineEnd < body.endIndex ? lineEnd + 1 : lineEnd
        }
        if let start = partStart { parts.append(body[start...]) }
        return parts
    }

    /// RFC 2045 §6.7: `=XX` bytes and soft line breaks (`=` at a line's end); a malformed escape
    /// is kept as written.
    static func quotedPrintable(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        func hex(_ b: UInt8) -> UInt8? {
            switch b {
            case 0x30...0x39: b - 0x30
            case 0x41...0x46: b - 0x37
            case 0x61...0x66: b - 0x57
            default: nil
            }
        }
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == 0x3D {
                let a = i + 1 < bytes.endIndex ? bytes[i + 1] : nil
                let c = i + 2 < bytes.endIndex ? bytes[i + 2] : nil
                if a == 0x0A {
                    i += 2
                    continue
                }
                if a == 0x0D, c == 0x0A {
                    i += 3
                    continue
                }
                if let a, let c, let h = hex(a), let l = hex(c) {
                    out.append(h << 4 | l)
                    i += 3
                    continue
                }
            }
            out.append(b)
            i += 1
        }
        return out
    }

    /// A structured header's value and its parameters (`type/subtype; a=b; c="d e"`), names
    /// lowercased; RFC 2231 `name*=charset''percent-encoded` and `name*0=…` continuations joined.
    public static func parameters(_ header: String) -> (value: String, parameters: [String: String]) {
        var pieces: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for c in header {
            if escaped {
                current.append(c)
                escaped = false
            } else if quoted, c == "\\" {
                escaped = true
            } else if c == "\"" {
                quoted.toggle()
            } else if c == ";", !quoted {
                pieces.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        pieces.append(current)
        var parameters: [String: String] = [:]
        var continued: [String: [(Int, String)]] = [:]
        for piece in pieces.dropFirst() {
            guard let eq = piece.firstIndex(of: "=") else { continue }
            var name = String(piece[..<eq]).trimmedSpaces.lowercased()
            var value = String(piece[piece.index(after: eq)...]).trimmedSpaces
            let extended = name.hasSuffix("*")
            if extended {
                name.removeLast()
                // charset'language'value: the charset is assumed UTF-8 (or ASCII, a subset).
                let quoteParts = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
                if quoteParts.count == 3 { value = String(quoteParts[2]) }
                value = percentDecoded(value)
            }
            if let star = name.lastIndex(of: "*"), let n = Int(name[name.index(after: star)...]) {
                continued[String(name[..<star]), default: []].append((n, value))
            } else if parameters[name] == nil || extended {
                parameters[name] = value
            }
        }
        for (name, segments) in continued where parameters[name] == nil {
            parameters[name] = segments.sorted { $0.0 < $1.0 }.map(\.1).joined()
        }
        return (pieces.first.map { $0.trimmedSpaces } ?? "", parameters)
    }

    private static func percentDecoded(_ text: String) -> String {
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let b = utf8.first {
            utf8 = utf8.dropFirst()
            if b == 0x25, utf8.count >= 2, let v = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }
}
