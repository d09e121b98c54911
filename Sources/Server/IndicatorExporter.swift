import Detection
import FlowCodec
import Foundation
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import STIX
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
/// Metrics: `mamori_sharing_exported_total{kind}` (`indicator`, `revocation`),
/// `mamori_sharing_refused_total{reason}`.
public final class IndicatorExporter: Sendable {
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
    }

    /// An analyst's verdict on `finding`: a confirmed C&C is shared, a false positive on one
    /// already shared is revoked. Returns what the guard let through (nil when nothing was due).
    @discardableResult
    public func verdict(_ finding: Finding, _ verdict: Verdict) async -> SharingReport? {
        guard finding.kind == .commandAndControl else { return nil }
        let key = Self.key(finding.subject)
        let now = clock.milliseconds
        let revoked = verdict.verdict == .falsePositive
        let first: Int64? = exported.withLockedValue { e in
            if revoked { return e[key] }
            if e[key] == nil { e[key] = now }
            return e[key]
        }
        guard let first, let indicator = indicator(finding, firstExported: first, revoked: revoked, now: now) else { return nil }
        let guarded = publish([indicator], now: now)
        if !revoked { save() }
        for peer in pushPeers { _ = await push(guarded, to: peer) }
        let report = guarded.report
        Counter(
            label: "mamori_sharing_exported_total", dimensions: [("kind", revoked ? "revocation" : "indicator")], factory: metricsFactory
        )
        .increment()
        logger.info(
            revoked ? "shared indicator revoked (false positive)" : "C&C endpoint shared",
            metadata: ["endpoint": "\(finding.subject)", "allowed": "\(report.allowed)", "refused": "\(report.refusedCount)"])
        return report
    }

    /// The STIX bundle of `indicators`, screened by the guard (for exports to files and peers).
    public func bundle(_ indicators: [SharedIndicator], now: Int64) -> GuardedBundle {
        let identity = SharingIdentity(name: settings.organisation, created: identityCreated > 0 ? identityCreated : now)
        return sharingGuard.screen(STIXExport.objects(for: indicators, identity: identity, now: now))
    }

    /// Adds what the guard let through to `peer`'s collection; the error, if any.
    public func push(_ bundle: GuardedBundle, to peer: SharingPeerSettings) async -> String? {
        let objects = bundle.objects.map { Data($0.json.encoded()) }
        guard !objects.isEmpty else { return nil }
        do {
            let status = try await TAXIIClient.withClient(try SharingService.client(peer)) { try await $0.add(objects) }
            Counter(label: "mamori_sharing_objects_sent_total", dimensions: [("peer", peer.name)], factory: metricsFactory)
                .increment(by: Int64(status.successes))
            guard status.failures == 0 else {
                let text = "\(peer.name) refused \(status.failures) of \(objects.count) objects: \(status.failureMessages.prefix(3))"
                logger.warning("push to a sharing peer partly refused", metadata: ["peer": "\(peer.name)", "error": "\(text)"])
                return text
            }
            return nil
        } catch {
            Counter(label: "mamori_sharing_push_errors_total", dimensions: [("peer", peer.name)], factory: metricsFactory).increment()
            logger.warning("push to a sharing peer failed", metadata: ["peer": "\(peer.name)", "error": "\(error)"])
            return "\(error)"
        }
    }

    private func publish(_ indicators: [SharedIndicator], now: Int64) -> GuardedBundle {
        let guarded = bundle(indicators, now: now)
        for (reason, n) in guarded.report.refusals {
            Counter(label: "mamori_sharing_refused_total", dimensions: [("reason", reason.rawValue)], factory: metricsFactory)
                .increment(by: Int64(n))
        }
        if guarded.report.refusedCount > 0 {
            logger.warning(
                "the sharing guard refused objects; they were not published",
                metadata: ["refusals": "\(guarded.report.refusals.map { "\($0.key.rawValue): \($0.value)" }.sorted())"])
        }
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

    static func key(_ s: FindingSubject) -> String { "\(s.address)|\(s.port.map(String.init) ?? "")|\(s.protocol ?? "")" }

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
