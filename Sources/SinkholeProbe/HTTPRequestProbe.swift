import FlowCodec

/// An HTTP/1.x request head (RFC 9112), read leniently where clients differ (bare LF line ends,
/// runs of spaces or tabs, empty lines before the request line, a method in lower case,
/// whitespace before a header's colon) and strictly where the answer depends on it (one Host,
/// valid names, no control characters).
enum HTTPRequestProbe {
    /// The methods that make a connection HTTP: RFC 9110's, PATCH, WebDAV's and HTTP/2's preface.
    static let methods: Set<String> = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PRI", "PROPFIND", "PROPPATCH", "MKCOL", "COPY",
        "MOVE", "LOCK", "UNLOCK", "SEARCH", "REPORT",
    ]
    static let longestMethod = methods.map(\.count).max() ?? 0
    /// Empty lines skipped before the request line (RFC 9112 §2.2 asks for at least one).
    static let maximumLeadingEmptyLines = 8
    /// Header lines read before the request is malformed.
    static let maximumHeaders = 128

    enum Classification: Equatable {
        case http(start: Int)
        case notHTTP
        case undecided
    }

    /// Whether the bytes start like an HTTP request: a known method (any case), then a space, a tab or the line's end.
    static func classify(_ input: ProbeInput) -> Classification {
        let b = input.bytes
        var i = 0
        var skipped = 0
        while i < b.count, b[i] == cr || b[i] == lf {
            if b[i] == cr {
                guard i + 1 < b.count else { return .undecided }
                guard b[i + 1] == lf else { return .notHTTP }
                i += 1
            }
            i += 1
            skipped += 1
            if skipped > maximumLeadingEmptyLines { return .notHTTP }
        }
        var word: [UInt8] = []
        while i < b.count, word.count <= longestMethod {
            let c = b[i]
            if c == space || c == tab || c == cr || c == lf {
                // A known method alone on its line is HTTP too, with a malformed request line.
                return methods.contains(String(decoding: word, as: UTF8.self)) ? .http(start: i - word.count) : .notHTTP
            }
            guard isLetter(c) else { return .notHTTP }
            word.append(c & ~0x20)
            i += 1
        }
        guard word.count <= longestMethod else { return .notHTTP }
        let prefix = String(decoding: word, as: UTF8.self)
        return methods.contains { $0.hasPrefix(prefix) } ? .undecided : .notHTTP
    }

    /// The request head starting at `start` (the method).
    static func parse(_ input: ProbeInput, from start: Int) throws(ProbeStop) -> ProbedHTTPRequest {
        let b = input.bytes
        var lines = LineReader(bytes: b, position: start)
        let requestLine = try lines.next(input)
        let parts = split(b[requestLine])
        guard parts.count == 2 || parts.count == 3 else {
            throw .bad(.requestLine, "a request line of \(parts.count) parts (method, target and version expected)")
        }
        let method = String(decoding: b[parts[0]].map { $0 & ~0x20 }, as: UTF8.self)
        let target = b[parts[1]]
        var version: String?
        if parts.count == 3 {
            let v = b[parts[2]]
            guard v.count == 8, v.prefix(4).map({ $0 & ~0x20 }) == Array("HTTP".utf8), v[v.startIndex + 4] == UInt8(ascii: "/"),
                isDigit(v[v.startIndex + 5]),
                v[v.startIndex + 6] == UInt8(ascii: "."), isDigit(v[v.startIndex + 7])
            else { throw .bad(.requestLine, "the version is not HTTP/d.d") }
            version = "HTTP/" + String(decoding: v.suffix(3), as: UTF8.self)
        }
        var (authority, path) = try splitTarget(target, connect: method == "CONNECT")
        var hostHeader: ArraySlice<UInt8>?
        if version != nil {
            var count = 0
            var lastWasHost = false
            while true {
                let line = try lines.next(input)
                if line.isEmpty { break }
                count += 1
                guard count <= maximumHeaders else { throw .bad(.header, "more than \(maximumHeaders) header lines") }
                if b[line.lowerBound] == space || b[line.lowerBound] == tab {
                    // obs-fold (RFC 9112 §5.2): a continuation of the previous field, which is not read.
                    if lastWasHost { throw .bad(.host, "a folded Host header") }
                    continue
                }
                guard let colon = b[line].firstIndex(of: UInt8(ascii: ":")) else { throw .bad(.header, "a header line without a colon") }
                let name = trim(b[line.lowerBound..<colon])
                guard !name.isEmpty, name.allSatisfy(isTokenCharacter) else {
                    throw .bad(.header, "a header name with characters outside token")
                }
                lastWasHost = name.count == 4 && name.map({ $0 | 0x20 }) == Array("host".utf8)
                if lastWasHost {
                    guard hostHeader == nil else { throw .bad(.host, "more than one Host header") }
                    hostHeader = trim(b[(colon + 1)..<line.upperBound])
                }
            }
        }
        if authority == nil { authority = hostHeader }
        var host: String?
        var address: IPAddress?
        if let authority { (host, address) = try parseAuthority(authority) }
        var truncated = false
        if path.count > ProbedHTTPRequest.maximumPathLength {
            path = String(path.prefix(ProbedHTTPRequest.maximumPathLength))
            truncated = true
        }
        return ProbedHTTPRequest(
            method: method, host: host, hostAddress: address, path: path, pathTruncated: truncated, version: version)
    }

    /// A request target's authority (absolute form, or CONNECT's authority form) and the rest as
    /// the kept path; bytes above 0x7E percent-encoded, at most a little over the kept length.
    static func splitTarget(_ target: ArraySlice<UInt8>, connect: Bool) throws(ProbeStop) -> (ArraySlice<UInt8>?, String) {
        var rest = target
        var authority: ArraySlice<UInt8>?
        if connect {
            authority = target
            rest = []
        } else if let schemeEnd = absoluteFormPrefix(target) {
            let after = target[(target.startIndex + schemeEnd)...]
            let end = after.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? after.endIndex
            var a = after[..<end]
            if let at = a.lastIndex(of: UInt8(ascii: "@")) { a = a[(at + 1)...] }
            authority = a
            rest = after[end...]
        }
        var path = ""
        for byte in rest {
            if path.utf8.count > ProbedHTTPRequest.maximumPathLength { break }
            if byte > 0x7E {
                path += "%" + String(byte, radix: 16, uppercase: true)
            } else {
                path.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        if path.isEmpty { path = connect ? "" : "/" }
        return (authority, path)
    }

    /// The length of `http://` or `https://` (any case) at the start of `target`, if there.
    static func absoluteFormPrefix(_ target: ArraySlice<UInt8>) -> Int? {
        let lower = target.prefix(8).map { $0 | 0x20 }
        if lower.starts(with: Array("http://".utf8)) { return 7 }
        if lower.starts(with: Array("https://".utf8)) { return 8 }
        return nil
    }

    /// `host[:port]`, `[v6]`, `[v6]:port` or `v4[:port]` → the name or the address; both nil when empty.
    static func parseAuthority(_ a: ArraySlice<UInt8>) throws(ProbeStop) -> (String?, IPAddress?) {
        if a.isEmpty { return (nil, nil) }
        var hostPart = a
        var portPart: ArraySlice<UInt8> = []
        if a.first == UInt8(ascii: "[") {
            guard let close = a.firstIndex(of: UInt8(ascii: "]")) else { throw .bad(.host, "an IPv6 literal without its ]") }
            let inside = a[(a.startIndex + 1)..<close]
            guard inside.count <= 45, let v6 = IPAddress(String(decoding: inside, as: UTF8.self)), v6.isIPv6 else {
                throw .bad(.host, "a bracketed host that is not an IPv6 address")
            }
            let after = a[(close + 1)...]
            if !after.isEmpty {
                guard after.first == UInt8(ascii: ":") else { throw .bad(.host, "bytes after an IPv6 literal") }
                try checkPort(after.dropFirst())
            }
            return (nil, v6)
        }
        if let colon = a.firstIndex(of: UInt8(ascii: ":")) {
            hostPart = a[..<colon]
            portPart = a[(colon + 1)...]
            try checkPort(portPart)
        }
        guard !hostPart.isEmpty else { throw .bad(.host, "a port without a host") }
        if hostPart.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }), hostPart.count <= 15,
            let v4 = IPAddress(String(decoding: hostPart, as: UTF8.self))
        {
            return (nil, v4)
        }
        guard let name = HostName.normalise(hostPart) else { throw .bad(.host, "a host that is not a valid DNS name") }
        return (name, nil)
    }

    static func checkPort(_ p: ArraySlice<UInt8>) throws(ProbeStop) {
        guard p.count <= 5, p.allSatisfy(isDigit), Int(String(decoding: p, as: UTF8.self)).map({ $0 <= 65535 }) ?? p.isEmpty else {
            throw .bad(.host, "a port that is not a number up to 65535")
        }
    }

    /// The runs of non-blank bytes of a line.
    static func split(_ line: ArraySlice<UInt8>) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var i = line.startIndex
        while i < line.endIndex, parts.count <= 3 {
            while i < line.endIndex, line[i] == space || line[i] == tab { i += 1 }
            let s = i
            while i < line.endIndex, line[i] != space, line[i] != tab { i += 1 }
            if i > s { parts.append(s..<i) }
        }
        return parts
    }

    static func trim(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = s
        while let f = s.first, f == space || f == tab { s = s.dropFirst() }
        while let l = s.last, l == space || l == tab { s = s.dropLast() }
        return s
    }

    static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") }
    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// RFC 9110 §5.6.2 tchar.
    static func isTokenCharacter(_ c: UInt8) -> Bool {
        isLetter(c) || isDigit(c) || Array("!#$%&'*+-.^_`|~".utf8).contains(c)
    }
}

let cr = UInt8(ascii: "\r")
let lf = UInt8(ascii: "\n")
let space = UInt8(ascii: " ")
let tab = UInt8(ascii: "\t")

/// Lines of a request head: ended by LF or CRLF, with no other control characters (tab aside).
struct LineReader {
    let bytes: [UInt8]
    var position: Int

    /// The next line's range (without its end), or a stop when it has not ended yet or holds a control character.
    mutating func next(_ input: ProbeInput) throws(ProbeStop) -> Range<Int> {
        let start = position
        var i = position
        while i < bytes.count {
            let c = bytes[i]
            if c == lf {
                position = i + 1
                return start..<i
            }
            if c == cr {
                guard i + 1 < bytes.count else { break }
                guard bytes[i + 1] == lf else { throw .bad(.header, "a CR not followed by LF") }
                position = i + 2
                return start..<i
            }
            if (c < 0x20 && c != tab) || c == 0x7F {
                throw .bad(.header, "a control character (0x\(String(c, radix: 16))) in the request head")
            }
            i += 1
        }
        throw input.missing("the request head")
    }
}
