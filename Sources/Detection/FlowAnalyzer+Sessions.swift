import FlowCodec
import MamoriCore

extension FlowAnalyzer {
    /// C&C held as one long-lived connection: an IRC-style bot joins its channel once and stays,
    /// answering the server's PING — no beacon to see, only a session that stays up. The
    /// exporter cuts it into active-timeout records, a long run of them for one 5-tuple, each
    /// with a packet or two. Found when a host holds such a session on a port that IRC botnets
    /// use (``DetectionConfiguration/LongSession/ports``) for long enough, with small, even
    /// records — a person chatting sends bursts of varied size.
    mutating func evaluateLongSessions(into changed: inout [String]) {
        decideLongSessions(gatherLongSessions(), into: &changed)
    }

    /// One host's session with an endpoint, as a shard hands it over.
    struct SessionMember: Sendable {
        var host: InternalHost
        var pair: PairState
        var sample: FlowRecord?
    }

    /// This analyzer's hosts' long sessions on the configured ports, by endpoint.
    func gatherLongSessions() -> [Endpoint: [SessionMember]] {
        let c = configuration.longSession
        guard !c.ports.isEmpty else { return [:] }
        var sessions: [Endpoint: [SessionMember]] = [:]
        for (key, p) in pairs
        where p.continuations >= Int32(c.minimumRecords) && key.endpoint.ipProtocol == 6 && c.ports.contains(key.endpoint.port) {
            let held = p.connections.latestEnd - p.firstSeen
            guard held >= c.minimumDuration, p.recordPackets.mean <= c.maximumMeanPackets,
                p.recordPackets.standardDeviation <= c.maximumPacketVariation * p.recordPackets.mean,
                (p.volumes.mean * Double(p.volumes.count) + Double(p.contactVolume)) / Double(Int(p.continuations) + Int(p.contacts))
                    <= c.maximumBytesPerRecord
            else { continue }
            if configuration.allowlist.match(key.endpoint) != nil { continue }
            sessions[key.endpoint, default: []].append(SessionMember(host: key.host, pair: p, sample: pairDetails[key]?.sample))
        }
        return sessions
    }

    /// Reports the endpoints that `sessions` (gathered over the whole subscriber base) make C&C.
    mutating func decideLongSessions(_ sessions: [Endpoint: [SessionMember]], into changed: inout [String]) {
        let c = configuration.longSession
        // In endpoint order, members in host order: the sample flows kept (the finding's, a
        // device's first few) do not depend on the order the pair table is walked in.
        for (endpoint, unordered) in sessions.sorted(by: { $0.key < $1.key }) {
            let members = unordered.sorted { $0.host < $1.host }
            let subject = FindingSubject.endpoint(endpoint)
            let id = Finding.id(kind: .commandAndControl, subject: subject)
            let hosts = members.map(\.host).sorted()
            let first = members.map(\.pair.firstSeen).min() ?? now
            let last = members.map { $0.pair.connections.latestEnd }.max() ?? now
            let minutes = median(members.map { Double($0.pair.connections.latestEnd - $0.pair.firstSeen) / 60_000 })
            let records = median(members.map { Double(Int($0.pair.continuations) + 1) })
            let packets = median(members.map { $0.pair.recordPackets.mean })
            var evidence = Evidence()
            evidence.features = [
                Feature(.sessionMinutes, minutes, unit: "min"), Feature(.sessionRecords, records),
                Feature(.meanPacketsPerRecord, packets), Feature(.sessionHosts, Double(hosts.count)),
            ]
            evidence.thresholds = [
                .atLeast("session_minutes", minutes, Double(c.minimumDuration) / 60_000),
                .atLeast("session_records", records, Double(c.minimumRecords)),
                .below("mean_packets_per_record", packets, c.maximumMeanPackets),
            ]
            evidence.cohortSize = hosts.count
            evidence.cohort = hosts.prefix(64).map { pseudonyms.pseudonym($0) }
            if let s = members.lazy.compactMap(\.sample).first { evidence.flows = [sample(s, revealing: nil)] }
            evidence.reasons = [
                "\(hosts.count) internal host(s) hold one connection to \(endpoint) open for \(wholeNumber(minutes)) min (median), exported as \(wholeNumber(records)) records of \(fmt(packets)) packet(s) on average: an IRC-style session kept alive, not a person chatting",
                "port \(endpoint.port) is one IRC botnets use; benign hypotheses tested and rejected: a chat client (its records would vary with the conversation), a special-purpose address",
            ]
            let score = min(0.95, 0.8 + 0.05 * Double(hosts.count))
            commandAndControl[endpoint] = id
            upsert(
                Finding(
                    id: id, kind: .commandAndControl, subject: subject, score: max(score, findings[id]?.score ?? 0), firstSeen: first,
                    lastSeen: last,
                    detectedAt: now, updatedAt: now, family: nil,
                    summary:
                        "Likely C&C server \(endpoint): \(hosts.count) host(s) hold a long-lived session (~\(wholeNumber(minutes)) min) with small keepalives",
                    evidence: evidence), into: &changed)
            for m in members {
                noteDevice(
                    m.host,
                    .commandAndControl(
                        id: id, endpoint: endpoint, contacts: max(2, Int(m.pair.contacts)), first: m.pair.firstSeen,
                        last: m.pair.connections.latestEnd, sample: m.sample))
            }
        }
    }
}
