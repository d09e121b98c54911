import FlowCodec

/// Reads the MISP feed format: a feed is a `manifest.json` mapping event UUIDs to their
/// metadata, and one `<uuid>.json` per event (`{"Event": {…, "Attribute": [...], "Object":
/// [{"Attribute": [...]}]}}`), as MISP and PyMISP's feed generator write them (MISP core format,
/// draft-dulaunoy-misp-core-format; PyMISP `MISPEvent.manifest` and `MISPEvent.to_feed`).
///
/// Pure: the functions take the files' bytes; fetching them is the caller's. Attributes with
/// `to_ids` true of the types `ip-dst`, `ip-src` (an address or CIDR), `ip-dst|port`,
/// `ip-src|port`, `domain`, `hostname`, `hostname|port` and `domain|ip` become imported
/// indicators; the TLP is the most restrictive `tlp:` tag of the attribute and its event. Every
/// other attribute is counted as skipped with its reason.
public enum MISPFeed {
    /// One event of a feed's manifest.
    public struct ManifestEntry: Sendable, Hashable {
        public var uuid: String
        public var info: String
        /// `Orgc.name`: the organisation that created the event.
        public var organisation: String?
        /// `YYYY-MM-DD`.
        public var date: String?
        /// ms since the epoch: when the event last changed (fetch it again when this moves).
        public var timestamp: Int64?
        /// The most restrictive `tlp:` tag of the event.
        public var tlp: TLP?
        public var tags: [String]
    }

    /// The events of a `manifest.json`, sorted by UUID.
    /// - Throws: ``STIXError/Code/malformedFeed`` when it is not a manifest, or the JSON errors.
    public static func manifest(_ bytes: some Collection<UInt8>, limits: JSONValue.Limits = JSONValue.Limits()) throws(STIXError)
        -> [ManifestEntry]
    {
        guard case .object(let events) = try JSONValue.parse(bytes, limits: limits) else {
            throw STIXError(.malformedFeed, "a manifest is a JSON object")
        }
        var out: [ManifestEntry] = []
        for (uuid, meta) in events {
            guard STIXIdentifier.uuidBytes(uuid) != nil, case .object = meta else {
                throw STIXError(.malformedFeed, "manifest entry \(STIXError.excerpt(uuid))")
            }
            let tags = Self.tags(meta["Tag"])
            out.append(
                ManifestEntry(
                    uuid: uuid.lowercased(), info: meta["info"]?.stringValue ?? "", organisation: meta["Orgc"]?["name"]?.stringValue,
                    date: meta["date"]?.stringValue, timestamp: milliseconds(meta["timestamp"]),
                    tlp: tags.compactMap { TLP(label: $0) }.max(), tags: tags))
        }
        return out.sorted { $0.uuid < $1.uuid }
    }

    /// The indicators of one event file.
    /// - Throws: ``STIXError/Code/malformedFeed`` when it is not an event, or the JSON errors.
    public static func event(
        _ bytes: some Collection<UInt8>, limits: JSONValue.Limits = JSONValue.Limits()
    ) throws(STIXError) -> IndicatorImport {
        let document = try JSONValue.parse(bytes, limits: limits)
        guard let event = document["Event"], case .object = event else { throw STIXError(.malformedFeed, "no Event object") }
        guard let uuid = event["uuid"]?.stringValue, STIXIdentifier.uuidBytes(uuid) != nil else {
            throw STIXError(.malformedFeed, "the event has no UUID")
        }
        let organisation = event["Orgc"]?["name"]?.stringValue
        let eventTLP = Self.tags(event["Tag"]).compactMap { TLP(label: $0) }.max()
        var attributes: [JSONValue] = []
        if let list = event["Attribute"] {
            guard let a = list.arrayValue else { throw STIXError(.malformedFeed, "Attribute is not an array") }
            attributes += a
        }
        if let list = event["Object"] {
            guard let objects = list.arrayValue else { throw STIXError(.malformedFeed, "Object is not an array") }
            for o in objects {
                guard case .object = o else { throw STIXError(.malformedFeed, "an Object is not a JSON object") }
                if let inner = o["Attribute"] {
                    guard let a = inner.arrayValue else { throw STIXError(.malformedFeed, "an Object's Attribute is not an array") }
                    attributes += a
                }
            }
        }
        var result = IndicatorImport()
        for (i, attribute) in attributes.enumerated() {
            guard case .object = attribute, let type = attribute["type"]?.stringValue, let value = attribute["value"]?.stringValue else {
                throw STIXError(.malformedFeed, "attribute \(i) has no type or value")
            }
            let id = attribute["uuid"]?.stringValue ?? "\(uuid)#\(i)"
            if let deleted = attribute["deleted"], flag(deleted) == true {
                result.skipped.append(SkippedIndicator(id: id, reason: STIXError(.notEvaluable, "deleted")))
                continue
            }
            guard flag(attribute["to_ids"]) == true else {
                result.skipped.append(SkippedIndicator(id: id, reason: STIXError(.notEvaluable, "to_ids is not set")))
                continue
            }
            do throws(STIXError) {
                let match = try Self.match(type: type, value: value)
                let tlp = ([eventTLP] + Self.tags(attribute["Tag"]).map { TLP(label: $0) }).compactMap { $0 }.max()
                let time = milliseconds(attribute["timestamp"])
                result.indicators.append(
                    ImportedIndicator(
                        id: id, source: .misp(event: uuid.lowercased(), organisation: organisation), match: match,
                        pattern: "\(type) \(value)",
                        tlp: tlp, validFrom: time, modified: time))
            } catch {
                result.skipped.append(SkippedIndicator(id: id, reason: error))
            }
        }
        return result
    }

