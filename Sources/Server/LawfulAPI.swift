import Accounts
import Foundation
import Hummingbird
import Lawful
import MamoriCore
import Metrics
import NIOCore
import Storage

/// The consent registry over HTTP. Every change is recorded in the audit log.
///
/// - `GET /api/v1/consent/{subscriber}`: the state now (or `?at=TIME`), the full history, and
///   whether a contact is on file (never the address itself).
/// - `POST /api/v1/consent/{subscriber}/events` with `{"kind", "action", "terms_version", "at",
///   "method", "recorded_by"}`: one change (opt-out by phone, consent on the notice page …).
/// - `POST /api/v1/consent/import?source=NAME` with the customer export as the body (CSV, see
///   docs/lawful-action.md): what was imported and which lines were refused and why.
struct LawfulAPI: Sendable, JSONAPI {
    let lawful: LawfulService
    let invalidRequests: Counter
    let clock: any WallClock

    func register(on routes: Routes) {
        // A subscriber's consent history names how to reach them: analysts only.
        routes.get("/api/v1/consent/:subscriber", .permission(.changeConsent)) { request, context in try self.show(request, context) }
        routes.post("/api/v1/consent/:subscriber/events", .permission(.changeConsent)) { request, context in
            try await self.record(request, context)
        }
        routes.post("/api/v1/consent/import", .permission(.changeConsent)) { request, _ in try await self.importCustomers(request) }
    }

    struct EventBody: Codable {
        var kind: String
        var action: String?
        var termsVersion: String?
        var at: String?
        var method: String
        var recordedBy: String
        enum CodingKeys: String, CodingKey {
            case kind, action, at, method
            case termsVersion = "terms_version"
            case recordedBy = "recorded_by"
        }
    }

    func show(_ request: Request, _ context: MamoriRequestContext) throws -> Response {
        guard let subscriber = context.parameters.get("subscriber"), subscriber.hasPrefix("s:") else {
            return bad("the subscriber is a pseudonym such as s:0123456789abcdef")
        }
        var at = clock.milliseconds
        if let t = request.uri.queryParameters["at"] {
            guard let ms = FindingsAPI.time(String(t)) else {
                return bad("at must be a time from 1970 to 2100: milliseconds since the epoch or RFC 3339")
            }
            at = ms
        }
        let history = try lawful.consent.history(of: subscriber)
        let state = ConsentState(events: history, at: at)
        let contact = try lawful.consent.contact(of: subscriber)
        struct Mark: Encodable {
            var at: Int64
            var method: String
        }
        struct Body: Encodable {
            var subscriber: String
            var at: Int64
            var terms: [String: String]?
            var consents: [String: Mark]
            var optOuts: [String: Mark]
            var withdrawals: [String: Mark]
            var hasEmail: Bool
            var language: String?
            var history: [EventBody]
            enum CodingKeys: String, CodingKey {
                case subscriber, at, terms, consents, withdrawals, language, history
                case optOuts = "opt_outs"
                case hasEmail = "has_email"
            }
        }
        func marks(_ d: [LawfulAction: ConsentState.Mark]) -> [String: Mark] {
            Dictionary(uniqueKeysWithValues: d.map { ($0.key.rawValue, Mark(at: $0.value.at, method: $0.value.method)) })
        }
        let body = Body(
            subscriber: subscriber, at: at,
            terms: state.terms.map { ["version": $0.version, "accepted_at": String($0.mark.at)] },
            consents: marks(state.consents), optOuts: marks(state.optOuts), withdrawals: marks(state.withdrawals),
            hasEmail: contact?.email != nil, language: contact?.language,
            history: history.map {
                EventBody(
                    kind: $0.kind.rawValue, action: $0.action?.rawValue, termsVersion: $0.termsVersion, at: String($0.at),
                    method: $0.method, recordedBy: $0.recordedBy)
            })
        return json(.ok, body)
    }

    func record(_ request: Request, _ context: MamoriRequestContext) async throws -> Response {
        guard let subscriber = context.parameters.get("subscriber"), subscriber.hasPrefix("s:") else {
            return bad("the subscriber is a pseudonym such as s:0123456789abcdef")
        }
        let bytes = try await request.body.collect(upTo: 64 * 1024)
        let body: EventBody
        do {
            body = try JSONDecoder().decode(EventBody.self, from: Data(bytes.readableBytesView))
        } catch {
            return bad(
                "the body must be JSON {\"kind\": \"opted_out\", \"action\": \"sinkhole_dns\", \"method\": \"call centre\", \"recorded_by\": \"agent-12\"} (kind: \(ConsentEvent.Kind.allCases.map(\.rawValue).joined(separator: ", ")))"
            )
        }
        guard let kind = ConsentEvent.Kind(rawValue: body.kind) else {
            return bad("kind must be one of \(ConsentEvent.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var action: LawfulAction?
        if let a = body.action {
            guard let parsed = LawfulAction(rawValue: a) else {
                return bad(
                    "action must be one of \(LawfulAction.allCases.filter(\.concernsSubscriber).map(\.rawValue).joined(separator: ", "))")
            }
            action = parsed
        }
        let now = clock.milliseconds
        var at = now
        if let t = body.at {
            guard let ms = FindingsAPI.time(t) else {
                return bad("at must be a time from 1970 to 2100: milliseconds since the epoch or RFC 3339")
            }
            at = ms
        }
        guard !body.method.allSatisfy(\.isWhitespace), !body.recordedBy.allSatisfy(\.isWhitespace) else {
            return bad("method (how the subscriber said it) and recorded_by (who records it) are required")
        }
        let event = ConsentEvent(
            subscriber: subscriber, kind: kind, action: action, termsVersion: body.termsVersion, at: at, method: body.method,
            recordedBy: body.recordedBy)
        if let problem = event.problem { return bad(problem) }
        do {
            try lawful.recordConsent([event], actor: "operator:\(RequestCredentials.current.operatorName)", at: now)
        } catch let error as LawfulRequestError {
            return bad(error.description)
        } catch {
            return notStored(error)
        }
        return json(.created, ["recorded": "\(kind.rawValue)", "subscriber": subscriber])
    }

    func importCustomers(_ request: Request) async throws -> Response {
        let bytes = try await request.body.collect(upTo: 256 * 1024 * 1024)
        guard let text = String(validating: bytes.readableBytesView, as: UTF8.self) else {
            return bad("the customer export must be UTF-8 text")
        }
        let source = request.uri.queryParameters["source"].map(String.init) ?? "api import"
        do {
            let summary = try lawful.importCustomers(
                text, source: "import:\(source)", actor: "operator:\(RequestCredentials.current.operatorName)", at: clock.milliseconds)
            return json(.ok, summary)
        } catch let error as LawfulRequestError {
            return bad("the customer export cannot be read: \(error.description)")
        } catch {
            return notStored(error)
        }
    }

    /// 503: the audit log or the registry could not be written; nothing was recorded (the caller may retry).
    func notStored(_ error: any Error) -> Response {
        json(.serviceUnavailable, ["error": "not recorded: storage cannot be written (\(StorageErrorText.of(error))); try again later"])
    }

}
