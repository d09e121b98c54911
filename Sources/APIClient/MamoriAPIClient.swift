// APIClient: requests to a running `mamori serve`'s HTTP API (attribution, consent import) over
// plain HTTP/1.1, through async-http-client. It may import AsyncHTTPClient, SwiftNIO's core,
// POSIX and HTTP/1 modules, MamoriCore (for SocketEndpoint) and Foundation; it knows the paths
// its callers ask for, not what the answers mean. Every client is shut down when the work given
// to it is done. Used by the `mamori whois`, `mamori consent import` and (with --server)
// `mamori user` and `mamori token` commands, which present an operator's machine token (APIToken)
// as `Authorization: Bearer …`.

import AsyncHTTPClient
import Foundation
import MamoriCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// A client of one `mamori serve`: ``withClient(server:_:)`` makes one, lends it, shuts it down.
public struct MamoriAPIClient: Sendable {
    /// Where the server's HTTP API listens.
    public let server: SocketEndpoint
    private let http: HTTPClient
    /// Sent with every request when given; never printed.
    private let token: APIToken?

    /// No answer to a request for this long ends it: a batch of 10,000 attributions takes the
    /// server a few seconds, not minutes.
    public static let readTimeout: TimeAmount = .seconds(120)
    /// Answers are read up to this size.
    public static let maximumBodyBytes = 16 << 20

    /// An answer: the status code and the body (UTF-8).
    public struct Response: Sendable {
        public var status: Int
        public var body: String

        /// The body when the status is 200; else ``MamoriAPIClient/Failure/status(_:message:)``.
        public func ok() throws -> String {
            guard status == 200 else { throw Failure.status(status, message: body.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return body
        }
    }

    /// Why a request got no usable answer.
    public enum Failure: Error, CustomStringConvertible, Sendable {
        /// No connection to the server (refused, unresolvable, timed out).
        case unreachable(server: SocketEndpoint, reason: String)
        /// Connected, but no complete HTTP answer came.
        case noAnswer(server: SocketEndpoint, reason: String)
        /// The server answered with another status than 200; its message (the body) is kept.
        case status(Int, message: String)
        /// 401: the server wants an operator's credentials — none were sent, or the token is
        /// unknown, revoked or expired. `message` is the server's reason.
        case unauthenticated(message: String)
        /// 403: the credentials do not allow the request (a token's scope). `message` is the
        /// server's reason.
        case forbidden(message: String)

        public var description: String {
            switch self {
            case .unreachable(let server, let reason): "cannot reach mamori serve at \(server) (\(reason)); is it running?"
            case .noAnswer(let server, let reason): "no HTTP answer from \(server) (\(reason))"
            case .status(let status, let message): "the server answered \(status): \(message)"
            case .unauthenticated(let message): "the server wants an operator token (401: \(message))"
            case .forbidden(let message): "the server refused the request (403: \(message))"
            }
        }
    }

    /// Runs `body` with a client of the server at `server` that presents `token` (when given) as
    /// `Authorization: Bearer …` with every request, then shuts the client down (also when `body`
    /// throws). An answer of 401 or 403 fails the request
    /// (``Failure/unauthenticated(message:)``, ``Failure/forbidden(message:)``).
    public static func withClient<T>(
        server: SocketEndpoint, token: APIToken? = nil, _ body: (MamoriAPIClient) async throws -> T
    ) async throws -> T {
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: readTimeout))
        // A refused connection fails the request at once instead of being retried with backoff.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .http1Only
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let client = MamoriAPIClient(server: server, http: http, token: token)
        let result: T
        do {
            result = try await body(client)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
        return result
    }

    /// `GET path` (path and query, e.g. `/api/v1/attribution?addr=…`).
    public func get(_ path: String) async throws -> Response {
        try await send(HTTPClientRequest(url: url(path)))
    }

    /// `POST path` with `body` of `contentType`.
    public func post(_ path: String, body: [UInt8], contentType: String = "application/json") async throws -> Response {
        var request = HTTPClientRequest(url: url(path))
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(body)
        return try await send(request)
    }

