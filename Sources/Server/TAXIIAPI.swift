import Accounts
import Foundation
import HTTPTypes
import Hummingbird
import MamoriCore
import NIOCore
import TAXII

/// The TAXII 2.1 server's routes (`sharing.taxii`; see `docs/taxii.md`), every one registered
/// with ``Access/sharing``: a peer authenticated by token, session or HTTP Basic whose role or
/// token grants `read_shared` or `write_shared`; each collection's `read` and `write` lists are
/// checked here.
///
/// - `GET /taxii2/`: discovery. `GET /{root}/`: the API root.
/// - `GET /{root}/collections/`: the collections the caller may read or write (others are hidden).
/// - `GET /{root}/collections/{id}/`: one (404 when the caller may neither read nor write it).
/// - `GET|POST /{root}/collections/{id}/objects/`; `GET|DELETE …/objects/{object-id}/`;
///   `GET …/objects/{object-id}/versions/`; `GET …/manifest/`.
/// - `GET /{root}/status/{status-id}/`: the status of an envelope the caller posted.
///
/// Every answer, refusals included, is `application/taxii+json;version=2.1`; a request whose
/// `Accept` does not allow it gets 406, a POST of another `Content-Type` 415.
struct TAXIIAPI: Sendable {
    let service: TAXIIService
    /// Whether the listener is reached over HTTPS (the scheme of the discovery's API root URLs).
    let secure: Bool

    var settings: TAXIISettings { service.settings }

    func register(on routes: Routes) {
        let root = "/" + settings.apiRoot
        let refuser: Routes.Refuser = { _, refusal in
            service.countError(Int(refusal.status.code))
            return Self.taxii(
                refusal.status.code,
                TAXIIErrorBody(
                    title: refusal.status.reasonPhrase, description: refusal.message, errorCode: refusal.csrf ? "csrf" : nil,
                    httpStatus: String(refusal.status.code)), headers: refusal.headers)
        }
        func get(_ path: String, _ handler: @escaping @Sendable (Request, MamoriRequestContext) async throws -> Response) {
            routes.add(.get, path, .sharing, refuser: refuser) { request, context in
                try await negotiate(request) { try await handler(request, context) }
            }
        }
        get("/taxii2/") { request, _ in discovery(request) }
        get(root + "/") { _, _ in
            Self.taxii(
                200, TAXIIAPIRoot(title: settings.title, description: settings.description, maxContentLength: settings.maxContentLength))
        }
        get(root + "/collections/") { _, _ in collections() }
        get(root + "/collections/:collection/") { _, context in
            let a = try collectionAccess(context, read: false, write: false)
            return Self.taxii(200, resource(a.collection, a.principal))
        }
        get(root + "/collections/:collection/objects/") { request, context in try objects(request, context) }
        routes.add(.post, root + "/collections/:collection/objects/", .sharing, refuser: refuser) { request, context in
            try await negotiate(request) { try await addObjects(request, context) }
        }
        get(root + "/collections/:collection/objects/:object/") { request, context in try object(request, context) }
        routes.add(.delete, root + "/collections/:collection/objects/:object/", .sharing, refuser: refuser) { request, context in
            try await negotiate(request) { try deleteObject(request, context) }
        }
        get(root + "/collections/:collection/objects/:object/versions/") { request, context in try versions(request, context) }
        get(root + "/collections/:collection/manifest/") { request, context in try manifest(request, context) }
        get(root + "/status/:status/") { _, context in try status(context) }
    }

    // MARK: - Answers

    /// A TAXII answer: the value as JSON with the TAXII media type.
    static func taxii(_ status: Int, _ value: some Encodable, headers: HTTPFields = [:]) -> Response {
        raw(status, TAXIIJSON.encode(value), headers: headers)
    }

