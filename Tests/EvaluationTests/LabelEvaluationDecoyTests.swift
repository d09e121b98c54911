import Detection
import Evaluation
import FlowCodec
import MamoriCore
import Simulator
import Testing

/// The evaluation's per-decoy-kind rows: a finding about a decoy's address, or about a line
/// that only runs a decoy behaviour (BitTorrent, a game console), is counted under its kind.
@Suite struct LabelEvaluationDecoyTests {
    static func finding(_ kind: FindingKind, _ subject: FindingSubject, at t: Int64) -> Finding {
        Finding(
            id: "\(kind.rawValue) \(subject)", kind: kind, subject: subject, score: 1, firstSeen: t, lastSeen: t, detectedAt: t,
            updatedAt: t,
            family: nil, summary: "", evidence: Evidence())
    }

    @Test func falsePositivesArePerDecoyKind() throws {
        var c = ISPModel.Configuration(seed: 4, subscribers: 2000)
        c.durationMilliseconds = 600_000
        let labels = try Simulation(configuration: c).labels
        let layout = try #require(LabelEvaluation.networkLayout(labels))
        let infected = Set(labels.infectedDevices.map { "\($0.publicAddress) \($0.portBlock?.first ?? 0)" })
        let torrent = try #require(
            labels.decoys.first { $0.name == "bittorrent" }?.users?.first {
                !infected.contains("\($0.publicAddress) \($0.portBlock?.first ?? 0)")
            })
        let bot = labels.infectedDevices[0]
        let t = labels.start + 60_000
        let findings = [
            Self.finding(
                .commandAndControl, .endpoint(Endpoint(address: IPAddress("239.255.255.250")!, port: 1900, ipProtocol: 17)), at: t),
            Self.finding(.outboundDDoS, .address(IPAddress("243.1.2.3")!), at: t),
            Self.finding(
                .infectedDevice, .host(layout.host(IPAddress(torrent.publicAddress)!, port: torrent.portBlock?.first ?? 0)), at: t),
            Self.finding(.infectedDevice, .host(layout.host(IPAddress(bot.publicAddress)!, port: bot.portBlock?.first ?? 0)), at: t),
        ]
        let evaluation = LabelEvaluation(labels: labels, layout: layout, findings: findings, c2Contacts: [:])
        let rows = Dictionary(uniqueKeysWithValues: (evaluation.decoyFalsePositives ?? []).map { ($0.decoy, $0.flagged) })
        #expect(rows.count == labels.decoys.count)
        #expect(rows["ssdp-multicast"] == ["c2-server 239.255.255.250:1900/udp"])
        #expect(rows["bittorrent"]?.count == 2, "\(rows["bittorrent"] ?? [])") // the peer as a DDoS victim, the user's line
        #expect(rows.filter { !["ssdp-multicast", "bittorrent"].contains($0.key) }.allSatisfy { $0.value.isEmpty }, "\(rows)")
        #expect(evaluation.decoysFlagged == ["239.255.255.250:1900/udp"])
        #expect(evaluation.table.contains("ssdp-multicast                    1  c2-server 239.255.255.250:1900/udp"), "\(evaluation.table)")
        #expect(evaluation.table.contains("ntp-public                        0"))
    }
}
