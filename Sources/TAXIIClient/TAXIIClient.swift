// TAXIIClient: Mamori's side of a sharing peer's TAXII 2.1 server (an ISAC's hub, another
// carrier): reads a collection page by page from a bookmark, and adds objects to it, through
// async-http-client. Objects stay opaque JSON here (what they mean is the STIX module's concern);
// every answer is bounded in size and time, and anything but the TAXII answer the specification
// describes is an error that says what came instead. An adapter: it may import AsyncHTTPClient,
// SwiftNIO's core and HTTP/1 modules, Logging and Foundation.

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Where a peer's collection is and how Mamori signs in to it.
public struct TAXIIPeer: Sendable, Hashable, CustomStringConvertible {
    /// How Mamori presents itself to the peer. Secrets never appear in descriptions.
    public enum Credentials: Sendable, Hashable {
        case none
        /// HTTP Basic (the account the peer gave the carrier).
        case basic(user: String, password: String)
        /// `Authorization: Bearer …`.
        case bearer(String)
    }

    /// A name for logs, metrics and the source of imported indicators (`isac`).
    public var name: String
    /// The API root's URL, ending in `/` (`https://hub.example/api1/`).
    public var apiRoot: String
    /// The collection's id (a UUID) or alias.
    public var collection: String
    public var credentials: Credentials
    /// No answer within this long ends a request (a peer that hangs does not hold the poll).
    public var timeout: Duration
    /// A page (or any answer) larger than this is refused.
    public var maximumAnswerBytes: Int

    public init(
        name: String, apiRoot: String, collection: String, credentials: Credentials = .none, timeout: Duration = .seconds(30),
        maximumAnswerBytes: Int = 32 << 20
    ) {
        self.name = name
        self.apiRoot = apiRoot.hasSuffix("/") ? apiRoot : apiRoot + "/"
        self.collection = collection
        self.credentials = credentials
        self.timeout = timeout
        self.maximumAnswerBytes = maximumAnswerBytes
    }

    public var description: String { "\(name) (\(apiRoot)collections/\(collection)/)" }
}

/// Why a request to a peer gave nothing usable.
public enum TAXIIClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No connection (refused, unresolvable, TLS failure) or no complete answer in time.
    case unreachable(peer: String, reason: String)
    /// The peer answered with an error status; `title` is its TAXII error's title, if any.
    case refused(peer: String, status: Int, title: String)
    /// The peer answered 200 with something that is not the TAXII resource asked for.
    case malformed(peer: String, reason: String)

    public var description: String {
        switch self {
        case .unreachable(let peer, let reason): "cannot reach \(peer): \(reason)"
        case .refused(let peer, let status, let title):
            "\(peer) answered \(status)\(title.isEmpty ? "" : ": \(title)")"
                + (status == 401 ? " (check the account or token configured for it)" : "")
                + (status == 403 ? " (the account may not read or write this collection)" : "")
        case .malformed(let peer, let reason): "\(peer) answered with something other than TAXII 2.1: \(reason)"
        }
    }
}

/// One page of a collection's objects.
public struct TAXIIPage: Sendable {
    /// The objects, each as its JSON text (UTF-8).
    public var objects: [Data]
    public var more: Bool
    public var next: String?
    /// `X-TAXII-Date-Added-First` / `-Last`: the server's dates of the first and last object.
    public var dateAddedFirst: String?
    public var dateAddedLast: String?
}

/// What a pull brought: the objects and the bookmark to ask from next time.
public struct TAXIIPull: Sendable {
    public var objects: [Data]
    /// The `X-TAXII-Date-Added-Last` of the last page: the next pull's `added_after`. Unchanged
    /// (the one given) when the collection had nothing new.
    public var bookmark: String?
    public var pages: Int
    /// True when the pull stopped at its page or object limit with more to read.
    public var truncated: Bool
}

/// The status of objects added to a collection (TAXII 2.1 §4.3.1).
public struct TAXIIPushStatus: Sendable, Hashable {
    public var id: String
    /// `pending` or `complete`.
    public var status: String
    public var total: Int
    public var successes: Int
    public var failures: Int
    public var pendings: Int
    /// Each failure's object id and message.
    public var failureMessages: [String]
}

