/// The Traffic Light Protocol 2.0 (FIRST), as STIX marks it, ordered from least to most
/// restrictive: what is marked above a ceiling may not be passed on under it.
///
/// Mamori writes the TLP 2.0 marking definitions of the OASIS extension
/// `extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`, with their fixed ids, names
/// and `created` as that extension's schema and examples give them (oasis-open/cti-stix-common-objects,
/// `extension-definition-specifications/tlp-2.0/extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d.json`
/// and `examples/tlp-amber.json`). On import it also recognises the TLP 1.0 marking definitions
/// of STIX 2.1 §7.2.1.4 (`definition_type` `tlp`; WHITE is read as CLEAR), by id or, for a
/// marking definition in the same bundle, by its content.
public enum TLP: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    case clear = 0
    case green = 1
    case amber = 2
    case amberStrict = 3
    case red = 4

    public static func < (a: TLP, b: TLP) -> Bool { a.rawValue < b.rawValue }

    /// The id of the TLP 2.0 extension definition.
    public static let extensionDefinition = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
    /// `created` of every TLP 2.0 marking definition.
    public static let created = "2022-10-01T00:00:00.000Z"

    /// The TLP 2.0 marking definition's id.
    public var markingDefinitionID: STIXIdentifier {
        switch self {
        case .clear: STIXIdentifier("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487")!
        case .green: STIXIdentifier("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb")!
        case .amber: STIXIdentifier("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421")!
        case .amberStrict: STIXIdentifier("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003")!
        case .red: STIXIdentifier("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1")!
        }
    }

    /// `clear`, `green`, `amber`, `amber+strict`, `red`: the extension's `tlp_2_0` value.
    public var level: String {
        switch self {
        case .clear: "clear"
        case .green: "green"
        case .amber: "amber"
        case .amberStrict: "amber+strict"
        case .red: "red"
        }
    }

    /// `TLP:AMBER+STRICT`: the marking definition's `name`.
    public var description: String { "TLP:" + level.uppercased() }

    /// The TLP 2.0 marking definition object, as the extension defines it.
    public var markingDefinition: STIXObject {
        let extensions: [String: JSONValue] = [
            Self.extensionDefinition: .object(["extension_type": .string("property-extension"), "tlp_2_0": .string(level)])
        ]
        // The properties are fixed and valid: making the object cannot fail.
        return try! STIXObject(properties: [
            "type": .string("marking-definition"), "spec_version": .string("2.1"), "id": .string(markingDefinitionID.description),
            "created": .string(Self.created), "name": .string(description), "extensions": .object(extensions),
        ])
    }

    /// The TLP 1.0 marking definitions of STIX 2.1 §7.2.1.4 (created 2017-01-20T00:00:00.000Z).
    static let tlp1: [String: TLP] = [
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": .clear, // TLP:WHITE
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": .green,
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": .amber,
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": .red,
    ]

    /// The TLP of a marking definition id: TLP 2.0 or TLP 1.0; nil for any other marking.
    public init?(markingDefinition id: STIXIdentifier) {
        if let t = TLP.allCases.first(where: { $0.markingDefinitionID == id }) {
            self = t
        } else if let t = Self.tlp1[id.description] {
            self = t
        } else {
            return nil
        }
    }

    /// The TLP a marking definition object states: its id, or its content (a TLP 2.0
    /// extension's `tlp_2_0`, or a TLP 1.0 `definition_type` `tlp` with `definition.tlp`).
    public init?(markingDefinitionObject object: STIXObject) {
        guard object.type == "marking-definition" else { return nil }
        if let t = TLP(markingDefinition: object.id) {
            self = t
        } else if let level = object["extensions"]?[Self.extensionDefinition]?["tlp_2_0"]?.stringValue, let t = TLP(label: level) {
            self = t
        } else if object["definition_type"]?.stringValue == "tlp", let level = object["definition"]?["tlp"]?.stringValue,
            let t = TLP(label: level)
        {
            self = t
        } else {
            return nil
        }
    }

    /// A TLP label in any of its written forms: `amber+strict`, `TLP:AMBER+STRICT`, `tlp:white`
    /// (TLP 1.0's WHITE is CLEAR). Case does not matter.
    public init?(label: some StringProtocol) {
        var l = label.lowercased()
        if l.hasPrefix("tlp:") { l.removeFirst(4) }
        switch l {
        case "clear", "white": self = .clear
        case "green": self = .green
        case "amber": self = .amber
        case "amber+strict": self = .amberStrict
        case "red": self = .red
        default: return nil
        }
    }

    /// Whether what is marked `self` may be passed on to an audience cleared up to `ceiling`.
    public func mayBeShared(under ceiling: TLP) -> Bool { self <= ceiling }
}