    static func raw(_ status: Int, _ body: Data, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = TAXIIMediaType.taxii
        return Response(status: HTTPResponse.Status(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    func error(_ e: TAXIIError) -> Response {
        service.countError(e.code.httpStatus)
        return Self.taxii(e.code.httpStatus, e.body)
    }

    /// Runs `handler` unless the request's `Accept` refuses TAXII's media type (406) or a body
    /// of another type is posted (415); a ``TAXIIError`` thrown becomes its error body.
    func negotiate(_ request: Request, _ handler: () async throws -> Response) async throws -> Response {
        guard TAXIIMediaType.acceptsTAXII(request.headers[.accept]) else {
            return error(TAXIIError(.notAcceptable, "this server answers \(TAXIIMediaType.taxii) only (Accept)"))
        }
        if request.method == .post, !TAXIIMediaType.isTAXII(contentType: request.headers[.contentType]) {
            return error(TAXIIError(.unsupportedMediaType, "post an envelope as \(TAXIIMediaType.taxii) (Content-Type)"))
        }
        do {
            return try await handler()
        } catch let e as TAXIIError {
            return error(e)
        }
    }

    // MARK: - Discovery, API root, collections

    func discovery(_ request: Request) -> Response {
        let host = request.head.authority ?? "localhost"
        let url = "\(secure ? "https" : "http")://\(host)/\(settings.apiRoot)/"
        return Self.taxii(
            200,
            TAXIIDiscovery(
                title: settings.title, description: settings.description, contact: settings.contact, default: url, apiRoots: [url]))
    }

    func resource(_ c: TAXIISettings.Collection, _ p: Principal) -> TAXIICollectionResource {
        TAXIICollectionResource(
            id: c.id, title: c.title, description: c.description, alias: c.alias, canRead: c.mayRead(p), canWrite: c.mayWrite(p))
    }

    func collections() -> Response {
        guard let p = RequestCredentials.current.principal else { return error(TAXIIError(.unauthorized, "no credentials")) }
        let visible = settings.collections.filter { $0.mayRead(p) || $0.mayWrite(p) }.map { resource($0, p) }
        return Self.taxii(200, TAXIICollections(collections: visible))
    }

    struct Access {
        var collection: TAXIISettings.Collection
        var principal: Principal
    }

    /// The collection of the path, if the caller may see it (else 404, as TAXII asks for a
    /// collection one has no access to) and may read or write it as asked (else 403).
    func collectionAccess(_ context: MamoriRequestContext, read: Bool, write: Bool) throws(TAXIIError) -> Access {
        guard let p = RequestCredentials.current.principal else { throw TAXIIError(.unauthorized, "no credentials") }
        let id = context.parameters.get("collection") ?? ""
        guard let c = settings.collections.first(where: { $0.id == id.lowercased() }), c.mayRead(p) || c.mayWrite(p) else {
            throw TAXIIError(.notFound, "no collection \(id.prefix(64)) on this API root that you may use")
        }
        if read, !c.mayRead(p) { throw TAXIIError(.forbidden, "\(p.name) may not read collection \(c.id)") }
        if write, !c.mayWrite(p) { throw TAXIIError(.forbidden, "\(p.name) may not write to collection \(c.id)") }
        return Access(collection: c, principal: p)
    }

    /// The query string's parameters, percent-decoded (keys too: clients send `match%5Btype%5D`).
    static func parameters(_ request: Request) throws(TAXIIError) -> [(String, String)] { try parameters(query: request.uri.query) }

    static func parameters(query: String?) throws(TAXIIError) -> [(String, String)] {
        guard let query, !query.isEmpty else { return [] }
        guard query.utf8.count <= 32 * 1024 else { throw TAXIIError(.badRequest, "the query string is too long") }
        var out: [(String, String)] = []
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = String(kv[0]).removingPercentEncoding,
                let value = (kv.count > 1 ? String(kv[1]) : "").removingPercentEncoding
            else { throw TAXIIError(.badRequest, "the query string is not percent-encoded UTF-8") }
            out.append((key, value))
        }
        return out
    }

    static func pageHeaders(_ page: TAXIICollectionIndex.Page) -> HTTPFields {
        var h: HTTPFields = [:]
        if let first = page.dateAddedFirst, let last = page.dateAddedLast {
            h[.taxiiDateAddedFirst] = first.microsecondDescription
            h[.taxiiDateAddedLast] = last.microsecondDescription
        }
        return h
    }

    // MARK: - Objects

    func objects(_ request: Request, _ context: MamoriRequestContext) throws(TAXIIError) -> Response {
        let a = try collectionAccess(context, read: true, write: false)
        let query = try TAXIIQuery.parse(Self.parameters(request))
        let page = service.select(query, collection: a.collection)
        service.served(page.versions.count, collection: a.collection)
        return Self.raw(
            200, TAXIIEnvelope.encode(more: page.more, next: page.next, objects: page.versions.map(\.json)), headers: Self.pageHeaders(page)
        )
    }

    func object(_ request: Request, _ context: MamoriRequestContext) throws(TAXIIError) -> Response {
        let a = try collectionAccess(context, read: true, write: false)
        let id = try objectID(context)
        let query = try TAXIIQuery.parse(Self.parameters(request), allowed: [.addedAfter, .limit, .next, .version, .specVersion])
        let page = service.select(query, collection: a.collection, objectID: id)
        guard !page.versions.isEmpty else { throw TAXIIError(.notFound, "no object \(id) matches in this collection") }
        service.served(page.versions.count, collection: a.collection)
        return Self.raw(
            200, TAXIIEnvelope.encode(more: page.more, next: page.next, objects: page.versions.map(\.json)), headers: Self.pageHeaders(page)
        )
    }

    func versions(_ request: Request, _ context: MamoriRequestContext) throws(TAXIIError) -> Response {
        let a = try collectionAccess(context, read: true, write: false)
        let id = try objectID(context)
        let query = try TAXIIQuery.parse(Self.parameters(request), allowed: [.addedAfter, .limit, .next, .specVersion])
        let page = service.select(query, collection: a.collection, objectID: id, defaultVersions: [.all])
        guard !page.versions.isEmpty else { throw TAXIIError(.notFound, "no object \(id) matches in this collection") }
        return Self.taxii(
            200, TAXIIVersions(more: page.more, next: page.next, versions: page.versions.map(\.version.description)),
            headers: Self.pageHeaders(page))
    }

    func manifest(_ request: Request, _ context: MamoriRequestContext) throws(TAXIIError) -> Response {
        let a = try collectionAccess(context, read: true, write: false)
        let query = try TAXIIQuery.parse(Self.parameters(request))
        let page = service.select(query, collection: a.collection)
        return Self.taxii(
            200, TAXIIManifest(more: page.more, next: page.next, objects: page.versions.map(\.manifestRecord)),
            headers: Self.pageHeaders(page))
    }

    func objectID(_ context: MamoriRequestContext) throws(TAXIIError) -> String {
        let id = context.parameters.get("object") ?? ""
        guard TAXIICandidate.isObjectID(id) else { throw TAXIIError(.badRequest, "'\(id.prefix(80))' is not an object id (type--uuid)") }
        return id
    }

    func addObjects(_ request: Request, _ context: MamoriRequestContext) async throws -> Response {
        let a = try collectionAccess(context, read: false, write: true)
        guard try Self.parameters(request).isEmpty else { throw TAXIIError(.badRequest, "adding objects takes no query parameters") }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: settings.maxContentLength)
        } catch {
            throw TAXIIError(.tooLarge, "the envelope is larger than max_content_length (\(settings.maxContentLength) bytes)")
        }
        let candidates = try TAXIIEnvelope.parse(
            Data(body.readableBytesView),
            limits: .init(
                maximumBytes: settings.maxContentLength, maximumObjects: settings.maxObjectsPerRequest,
                maximumObjectBytes: settings.maxObjectBytes))
        let status = try service.add(candidates, to: a.collection, owner: a.principal.name, now: service.clock.milliseconds)
        return Self.taxii(202, status)
    }

