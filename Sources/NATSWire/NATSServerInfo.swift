/// The INFO a server sends when a client connects (and again when the cluster changes): who it
/// is, what it allows. Only the fields the client uses; the server sends more.
public struct NATSServerInfo: Codable, Hashable, Sendable {
    public var serverID: String
    public var serverName: String?
    public var version: String
    public var proto: Int?
    public var host: String?
    public var port: Int?
    /// Whether the server understands HPUB/HMSG.
    public var headers: Bool?
    /// The largest payload the server accepts in one message, in bytes.
    public var maxPayload: Int
    public var jetStream: Bool?
    public var authRequired: Bool?
    public var tlsRequired: Bool?
    /// Other servers of the cluster a client may reconnect to (`host:port`).
    public var connectURLs: [String]?
    public var cluster: String?
    /// Set on the INFO a server sends when it goes into lame duck mode (shutting down).
    public var lameDuckMode: Bool?

    public init(serverID: String, serverName: String? = nil, version: String, maxPayload: Int, headers: Bool? = true) {
        self.serverID = serverID
        self.serverName = serverName
        self.version = version
        self.maxPayload = maxPayload
        self.headers = headers
    }

    enum CodingKeys: String, CodingKey {
        case serverID = "server_id"
        case serverName = "server_name"
        case version, proto, host, port, headers
        case maxPayload = "max_payload"
        case jetStream = "jetstream"
        case authRequired = "auth_required"
        case tlsRequired = "tls_required"
        case connectURLs = "connect_urls"
        case cluster
        case lameDuckMode = "ldm"
    }
}
