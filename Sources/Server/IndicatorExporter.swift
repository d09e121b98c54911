import Detection
import FlowCodec
import Foundation
import Logging
import MamoriCore
import Metrics
import Mitigation
import NIOConcurrencyHelpers
import STIX
import ServiceLifecycle
import TAXII
import TAXIIClient

/// What Mamori shares of its own findings (`sharing.export`): the collection of its TAXII server
/// it publishes to, as whom, under which TLP, and for how long an indicator holds.
public struct SharingExportSettings: Sendable, Equatable {
    /// The collection's id or alias in `sharing.taxii.collections`.
    public var collection: String
    /// The carrier's name as peers know it (the STIX `identity`).
    public var organisation: String
    public var tlp: String = "amber"
    /// `valid_until` = the confirmation + this many days.
    public var validDays = 30
    /// Whether a confirmed inbound reflection flood also shares its abused reflectors (the
    /// external sources that answered from a well-known amplification port).
    public var reflectors = false

    public init(collection: String, organisation: String) {
        self.collection = collection
        self.organisation = organisation
    }
}

/// Analysts' verdicts on C&C findings into the carrier's TAXII collection: a confirmed C&C
/// endpoint becomes a STIX indicator (with infrastructure, malware when the family is known,
/// relationships and a sighting of counts and times), a false positive on one already shared
/// publishes it again revoked. Everything goes through the one ``SharingGuard`` before it is
/// published: an object holding a subscriber-side address, a CGNAT port, a pseudonym, an e-mail
/// address or an account is refused and counted, and so is whatever refers to it.
///
/// Object ids are deterministic (the STIX module's UUIDv5s), so sharing the same endpoint again is
/// a new version, not a duplicate; when each endpoint was first shared is kept in
/// `<data_directory>/sharing/exported.json` (endpoints only), which gives every version its `created`.
///
/// Peers with `push: true` get the collection's objects in `date_added` order from a bookmark kept
/// per peer in `<data_directory>/sharing/pushed.json`: at every verdict, at start and every
/// ``pushRetrySeconds`` — so a peer that was down gets what it missed, and a new peer gets the whole
/// collection (its backlog). What is pushed is screened by the guard again on the way out.
///
/// Metrics: `mamori_sharing_exported_total{kind}` (`indicator`, `revocation`),
/// `mamori_sharing_refused_total{reason}`, `mamori_sharing_objects_sent_total{peer}`,
/// `mamori_sharing_push_errors_total{peer}`.
public final class IndicatorExporter: Service, Sendable {
    public let settings: SharingExportSettings
    public let sharingGuard: SharingGuard
    private let taxii: TAXIIService
    private let clock: any WallClock
    private let logger: Logger
    private let metricsFactory: any MetricsFactory
    private let file: String?
    /// Endpoint key → when it was first exported (ms).
    private let exported: NIOLockedValueBox<[String: Int64]>
    private let tlp: TLP
    private let identityCreated: Int64
    /// Peers whose collections get every export too (`sharing.peers[].push`).
    public let pushPeers: [SharingPeerSettings]
    /// Per push peer: the `date_added` (µs) of the last object it took; pushes in flight.
    private let pushing: NIOLockedValueBox<PushState>
    private let pushFile: String?
    /// How often peers that missed objects are tried again.
    static let pushRetrySeconds = 60
    /// Objects in one push request.
    static let pushPageSize = 500

    struct PushState: Sendable {
        var bookmarks: [String: Int64] = [:]
        var lastError: [String: String] = [:]
        var inFlight: Set<String> = []
        var again: Set<String> = []
    }

