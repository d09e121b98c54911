import FlowCodec

/// Builds the STIX objects Mamori shares from ``SharedIndicator``s. Pure: the time is `now`,
/// and every id is name-based, so exporting the same endpoint again gives the same ids with a
/// new `modified` (``STIXIdentifier/mamori(type:key:)``).
///
/// For each indicator:
/// - the `indicator` (pattern, `pattern_type` `stix`, `pattern_version` `2.1`, validity,
///   `confidence` from the score, the TLP marking, `created_by_ref` the carrier);
/// - for a C&C server or a reflector, the `infrastructure` (`command-and-control` or
///   `amplification`), the cyber observable of its address or name and `consists-of` to it,
///   and the indicator `indicates` it;
/// - with a known family, the `malware` (`is_family` true), the indicator `indicates` it, and a
///   C&C server `controls` it;
/// - a `sighting` of the indicator (count, first and last seen) where the carrier saw it;
/// and, once, the carrier's `identity` (marked TLP:CLEAR) and the TLP marking definitions used.
///
/// A revoked indicator (an analyst's false-positive verdict) gives the indicator, its
/// infrastructure, relationships and sighting again with `revoked: true` and a new `modified`;
/// its observable and malware are not repeated.
///
/// Nothing built here leaves Mamori directly: ``SharingGuard/screen(_:)`` makes the bundle.
public enum STIXExport {
    /// The objects for `indicators`, shared by `identity` at `now` (ms since the epoch).
    /// Indicators with the same pattern after the first are ignored.
    public static func objects(for indicators: [SharedIndicator], identity: SharingIdentity, now: Int64) -> [STIXObject] {
        var builder = Builder(identity: identity, now: now)
        for indicator in indicators { builder.add(indicator) }
        return builder.finish()
    }

    /// The id the indicator for `indicator`'s pattern has when `identity` shares it.
    public static func indicatorID(of indicator: SharedIndicator, identity: SharingIdentity) -> STIXIdentifier {
        .mamori(type: "indicator", key: "\(indicator.pattern)|\(identity.name)")
    }

    /// The identity object of the carrier.
    public static func identityObject(_ identity: SharingIdentity) -> STIXObject {
        make([
            "type": .string("identity"), "id": .string(identity.id.description), "created": time(identity.created),
            "modified": time(identity.created), "name": .string(identity.name), "identity_class": .string("organization"),
            "sectors": .array([.string("telecommunications")]),
            "object_marking_refs": .array([.string(TLP.clear.markingDefinitionID.description)]),
        ])
    }

    static func time(_ ms: Int64) -> JSONValue { .string(STIXTimestamp.format(milliseconds: ms)) }

    /// An object from properties this file wrote: `spec_version` 2.1 is added.
    static func make(_ properties: [String: JSONValue]) -> STIXObject {
        var p = properties
        p["spec_version"] = .string("2.1")
        // Every caller writes a valid type, an id of that type and timestamps it formatted.
        return try! STIXObject(properties: p)
    }

    struct Builder {
        let identity: SharingIdentity
        let now: Int64
        var objects: [STIXObject] = []
        var seen = Set<STIXIdentifier>()
        var markings = Set<TLP>([.clear])
        /// Malware by id: its name, types, earliest `created` and most restrictive marking.
        var malware: [STIXIdentifier: (name: String, types: [String], created: Int64, tlp: TLP)] = [:]
        var malwareOrder: [STIXIdentifier] = []

        init(identity: SharingIdentity, now: Int64) {
            self.identity = identity
            self.now = now
        }

        mutating func append(_ object: STIXObject) {
            if seen.insert(object.id).inserted { objects.append(object) }
        }

        /// The properties every object Mamori makes of `indicator` shares.
        func common(_ type: String, _ id: STIXIdentifier, _ indicator: SharedIndicator) -> [String: JSONValue] {
            var p: [String: JSONValue] = [
                "type": .string(type), "id": .string(id.description), "created_by_ref": .string(identity.id.description),
                "created": STIXExport.time(indicator.firstExported), "modified": STIXExport.time(max(now, indicator.firstExported)),
                "object_marking_refs": .array([.string(indicator.tlp.markingDefinitionID.description)]),
            ]
            if indicator.revoked { p["revoked"] = .bool(true) }
            return p
        }

        mutating func relationship(_ source: STIXIdentifier, _ type: String, _ target: STIXIdentifier, _ indicator: SharedIndicator) {
            let id = STIXIdentifier.mamori(type: "relationship", key: "\(source)|\(type)|\(target)")
            var p = common("relationship", id, indicator)
            p["relationship_type"] = .string(type)
            p["source_ref"] = .string(source.description)
            p["target_ref"] = .string(target.description)
            append(STIXExport.make(p))
        }

