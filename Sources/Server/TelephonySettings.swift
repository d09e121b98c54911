import Foundation
import FraudDetection
import Telephony
import Yams

/// IP-phone fraud (`telephony:`): where the call records come from, how subscribers dial, the
/// detectors' and the block rules' bars, who is exempt, and the softswitch rules are published to.
public struct TelephonySettings: Sendable {
    /// One source of call records followed as it grows.
    public struct Feed: Sendable {
        public var name: String
        public var path: String
        public var format: CDRReader.Format
    }

    public var enabled = false
    public var countryCode = "81"
    public var nationalPrefix: String? = "0"
    public var internationalPrefixes = ["010"]
    public var emergencyNumbers: Set<String> = CallClassifier.defaultEmergencyNumbers
    /// The carrier's number-plan tables over the shipped one (docs/number-plan.md).
    public var numberPlanFiles: [String] = []
    public var feeds: [Feed] = []
    /// Read a feed seen for the first time from its start (true) or only what comes next.
    public var readFeedsFromStart = false
    public var pollSeconds = 1
    /// A call later than the clock plus this is refused (a source whose clock runs ahead).
    public var clockSkewSeconds = 300
    public var detector = FraudSettings()
    public var businessLines: Set<String> = []
    public var blocking = BlockPolicy()
    /// Accounts whose calls are never blocked (the carrier records their opt-out).
    public var optOuts: Set<String> = []
    /// Business lines with trade ties: the account may call these prefixes even while blocked.
    public var tradeTies: [String: [String]] = [:]
    /// Kamailio's JSON-RPC and the directory of the db_text tables it reads the rules from.
    public var kamailioRPC: String?
    public var kamailioTables: String?
    /// Days fraudulent calls, findings and ended rules are kept (billing disputes take months).
    public var retentionDays = 400

    public init() {}

    public var dialingRules: DialingRules {
        get throws {
            try DialingRules(countryCode: countryCode, nationalPrefix: nationalPrefix, internationalPrefixes: internationalPrefixes)
        }
    }

