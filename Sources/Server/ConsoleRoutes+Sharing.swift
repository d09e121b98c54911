import Accounts
import Console
import DNSWire
import Foundation
import HTTPTypes
import Hummingbird
import MamoriCore
import RPZ

/// The console's sharing page: the peers Mamori pulls from and the files imported, and every
/// indicator held from them (filtered by a substring and a source), with a pull-now button for
/// operators who may write shared indicators (the same pull as `mamori share pull`).
extension ConsoleRoutes {
    static let sharingPageLimit = 2000

    func sharingPage(_ request: Request, flash: String?, status: HTTPResponse.Status = .ok) -> Response {
        let filter = request.uri.queryParameters["q"].map { String($0.prefix(254)).lowercased() }.flatMap { $0.isEmpty ? nil : $0 }
        let source = request.uri.queryParameters["source"].map { String($0.prefix(80)) }.flatMap { $0.isEmpty ? nil : $0 }
        guard let sharing else {
            return html(
                status,
                page(
                    "sharing", "sharing", SharingView(sources: [], indicators: [], total: 0, filter: nil, source: nil, mayPull: false),
                    request, flash: flash))
        }
        var sources = sharing.status().map {
            SharingView.Source(
                name: SharingService.source($0.peer), peer: $0.peer, indicators: $0.indicators, lastPull: $0.lastPull,
                bookmark: $0.bookmark,
                lastError: $0.lastError)
        }
        sources += sharing.otherSources().map {
            // A MISP feed is pulled by its name, like a TAXII peer; a file is not pulled.
            SharingView.Source(
                name: $0.source, peer: $0.source.hasPrefix("misp:") ? String($0.source.dropFirst(5)) : nil, indicators: $0.indicators,
                lastPull: $0.lastRead, bookmark: nil, lastError: $0.lastError)
        }
        let matching = sharing.heldIndicators().filter { i in
            guard source.map({ $0 == i.source }) ?? true else { return false }
            guard let filter else { return true }
            return (i.name ?? "").lowercased().contains(filter) || i.addresses.contains { $0.contains(filter) }
                || i.names.contains { $0.contains(filter) }
        }
        let shown = matching.prefix(Self.sharingPageLimit).map { i in
            let sinkholed = i.names.contains { n in
                guard let sinkhole, let name = try? DNSName(n + ".") else { return false }
                return sinkhole.entry(.name(name))?.source == .indicator(feed: i.source)
            }
            return SharingView.Indicator(
                source: i.source, name: i.name, addresses: i.addresses, names: i.names, constraint: Self.constraint(i),
                confidence: i.confidence, tlp: i.tlp, validUntil: i.validUntil, modified: i.modified, sinkholed: sinkholed)
        }
        let view = SharingView(
            sources: sources, indicators: Array(shown), total: matching.count, filter: filter, source: source,
            mayPull: viewer(request).may(.manageSharing))
        return html(status, page("sharing", "sharing", view, request, flash: flash))
    }

    /// `tcp/443, 8443` — the ports and protocol an address indicator is narrowed to, or "any".
    static func constraint(_ i: SharingService.HeldIndicator) -> String {
        let proto = i.ipProtocol.map { [6: "tcp", 17: "udp", 1: "icmp", 132: "sctp"][$0] ?? "\($0)" }
        let ports = i.ports.map { $0.prefix(6).map(String.init).joined(separator: ", ") + ($0.count > 6 ? " …" : "") }
        switch (proto, ports) {
        case (nil, nil): return i.addresses.isEmpty ? "—" : "any"
        case (let p?, nil): return p
        case (nil, let ports?): return ports
        case (let p?, let ports?): return "\(p)/\(ports)"
        }
    }

    func pullSharingPeer(_ request: Request) async throws -> Response {
        let form: [String: String]
        switch try await self.form(request) {
        case .success(let f): form = f
        case .failure(let refused): return refused.response
        }
        guard let sharing, let peer = form["peer"],
            sharing.peers.contains(where: { $0.name == peer }) || sharing.mispFeeds.contains(where: { $0.name == peer })
        else {
            return message(request, .notFound, text("notFound", request), back: "/console/sharing")
        }
        let outcome = await sharing.pull(peer)
        if let error = outcome.error {
            return message(request, .badGateway, "\(peer): \(error)", back: "/console/sharing")
        }
        return sharingPage(request, flash: "\(text("pulled.flash", request)) \(outcome)")
    }
}
