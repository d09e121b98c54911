import FlowCodec
import MamoriCore

/// Everything that points at one subscriber-side host being infected.
struct DeviceEvidence: Sendable {
    var firstSeen: Int64
    var lastSeen: Int64
    /// C&C endpoint → (finding id, contacts).
    var commandAndControl: [Endpoint: (id: String, contacts: Int)] = [:]
    var indicators: [Endpoint: (note: String, confidence: Double, contacts: Int)] = [:]
    var scans: [UInt16: (id: String, destinations: Int)] = [:]
    var attacks: [IPAddress: (id: String, packetsPerSecond: Double)] = [:]
    var samples: [FlowRecord] = []

    /// Scanning, attacking or contacting an indicator: behaviour of a bot whatever its C&C.
    var hasBotBehaviour: Bool { !scans.isEmpty || !attacks.isEmpty || !indicators.isEmpty }

    /// Files one piece of evidence under `key` (keeping the stronger of old and new), widens the
    /// activity window, and keeps the sample of evidence seen for the first time.
    private mutating func note<Key: Hashable, Value>(
        _ table: WritableKeyPath<DeviceEvidence, [Key: Value]>, _ key: Key, _ value: Value,
        stronger: (Value, Value) -> Value, first: Int64, last: Int64, sample: FlowRecord?
    ) {
        let old = self[keyPath: table][key]
        self[keyPath: table][key] = old.map { stronger($0, value) } ?? value
        firstSeen = min(firstSeen, first)
        lastSeen = max(lastSeen, last)
        if old == nil, let sample, samples.count < 5 { samples.append(sample) }
    }

    mutating func noteCommandAndControl(id: String, endpoint: Endpoint, contacts: Int, first: Int64, last: Int64, sample: FlowRecord?) {
        note(
            \.commandAndControl, endpoint, (id, contacts), stronger: { ($1.id, max($0.contacts, $1.contacts)) }, first: first, last: last,
            sample: sample)
    }

    mutating func noteIndicator(
        endpoint: Endpoint, note text: String, confidence: Double, contacts: Int, first: Int64, last: Int64, sample: FlowRecord?
    ) {
        note(
            \.indicators, endpoint, (text, confidence, contacts), stronger: { ($1.note, $1.confidence, max($0.contacts, $1.contacts)) },
            first: first, last: last, sample: sample)
    }

    mutating func noteScan(id: String, port: UInt16, destinations: Int, first: Int64, last: Int64, sample: FlowRecord?) {
        note(
            \.scans, port, (id, destinations), stronger: { ($1.id, max($0.destinations, $1.destinations)) }, first: first, last: last,
            sample: sample)
    }

    mutating func noteAttack(id: String, target: IPAddress, packetsPerSecond: Double, first: Int64, last: Int64, sample: FlowRecord?) {
        note(
            \.attacks, target, (id, packetsPerSecond), stronger: { ($1.id, max($0.packetsPerSecond, $1.packetsPerSecond)) }, first: first,
            last: last, sample: sample)
    }
}

/// One piece of device evidence, as a coordinator hands it to the shard that holds the host.
enum DeviceNote: Sendable {
    case commandAndControl(id: String, endpoint: Endpoint, contacts: Int, first: Int64, last: Int64, sample: FlowRecord?)
    case attack(id: String, target: IPAddress, packetsPerSecond: Double, first: Int64, last: Int64, sample: FlowRecord?)

    var window: (first: Int64, last: Int64) {
        switch self {
        case .commandAndControl(_, _, _, let first, let last, _), .attack(_, _, _, let first, let last, _): (first, last)
        }
    }
}

extension FlowAnalyzer {
    /// Files evidence about `host`: here, or (a coordinator) for the shard that holds it.
    mutating func noteDevice(_ host: InternalHost, _ note: DeviceNote) {
        if role == .coordinator {
            pendingDeviceNotes.append((host, note))
            return
        }
        let window = note.window
        var d = devices[host] ?? DeviceEvidence(firstSeen: window.first, lastSeen: window.last)
        switch note {
        case .commandAndControl(let id, let endpoint, let contacts, let first, let last, let sample):
            d.noteCommandAndControl(id: id, endpoint: endpoint, contacts: contacts, first: first, last: last, sample: sample)
        case .attack(let id, let target, let packetsPerSecond, let first, let last, let sample):
            d.noteAttack(id: id, target: target, packetsPerSecond: packetsPerSecond, first: first, last: last, sample: sample)
        }
        devices[host] = d
    }

    /// Turns per-host evidence into infected-device findings. Each kind of evidence gives a
    /// probability-like score; they combine as a noisy-or.
    mutating func evaluateDevices(into changed: inout [String]) {
        for (host, d) in devices {
            var parts: [Double] = []
            var reasons: [String] = []
            var related: [String] = []
            var features: [Feature] = []
            for (endpoint, c) in d.commandAndControl.sorted(by: { $0.key < $1.key }) {
                let ccScore = findings[c.id]?.score ?? commandAndControlScores[c.id] ?? 0.8
                parts.append(ccScore * min(1, 0.7 + 0.1 * Double(c.contacts)))
                reasons.append("contacted likely C&C \(endpoint) \(c.contacts) time(s)")
                related.append(c.id)
                features.append(Feature(.c2Contacts, Double(c.contacts), about: endpoint.description))
            }
            for (endpoint, c) in d.indicators.sorted(by: { $0.key < $1.key }) {
                // A shared indicator counts as much as its source trusts it.
                parts.append(0.95 * c.confidence)
                reasons.append("contacted indicator \(endpoint)\(c.note.isEmpty ? "" : " (\(c.note))") \(c.contacts) time(s)")
                related.append(Finding.id(kind: .knownIndicator, subject: .endpoint(endpoint)))
                features.append(Feature(.indicatorContacts, Double(c.contacts), about: endpoint.description))
            }
            for (port, s) in d.scans.sorted(by: { $0.key < $1.key }) {
                parts.append(0.85)
                reasons.append("scanned port \(port) (~\(s.destinations) addresses)")
                related.append(s.id)
                features.append(Feature(.scanDestinations(port: port), Double(s.destinations)))
            }
            for (target, a) in d.attacks.sorted(by: { $0.key < $1.key }) {
                parts.append(0.9)
                reasons.append("joined a flood against \(target) (\(wholeNumber(a.packetsPerSecond)) packets/s)")
                related.append(a.id)
                features.append(Feature(.attackPacketsPerSecond, a.packetsPerSecond, unit: "packets/s", about: "\(target)"))
            }
            guard !parts.isEmpty else { continue }
            let score = min(0.99, 1 - parts.reduce(1) { $0 * (1 - $1) })
            let subject = FindingSubject.host(host)
            var evidence = Evidence()
            evidence.features = features
            evidence.reasons = reasons
            evidence.related = Array(Set(related)).sorted()
            evidence.flows = d.samples.map { sample($0, revealing: host) }
            evidence.cohortSize = 1
            evidence.cohort = [pseudonyms.pseudonym(host)]
            let family = d.indicators.values.first { !$0.note.isEmpty }?.note
            upsert(
                Finding(
                    id: Finding.id(kind: .infectedDevice, subject: subject), kind: .infectedDevice, subject: subject, score: score,
                    firstSeen: d.firstSeen, lastSeen: d.lastSeen, detectedAt: now, updatedAt: now, family: family,
                    summary: "Likely infected: \(host) — " + reasons.joined(separator: "; "), evidence: evidence), into: &changed)
        }
    }
}
