import DNSWire
import Detection
import FlowCodec
import Foundation
import Logging
import MamoriCore
import Metrics
import NIOConcurrencyHelpers
import STIX
import ServiceLifecycle
import TAXIIClient

/// Indicators from sharing peers (`sharing.peers`) into the detectors: every `pull_minutes` each
/// peer's TAXII 2.1 collection is read from its bookmark (``TAXIIClient``), the STIX indicators
/// are evaluated (``STIXImport``), merged into what Mamori holds from that peer (a newer version
/// replaces an older one, a revoked one is dropped, an expired one pruned), and the peer's whole
/// list goes to ``DetectionService/replaceIndicators(source:with:)`` as source `taxii:<name>`.
///
/// - A pull is all or nothing: a peer that answers garbage or an object that is not STIX leaves
///   the bookmark and the indicators as they were (counted, logged once per error and peer); the
///   next interval tries again. An indicator whose pattern Mamori cannot use (a file hash, a
///   `WITHIN` qualifier) is skipped and counted, the rest kept.
/// - Addresses go to the flow matcher; domain names (flows carry none) go to the DNS sinkhole
///   when `sharing.sinkhole` says so, as entries of feed `taxii:<name>` (``SinkholeService/replaceIndicatorNames(feed:with:)``).
/// - The bookmark and the indicators held are kept in `<data_directory>/sharing/<peer>.json`, so
///   a restart matches at once and asks the peer only for what is new.
/// - Imported indicators are never shared on: Mamori's exports are made from its own C&C findings.
///
/// Metrics: `mamori_sharing_pulls_total{peer,result}`, `mamori_sharing_objects_received_total{peer}`,
/// `mamori_sharing_indicators_skipped_total{peer,reason}`, `mamori_sharing_indicators{peer}`,
/// `mamori_sharing_last_pull_timestamp_seconds{peer}` (the last successful pull).
public final class SharingService: Service, Sendable {
    public let peers: [SharingPeerSettings]
    /// MISP feeds (`sharing.misp_feeds`): their indicators are source `misp:<name>`.
    public let mispFeeds: [MISPFeedSettings]
    private let detection: DetectionService
    private let sinkhole: SinkholeService?
    private let sinkholeSettings: SharingSinkholeSettings?
    private let directory: String?
    private let clock: any WallClock
    private let logger: Logger
    private let metricsFactory: any MetricsFactory
    private let state: NIOLockedValueBox<[String: PeerState]>
    private let throttle = NIOLockedValueBox(LogThrottle(interval: 600_000, maximumKeys: 256))

    /// What Mamori holds from one peer (saved as JSON).
    struct PeerState: Codable, Sendable {
        var bookmark: String?
        var indicators: [String: Held] = [:]
        var lastPull: Int64?
        var lastError: String?
        /// A MISP feed's events taken, by UUID: the manifest's timestamp when fetched (ms).
        var events: [String: Int64]?
    }

    /// One indicator as the flow matcher uses it.
    struct Held: Codable, Sendable, Hashable {
        var prefixes: [String]
        /// Domain names (lowercase, no final dot), for the sinkhole; nil in state saved before.
        var names: [String]?
        /// Remote ports; nil: any.
        var ports: [UInt16]?
        /// IP protocol number; nil: any.
        var ipProtocol: UInt8?
        var name: String?
        var confidence: Int?
        var tlp: String?
        var validUntil: Int64?
        var modified: Int64?
        /// The MISP event it came from (its UUID).
        var event: String?
    }

    /// What one pull did.
    public struct PullOutcome: Sendable, Hashable, CustomStringConvertible {
        public var peer: String
        public var objects = 0
        public var imported = 0
        public var revoked = 0
        public var skipped: [String: Int] = [:]
        public var held = 0
        public var error: String?

        public var description: String {
            if let error { return "\(peer): pull failed: \(error)" }
            let s = skipped.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            return "\(peer): \(objects) objects, \(imported) indicators imported, \(revoked) revoked, \(held) held"
                + (s.isEmpty ? "" : "; skipped: \(s)")
        }
    }

