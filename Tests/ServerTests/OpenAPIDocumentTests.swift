import Accounts
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MamoriTesting
import NIOCore
import Testing

@testable import Server

/// `GET /api/v1/openapi.json`: every route the server serves is in it, with the access rule it
/// really has, nothing else is, and openapi-spec-validator (PyPI) finds it valid OpenAPI 3.1.
@Suite struct OpenAPIDocumentTests {
    @Test("the OpenAPI document lists exactly the registered routes, each with its real access rule, and validates")
    func document() async throws {
        let dir = try TemporaryDirectory()
        let (app, services) = try buildApplication(
            configuration: ServerTests.configuration(dataDirectory: dir.path),
            dependencies: ApplicationDependencies(logger: LogStore().logger(level: .critical)))
        let text = try await app.test(.router) { client in
            try await client.execute(uri: "/api/v1/openapi.json", method: .get) { r in
                #expect(r.status == .ok, "open to anyone")
                return String(buffer: r.body)
            }
        }
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(doc["openapi"] as? String == "3.1.0")
        let paths = try #require(doc["paths"] as? [String: [String: Any]])
        var documented: [String: String] = [:]
        for (path, operations) in paths {
            for (method, operation) in operations {
                let access = (operation as? [String: Any])?["x-mamori-access"] as? String ?? "missing"
                // The router describes its paths as OpenAPI does: /findings/{id}.
                documented["\(method.uppercased()) \(path)"] = access
            }
        }
        let served = services.routeAccess.all.mapValues { access -> String in
            switch access {
            case .open: "open"
            case .signedIn: "signed_in"
            case .permission(let p): p.rawValue
            case .sharing: "sharing"
            }
        }
        for (route, access) in served.sorted(by: { $0.key < $1.key }) {
            #expect(documented[route] != nil, "\(route) is served but not in openapi.json")
            if let d = documented[route] { #expect(d == access, "\(route): the document says \(d), the server \(access)") }
        }
        for route in documented.keys.sorted() where served[route] == nil {
            Issue.record("\(route) is in openapi.json but not served")
        }

        // The real validator, on the document the server served.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let validator = root.path + "/.build/pytools/bin/openapi-spec-validator"
        guard FileManager.default.isExecutableFile(atPath: validator) else {
            Issue.record("\(validator) is missing: scripts/test installs it (pip install openapi-spec-validator into .build/pytools)")
            return
        }
        let file = dir.path + "/openapi.json"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        // ExternalPeer (posix_spawn, pipes closed exactly once), not Foundation's Process: beside
        // NIO, a descriptor Process closed twice was reused by a NIO socket, whose selector then
        // asserted (seen in a full run).
        let result = try await ExternalPeer(path: validator).runToExit([file], timeout: .seconds(120))
        let output = result.stdout + result.stderr
        #expect(result.status == 0 && output.contains("OK"), "\(output)")
    }
}