/// A client of one peer's collection: ``withClient(_:_:)`` makes one, lends it, shuts it down.
public struct TAXIIClient: Sendable {
    public static let taxiiMediaType = "application/taxii+json;version=2.1"
    public let peer: TAXIIPeer
    private let http: HTTPClient

    /// Runs `body` with a client of `peer`, then shuts the client down (also when `body` throws).
    public static func withClient<T>(_ peer: TAXIIPeer, _ body: (TAXIIClient) async throws -> T) async throws -> T {
        try await withHTTPClient(timeout: peer.timeout) { try await body(TAXIIClient(peer: peer, http: $0)) }
    }

    /// Runs `body` with an HTTP client for one peer — connect and read timeouts from `timeout`, no
    /// redirects, no retried connections — and shuts it down afterwards (also when `body` throws).
    static func withHTTPClient<T>(timeout: Duration, _ body: (HTTPClient) async throws -> T) async throws -> T {
        let seconds = Int64(timeout.components.seconds)
        var configuration = HTTPClient.Configuration(
            timeout: .init(connect: .seconds(max(1, min(seconds, 10))), read: .seconds(max(1, seconds))))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let result: T
        do {
            result = try await body(http)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
        return result
    }

    // MARK: Reading

    /// One page of the collection's objects added after `addedAfter` (or the page `next` names).
    public func page(addedAfter: String?, next: String? = nil, limit: Int) async throws -> TAXIIPage {
        var query = ["limit=\(max(1, limit))"]
        if let addedAfter { query.append("added_after=\(Self.escape(addedAfter))") }
        if let next { query.append("next=\(Self.escape(next))") }
        let (headers, body) = try await send(.GET, "collections/\(Self.escape(peer.collection))/objects/?" + query.joined(separator: "&"))
        guard let envelope = body as? [String: Any] else { throw malformed("the objects resource is not a JSON object") }
        let objects: [Data]
        switch envelope["objects"] {
        case nil: objects = []
        case let list as [Any]:
            objects = try list.map { item in
                guard let object = item as? [String: Any], object["type"] is String, object["id"] is String else {
                    throw malformed("an object in the envelope has no type or id")
                }
                return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            }
        default: throw malformed("the envelope's objects is not a list")
        }
        let more: Bool
        switch envelope["more"] {
        case nil: more = false
        case let b as Bool: more = b
        default: throw malformed("the envelope's more is not true or false")
        }
        return TAXIIPage(
            objects: objects, more: more, next: envelope["next"] as? String,
            dateAddedFirst: headers.first(name: "X-TAXII-Date-Added-First"), dateAddedLast: headers.first(name: "X-TAXII-Date-Added-Last"))
    }

    /// Every object added after `bookmark`, page by page (`limit` a page), at most `maximumPages`
    /// pages and `maximumObjects` objects; the new bookmark is the last page's
    /// `X-TAXII-Date-Added-Last`. A server that says `more` without `next` is asked again from
    /// that date; one whose pages stop advancing ends the pull.
    public func pull(after bookmark: String?, limit: Int = 1000, maximumPages: Int = 1000, maximumObjects: Int = 1_000_000)
        async throws -> TAXIIPull
    {
        var result = TAXIIPull(objects: [], bookmark: bookmark, pages: 0, truncated: false)
        var next: String?
        var after = bookmark
        while result.pages < maximumPages {
            let page = try await self.page(addedAfter: after, next: next, limit: limit)
            result.pages += 1
            result.objects += page.objects.prefix(maximumObjects - result.objects.count)
            if let last = page.dateAddedLast { result.bookmark = last }
            guard page.more, !page.objects.isEmpty else { return result }
            guard result.objects.count < maximumObjects else {
                result.truncated = true
                return result
            }
            if let n = page.next {
                next = n
            } else {
                guard let last = page.dateAddedLast, last != after else { return result }
                next = nil
                after = last
            }
        }
        result.truncated = true
        return result
    }

    // MARK: Writing

    /// Adds `objects` (each a STIX object's JSON) to the collection in one envelope; returns the
    /// peer's status resource for them.
    public func add(_ objects: [Data]) async throws -> TAXIIPushStatus {
        let list = try objects.map { try JSONSerialization.jsonObject(with: $0) }
        let body = try JSONSerialization.data(withJSONObject: ["objects": list], options: [.sortedKeys])
        let (_, answer) = try await send(.POST, "collections/\(Self.escape(peer.collection))/objects/", body: body)
        return try status(answer)
    }

    /// The status resource `id` (after ``add(_:)`` answered `pending`).
    public func status(id: String) async throws -> TAXIIPushStatus {
        try status(try await send(.GET, "status/\(Self.escape(id))/").1)
    }

    // MARK: -

    private func status(_ answer: Any) throws -> TAXIIPushStatus {
        guard let s = answer as? [String: Any], let id = s["id"] as? String, let state = s["status"] as? String else {
            throw malformed("the status resource has no id or status")
        }
        func count(_ key: String, _ list: String) -> Int { (s[key + "_count"] as? Int) ?? (s[list] as? [Any])?.count ?? 0 }
        let failures = (s["failures"] as? [[String: Any]] ?? []).map { f in
            "\(f["id"] as? String ?? "?"): \(f["message"] as? String ?? "")"
        }
        return TAXIIPushStatus(
            id: id, status: state, total: (s["total_count"] as? Int) ?? 0, successes: count("success", "successes"),
            failures: count("failure", "failures"), pendings: count("pending", "pendings"), failureMessages: failures)
    }

    private func malformed(_ reason: String) -> TAXIIClientError { .malformed(peer: peer.name, reason: reason) }

    /// Sends a request to `path` under the API root and returns the headers and the JSON body of
    /// a 200/202 answer in the TAXII media type; anything else throws.
    private func send(_ method: HTTPMethod, _ path: String, body: Data? = nil) async throws -> (HTTPHeaders, Any) {
        var request = HTTPClientRequest(url: peer.apiRoot + path)
        request.method = method
        request.headers.add(name: "Accept", value: Self.taxiiMediaType)
        switch peer.credentials {
        case .none: break
        case .basic(let user, let password):
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())
        case .bearer(let token): request.headers.add(name: "Authorization", value: "Bearer " + token)
        }
        if let body {
            request.headers.add(name: "Content-Type", value: Self.taxiiMediaType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let deadline = NIODeadline.now() + .seconds(Int64(peer.timeout.components.seconds) + 1)
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, deadline: deadline)
            bytes = try await response.body.collect(upTo: peer.maximumAnswerBytes)
        } catch let error as NIOTooManyBytesError {
            _ = error
            throw malformed("the answer is larger than \(peer.maximumAnswerBytes) bytes")
        } catch {
            throw TAXIIClientError.unreachable(peer: peer.name, reason: Self.reason(error))
        }
        let json = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))
        guard response.status == .ok || response.status == .accepted else {
            let title = ((json as? [String: Any])?["title"] as? String).map { String($0.prefix(200)) } ?? ""
            throw TAXIIClientError.refused(peer: peer.name, status: Int(response.status.code), title: title)
        }
        let type = response.headers.first(name: "Content-Type")?.lowercased().replacingOccurrences(of: " ", with: "") ?? ""
        guard type.hasPrefix("application/taxii+json") else {
            throw malformed("the answer is \(type.isEmpty ? "without a content type" : type), not \(Self.taxiiMediaType)")
        }
        guard let json else { throw malformed("the answer is not JSON") }
        return (response.headers, json)
    }

    static func escape(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~:")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    static func reason(_ error: any Error) -> String {
        if let e = error as? HTTPClientError {
            if e == .deadlineExceeded || e == .readTimeout { return "no answer in time" }
            if e == .connectTimeout { return "connection timed out" }
            return "\(e)"
        }
        if let e = error as? IOError { return e.description }
        return "\(error)"
    }
}