    /// `POST path` with the file at `file` as the body, read and sent 1 MiB at a time (a report
    /// of a million rows is never held whole), its length declared.
    public func post(_ path: String, file: String, contentType: String) async throws -> Response {
        guard let handle = FileHandle(forReadingAtPath: file) else { throw Failure.status(0, message: "cannot read \(file)") }
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        let reader = ChunkReader(handle)
        var request = HTTPClientRequest(url: url(path))
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .stream(AsyncThrowingStream(unfolding: { try reader.next() }), length: .known(Int64(size)))
        defer { try? handle.close() }
        return try await send(request)
    }

    /// A file's next chunk, for a streamed body (one reader at a time: the stream asks in turn).
    private final class ChunkReader: @unchecked Sendable {
        let handle: FileHandle
        init(_ handle: FileHandle) { self.handle = handle }
        func next() throws -> ByteBuffer? {
            guard let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else { return nil }
            return ByteBuffer(bytes: data)
        }
    }

    /// `DELETE path`.
    public func delete(_ path: String) async throws -> Response {
        var request = HTTPClientRequest(url: url(path))
        request.method = .DELETE
        return try await send(request)
    }

    private func url(_ path: String) -> String {
        let host = server.host.contains(":") ? "[\(server.host)]" : server.host
        return "http://\(host):\(server.port)\(path)"
    }

    private func send(_ request: HTTPClientRequest) async throws -> Response {
        var request = request
        if let token { request.headers.replaceOrAdd(name: "Authorization", value: token.authorization) }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, deadline: .distantFuture)
        } catch {
            throw Self.isConnectionFailure(error)
                ? Failure.unreachable(server: server, reason: Self.reason(error))
                : Failure.noAnswer(server: server, reason: Self.reason(error))
        }
        let bytes: ByteBuffer
        do { bytes = try await response.body.collect(upTo: Self.maximumBodyBytes) } catch {
            throw Failure.noAnswer(server: server, reason: Self.reason(error))
        }
        let status = Int(response.status.code)
        let body = String(buffer: bytes)
        switch status {
        case 401: throw Failure.unauthenticated(message: Self.refusal(body))
        case 403: throw Failure.forbidden(message: Self.refusal(body))
        default: return Response(status: status, body: body)
        }
    }

    /// The reason in a refusal's body — its `error` field when it is the API's `{"error": "…"}` —
    /// as one line of at most 300 printable characters (a hostile server cannot move the cursor).
    public static func refusal(_ body: String) -> String {
        var text = body.trimmingCharacters(in: .whitespacesAndNewlines)
        if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], let error = object["error"] as? String {
            text = error
        }
        let clean = String(
            String.UnicodeScalarView(text.unicodeScalars.prefix(300).map { $0.properties.generalCategory == .control ? " " : $0 }))
        return clean.isEmpty ? "no reason given" : clean
    }

    /// Whether `error` says no connection was made.
    private static func isConnectionFailure(_ error: any Error) -> Bool {
        if error is NIOConnectionError { return true }
        if let e = error as? HTTPClientError, e == .connectTimeout { return true }
        if let e = error as? IOError, [ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, ETIMEDOUT].contains(e.errnoCode) { return true }
        return false
    }

    /// A short reason for a person: "Connection refused" rather than SwiftNIO's full error value.
    static func reason(_ error: any Error) -> String {
        switch error {
        case let e as NIOConnectionError:
            if let dns = e.dnsAError ?? e.dnsAAAAError { return "cannot resolve \(e.host): \(reason(dns))" }
            var reasons: [String] = []
            for failure in e.connectionErrors where !reasons.contains(reason(failure.error)) { reasons.append(reason(failure.error)) }
            return reasons.isEmpty ? "\(e)" : reasons.joined(separator: ", ")
        case let e as IOError:
            return String(cString: strerror(e.errnoCode))
        case let e as HTTPClientError where e == .connectTimeout:
            return "no connection within 10 s"
        case let e as HTTPClientError where e == .readTimeout:
            return "no answer within \(readTimeout.nanoseconds / 1_000_000_000) s"
        case let e as HTTPClientError where e == .remoteConnectionClosed:
            return "the server closed the connection"
        default:
            return "\(error)"
        }
    }
}