    public init(
        peers: [SharingPeerSettings], mispFeeds: [MISPFeedSettings] = [], detection: DetectionService, sinkhole: SinkholeService? = nil,
        sinkholeSettings: SharingSinkholeSettings? = nil, dataDirectory: String?, clock: any WallClock, logger: Logger,
        metricsFactory: any MetricsFactory
    ) {
        self.peers = peers
        self.mispFeeds = mispFeeds
        self.detection = detection
        self.sinkhole = sinkholeSettings == nil ? nil : sinkhole
        self.sinkholeSettings = sinkholeSettings
        directory = dataDirectory.map { $0 + "/sharing" }
        self.clock = clock
        self.logger = logger
        self.metricsFactory = metricsFactory
        var loaded: [String: PeerState] = [:]
        for peer in peers { loaded[peer.name] = Self.load(peer.name, from: directory, logger: logger) }
        for feed in mispFeeds { loaded["misp:" + feed.name] = Self.load("misp:" + feed.name, from: directory, logger: logger) }
        let files = (directory.flatMap { try? FileManager.default.contentsOfDirectory(atPath: $0) } ?? []).filter {
            $0.hasPrefix("file.") && $0.hasSuffix(".json")
        }
        for file in files {
            let name = String(file.dropFirst(5).dropLast(5))
            loaded["file:" + name] = Self.load("file:" + name, from: directory, logger: logger)
        }
        state = NIOLockedValueBox(loaded)
        for peer in peers { apply(key: peer.name, source: Self.source(peer.name)) }
        for key in loaded.keys where key.hasPrefix("file:") || key.hasPrefix("misp:") { apply(key: key, source: key) }
    }

    /// Pulls every peer at start, then each at its interval, until graceful shutdown.
    public func run() async throws {
        await applyNamesOfEverySource()
        guard peers.contains(where: \.pull) || !mispFeeds.isEmpty else {
            // Nothing to poll: only imports and the API. Run until shutdown, as a service must.
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { tasks in
                for peer in self.peers where peer.pull {
                    tasks.addTask {
                        while !Task.isCancelled {
                            _ = await self.pull(peer.name)
                            try? await Task.sleep(for: .seconds(peer.pullMinutes * 60))
                        }
                    }
                }
                for feed in self.mispFeeds {
                    tasks.addTask {
                        while !Task.isCancelled {
                            _ = await self.pullMISP(feed)
                            try? await Task.sleep(for: .seconds(feed.pullMinutes * 60))
                        }
                    }
                }
            }
        }
    }

    /// Reads what `name` added since the bookmark, and updates the detectors' indicators.
    public func pull(_ name: String) async -> PullOutcome {
        if let feed = mispFeeds.first(where: { $0.name == name }) { return await pullMISP(feed) }
        var outcome = PullOutcome(peer: name)
        guard let peer = peers.first(where: { $0.name == name }) else {
            outcome.error = "no sharing peer named \(name)"
            return outcome
        }
        let now = clock.milliseconds
        do {
            let client = try Self.client(peer)
            let bookmark = state.withLockedValue { $0[name]?.bookmark }
            let pulled = try await TAXIIClient.withClient(client) { try await $0.pull(after: bookmark) }
            outcome.objects = pulled.objects.count
            var objects: [STIXObject] = []
            for (i, data) in pulled.objects.enumerated() {
                do {
                    objects.append(try STIXObject(json: try JSONValue.parse(data)))
                } catch {
                    throw SharingError(
                        "object \(i + 1) of \(pulled.objects.count) is not STIX 2.1 (\(error)); nothing of this pull was imported")
                }
            }
            let result = STIXImport.objects(objects)
            merge(name, result, maximum: peer.maximumIndicators, bookmark: pulled.bookmark, now: now, into: &outcome)
            await finishPull(key: name, source: Self.source(name), outcome, now: now)
        } catch {
            pullFailed(key: name, error, into: &outcome, now: now)
        }
        return outcome
    }

