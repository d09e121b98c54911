import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import MamoriCore
import Metrics
import NIOCore
import STIX

/// Sharing over HTTP (`mamori share` speaks it).
///
/// - `GET /api/v1/sharing/peers` (`read_shared`): each peer's bookmark, indicators held, last pull
///   and last error.
/// - `POST /api/v1/sharing/peers/{name}/pull` (`write_shared`): pull that peer now; the outcome.
/// - `POST /api/v1/sharing/peers/{name}/push[?from_start=true]` (`write_shared`): send a push
///   peer what it has not taken of the export collection (all of it with `from_start`).
/// - `POST /api/v1/sharing/import?source=NAME` (`write_shared`): a STIX 2.1 bundle (at most
///   64 MiB) as the indicators of source `file:NAME`, replacing what that source held before it.
/// - `GET /api/v1/sharing/export?since=…&tlp=…` (`read_shared`): the STIX 2.1 bundle of the C&C
///   findings analysts confirmed since then (as the TAXII collection gets them), through the
///   sharing guard; `tlp` lowers or raises the marking (never above `sharing.export`'s guard).
struct SharingAPI: Sendable, JSONAPI {
    let sharing: SharingService
    let exporter: IndicatorExporter?
    let detection: DetectionService
    let clock: any WallClock
    let invalidRequests: Counter

    func register(on routes: Routes) {
        routes.get("/api/v1/sharing/peers", .permission(.readFindings)) { _, _ in peers() }
        routes.post("/api/v1/sharing/peers/:name/pull", .permission(.manageSharing)) { _, context in
            await pull(context.parameters.get("name") ?? "")
        }
        routes.post("/api/v1/sharing/peers/:name/push", .permission(.manageSharing)) { request, context in
            await push(context.parameters.get("name") ?? "", request)
        }
        routes.get("/api/v1/sharing/export", .permission(.readFindings)) { request, _ in try await export(request) }
        routes.post("/api/v1/sharing/import", .permission(.manageSharing)) { request, _ in try await importBundle(request) }
    }

    struct PeerView: Encodable {
        /// `taxii` or `misp`.
        var kind = "taxii"
        var name: String
        var apiRoot: String
        var collection: String
        var pullMinutes: Int
        var bookmark: String?
        var indicators: Int
        var lastPull: String?
        var lastError: String?
        var pull: Bool
        var push: Bool
        /// The `date_added` of the last object of the export collection the peer took.
        var pushedUpTo: String?
        var lastPushError: String?
    }

    func peers() -> Response {
        let status = sharing.status()
        let pushes = exporter?.pushStatus() ?? []
        let others = sharing.otherSources()
        return json(
            .ok,
            sharing.peers.map { p in
                let s = status.first { $0.peer == p.name }
                let pushed = pushes.first { $0.peer == p.name }
                return PeerView(
                    name: p.name, apiRoot: p.apiRoot, collection: p.collection, pullMinutes: p.pullMinutes, bookmark: s?.bookmark,
                    indicators: s?.indicators ?? 0, lastPull: s?.lastPull.map(MitigationService.iso), lastError: s?.lastError,
                    pull: p.pull, push: p.push, pushedUpTo: pushed?.bookmark.map { MitigationService.iso($0 / 1000) },
                    lastPushError: pushed?.lastError)
            }
                + sharing.mispFeeds.map { f in
                    let s = others.first { $0.source == "misp:" + f.name }
                    return PeerView(
                        kind: "misp", name: f.name, apiRoot: f.url, collection: "", pullMinutes: f.pullMinutes, bookmark: nil,
                        indicators: s?.indicators ?? 0, lastPull: s?.lastRead.map(MitigationService.iso), lastError: s?.lastError,
                        pull: true,
                        push: false, pushedUpTo: nil, lastPushError: nil)
                })
    }

    struct PullView: Encodable {
        var peer: String
        var objects: Int
        var imported: Int
        var revoked: Int
        var held: Int
        var skipped: [String: Int]
        var error: String?
    }

