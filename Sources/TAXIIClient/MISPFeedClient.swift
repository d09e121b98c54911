// MISPFeedClient: the files of a MISP feed served over HTTP(S) (`manifest.json` and one
// `<uuid>.json` per event, as MISP's feed export and PyMISP's feed generator write them), fetched
// with async-http-client. The bytes stay opaque here (STIX's MISPFeed reads them); every answer is
// bounded in size and time, and a status other than 200 is an error that says what came instead.

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Where a MISP feed is and how Mamori presents itself to it.
public struct MISPFeedPeer: Sendable, Hashable, CustomStringConvertible {
    /// A name for logs and metrics (`circl-osint`).
    public var name: String
    /// The feed's base URL, ending with `/` (`https://www.circl.lu/doc/misp/feed-osint/`).
    public var url: String
    /// Sent as `Authorization: <token>` when set (a MISP instance's own feeds ask for an auth key).
    public var authorization: String?
    public var timeout: Duration
    /// Bytes of one file (the manifest or an event).
    public var maximumFileBytes: Int

    public init(
        name: String, url: String, authorization: String? = nil, timeout: Duration = .seconds(30), maximumFileBytes: Int = 32 << 20
    ) {
        self.name = name
        self.url = url.hasSuffix("/") ? url : url + "/"
        self.authorization = authorization
        self.timeout = timeout
        self.maximumFileBytes = maximumFileBytes
    }

    public var description: String { "\(name) (\(url))" }
}

/// Fetches a MISP feed's files; see ``MISPFeedPeer``.
public struct MISPFeedClient: Sendable {
    public let feed: MISPFeedPeer
    private let http: HTTPClient

    /// Runs `body` with a client of `feed`, then shuts the client down (also when `body` throws).
    public static func withClient<T>(_ feed: MISPFeedPeer, _ body: (MISPFeedClient) async throws -> T) async throws -> T {
        try await TAXIIClient.withHTTPClient(timeout: feed.timeout) { try await body(MISPFeedClient(feed: feed, http: $0)) }
    }

    /// The feed's `manifest.json`.
    public func manifest() async throws -> [UInt8] { try await file("manifest.json") }

    /// One event's file, by its UUID (checked: 8-4-4-4-12 hexadecimal digits, so it cannot name
    /// another path).
    public func event(_ uuid: String) async throws -> [UInt8] {
        let parts = uuid.split(separator: "-", omittingEmptySubsequences: false).map(\.count)
        guard parts == [8, 4, 4, 4, 12], uuid.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw TAXIIClientError.malformed(peer: feed.name, reason: "the manifest names an event that is not a UUID")
        }
        return try await file(uuid.lowercased() + ".json")
    }

    /// GET `name` under the feed's URL: the body of a 200 answer, at most `maximumFileBytes`.
    func file(_ name: String) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: feed.url + name)
        request.headers.add(name: "Accept", value: "application/json")
        if let authorization = feed.authorization { request.headers.add(name: "Authorization", value: authorization) }
        let deadline = NIODeadline.now() + .seconds(Int64(feed.timeout.components.seconds) + 1)
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, deadline: deadline)
            bytes = try await response.body.collect(upTo: feed.maximumFileBytes)
        } catch is NIOTooManyBytesError {
            throw TAXIIClientError.malformed(peer: feed.name, reason: "\(name) is larger than \(feed.maximumFileBytes) bytes")
        } catch {
            throw TAXIIClientError.unreachable(peer: feed.name, reason: TAXIIClient.reason(error))
        }
        guard response.status == .ok else {
            throw TAXIIClientError.refused(peer: feed.name, status: Int(response.status.code), title: name)
        }
        return Array(bytes.readableBytesView)
    }
}