    /// After a pull that worked: the detectors' and the sinkhole's lists, the state file, the
    /// metrics and the log line.
    private func finishPull(key: String, source: String, _ outcome: PullOutcome, now: Int64) async {
        apply(key: key, source: source)
        await applyNames(key: key, feed: source)
        save(key)
        counter("mamori_sharing_pulls_total", key, ("result", "ok")).increment()
        counter("mamori_sharing_objects_received_total", key).increment(by: Int64(outcome.objects))
        for (reason, n) in outcome.skipped {
            counter("mamori_sharing_indicators_skipped_total", key, ("reason", reason)).increment(by: Int64(n))
        }
        Gauge(label: "mamori_sharing_last_pull_timestamp_seconds", dimensions: [("peer", key)], factory: metricsFactory)
            .record(Double(now) / 1000)
        logger.info("pulled indicators from a sharing source", metadata: ["source": "\(source)", "outcome": "\(outcome)"])
    }

    /// After a pull that failed: the error kept for the status, counted, logged once per error
    /// and source every ten minutes.
    private func pullFailed(key: String, _ error: any Error, into outcome: inout PullOutcome, now: Int64) {
        let text = "\(error)"
        outcome.error = text
        state.withLockedValue { $0[key, default: PeerState()].lastError = text }
        counter("mamori_sharing_pulls_total", key, ("result", "error")).increment()
        if throttle.withLockedValue({ $0.shouldLog(key + " " + text, now: now) }) {
            logger.warning(
                "pull from a sharing source failed; trying again at the next interval",
                metadata: ["source": "\(Self.sourceName(key))", "error": "\(text)"])
        }
    }

    /// A STIX 2.1 bundle from a file (`mamori share import`) as the indicators of source
    /// `file:<name>`: merged like a pull (newer versions replace, revoked drop, expired pruned);
    /// a malformed bundle imports nothing.
    public func importBundle(_ bytes: [UInt8], name: String) async -> PullOutcome {
        var outcome = PullOutcome(peer: "file:" + name)
        guard (1...64).contains(name.utf8.count), name.utf8.allSatisfy({ TAXIISettings.isPathByte($0) }) else {
            outcome.error = "a source name is 1 to 64 of a-z, 0-9, '-' and '_'"
            return outcome
        }
        let key = "file:" + name
        let result: IndicatorImport
        do {
            result = try STIXImport.bundle(bytes)
        } catch {
            outcome.error = "not a STIX 2.1 bundle (\(error)); nothing was imported"
            counter("mamori_sharing_imports_total", key, ("result", "error")).increment()
            return outcome
        }
        outcome.objects = result.objects.count
        merge(key, result, maximum: Self.maximumFileIndicators, bookmark: nil, now: clock.milliseconds, into: &outcome)
        apply(key: key, source: key)
        await applyNames(key: key, feed: key)
        save(key)
        counter("mamori_sharing_imports_total", key, ("result", "ok")).increment()
        logger.info("imported a STIX bundle", metadata: ["source": "\(key)", "outcome": "\(outcome)"])
        return outcome
    }

    static let maximumFileIndicators = 1_000_000