    static func parse(_ v: YAMLValue) throws(ConfigurationError) -> TelephonySettings {
        var s = TelephonySettings()
        s.enabled = true
        let m = try YAMLMap(v.node, context: "telephony")
        try m.allowOnly([
            "country_code", "national_prefix", "international_prefixes", "emergency_numbers", "number_plan_files", "feeds",
            "read_feeds_from_start", "poll_seconds", "clock_skew_seconds", "detection", "business_lines", "blocking", "exemptions",
            "kamailio", "retention_days",
        ])
        if let x = m["country_code"] { s.countryCode = try x.string() }
        if let x = m["national_prefix"] {
            let p = try x.string()
            s.nationalPrefix = p.isEmpty ? nil : p
        }
        if let x = m["international_prefixes"] { s.internationalPrefixes = try x.strings() }
        do {
            _ = try s.dialingRules
        } catch {
            throw ConfigurationError(line: m.line, "telephony: the dialling rules are not valid: \(error)")
        }
        if let x = m["emergency_numbers"] {
            s.emergencyNumbers = Set(try x.strings())
            guard s.emergencyNumbers.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }) else {
                throw x.error("telephony.emergency_numbers must be short codes of digits, like 110")
            }
        }
        if let x = m["number_plan_files"] { s.numberPlanFiles = try x.strings() }
        if let x = m["read_feeds_from_start"] { s.readFeedsFromStart = try x.bool() }
        if let x = m["poll_seconds"] { s.pollSeconds = try x.int(in: 1...3600) }
        if let x = m["clock_skew_seconds"] { s.clockSkewSeconds = try x.int(in: 0...86_400) }
        if let x = m["retention_days"] { s.retentionDays = try x.int(in: 1...3650) }
        if let x = m["business_lines"] { s.businessLines = Set(try x.strings()) }
        if let x = m["feeds"] {
            guard case .sequence(let seq) = x.node else { throw x.error("telephony.feeds must be a list") }
            for item in seq {
                let feed = try parseFeed(item)
                guard !s.feeds.contains(where: { $0.name == feed.name }) else {
                    throw ConfigurationError(line: item.mark?.line, "telephony.feeds: two feeds are named '\(feed.name)'")
                }
                s.feeds.append(feed)
            }
        }
        if let x = m["detection"] { s.detector = try parseDetection(x) }
        if let x = m["blocking"] { s.blocking = try parseBlocking(x, home: s.countryCode) }
        s.blocking.homeCountryCode = s.countryCode
        if let x = m["exemptions"] {
            let e = try YAMLMap(x.node, context: "telephony.exemptions")
            try e.allowOnly(["opt_out", "trade_ties"])
            if let o = e["opt_out"] { s.optOuts = Set(try o.strings()) }
            if let t = e["trade_ties"] {
                guard case .sequence(let seq) = t.node else { throw t.error("telephony.exemptions.trade_ties must be a list") }
                for item in seq {
                    let tie = try YAMLMap(item, context: "a trade tie")
                    try tie.allowOnly(["account", "prefixes"])
                    guard let a = tie["account"], let p = tie["prefixes"] else {
                        throw ConfigurationError(line: item.mark?.line, "a trade tie needs 'account' and 'prefixes' (E.164 digits)")
                    }
                    let prefixes = try p.strings()
                    guard prefixes.allSatisfy({ E164Number(digits: $0) != nil }) else {
                        throw p.error("trade tie prefixes must be E.164 digits without '+', like 8816")
                    }
                    s.tradeTies[try a.string(), default: []] += prefixes
                }
            }
        }
        if let x = m["kamailio"] {
            let k = try YAMLMap(x.node, context: "telephony.kamailio")
            try k.allowOnly(["rpc_url", "table_directory"])
            guard let rpc = k["rpc_url"], let dir = k["table_directory"] else {
                throw x.error("telephony.kamailio needs rpc_url (Kamailio's JSON-RPC over HTTP) and table_directory (its db_text tables)")
            }
            s.kamailioRPC = try rpc.string()
            s.kamailioTables = try dir.string()
        }
        return s
    }

    static func parseFeed(_ node: Node) throws(ConfigurationError) -> Feed {
        let f = try YAMLMap(node, context: "a telephony feed")
        try f.allowOnly(["name", "path", "format", "time_zone", "columns", "outcomes"])
        guard let n = f["name"], let p = f["path"], let fmt = f["format"] else {
            throw ConfigurationError(
                line: node.mark?.line, "a telephony feed needs 'name', 'path' and 'format' (kamailio, asterisk or csv)")
        }
        let name = try n.string()
        guard (1...64).contains(name.utf8.count), name.utf8.allSatisfy({ TAXIISettings.isPathByte($0) }) else {
            throw n.error("a feed's name must be 1 to 64 of a-z, 0-9, '-' and '_'; got '\(name)'")
        }
        let offset = try f["time_zone"].map { v throws(ConfigurationError) in try ReportsSettings.offset(v) } ?? 0
        let format: CDRReader.Format
        switch try fmt.string() {
        case "kamailio": format = .kamailio(KamailioAccFormat())
        case "asterisk": format = .asterisk(AsteriskCDRFormat(offsetMinutes: offset))
        case "csv":
            guard let c = f["columns"] else {
                throw fmt.error("a csv feed needs 'columns': account, dialled, start and duration (and caller, answer, outcome, call_id)")
            }
            let cm = try YAMLMap(c.node, context: "telephony.feeds (\(name)).columns")
            try cm.allowOnly(["account", "caller", "dialled", "start", "duration", "answer", "outcome", "call_id"])
            guard let a = cm["account"], let d = cm["dialled"], let st = cm["start"], let du = cm["duration"] else {
                throw c.error("telephony.feeds (\(name)).columns needs account, dialled, start and duration")
            }
            var mapping = CDRMapping(
                name: name,
                columns: .init(
                    account: try a.string(), caller: try cm["caller"]?.string(), dialled: try d.string(), start: try st.string(),
                    duration: try du.string(), answer: try cm["answer"]?.string(), outcome: try cm["outcome"]?.string(),
                    callID: try cm["call_id"]?.string()), offsetMinutes: offset)
            if let o = f["outcomes"] {
                let om = try YAMLMap(o.node, context: "telephony.feeds (\(name)).outcomes")
                for e in om.entries {
                    let v = YAMLValue(node: e.value, key: e.key)
                    guard let outcome = CallRecord.Outcome(rawValue: try v.string()) else {
                        throw v.error("an outcome must be one of \(CallRecord.Outcome.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    mapping.outcomes[e.key.lowercased()] = outcome
                }
            }
            format = .mapped(mapping)
        case let other: throw fmt.error("a feed's format must be kamailio, asterisk or csv; got '\(other)'")
        }
        return Feed(name: name, path: try p.string(), format: format)
    }

    static func parseDetection(_ v: YAMLValue) throws(ConfigurationError) -> FraudSettings {
        var d = FraudSettings()
        let m = try YAMLMap(v.node, context: "telephony.detection")
        try m.allowOnly([
            "window_minutes", "burst_minimum_calls", "burst_factor", "learning_hours", "high_cost_calls", "new_destinations",
            "numbers_in_one_range", "quiet_minutes", "business_hours", "time_zone", "maximum_lines", "burst_minimum_minutes",
            "sustained_window_minutes", "sustained_hours", "sustained_minimum_minutes", "sustained_factor",
        ])
        if let x = m["window_minutes"] { d.windowMinutes = Int64(try x.int(in: 5...1440)) }
        if let x = m["burst_minimum_calls"] { d.burstMinimumCalls = try x.int(in: 1...100_000) }
        if let x = m["burst_factor"] { d.burstFactor = try x.double(in: 1...1000) }
        if let x = m["burst_minimum_minutes"] { d.burstMinimumMinutes = try x.double(in: 1...1_000_000) }
        if let x = m["sustained_window_minutes"] { d.sustainedWindowMinutes = Int64(try x.int(in: 60...10_080)) }
        if let x = m["sustained_hours"] { d.sustainedHours = try x.int(in: 1...168) }
        if let x = m["sustained_minimum_minutes"] { d.sustainedMinimumMinutes = try x.double(in: 1...1_000_000) }
        if let x = m["sustained_factor"] { d.sustainedFactor = try x.double(in: 1...1000) }
        if let x = m["learning_hours"] { d.learningHours = Int64(try x.int(in: 0...8760)) }
        if let x = m["high_cost_calls"] { d.highCostCalls = try x.int(in: 1...100_000) }
        if let x = m["new_destinations"] { d.newDestinations = try x.int(in: 1...1000) }
        if let x = m["numbers_in_one_range"] { d.numbersInOneRange = try x.int(in: 2...1000) }
        if let x = m["quiet_minutes"] { d.quietMinutes = Int64(try x.int(in: 1...10_080)) }
        if let x = m["maximum_lines"] { d.maximumLines = try x.int(in: 1...100_000_000) }
        if let x = m["time_zone"] { d.offsetMinutes = try ReportsSettings.offset(x) }
        if let x = m["business_hours"] {
            let parts = try x.string().split(separator: "-").compactMap { Int($0) }
            guard parts.count == 2, (0...23).contains(parts[0]), (1...24).contains(parts[1]), parts[0] < parts[1] else {
                throw x.error("telephony.detection.business_hours must be like 8-19 (from the hour, to the hour)")
            }
            d.businessHours = parts[0]..<parts[1]
        }
        return d
    }

    static func parseBlocking(_ v: YAMLValue, home: String) throws(ConfigurationError) -> BlockPolicy {
        var b = BlockPolicy()
        let m = try YAMLMap(v.node, context: "telephony.blocking")
        try m.allowOnly([
            "range", "destination", "minimum_share", "minimum_fraudulent_calls", "minimum_lines", "window_minutes",
            "ranges_for_destination", "quiet_minutes", "lift_share", "period_minutes", "maximum_active", "maximum_new_per_hour",
            "protected",
        ])
        for scope in BlockScope.allCases {
            if let x = m[scope.rawValue] {
                let text = try x.string()
                guard let mode = BlockMode(rawValue: text) else {
                    throw x.error(
                        "telephony.blocking.\(scope.rawValue) must be one of \(BlockMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                b.modes[scope] = mode
            }
        }
        if let x = m["minimum_share"] { b.minimumShare = try x.double(in: 0.5...1) }
        if let x = m["minimum_fraudulent_calls"] { b.minimumFraudulentCalls = try x.int(in: 1...1_000_000) }
        if let x = m["minimum_lines"] { b.minimumAccounts = try x.int(in: 1...100_000) }
        if let x = m["window_minutes"] { b.windowMinutes = Int64(try x.int(in: 10...1440)) }
        if let x = m["ranges_for_destination"] { b.rangesForDestination = try x.int(in: 1...1000) }
        if let x = m["quiet_minutes"] { b.quietMinutes = Int64(try x.int(in: 1...10_080)) }
        if let x = m["lift_share"] { b.liftShare = try x.double(in: 0...1) }
        if let x = m["period_minutes"] { b.periodMinutes = Int64(try x.int(in: 1...43_200)) }
        if let x = m["maximum_active"] { b.maximumActive = try x.int(in: 1...100_000) }
        if let x = m["maximum_new_per_hour"] { b.maximumNewPerHour = try x.int(in: 1...100_000) }
        if let x = m["protected"] {
            b.protected = try x.strings()
            guard b.protected.allSatisfy({ E164Number(digits: $0) != nil }) else {
                throw x.error("telephony.blocking.protected must be E.164 prefixes without '+', like 1 or 8816")
            }
        }
        return b
    }
}
