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
