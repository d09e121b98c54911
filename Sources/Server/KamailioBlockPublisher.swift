import FraudDetection
import KamailioControl
import Logging
import Metrics

/// The rules in force as Kamailio's blocklist (`telephony.kamailio`): each rule's prefix refused
/// with its id and reason; the opted-out accounts exempt from every block; a business line with
/// trade ties exempt from each block its tie covers (a tie on `8816` exempts it from a block of
/// `881631231`, not from a block of all of `88`).
final class KamailioBlockPublisher: BlockPublisher {
    let kamailio: KamailioPublisher

    init(tablesDirectory: String, rpcURL: String, logger: Logger, metricsFactory: any MetricsFactory) throws {
        kamailio = KamailioPublisher(
            configuration: .init(tablesDirectory: tablesDirectory, rpcURL: rpcURL), logger: logger, metricsFactory: metricsFactory)
        do {
            try kamailio.prepare()
        } catch {
            throw ConfigurationError(line: nil, "telephony.kamailio: \(error)")
        }
    }

    static func blocklist(_ rules: [BlockRule], optOuts: Set<String>, tradeTies: [String: [String]]) -> SoftswitchBlocklist {
        var list = SoftswitchBlocklist()
        list.blocks = rules.map {
            .init(prefix: $0.prefix, ruleID: $0.id, reason: "suspected fraud to \($0.name) (\($0.country))")
        }
        list.exemptions = optOuts.sorted().map { .init(account: $0) }
        for (account, prefixes) in tradeTies.sorted(by: { $0.key < $1.key }) where !optOuts.contains(account) {
            for rule in rules where prefixes.contains(where: { rule.prefix.hasPrefix($0) }) {
                list.exemptions.append(.init(account: account, prefix: rule.prefix))
            }
        }
        return list
    }

    func publish(_ rules: [BlockRule], optOuts: Set<String>, tradeTies: [String: [String]]) async throws {
        let report = try await kamailio.publish(Self.blocklist(rules, optOuts: optOuts, tradeTies: tradeTies))
        guard report.matches else { throw KamailioControlError(.refused, "Kamailio loaded other tables: \(report.differences.prefix(3))") }
    }
}
