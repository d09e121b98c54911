import FlowCodec

/// A host and port as written in configuration and on the command line: `0.0.0.0:2055`,
/// `[::]:4739`, `127.0.0.1:8080`, or `:2055` (all IPv4 addresses).
public struct SocketEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` or `[IPV6]:PORT`; throws a message suitable for the user.
    public init(parsing text: String) throws(EndpointParseError) {
        let t = text.trimmingCharacters(in: " \t")
        var host: Substring
        var portText: Substring
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else { throw EndpointParseError("'\(text)': missing ']' after IPv6 address") }
            host = t[t.index(after: t.startIndex)..<close]
            let rest = t[t.index(after: close)...]
            guard rest.hasPrefix(":") else { throw EndpointParseError("'\(text)': expected ':PORT' after ']'") }
            portText = rest.dropFirst()
            guard IPAddress(host)?.isIPv6 == true else { throw EndpointParseError("'\(text)': '\(host)' is not an IPv6 address") }
        } else {
            guard let colon = t.lastIndex(of: ":") else {
                throw EndpointParseError("'\(text)': expected HOST:PORT, e.g. 0.0.0.0:2055 or [::]:2055")
            }
            host = t[..<colon]
            portText = t[t.index(after: colon)...]
            if host.contains(":") { throw EndpointParseError("'\(text)': put IPv6 addresses in brackets, e.g. [::1]:2055") }
            if host.isEmpty { host = "0.0.0.0" }
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw EndpointParseError("'\(text)': port '\(portText)' is not a number from 0 to 65535")
        }
        self.host = String(host)
        self.port = port
    }

    public var isIPv6: Bool { host.contains(":") }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A malformed `HOST:PORT`.
public struct EndpointParseError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> Substring {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return s
    }
}