    /// What an attribute of an importable type matches.
    static func match(type: String, value: String) throws(STIXError) -> IndicatorMatch {
        func address(_ text: Substring) throws(STIXError) -> IPPrefix {
            guard let p = IPPrefix(text.trimmingSpaces) else { throw STIXError(.notEvaluable, "\(type): not an address") }
            return p
        }
        func port(_ text: Substring) throws(STIXError) -> UInt16 {
            guard let p = UInt16(text.trimmingSpaces) else { throw STIXError(.notEvaluable, "\(type): not a port") }
            return p
        }
        func domain(_ text: Substring) throws(STIXError) -> String {
            let d = IndicatorMatch.normalised(domain: String(text.trimmingSpaces))
            guard PatternEvaluator.isDomainName(d) else { throw STIXError(.notEvaluable, "\(type): not a domain name") }
            return d
        }
        let parts = value.split(separator: "|", omittingEmptySubsequences: false)
        func two() throws(STIXError) -> (Substring, Substring) {
            guard parts.count == 2 else { throw STIXError(.notEvaluable, "\(type): not two values") }
            return (parts[0], parts[1])
        }
        switch type {
        case "ip-dst", "ip-src":
            return IndicatorMatch(alternatives: [.init(target: .addresses([try address(value[...])]))])
        case "ip-dst|port", "ip-src|port":
            let (a, p) = try two()
            var alternative = IndicatorMatch.Alternative(target: .addresses([try address(a)]))
            alternative.destinationPorts = [try port(p)]
            return IndicatorMatch(alternatives: [alternative])
        case "domain", "hostname":
            return IndicatorMatch(alternatives: [.init(target: .domains([try domain(value[...])]))])
        case "hostname|port":
            let (d, p) = try two()
            var alternative = IndicatorMatch.Alternative(target: .domains([try domain(d)]))
            alternative.destinationPorts = [try port(p)]
            return IndicatorMatch(alternatives: [alternative])
        case "domain|ip":
            let (d, a) = try two()
            return IndicatorMatch(alternatives: [.init(target: .domains([try domain(d)])), .init(target: .addresses([try address(a)]))])
        default:
            throw STIXError(.notEvaluable, "MISP type \(STIXError.excerpt(type)) is not imported")
        }
    }

    /// The names of a `Tag` list.
    static func tags(_ value: JSONValue?) -> [String] {
        (value?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    }

    /// A MISP boolean: `true`, `1`, `"1"`, `"true"`.
    static func flag(_ value: JSONValue?) -> Bool? {
        switch value {
        case .bool(let b): b
        case .integer(let i): i != 0
        case .string(let s): s == "1" || s.lowercased() == "true"
        default: nil
        }
    }

    /// Seconds since the epoch, as a number or a string of digits, in ms (nil past year 9999).
    static func milliseconds(_ value: JSONValue?) -> Int64? {
        let seconds: Int64?
        switch value {
        case .integer(let i): seconds = i
        case .string(let s): seconds = Int64(s)
        default: seconds = nil
        }
        guard let seconds, (0...253_402_300_799).contains(seconds) else { return nil }
        return seconds * 1000
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