    /// Reads a MISP feed's manifest, fetches the events that are new or changed since they were
    /// taken (the newest first, at most `max_events_per_pull`), and replaces each one's indicators;
    /// an event gone from the manifest takes its indicators with it. An event file that cannot be
    /// read is skipped and counted (`event_unreadable`) and tried again at the next pull; a
    /// manifest that cannot be read changes nothing.
    public func pullMISP(_ feed: MISPFeedSettings) async -> PullOutcome {
        let key = "misp:" + feed.name
        var outcome = PullOutcome(peer: key)
        let now = clock.milliseconds
        do {
            var authorization: String?
            if let file = feed.authorizationFile {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8), text.utf8.count <= 4096,
                    case let line = text.trimmingCharacters(in: .whitespacesAndNewlines), !line.isEmpty, !line.contains(where: \.isNewline)
                else {
                    throw SharingError("sharing.misp_feeds (\(feed.name)).authorization_file: cannot read one line from \(file)")
                }
                authorization = line
            }
            let peer = MISPFeedPeer(name: feed.name, url: feed.url, authorization: authorization, timeout: .seconds(feed.timeoutSeconds))
            let known = state.withLockedValue { $0[key]?.events ?? [:] }
            let (manifest, fetched, unreadable) = try await MISPFeedClient.withClient(peer) { client in
                let manifest = try MISPFeed.manifest(try await client.manifest())
                let changed = manifest.filter { known[$0.uuid] != ($0.timestamp ?? 0) }
                    .sorted { ($0.timestamp ?? 0, $0.uuid) > ($1.timestamp ?? 0, $1.uuid) }.prefix(feed.maximumEventsPerPull)
                var fetched: [(MISPFeed.ManifestEntry, IndicatorImport)] = []
                var unreadable = 0
                for entry in changed {
                    do {
                        fetched.append((entry, try MISPFeed.event(try await client.event(entry.uuid))))
                    } catch TAXIIClientError.unreachable(let peer, let reason) {
                        // The feed went away mid-pull: stop here; what was fetched is kept.
                        logger.warning("a MISP feed stopped answering", metadata: ["feed": "\(peer)", "error": "\(reason)"])
                        break
                    } catch {
                        unreadable += 1
                    }
                }
                return (manifest, fetched, unreadable)
            }
            outcome.objects = fetched.count
            if unreadable > 0 { outcome.skipped["event_unreadable"] = unreadable }
            state.withLockedValue { all in
                var s = all[key] ?? PeerState()
                var events = s.events ?? [:]
                let listed = Set(manifest.map(\.uuid))
                let refreshed = Set(fetched.map(\.0.uuid))
                // An event gone from the manifest takes its indicators with it ("revoked"); a
                // refreshed one's are replaced by what its file says now.
                let before = s.indicators.count
                s.indicators = s.indicators.filter { _, h in h.event.map(listed.contains) ?? true }
                outcome.revoked = before - s.indicators.count
                s.indicators = s.indicators.filter { _, h in h.event.map { !refreshed.contains($0) } ?? true }
                events = events.filter { listed.contains($0.key) }
                for (entry, imported) in fetched {
                    for skip in imported.skipped { outcome.skipped[skip.reason.code.description, default: 0] += 1 }
                    for indicator in imported.indicators {
                        switch Self.held(indicator) {
                        case .success(var h):
                            h.name = h.name ?? String(entry.info.prefix(200))
                            h.confidence = h.confidence ?? feed.confidence
                            h.tlp = h.tlp ?? entry.tlp.map { "\($0)" }
                            h.event = entry.uuid
                            s.indicators[indicator.id] = h
                            outcome.imported += 1
                        case .failure(let unusable):
                            outcome.skipped[unusable.reason, default: 0] += 1
                        }
                    }
                    events[entry.uuid] = entry.timestamp ?? 0
                }
                s.indicators = s.indicators.filter { $0.value.validUntil.map { $0 > now } ?? true }
                if s.indicators.count > feed.maximumIndicators {
                    let keep = s.indicators.sorted { ($0.value.modified ?? 0, $0.key) > ($1.value.modified ?? 0, $1.key) }
                        .prefix(feed.maximumIndicators)
                    outcome.skipped["over_max_indicators", default: 0] += s.indicators.count - keep.count
                    s.indicators = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
                }
                s.events = events
                s.lastPull = now
                s.lastError = nil
                outcome.held = s.indicators.count
                all[key] = s
            }
            await finishPull(key: key, source: key, outcome, now: now)
        } catch {
            pullFailed(key: key, error, into: &outcome, now: now)
        }
        return outcome
    }

    /// Merges an import into what source `key` holds.
    private func merge(
        _ key: String, _ result: IndicatorImport, maximum: Int, bookmark: String?, now: Int64, into outcome: inout PullOutcome
    ) {
        for s in result.skipped { outcome.skipped[s.reason.code.description, default: 0] += 1 }
        state.withLockedValue { all in
            var s = all[key] ?? PeerState()
            for indicator in result.indicators {
                if indicator.revoked {
                    if s.indicators.removeValue(forKey: indicator.id) != nil { outcome.revoked += 1 }
                    continue
                }
                if let old = s.indicators[indicator.id], (old.modified ?? 0) > (indicator.modified ?? 0) { continue }
                switch Self.held(indicator) {
                case .success(let h):
                    s.indicators[indicator.id] = h
                    outcome.imported += 1
                case .failure(let unusable):
                    s.indicators[indicator.id] = nil
                    outcome.skipped[unusable.reason, default: 0] += 1
                }
            }
            s.indicators = s.indicators.filter { $0.value.validUntil.map { $0 > now } ?? true }
            if s.indicators.count > maximum {
                let keep = s.indicators.sorted { ($0.value.modified ?? 0, $0.key) > ($1.value.modified ?? 0, $1.key) }
                    .prefix(maximum)
                outcome.skipped["over_max_indicators", default: 0] += s.indicators.count - keep.count
                s.indicators = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
            }
            s.bookmark = bookmark ?? s.bookmark
            s.lastPull = now
            s.lastError = nil
            outcome.held = s.indicators.count
            all[key] = s
        }
    }

    /// The bookmark, count held, last pull and last error of each peer.
    public func status() -> [(peer: String, bookmark: String?, indicators: Int, lastPull: Int64?, lastError: String?)] {
        state.withLockedValue { all in
            peers.map { p in
                let s = all[p.name] ?? PeerState()
                return (p.name, s.bookmark, s.indicators.count, s.lastPull, s.lastError)
            }
        }
    }

    /// One indicator Mamori holds, as the console shows it.
    public struct HeldIndicator: Sendable {
        /// `taxii:<peer>` or `file:<name>`.
        public var source: String
        public var id: String
        public var name: String?
        public var addresses: [String]
        public var names: [String]
        public var ports: [UInt16]?
        public var ipProtocol: UInt8?
        public var confidence: Int?
        public var tlp: String?
        /// Milliseconds since 1970.
        public var validUntil: Int64?
        public var modified: Int64?
    }

    /// Every indicator held, newest version first within each source.
    public func heldIndicators() -> [HeldIndicator] {
        state.withLockedValue { all in
            all.sorted { $0.key < $1.key }.flatMap { key, s in
                let source = Self.sourceName(key)
                return s.indicators.sorted { ($0.value.modified ?? 0, $0.key) > ($1.value.modified ?? 0, $1.key) }.map { id, h in
                    HeldIndicator(
                        source: source, id: id, name: h.name, addresses: h.prefixes, names: h.names ?? [], ports: h.ports,
                        ipProtocol: h.ipProtocol, confidence: h.confidence, tlp: h.tlp, validUntil: h.validUntil, modified: h.modified)
                }
            }
        }
    }

    /// The MISP feeds and the files imported (`misp:<name>`, `file:<name>`), with how many
    /// indicators each holds, when it was last read, and the last error.
    public func otherSources() -> [(source: String, indicators: Int, lastRead: Int64?, lastError: String?)] {
        state.withLockedValue { all in
            all.filter { $0.key.hasPrefix("file:") || $0.key.hasPrefix("misp:") }.sorted { $0.key < $1.key }.map {
                ($0.key, $0.value.indicators.count, $0.value.lastPull, $0.value.lastError)
            }
        }
    }

    /// The source name of a state key: `taxii:<peer>` for a TAXII peer, the key itself otherwise.
    static func sourceName(_ key: String) -> String {
        key.hasPrefix("file:") || key.hasPrefix("misp:") ? key : source(key)
    }

    // MARK: -

    static func source(_ peer: String) -> String { "taxii:" + peer }

    /// Hands a source's held indicators to the detectors (one entry per prefix and port).
    private func apply(key: String, source: String) {
        let held = state.withLockedValue { $0[key]?.indicators ?? [:] }
        var entries: [EndpointList.Entry] = []
        for h in held.values {
            for text in h.prefixes where !text.isEmpty {
                guard let prefix = IPPrefix(text) else { continue }
                for port in h.ports.map({ $0.map(Optional.some) }) ?? [nil] {
                    entries.append(
                        EndpointList.Entry(
                            prefix: prefix, port: port, ipProtocol: h.ipProtocol, note: h.name ?? "",
                            confidence: h.confidence.map { Double($0) / 100 },
                            validUntil: h.validUntil))
                }
            }
        }
        detection.replaceIndicators(source: source, with: entries)
        Gauge(label: "mamori_sharing_indicators", dimensions: [("peer", key)], factory: metricsFactory).record(Double(held.count))
    }

    /// The sinkhole's entries of every source, from what is held (at start: the sinkhole's own
    /// saved state may be older or newer than the sharing state).
    private func applyNamesOfEverySource() async {
        guard sinkhole != nil else { return }
        let keys = state.withLockedValue { Array($0.keys) }.sorted()
        for key in keys { await applyNames(key: key, feed: Self.sourceName(key)) }
    }

    /// Hands a source's domain names at or above the minimum confidence to the sinkhole (when
    /// `sharing.sinkhole` is configured).
    private func applyNames(key: String, feed: String) async {
        guard let sinkhole, let minimum = sinkholeSettings?.minimumConfidence else { return }
        let held = state.withLockedValue { $0[key]?.indicators ?? [:] }
        var names: [SinkholeService.IndicatorName] = []
        for h in held.values where (h.confidence ?? 0) >= minimum {
            for text in h.names ?? [] {
                guard let name = try? DNSName(text + ".") else { continue }
                let what = [h.name, h.confidence.map { "confidence \($0)" }, h.tlp.map { "TLP:\($0)" }].compactMap { $0 }
                names.append(
                    SinkholeService.IndicatorName(
                        name: name, expiresAt: h.validUntil.map { $0 / 1000 },
                        reason: "shared by \(feed)" + (what.isEmpty ? "" : " (\(what.joined(separator: ", ")))")))
            }
        }
        await sinkhole.replaceIndicatorNames(feed: feed, with: names)
    }

    /// What Mamori can take of an indicator: addresses for the flow matcher (at most 64 remote
    /// ports and one protocol), domain names for the sinkhole; or why not.
    static func held(_ i: ImportedIndicator) -> Result<Held, Unusable> {
        // A contact with it must say something bad about the subscriber's device: an abused
        // reflector (anomalous-activity), a Tor relay (anonymization) or a benign host does not.
        guard i.types.isEmpty || !Set(i.types).isDisjoint(with: Self.matchedTypes) else {
            return .failure(Unusable(reason: "indicator_type"))
        }
        var prefixes: [String] = []
        var names: [String] = []
        var ports: Set<UInt16>?
        var protocols: Set<String>?
        for alternative in i.match.alternatives {
            switch alternative.target {
            case .domains(let list):
                // A name is a name whatever port a connection to it uses: constraints on ports
                // and protocols do not narrow a sinkhole entry, exclusions do.
                names += list.filter { !alternative.excludedDomains.contains($0) }
                continue
            case .addresses(let list):
                guard alternative.excludedAddresses.isEmpty, alternative.excludedDestinationPorts.isEmpty, alternative.sourcePorts == nil,
                    alternative.excludedSourcePorts.isEmpty
                else { return .failure(Unusable(reason: "exclusions_or_source_ports")) }
                prefixes += list.map(\.description)
            }
            if let p = alternative.destinationPorts { ports = (ports ?? []).union(p) }
            if let p = alternative.protocols { protocols = (protocols ?? []).union(p) }
        }
        guard !prefixes.isEmpty || !names.isEmpty, prefixes.count <= 1024, names.count <= 1024 else {
            return .failure(Unusable(reason: "address_count"))
        }
        guard (ports?.count ?? 0) <= 64 else { return .failure(Unusable(reason: "port_count")) }
        var ipProtocol: UInt8?
        if let protocols {
            guard protocols.count == 1, let p = ["tcp": UInt8(6), "udp": 17, "icmp": 1, "sctp": 132][protocols.first!.lowercased()] else {
                return .failure(Unusable(reason: "protocols"))
            }
            ipProtocol = p
        }
        return .success(
            Held(
                prefixes: prefixes, names: names.isEmpty ? nil : Array(Set(names)).sorted(), ports: ports.map { $0.sorted() },
                ipProtocol: ipProtocol, name: i.name, confidence: i.confidence,
                tlp: i.tlp.map { "\($0)" }, validUntil: i.validUntil, modified: i.modified))
    }

    /// The `indicator_types` that make an indicator worth matching (or one that states none).
    static let matchedTypes: Set<String> = ["malicious-activity", "compromised", "attribution"]

    static func client(_ peer: SharingPeerSettings) throws -> TAXIIPeer {
        var credentials = TAXIIPeer.Credentials.none
        if let user = peer.user, let file = peer.passwordFile {
            credentials = .basic(user: user, password: try secret(file, "password_file", peer))
        } else if let file = peer.tokenFile {
            credentials = .bearer(try secret(file, "token_file", peer))
        }
        return TAXIIPeer(
            name: peer.name, apiRoot: peer.apiRoot, collection: peer.collection, credentials: credentials,
            timeout: .seconds(peer.timeoutSeconds))
    }

    /// A secret file, read at every pull (a rotated password needs no restart).
    private static func secret(_ file: String, _ key: String, _ peer: SharingPeerSettings) throws -> String {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8), text.utf8.count <= 4096 else {
            throw SharingError("sharing.peers (\(peer.name)).\(key): cannot read \(file)")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, !trimmed.contains(where: \.isNewline) else {
            throw SharingError("sharing.peers (\(peer.name)).\(key): \(file) must hold one line")
        }
        return trimmed
    }

    private func counter(_ label: String, _ peer: String, _ extra: (String, String)...) -> Counter {
        Counter(label: label, dimensions: [("peer", peer)] + extra, factory: metricsFactory)
    }

    private static func load(_ name: String, from directory: String?, logger: Logger) -> PeerState {
        guard let directory, let data = FileManager.default.contents(atPath: directory + "/" + fileName(name)) else { return PeerState() }
        do {
            return try JSONDecoder().decode(PeerState.self, from: data)
        } catch {
            let path = directory + "/" + fileName(name)
            _ = rename(path, path + ".damaged")
            logger.error(
                "sharing state unreadable; set aside, pulling the peer's collection from the start",
                metadata: ["file": "\(path).damaged", "error": "\(error)"])
            return PeerState()
        }
    }

    /// `isac.json` for a peer, `file.<name>.json` for a file source (a peer's name holds no dot).
    static func fileName(_ key: String) -> String {
        if key.hasPrefix("file:") { return "file." + key.dropFirst(5) + ".json" }
        if key.hasPrefix("misp:") { return "misp." + key.dropFirst(5) + ".json" }
        return key + ".json"
    }

    private func save(_ name: String) {
        guard let directory else { return }
        let s = state.withLockedValue { $0[name] ?? PeerState() }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let path = directory + "/" + Self.fileName(name)
            try JSONEncoder().encode(s).write(to: URL(fileURLWithPath: path + ".tmp"), options: .atomic)
            guard rename(path + ".tmp", path) == 0 else { throw SharingError("rename failed: errno \(errno)") }
        } catch {
            logger.error("cannot save the sharing state", metadata: ["peer": "\(name)", "error": "\(error)"])
        }
    }
}

/// Why the flow matcher cannot use an indicator (a metrics label).
struct Unusable: Error {
    var reason: String
}

struct SharingError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
