import FlowCodec

/// The application protocol a connection spoke, as far as the sinkhole could tell.
public enum SinkholeProtocol: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// An HTTP/1.x (or 0.9) request.
    case http
    /// A TLS handshake (a ClientHello).
    case tls
    /// Bytes that are neither.
    case unknown
    /// The client sent nothing before it closed or the sinkhole stopped waiting.
    case noneSent = "none-sent"

    public var description: String { rawValue }
}

/// What a connection's first bytes ask for.
public enum SinkholeProbeResult: Sendable, Hashable {
    /// A complete HTTP request head (request line and headers, up to the empty line).
    case http(ProbedHTTPRequest)
    /// A complete ClientHello.
    case tls(ProbedClientHello)
    /// Neither an HTTP request nor a TLS handshake.
    case unknownProtocol
    /// More bytes are needed; the protocol if the bytes so far already tell it.
    case incomplete(SinkholeProtocol?)
    /// The protocol was recognised (``SinkholeProtocol/http`` or ``SinkholeProtocol/tls``), but
    /// the bytes break its rules, are too many, or name no valid host.
    case malformed(SinkholeProtocol, SinkholeProbeError)

    /// The protocol the bytes were recognised as, if any.
    public var recognisedProtocol: SinkholeProtocol? {
        switch self {
        case .http: .http
        case .tls: .tls
        case .unknownProtocol: .unknown
        case .incomplete(let p): p
        case .malformed(let p, _): p
        }
    }

    /// The host name asked for: the HTTP Host (or absolute target's host) or the TLS server name.
    public var name: String? {
        switch self {
        case .http(let r): r.host
        case .tls(let h): h.serverName
        default: nil
        }
    }
}

/// An HTTP request's head as the sinkhole keeps it: method, host and a bounded path.
public struct ProbedHTTPRequest: Sendable, Hashable {
    /// The method, upper-cased (`GET`, `POST` …; only known methods are recognised as HTTP).
    public var method: String
    /// The host name asked for: the absolute-form target's host if there is one (RFC 9112
    /// §3.2.2), else the Host header's, without its port; nil when absent, empty or an address.
    public var host: String?
    /// The address when the host is an IP literal (`Host: 192.0.2.1`, `Host: [2001:db8::1]:80`).
    public var hostAddress: IPAddress?
    /// The request target without an absolute form's scheme and authority, at most
    /// ``ProbedHTTPRequest/maximumPathLength`` characters; bytes above 0x7E are percent-encoded.
    public var path: String
    /// Whether ``path`` was cut short.
    public var pathTruncated: Bool
    /// `HTTP/1.1`, `HTTP/1.0` … as sent (upper-cased); nil for an HTTP/0.9 request line.
    public var version: String?

    /// The most characters of the target kept in ``path``.
    public static let maximumPathLength = 256

    public init(
        method: String, host: String?, hostAddress: IPAddress? = nil, path: String, pathTruncated: Bool = false,
        version: String? = "HTTP/1.1"
    ) {
        self.method = method
        self.host = host
        self.hostAddress = hostAddress
        self.path = path
        self.pathTruncated = pathTruncated
        self.version = version
    }
}

/// A ClientHello as the sinkhole keeps it.
public struct ProbedClientHello: Sendable, Hashable {
    /// The `host_name` of the server_name extension (RFC 6066 §3); nil when the client sent none.
    public var serverName: String?
    /// The ClientHello's `legacy_version` (0x0303 for TLS 1.2 and 1.3 clients).
    public var legacyVersion: UInt16

    public init(serverName: String?, legacyVersion: UInt16 = 0x0303) {
        self.serverName = serverName
        self.legacyVersion = legacyVersion
    }
}
