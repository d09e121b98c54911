import Accounts
import Console
import Foundation
import HTTPTypes
import Hummingbird
import MamoriCore
import RPZ

/// The console's sinkhole page: the entries (filtered by a substring), the zones' serials, and
/// for analysts the add and remove forms, which go through `SinkholeService.change` as the API
/// and `mamori rpz` do (audited under the signed-in operator's name, then NOTIFY).
extension ConsoleRoutes {
    static let sinkholePageLimit = 2000

    func sinkholePage(_ request: Request, flash: String?, status: HTTPResponse.Status = .ok) -> Response {
        let filter = request.uri.queryParameters["q"].map { String($0.prefix(254)).lowercased() }.flatMap { $0.isEmpty ? nil : $0 }
        let view: SinkholeView
        if let sinkhole {
            let s = sinkhole.status
            let all = sinkhole.entries.map(SavedEntry.init)
            let matching = filter.map { f in all.filter { $0.trigger.contains(f) || $0.reason.lowercased().contains(f) } } ?? all
            view = SinkholeView(
                status: .init(
                    zone: s.zone, serial: s.serial, exemptionZone: s.exemptionZone, exemptionSerial: s.exemptionSerial,
                    exemptedSubscribers: s.exemptedSubscribers, exemptedPrefixes: s.exemptedPrefixes, entries: s.entries,
                    maximumEntries: s.maximumEntries),
                entries: matching.prefix(Self.sinkholePageLimit).map {
                    .init(
                        trigger: $0.trigger, action: $0.action, source: "\($0.source): \($0.sourceID)", reason: $0.reason,
                        addedAt: $0.addedAt,
                        expiresAt: $0.expiresAt)
                }, filter: filter, mayChange: viewer(request).may(.changeSinkhole))
        } else {
            view = SinkholeView(status: nil, entries: [], filter: nil, mayChange: false)
        }
        return html(status, page("sinkhole", "sinkhole", view, request, flash: flash))
    }

    func addSinkholeEntry(_ request: Request) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        guard let sinkhole else { return message(request, .notFound, text("sinkholeOff", request), back: "/console/sinkhole") }
        guard let trigger = form["trigger"].flatMap(SavedEntry.trigger) else {
            return message(request, .badRequest, "\(text("badRequest", request)): \(text("trigger", request))", back: "/console/sinkhole")
        }
        let reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 300, !reason.contains(where: \.isNewline) else {
            return message(request, .badRequest, "\(text("badRequest", request)): \(text("reason", request))", back: "/console/sinkhole")
        }
        let daysText = (form["days"] ?? "").trimmingCharacters(in: .whitespaces)
        guard let days = daysText.isEmpty ? sinkhole.settings.entryDays : Int(daysText), (0...3650).contains(days) else {
            return message(request, .badRequest, "\(text("badRequest", request)): \(text("entryDays", request))", back: "/console/sinkhole")
        }
        let action: SinkholeAction
        switch form["action"] ?? "sinkhole" {
        case "sinkhole": action = .sinkhole
        case "nxdomain": action = .nxdomain
        case "passthru": action = .passthru
        default:
            return message(
                request, .badRequest, "\(text("badRequest", request)): \(text("sinkholeAction", request))", back: "/console/sinkhole")
        }
        let analyst = RequestCredentials.current.operatorName
        let now = clock.milliseconds / 1000
        let entry = SinkholeEntry(
            trigger: trigger, action: action, source: .analyst(operator: analyst), reason: reason, addedAt: now,
            expiresAt: days == 0 ? nil : now + Int64(days) * 86_400, ttl: UInt32(sinkhole.settings.ttl))
        let change: SinkholeChange?
        do {
            change = try await sinkhole.change([.add(entry)], actor: "analyst:\(analyst)").first
        } catch {
            return message(request, .serviceUnavailable, "\(error)", back: "/console/sinkhole")
        }
        switch change {
        case .added, .replaced: return sinkholePage(request, flash: "entryAdded.flash")
        case .extended: return sinkholePage(request, flash: "entryRenewed.flash")
        case .refused(_, let why):
            return message(request, .unprocessableContent, "\(SavedEntry.text(trigger)): \(why)", back: "/console/sinkhole")
        default: return sinkholePage(request, flash: nil)
        }
    }

    func removeSinkholeEntry(_ request: Request) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        guard let sinkhole else { return message(request, .notFound, text("sinkholeOff", request), back: "/console/sinkhole") }
        guard let trigger = form["trigger"].flatMap(SavedEntry.trigger) else {
            return message(request, .badRequest, "\(text("badRequest", request)): \(text("trigger", request))", back: "/console/sinkhole")
        }
        let analyst = RequestCredentials.current.operatorName
        do {
            switch try await sinkhole.change([.remove(trigger)], actor: "analyst:\(analyst)").first {
            case .removed: return sinkholePage(request, flash: "entryRemoved.flash")
            default: return message(request, .notFound, text("notFound", request), back: "/console/sinkhole")
            }
        } catch {
            return message(request, .serviceUnavailable, "\(error)", back: "/console/sinkhole")
        }
    }
}
