/// A server to connect to: `nats://host:port`, `host:port` or `host` (port 4222).
public struct NATSServerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int = 4222) {
        self.host = host
        self.port = port
    }

    /// Parses `nats://host[:port]`, `host[:port]` or `[v6]:port`. No user info, path or other scheme.
    public init(parsing text: String) throws(NATSWireError) {
        var rest = Substring(text)
        if rest.hasPrefix("nats://") { rest = rest.dropFirst(7) }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@"), !rest.contains("://") else {
            throw NATSWireError(.invalidURL, "\(text.debugDescription) is not nats://host[:port]")
        }
        var host = rest
        var port = 4222
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw NATSWireError(.invalidURL, "\(text.debugDescription): no ']'") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else {
                    throw NATSWireError(.invalidURL, "\(text.debugDescription): a bad port")
                }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let p = Int(rest[rest.index(after: colon)...]) else {
                throw NATSWireError(.invalidURL, "\(text.debugDescription): a bad port")
            }
            port = p
        }
        guard !host.isEmpty, (1...65_535).contains(port) else {
            throw NATSWireError(.invalidURL, "\(text.debugDescription): no host or a bad port")
        }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "nats://[\(host)]:\(port)" : "nats://\(host):\(port)" }
}