        mutating func add(_ indicator: SharedIndicator) {
            let indicatorID = STIXExport.indicatorID(of: indicator, identity: identity)
            guard !seen.contains(indicatorID) else { return }
            markings.insert(indicator.tlp)
            let endpoint = indicator.endpointDescription
            let what: String
            switch indicator.kind {
            case .commandAndControl: what = "Command-and-control server"
            case .scanner: what = "Scanning host"
            case .reflector: what = "Abused reflector"
            }

            var p = common("indicator", indicatorID, indicator)
            p["name"] = .string("\(what) \(endpoint)")
            p["description"] = .string(
                "\(what) \(endpoint), seen \(max(0, indicator.sightings)) times between "
                    + "\(STIXTimestamp.format(milliseconds: min(indicator.firstSeen, indicator.lastSeen))) and "
                    + "\(STIXTimestamp.format(milliseconds: max(indicator.firstSeen, indicator.lastSeen))) in the flow records of \(identity.name)."
            )
            p["indicator_types"] = .array([.string(indicator.kind == .reflector ? "anomalous-activity" : "malicious-activity")])
            p["pattern"] = .string(indicator.pattern)
            p["pattern_type"] = .string("stix")
            p["pattern_version"] = .string("2.1")
            p["valid_from"] = STIXExport.time(indicator.validFrom)
            if let until = indicator.validUntil, until > indicator.validFrom { p["valid_until"] = STIXExport.time(until) }
            let score = indicator.score.isNaN ? 0 : min(1, max(0, indicator.score))
            p["confidence"] = .integer(Int64((score * 100).rounded()))
            let labels = Array(Set(indicator.labels.filter { !$0.isEmpty })).sorted()
            if !labels.isEmpty { p["labels"] = .array(labels.map(JSONValue.string)) }
            append(STIXExport.make(p))

            var infrastructureID: STIXIdentifier?
            if indicator.kind != .scanner {
                let id = STIXIdentifier.mamori(type: "infrastructure", key: "\(indicator.kind.rawValue)|\(endpoint)|\(identity.name)")
                infrastructureID = id
                var i = common("infrastructure", id, indicator)
                i["name"] = .string("\(indicator.kind == .commandAndControl ? "C&C" : "Reflector") \(endpoint)")
                i["infrastructure_types"] = .array([.string(indicator.kind == .commandAndControl ? "command-and-control" : "amplification")]
                )
                i["first_seen"] = STIXExport.time(min(indicator.firstSeen, indicator.lastSeen))
                i["last_seen"] = STIXExport.time(max(indicator.firstSeen, indicator.lastSeen))
                append(STIXExport.make(i))
                relationship(indicatorID, "indicates", id, indicator)

                let observable = Self.observable(indicator.subject)
                if !indicator.revoked {
                    var o = observable.properties
                    o["object_marking_refs"] = .array([.string(indicator.tlp.markingDefinitionID.description)])
                    append(STIXExport.make(o))
                }
                relationship(id, "consists-of", observable.id, indicator)
            }

            if let family = indicator.malwareFamily?.trimmingSpaces, !family.isEmpty {
                let id = STIXIdentifier.mamori(type: "malware", key: "\(family.lowercased())|\(identity.name)")
                if !indicator.revoked {
                    if let m = malware[id] {
                        malware[id] = (m.name, m.types, min(m.created, indicator.firstExported), max(m.tlp, indicator.tlp))
                    } else {
                        malware[id] = (
                            family, indicator.malwareTypes.isEmpty ? ["bot"] : indicator.malwareTypes, indicator.firstExported,
                            indicator.tlp
                        )
                        malwareOrder.append(id)
                    }
                }
                relationship(indicatorID, "indicates", id, indicator)
                if indicator.kind == .commandAndControl, let infrastructureID { relationship(infrastructureID, "controls", id, indicator) }
            }

            let sightingID = STIXIdentifier.mamori(type: "sighting", key: "\(indicatorID)|\(identity.name)")
            var s = common("sighting", sightingID, indicator)
            s["count"] = .integer(Int64(min(999_999_999, max(0, indicator.sightings))))
            s["first_seen"] = STIXExport.time(min(indicator.firstSeen, indicator.lastSeen))
            s["last_seen"] = STIXExport.time(max(indicator.firstSeen, indicator.lastSeen))
            s["sighting_of_ref"] = .string(indicatorID.description)
            s["where_sighted_refs"] = .array([.string(identity.id.description)])
            append(STIXExport.make(s))
        }

        /// The observable of an endpoint (its id is the spec's UUIDv5 of its value).
        static func observable(_ subject: SharedIndicator.Subject) -> STIXObject {
            let type: String
            let value: String
            switch subject {
            case .address(let a):
                type = a.isIPv6 ? "ipv6-addr" : "ipv4-addr"
                value = a.description
            case .domain(let d):
                type = "domain-name"
                value = IndicatorMatch.normalised(domain: d)
            }
            let id = STIXIdentifier.observable(type: type, contributing: ["value": .string(value)])
            return STIXExport.make(["type": .string(type), "id": .string(id.description), "value": .string(value)])
        }

        mutating func finish() -> [STIXObject] {
            for id in malwareOrder {
                let m = malware[id]!
                let p: [String: JSONValue] = [
                    "type": .string("malware"), "id": .string(id.description), "created_by_ref": .string(identity.id.description),
                    "created": STIXExport.time(m.created), "modified": STIXExport.time(max(now, m.created)), "name": .string(m.name),
                    "is_family": .bool(true), "malware_types": .array(m.types.map(JSONValue.string)),
                    "object_marking_refs": .array([.string(m.tlp.markingDefinitionID.description)]),
                ]
                objects.append(STIXExport.make(p))
            }
            let head = markings.sorted().map(\.markingDefinition) + [STIXExport.identityObject(identity)]
            return head + objects
        }
    }
}

extension String {
    var trimmingSpaces: String { String(Substring(self).trimmingSpaces) }
}
