/// Something Mamori may do that touches communications data or a subscriber: the rows of the
/// legal frame in DESIGN.md. Every one is decided by ``LegalBasisEngine`` before it happens.
public enum LawfulAction: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Collect and analyse flow records in normal times to find likely C&C servers.
    case analyseFlows = "analyse_flows"
    /// Share detected C&C information with other carriers / the ISAC.
    case shareIndicator = "share_indicator"
    /// Warn the user of a device that is highly likely infected (注意喚起).
    case warnInfection = "warn_infection"
    /// Warn the user of a vulnerable device (weak credentials found by a national scan …).
    case warnVulnerability = "warn_vulnerability"
    /// Block communication with C&C servers by answering their names from a DNS sinkhole.
    case sinkholeDNS = "sinkhole_dns"
    /// Temporarily stop calls to specific countries during IP-phone revenue share fraud.
    case blockCallDestination = "block_call_destination"
    /// Filter attack traffic by BGP (RTBH, FlowSpec): a flood against a subscriber, or one from
    /// a subscriber's device.
    case mitigateAttack = "mitigate_attack"

    /// Whether the action concerns one subscriber (and so their consent).
    public var concernsSubscriber: Bool {
        switch self {
        case .warnInfection, .warnVulnerability, .sinkholeDNS, .mitigateAttack: true
        case .analyseFlows, .shareIndicator, .blockCallDestination: false
        }
    }

    public var description: String {
        switch self {
        case .analyseFlows: "analyse flow records"
        case .shareIndicator: "share C&C indicators"
        case .warnInfection: "warn of an infected device"
        case .warnVulnerability: "warn of a vulnerable device"
        case .sinkholeDNS: "sinkhole C&C names in DNS"
        case .blockCallDestination: "block calls to a fraud destination"
        case .mitigateAttack: "filter attack traffic by BGP (RTBH, FlowSpec)"
        }
    }
}

/// The ground on which an action was taken (or the refusal).
public enum LegalBasis: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// 個別同意: the subscriber agreed to this action specifically.
    case individualConsent = "individual_consent"
    /// 包括同意: the contract terms the subscriber accepted disclose the action, with an opt-out not used.
    case comprehensiveConsent = "comprehensive_consent"
    /// 正当業務行為: justified without consent by the conditions the law accepts.
    case legitimateBusinessAct = "legitimate_business_act"
    /// The action does not in itself touch the secrecy of communications (C&C-side indicators only).
    case noInfringement = "no_infringement"
    /// The carrier's own judgment within the limits set for IP-phone fraud blocking.
    case carrierJudgment = "carrier_judgment"
    /// No ground applies: the action must not be taken.
    case notPermitted = "not_permitted"

    public var description: String {
        switch self {
        case .individualConsent: "individual consent"
        case .comprehensiveConsent: "comprehensive consent"
        case .legitimateBusinessAct: "legitimate business act"
        case .noInfringement: "no infringement"
        case .carrierJudgment: "carrier's judgment"
        case .notPermitted: "not permitted"
        }
    }
}