    func deleteObject(_ request: Request, _ context: MamoriRequestContext) throws(TAXIIError) -> Response {
        let a = try collectionAccess(context, read: false, write: true)
        let id = try objectID(context)
        let query = try TAXIIQuery.parse(Self.parameters(request), allowed: [.version, .specVersion])
        guard query.versions.isEmpty || query.versions == [.all], query.specVersions.isEmpty || query.specVersions == ["2.1"] else {
            throw TAXIIError(.badRequest, "this server deletes an object whole: no match[version] but all")
        }
        try service.delete(objectID: id, collection: a.collection)
        return Response(status: .ok, headers: [.contentType: TAXIIMediaType.taxii])
    }

    func status(_ context: MamoriRequestContext) throws(TAXIIError) -> Response {
        guard let p = RequestCredentials.current.principal else { throw TAXIIError(.unauthorized, "no credentials") }
        let id = context.parameters.get("status") ?? ""
        guard id.utf8.count <= 64, let status = try service.status(id: id, owner: p.name) else {
            throw TAXIIError(.notFound, "no status \(id.prefix(64)) of yours")
        }
        return Self.taxii(200, status)
    }
}

extension HTTPField.Name {
    static let taxiiDateAddedFirst = Self("X-TAXII-Date-Added-First")!
    static let taxiiDateAddedLast = Self("X-TAXII-Date-Added-Last")!
}
