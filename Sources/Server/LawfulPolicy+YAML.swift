import Foundation
import IdentityCodec
import Lawful
import Yams

extension LawfulPolicy {
    /// Reads a policy file; unknown keys, wrong types and bad values are refused with their line.
    public static func load(path: String) throws(ConfigurationError) -> LawfulPolicy {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(line: nil, "cannot read the policy file: \(error.localizedDescription)", file: path)
        }
        do {
            return try parse(yaml: text)
        } catch var e {
            e.file = path
            throw e
        }
    }

    /// Parses policy YAML text (see `mamori.policy.example.yaml`).
    public static func parse(yaml text: String) throws(ConfigurationError) -> LawfulPolicy {
        var policy = LawfulPolicy()
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigurationError(line: MamoriConfiguration.line(of: error), "not valid YAML: \(error)")
        } catch {
            throw ConfigurationError(line: nil, "not valid YAML: \(error)")
        }
        guard let root, root.null == nil else { return policy }
        let top = try YAMLMap(root, context: "the policy")
        try top.allowOnly(["terms", "legitimate_business", "vulnerability", "sinkhole", "analysis", "call_fraud", "notices"])
        if let t = top["terms"] {
            guard case .sequence(let seq) = t.node else { throw t.error("terms must be a list of terms versions") }
            for item in seq {
                let m = try YAMLMap(item, context: "a terms version")
                try m.allowOnly(["version", "effective", "discloses", "observation_statement"])
                guard let v = m["version"], let e = m["effective"] else {
                    throw ConfigurationError(line: item.mark?.line, "a terms version needs 'version' and 'effective'")
                }
                let version = try v.string()
                if policy.terms.contains(where: { $0.version == version }) { throw v.error("terms version \(version) is listed twice") }
                let effectiveText = try e.string()
                guard let effective = CustomerConsentFile.date(effectiveText) else {
                    throw e.error("effective '\(effectiveText)' is not a date such as 2025-04-01")
                }
                var discloses: Set<LawfulAction> = []
                if let d = m["discloses"] {
                    for name in try d.strings() {
                        guard let a = LawfulAction(rawValue: name), a.concernsSubscriber else {
                            throw d.error(
                                "discloses: '\(name)' is not one of \(LawfulAction.allCases.filter(\.concernsSubscriber).map(\.rawValue).joined(separator: ", "))"
                            )
                        }
                        discloses.insert(a)
                    }
                }
                policy.terms.append(
                    Terms(
                        version: version, effective: effective, discloses: discloses,
                        observationStatement: try m["observation_statement"]?.string()))
            }
        }
        if let v = top["legitimate_business"] {
            let m = try YAMLMap(v.node, context: "legitimate_business")
            try m.allowOnly([
                "qualifying_families", "repeated_contacts", "attack_packets_per_second", "attack_bits_per_second",
                "scan_destinations_per_minute", "honour_opt_out",
            ])
            if let x = m["qualifying_families"] {
                policy.legitimateBusiness.qualifyingFamilies = Set(try x.strings().map { $0.lowercased() })
            }
            if let x = m["repeated_contacts"] { policy.legitimateBusiness.repeatedContacts = try x.int(in: 1...1_000_000) }
            if let x = m["attack_packets_per_second"] { policy.legitimateBusiness.attackPacketsPerSecond = try x.double(in: 1...1e12) }
            if let x = m["attack_bits_per_second"] { policy.legitimateBusiness.attackBitsPerSecond = try x.double(in: 1...1e15) }
            if let x = m["scan_destinations_per_minute"] { policy.legitimateBusiness.scanDestinationsPerMinute = try x.double(in: 1...1e9) }
            if let x = m["honour_opt_out"] { policy.legitimateBusiness.honourOptOut = try x.bool() }
        }
        if let v = top["vulnerability"] {
            let m = try YAMLMap(v.node, context: "vulnerability")
            try m.allowOnly(["trusted_sources"])
            if let x = m["trusted_sources"] { policy.vulnerability.trustedSources = Set(try x.strings().map { $0.lowercased() }) }
        }
        if let v = top["sinkhole"] {
            let m = try YAMLMap(v.node, context: "sinkhole")
            try m.allowOnly(["opt_out_method"])
            if let x = m["opt_out_method"] { policy.sinkhole.optOutMethod = try x.string() }
        }
        if let v = top["analysis"] {
            let m = try YAMLMap(v.node, context: "analysis")
            try m.allowOnly(["maximum_evidence_retention_days"])
            if let x = m["maximum_evidence_retention_days"] { policy.analysis.maximumEvidenceRetentionDays = try x.int(in: 1...3650) }
        }
        if let v = top["call_fraud"] {
            let m = try YAMLMap(v.node, context: "call_fraud")
            try m.allowOnly(["exclusive_fraud_share", "maximum_block_hours"])
            if let x = m["exclusive_fraud_share"] { policy.callFraud.exclusiveFraudShare = try x.double(in: 0.5...1) }
            if let x = m["maximum_block_hours"] { policy.callFraud.maximumBlockHours = try x.int(in: 1...8760) }
        }
        if let v = top["notices"] {
            let m = try YAMLMap(v.node, context: "notices")
            try m.allowOnly(["renotify_after_hours", "escalate_after_notices", "languages", "link_valid_days", "support"])
            if let x = m["renotify_after_hours"] { policy.notices.renotifyAfterHours = try x.int(in: 1...87_600) }
            if let x = m["escalate_after_notices"] { policy.notices.escalateAfterNotices = try x.int(in: 1...100) }
            if let x = m["languages"] {
                let languages = try x.strings().map { $0.lowercased() }
                guard !languages.isEmpty, languages.allSatisfy({ ["ja", "en"].contains($0) }) else {
                    throw x.error("languages must list ja and/or en (the languages notices are written in)")
                }
                policy.notices.languages = languages
            }
            if let x = m["link_valid_days"] { policy.notices.linkValidDays = try x.int(in: 1...365) }
            if let x = m["support"] { policy.notices.support = try x.string() }
        }
        return policy
    }
}

extension YAMLValue {
    func strings() throws(ConfigurationError) -> [String] {
        guard case .sequence(let seq) = node else { throw error("\(key) must be a list") }
        var out: [String] = []
        for item in seq { out.append(try YAMLValue(node: item, key: key).string()) }
        return out
    }

    func bool() throws(ConfigurationError) -> Bool {
        switch try string().lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("\(key) must be true or false")
        }
    }
}