    public init(
        settings: SharingExportSettings, guard sharingGuard: SharingGuard, taxii: TAXIIService, pushPeers: [SharingPeerSettings] = [],
        dataDirectory: String?, clock: any WallClock, logger: Logger, metricsFactory: any MetricsFactory
    ) throws(ConfigurationError) {
        self.pushPeers = pushPeers
        guard taxii.collection(settings.collection) != nil else {
            throw ConfigurationError(
                line: nil, "sharing.export.collection: '\(settings.collection)' is not a collection of sharing.taxii.collections")
        }
        guard let tlp = TLP(label: settings.tlp) else {
            throw ConfigurationError(line: nil, "sharing.export.tlp: '\(settings.tlp)' is not clear, green, amber, amber+strict or red")
        }
        self.settings = settings
        self.sharingGuard = sharingGuard
        self.taxii = taxii
        self.clock = clock
        self.logger = logger
        self.metricsFactory = metricsFactory
        self.tlp = tlp
        file = dataDirectory.map { $0 + "/sharing/exported.json" }
        let saved = file.flatMap { FileManager.default.contents(atPath: $0) }.flatMap {
            try? JSONDecoder().decode([String: Int64].self, from: $0)
        }
        exported = NIOLockedValueBox(saved ?? [:])
        identityCreated = saved?.values.min() ?? 0
        pushFile = dataDirectory.map { $0 + "/sharing/pushed.json" }
        let bookmarks = pushFile.flatMap { FileManager.default.contents(atPath: $0) }.flatMap {
            try? JSONDecoder().decode([String: Int64].self, from: $0)
        }
        pushing = NIOLockedValueBox(PushState(bookmarks: bookmarks ?? [:]))
    }