    func pull(_ name: String) async -> Response {
        guard sharing.peers.contains(where: { $0.name == name }) || sharing.mispFeeds.contains(where: { $0.name == name }) else {
            return json(.notFound, error: "no sharing peer or MISP feed named \(name)")
        }
        let o = await sharing.pull(name)
        let view = PullView(
            peer: o.peer, objects: o.objects, imported: o.imported, revoked: o.revoked, held: o.held, skipped: o.skipped, error: o.error)
        return json(o.error == nil ? .ok : .badGateway, view)
    }

    struct PushView: Encodable {
        var peer: String
        var sent: Int
        var refusedByPeer: Int
        var pushedUpTo: String?
        var error: String?
    }

    func push(_ name: String, _ request: Request) async -> Response {
        guard let exporter else { return json(.notFound, error: "nothing is exported on this server (no sharing.export section)") }
        guard let peer = exporter.pushPeers.first(where: { $0.name == name }) else {
            return json(.notFound, error: "no sharing peer named \(name) with push: true")
        }
        var fromStart = false
        if let text = request.uri.queryParameters["from_start"].map(String.init) {
            guard let b = Bool(text) else { return bad("from_start must be true or false") }
            fromStart = b
        }
        let o = await exporter.pushPending(to: peer, fromStart: fromStart)
        let view = PushView(
            peer: o.peer, sent: o.sent, refusedByPeer: o.refusedByPeer, pushedUpTo: o.bookmark.map { MitigationService.iso($0 / 1000) },
            error: o.error)
        return json(o.error == nil ? .ok : .badGateway, view)
    }

    func export(_ request: Request) async throws -> Response {
        guard let exporter else { return json(.notFound, error: "nothing is exported on this server (no sharing.export section)") }
        let q = request.uri.queryParameters
        let now = clock.milliseconds
        var since = now - 30 * 86_400_000
        if let text = q["since"].map(String.init) {
            guard let t = STIXTimestamp.parse(text) ?? Self.day(text) else {
                return bad("since must be an RFC 3339 time (2026-12-01T00:00:00Z) or a day (2026-12-01)")
            }
            since = t
        }
        var tlp: TLP?
        if let text = q["tlp"].map(String.init) {
            guard let t = TLP(label: text) else { return bad("tlp must be clear, green, amber, amber+strict or red") }
            tlp = t
        }
        var query = FindingQuery(kind: .commandAndControl, since: since)
        query.limit = 10_000
        let findings = try await detection.store.findings(matching: query)
        let confirmed = findings.filter { $0.verdict?.verdict == .truePositive }
        let indicators = confirmed.compactMap { f -> SharedIndicator? in
            var i = exporter.indicator(f, firstExported: f.verdict?.at ?? now, revoked: false, now: now)
            if let tlp { i?.tlp = tlp }
            return i
        }
        let bundle = exporter.bundle(indicators, now: now)
        var headers = HTTPFields()
        headers[.contentType] = "application/stix+json;version=2.1"
        headers[HTTPField.Name("X-Mamori-Refused")!] = String(bundle.report.refusedCount)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bundle.encoded(pretty: true) + [10])))
    }

    static let maximumImportBytes = 64 << 20

    func importBundle(_ request: Request) async throws -> Response {
        guard let name = request.uri.queryParameters["source"].map(String.init), !name.isEmpty else {
            return bad("name the source: ?source=NAME (a-z, 0-9, '-', '_')")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: Self.maximumImportBytes)
        } catch {
            return json(.contentTooLarge, error: "a bundle of at most \(Self.maximumImportBytes) bytes")
        }
        let o = await sharing.importBundle(Array(body.readableBytesView), name: name)
        let view = PullView(
            peer: o.peer, objects: o.objects, imported: o.imported, revoked: o.revoked, held: o.held, skipped: o.skipped, error: o.error)
        return json(o.error == nil ? .ok : .unprocessableContent, view)
    }

    /// An error answer: `{"error": message}`.
    private func json(_ status: HTTPResponse.Status, error message: String) -> Response { json(status, ["error": message]) }

    /// `2026-12-01`: midnight UTC of that day.
    static func day(_ text: String) -> Int64? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, text.count == 10 else { return nil }
        return STIXTimestamp.parse(String(format: "%04d-%02d-%02dT00:00:00Z", parts[0], parts[1], parts[2]))
    }
}
