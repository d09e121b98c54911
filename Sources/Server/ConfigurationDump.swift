import BGPWire
import FlowCodec
import Foundation
import PostgresStorage

extension MamoriConfiguration {
    /// The configuration in force, as indented `name: value` lines for the console's settings
    /// page (admin only). Read by reflection so a setting added later is shown without code
    /// here; values whose name says they are secret (password, secret, token, credential) are
    /// shown as `<redacted>`. Depth and list length are bounded.
    var effectiveDescription: String {
        var lines: [String] = []
        Self.describe(self, name: nil, depth: 0, into: &lines)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Values shown as they are written in the configuration (`192.0.2.0/24`, `64512:666`,
    /// `ipv4-flowspec`) rather than as their stored fields. A PostgreSQL configuration is shown
    /// as its URL, which never carries the password.
    static func isWrittenAsText(_ value: Any) -> Bool {
        value is IPAddress || value is IPPrefix || value is BGPFamily || value is BGPCommunity || value is BGPLargeCommunity
            || value is PostgresConfiguration
    }

    static let secretWords = ["password", "secret", "token", "credential", "privatekey"]

    static func describe(_ value: Any, name: String?, depth: Int, into lines: inout [String]) {
        let indent = String(repeating: "  ", count: depth)
        let label = name.map { "\(indent)\($0):" } ?? ""
        if let name, secretWords.contains(where: { name.lowercased().contains($0) }) {
            lines.append("\(label) <redacted>")
            return
        }
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let inner = mirror.children.first?.value else {
                if name != nil { lines.append("\(label) –") }
                return
            }
            describe(inner, name: name, depth: depth, into: &lines)
            return
        }
        let scalar =
            value is String || value is any Numeric || value is Bool || mirror.displayStyle == .enum || mirror.children.isEmpty
            || depth >= 6 || isWrittenAsText(value)
        if scalar {
            lines.append(name == nil ? "\(value)" : "\(label) \(value)")
            return
        }
        if mirror.displayStyle == .collection || mirror.displayStyle == .set || mirror.displayStyle == .dictionary {
            let items = Array(mirror.children.prefix(50))
            lines.append("\(label) [\(mirror.children.count)]")
            for item in items { describe(item.value, name: "-", depth: depth + 1, into: &lines) }
            return
        }
        if name != nil { lines.append(label) }
        for child in mirror.children {
            describe(
                child.value, name: child.label.map { $0.hasPrefix("_") ? String($0.dropFirst()) : $0 } ?? "-",
                depth: depth + (name == nil ? 0 : 1), into: &lines)
        }
    }
}