    /// Pushes what each push peer has not taken yet, at start and every ``pushRetrySeconds``.
    public func run() async throws {
        guard !pushPeers.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                for peer in self.pushPeers { _ = await self.pushPending(to: peer) }
                try? await Task.sleep(for: .seconds(Self.pushRetrySeconds))
            }
        }
    }

    /// What a push of the pending objects did.
    public struct PushOutcome: Sendable, CustomStringConvertible {
        public var peer: String
        public var sent = 0
        public var refusedByPeer = 0
        /// The bookmark after the push (µs of `date_added`), nil: nothing taken yet.
        public var bookmark: Int64?
        public var error: String?

        public var description: String {
            if let error { return "\(peer): push failed after \(sent) object(s): \(error)" }
            return "\(peer): \(sent) object(s) pushed" + (refusedByPeer > 0 ? ", \(refusedByPeer) refused by the peer" : "")
        }
    }

    /// Sends `peer` every object of the export collection added after its bookmark, a page at a
    /// time, advancing the bookmark after each page the peer took (objects it refused one by one
    /// are counted and logged, not sent again); stops at the first page that fails (the next try
    /// starts there). `fromStart` forgets the bookmark first (the whole collection again: its
    /// versions are not duplicated by a TAXII server). A push already running for the peer is asked
    /// to go round once more instead.
    @discardableResult
    public func pushPending(to peer: SharingPeerSettings, fromStart: Bool = false) async -> PushOutcome {
        var outcome = PushOutcome(peer: peer.name)
        let start = pushing.withLockedValue { s -> Bool in
            if fromStart { s.bookmarks[peer.name] = nil }
            guard s.inFlight.insert(peer.name).inserted else {
                s.again.insert(peer.name)
                return false
            }
            return true
        }
        guard start else {
            outcome.bookmark = pushing.withLockedValue { $0.bookmarks[peer.name] }
            return outcome
        }
        while true {
            await pushPages(to: peer, into: &outcome)
            let done = pushing.withLockedValue { s -> Bool in
                if outcome.error == nil, s.again.remove(peer.name) != nil { return false }
                s.again.remove(peer.name)
                s.inFlight.remove(peer.name)
                s.lastError[peer.name] = outcome.error
                return true
            }
            if done { break }
        }
        outcome.bookmark = pushing.withLockedValue { $0.bookmarks[peer.name] }
        return outcome
    }

    private func pushPages(to peer: SharingPeerSettings, into outcome: inout PushOutcome) async {
        // Bounded: a collection holds at most max_objects_per_collection versions.
        for _ in 0..<10_000 {
            let after = pushing.withLockedValue { $0.bookmarks[peer.name] }
            let page = taxii.added(collection: settings.collection, after: after, limit: Self.pushPageSize)
            guard let last = page.last else { return }
            var objects: [STIXObject] = []
            for version in page {
                if let o = try? STIXObject(json: try JSONValue.parse(version.json)) { objects.append(o) }
            }
            let guarded = sharingGuard.screen(objects)
            countRefusals(guarded.report)
            let result = await push(guarded, to: peer)
            switch result {
            case .failure(let error):
                outcome.error = error.description
                return
            case .success(let (sent, refused)):
                outcome.sent += sent
                outcome.refusedByPeer += refused
            }
            pushing.withLockedValue { $0.bookmarks[peer.name] = last.dateAdded.microseconds }
            savePushBookmarks()
        }
    }

    /// Each push peer's bookmark (µs of `date_added`) and last error.
    public func pushStatus() -> [(peer: String, bookmark: Int64?, lastError: String?)] {
        pushing.withLockedValue { s in pushPeers.map { ($0.name, s.bookmarks[$0.name], s.lastError[$0.name]) } }
    }

    /// An analyst's verdict on `finding`: a confirmed C&C is shared, a false positive on one
    /// already shared is revoked. Returns what the guard let through (nil when nothing was due).
    @discardableResult
    public func verdict(_ finding: Finding, _ verdict: Verdict) async -> SharingReport? {
        let now = clock.milliseconds
        let revoked = verdict.verdict == .falsePositive
        /// When `key` was first shared: set now for a confirmation, nil for a revocation of what was never shared.
        func first(_ key: String) -> Int64? {
            exported.withLockedValue { e in
                if revoked { return e[key] }
                if e[key] == nil { e[key] = now }
                return e[key]
            }
        }
        var indicators: [SharedIndicator] = []
        switch finding.kind {
        case .commandAndControl:
            guard let f = first(Self.key(finding.subject)), let i = indicator(finding, firstExported: f, revoked: revoked, now: now) else {
                return nil
            }
            indicators = [i]
        case .inboundDDoS where settings.reflectors:
            indicators = reflectors(of: finding, now: now).compactMap { r in
                guard let f = first(Self.key(r)) else { return nil }
                var i = r
                i.firstExported = f
                i.validFrom = f
                i.revoked = revoked
                return i
            }
        default:
            return nil
        }
        guard !indicators.isEmpty else { return nil }
        let guarded = publish(indicators, now: now)
        if !revoked { save() }
        for peer in pushPeers { await pushPending(to: peer) }
        let report = guarded.report
        Counter(
            label: "mamori_sharing_exported_total", dimensions: [("kind", revoked ? "revocation" : "indicator")], factory: metricsFactory
        )
        .increment()
        logger.info(
            revoked ? "shared indicator revoked (false positive)" : "C&C endpoint shared",
            metadata: [
                "finding": "\(finding.kind.rawValue) \(finding.subject)", "indicators": "\(indicators.count)",
                "allowed": "\(report.allowed)", "refused": "\(report.refusedCount)",
            ])
        return report
    }

    /// The STIX bundle of `indicators`, screened by the guard (for exports to files and peers).
    public func bundle(_ indicators: [SharedIndicator], now: Int64) -> GuardedBundle {
        let identity = SharingIdentity(name: settings.organisation, created: identityCreated > 0 ? identityCreated : now)
        return sharingGuard.screen(STIXExport.objects(for: indicators, identity: identity, now: now))
    }

    /// Adds what the guard let through to `peer`'s collection: how many it took and refused, or
    /// the error (unreachable, credentials refused, an answer that is not TAXII).
    public func push(_ bundle: GuardedBundle, to peer: SharingPeerSettings) async -> Result<(sent: Int, refused: Int), PushError> {
        let objects = bundle.objects.map { Data($0.json.encoded()) }
        guard !objects.isEmpty else { return .success((0, 0)) }
        do {
            let status = try await TAXIIClient.withClient(try SharingService.client(peer)) { try await $0.add(objects) }
            Counter(label: "mamori_sharing_objects_sent_total", dimensions: [("peer", peer.name)], factory: metricsFactory)
                .increment(by: Int64(status.successes))
            if status.failures > 0 {
                let text = "\(peer.name) refused \(status.failures) of \(objects.count) objects: \(status.failureMessages.prefix(3))"
                logger.warning("push to a sharing peer partly refused", metadata: ["peer": "\(peer.name)", "error": "\(text)"])
            }
            return .success((status.successes, status.failures))
        } catch {
            Counter(label: "mamori_sharing_push_errors_total", dimensions: [("peer", peer.name)], factory: metricsFactory).increment()
            logger.warning("push to a sharing peer failed; trying again later", metadata: ["peer": "\(peer.name)", "error": "\(error)"])
            return .failure(PushError(description: "\(error)"))
        }
    }

    /// Why a push failed.
    public struct PushError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    private func countRefusals(_ report: SharingReport) {
        for (reason, n) in report.refusals {
            Counter(label: "mamori_sharing_refused_total", dimensions: [("reason", reason.rawValue)], factory: metricsFactory)
                .increment(by: Int64(n))
        }
        if report.refusedCount > 0 {
            logger.warning(
                "the sharing guard refused objects; they were not shared",
                metadata: ["refusals": "\(report.refusals.map { "\($0.key.rawValue): \($0.value)" }.sorted())"])
        }
    }

    private func publish(_ indicators: [SharedIndicator], now: Int64) -> GuardedBundle {
        let guarded = bundle(indicators, now: now)
        countRefusals(guarded.report)
        guard !guarded.objects.isEmpty else { return guarded }
        do {
            _ = try taxii.publish(collection: settings.collection, bundle: guarded, now: now)
        } catch {
            logger.error("cannot publish to the TAXII collection", metadata: ["collection": "\(settings.collection)", "error": "\(error)"])
        }
        return guarded
    }

    /// The shared form of a C&C finding: the endpoint, its family, counts and times — nothing
    /// about who contacted it.
    func indicator(_ f: Finding, firstExported: Int64, revoked: Bool, now: Int64) -> SharedIndicator? {
        guard let address = IPAddress(f.subject.address) else { return nil }
        let contacts = f.evidence.features.first { $0.name == .contacts }?.value ?? Double(f.evidence.cohortSize)
        return SharedIndicator(
            subject: .address(address), port: f.subject.port, transport: f.subject.protocol, kind: .commandAndControl,
            malwareFamily: f.family, score: f.score, firstSeen: f.firstSeen, lastSeen: f.lastSeen, sightings: max(1, Int(contacts)),
            validFrom: firstExported, validUntil: now + Int64(settings.validDays) * 86_400_000, tlp: tlp, labels: ["mamori"],
            firstExported: firstExported, revoked: revoked)
    }

    /// The abused reflectors of a reflection flood: the external sources of its sampled flows that
    /// answered over UDP from a well-known amplification port (``MitigationPolicy/amplifiers``), at
    /// most 64; nothing about the victim (the guard would refuse its address anyway).
    func reflectors(of f: Finding, now: Int64) -> [SharedIndicator] {
        var seen: [String: (address: IPAddress, port: UInt16, count: Int)] = [:]
        for s in f.evidence.flows where s.protocol == "udp" && MitigationPolicy.amplifiers[s.sourcePort] != nil {
            guard let a = IPAddress(s.source) else { continue }
            let k = "\(a)|\(s.sourcePort)"
            if seen[k] == nil && seen.count >= 64 { continue }
            seen[k, default: (a, s.sourcePort, 0)].count += 1
        }
        return seen.values.sorted { ($0.address.description, $0.port) < ($1.address.description, $1.port) }.map { r in
            let service = MitigationPolicy.amplifiers[r.port] ?? "\(r.port)"
            return SharedIndicator(
                subject: .address(r.address), port: r.port, transport: "udp", kind: .reflector, malwareTypes: [], score: f.score,
                firstSeen: f.firstSeen, lastSeen: f.lastSeen, sightings: r.count, validFrom: now,
                validUntil: now + Int64(settings.validDays) * 86_400_000, tlp: tlp,
                labels: ["mamori", "reflector", service.lowercased().replacingOccurrences(of: " ", with: "-")], firstExported: now)
        }
    }

    /// The key of a shared reflector (its address, port and transport).
    static func key(_ r: SharedIndicator) -> String { "reflector|\(r.subject)|\(r.port.map(String.init) ?? "")|udp" }

    static func key(_ s: FindingSubject) -> String { "\(s.address)|\(s.port.map(String.init) ?? "")|\(s.protocol ?? "")" }

    private func savePushBookmarks() {
        guard let pushFile else { return }
        let snapshot = pushing.withLockedValue { $0.bookmarks }
        do {
            try FileManager.default.createDirectory(
                atPath: (pushFile as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try JSONEncoder().encode(snapshot).write(to: URL(fileURLWithPath: pushFile), options: .atomic)
        } catch {
            logger.error("cannot save the push bookmarks", metadata: ["file": "\(pushFile)", "error": "\(error)"])
        }
    }

    private func save() {
        guard let file else { return }
        let snapshot = exported.withLockedValue { $0 }
        do {
            try FileManager.default.createDirectory(
                atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try JSONEncoder().encode(snapshot).write(to: URL(fileURLWithPath: file), options: .atomic)
        } catch {
            logger.error("cannot save what was shared", metadata: ["file": "\(file)", "error": "\(error)"])
        }
    }
}
