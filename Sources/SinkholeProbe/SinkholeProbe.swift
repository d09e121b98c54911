import FlowCodec

/// Reads the first bytes a client sends to the sinkhole and says what it asked for: the Host of
/// an HTTP/1.x request, or the server name (SNI) of a TLS ClientHello.
///
/// Pure and strictly bounded: at most ``defaultMaximumBytes`` (or the `maximumBytes` given) are
/// examined, every length is checked against what is there before it is used, and no input
/// traps. Names come back lower-cased, without a trailing dot, and valid as DNS names (at most
/// 253 characters, labels of 1–63 letters, digits, `-` or `_`); a Host or SNI that is not is
/// ``SinkholeProbeResult/malformed(_:_:)``.
///
/// ```swift
/// switch SinkholeProbe.examine(bytesSoFar) {
/// case .http(let request): print(request.host ?? "-")        // "c2.example.test"
/// case .tls(let hello): print(hello.serverName ?? "-")
/// case .incomplete: readMore()
/// case .unknownProtocol, .malformed: close()
/// }
/// ```
public enum SinkholeProbe {
    /// Bytes examined unless told otherwise: 16 KiB, room for any ClientHello browsers send
    /// today (a post-quantum key share makes one about 1.8 KiB) and for a request's headers.
    public static let defaultMaximumBytes = 16384

    /// What `bytes` (everything the client has sent so far) ask for.
    ///
    /// - Parameters:
    ///   - bytes: the connection's first bytes, in order. Bytes past `maximumBytes` are not looked at.
    ///   - maximumBytes: the most bytes examined (at least 64). A request or ClientHello that does
    ///     not end within them is ``SinkholeProbeError/Code/tooLarge``; until that many have
    ///     arrived, one that has not ended yet is ``SinkholeProbeResult/incomplete(_:)``.
    public static func examine(_ bytes: some Collection<UInt8>, maximumBytes: Int = defaultMaximumBytes) -> SinkholeProbeResult {
        let limit = max(64, maximumBytes)
        let examined = Array(bytes.prefix(limit))
        let input = ProbeInput(bytes: examined, limit: limit)
        if examined.isEmpty { return .incomplete(nil) }
        if examined[0] == 0x16 {
            if examined.count == 1 { return .incomplete(nil) }
            if examined[1] == 0x03 {
                return run(.tls) { () throws(ProbeStop) in try ClientHelloProbe.parse(input) }.map(SinkholeProbeResult.tls)
            }
            return .unknownProtocol
        }
        switch HTTPRequestProbe.classify(input) {
        case .notHTTP: return .unknownProtocol
        case .undecided: return .incomplete(nil)
        case .http(let start):
            return run(.http) { () throws(ProbeStop) in try HTTPRequestProbe.parse(input, from: start) }.map(SinkholeProbeResult.http)
        }
    }

    private enum Run<T> {
        case value(T)
        case other(SinkholeProbeResult)

        func map(_ f: (T) -> SinkholeProbeResult) -> SinkholeProbeResult {
            switch self {
            case .value(let v): f(v)
            case .other(let r): r
            }
        }
    }

    private static func run<T>(_ kind: SinkholeProtocol, _ body: () throws(ProbeStop) -> T) -> Run<T> {
        do {
            return .value(try body())
        } catch {
            switch error {
            case .incomplete: return .other(.incomplete(kind))
            case .malformed(let e): return .other(.malformed(kind, e))
            }
        }
    }
}

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

/// The examined bytes, and whether they fill the cap (so that "more is needed" means "too large").
struct ProbeInput {
    var bytes: [UInt8]
    /// The most bytes examined.
    var limit: Int

    /// Whether the bytes fill the limit, so that no more will be looked at.
    var atLimit: Bool { bytes.count >= limit }

    /// What to say when `needed` bytes are needed but fewer are there.
    func missing(_ what: String) -> ProbeStop {
        atLimit ? .malformed(SinkholeProbeError(.tooLarge, "\(what) does not end within the first \(bytes.count) bytes")) : .incomplete
    }
}

/// Why parsing stopped short of a value: more bytes are needed, or the bytes are bad.
enum ProbeStop: Error {
    case incomplete
    case malformed(SinkholeProbeError)

    static func bad(_ code: SinkholeProbeError.Code, _ reason: String) -> ProbeStop { .malformed(SinkholeProbeError(code, reason)) }
}
