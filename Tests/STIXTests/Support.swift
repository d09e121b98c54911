import Foundation
import MamoriTesting
import STIX

/// The repository's root and this target's fixtures.
enum Paths {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: fixtures.appendingPathComponent(name)))
    }

    static let stixFixtures = ["stix/indicator-for-c2-ip-address.json", "stix/indicators-for-C2-with-COA.json", "stix/infrastructure.json"]

    /// A fresh directory under the system's temporary one.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mamori-stix-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// 2026-12-06T10:00:00.000Z.
let december6: Int64 = 1_796_551_200_000
let day: Int64 = 86_400_000

extension STIXObject {
    /// A test object from JSON text.
    static func fromJSON(_ text: String) throws -> STIXObject { try STIXObject(json: JSONValue.parse(text)) }
}

/// Runs Python (the system's) on a script with arguments: an independent JSON reader.
func python(_ script: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let peer = try ExternalPeer.require("python3", debianPackage: "python3")
    return try peer.runToExit(["-c", script] + arguments, timeout: .seconds(120))
}
