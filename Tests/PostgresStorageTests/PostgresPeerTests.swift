import Foundation
import MamoriTesting
import Testing

/// The test peer itself: a machine without PostgreSQL fails the tests with the package to
/// install, and the peer's server is one the tests can stop and start again.
@Suite struct PostgresPeerTests {
    @Test("no PostgreSQL installed: the error names the Debian package")
    func missing() throws {
        let empty = try TemporaryDirectory()
        // A version directory without initdb is not an installation either.
        try FileManager.default.createDirectory(atPath: empty.path + "/16/bin", withIntermediateDirectories: true)
        do {
            let found = try PostgresPeer.binaries(under: empty.path)
            Issue.record("found PostgreSQL at \(found)")
        } catch let error as PeerError {
            #expect(error.description.contains("apt-get install postgresql"), "\(error)")
        }
    }

    @Test("the newest installed version is chosen")
    func newest() throws {
        let root = try TemporaryDirectory()
        for version in ["9", "15", "13", "notaversion"] {
            try FileManager.default.createDirectory(atPath: "\(root.path)/\(version)/bin", withIntermediateDirectories: true)
            FileManager.default.createFile(
                atPath: "\(root.path)/\(version)/bin/initdb", contents: Data(), attributes: [.posixPermissions: 0o755])
        }
        #expect(try PostgresPeer.binaries(under: root.path) == "\(root.path)/15/bin")
    }

    @Test("a server stops, starts again on the same port with its data, and refuses connections while stopped")
    func restart() async throws {
        let server = try await PostgresPeer.start()
        try await server.psql("CREATE TABLE kept (n integer)", "INSERT INTO kept VALUES (42)", database: "mamori")
        await server.stop()
        #expect(!server.isRunning)
        await #expect(throws: PeerError.self) { try await server.psql("SELECT 1") }
        try await server.restart()
        #expect(server.isRunning)
        #expect(try await server.psql("SELECT n FROM kept", database: "mamori") == "42\n")
        await server.stop()
    }
}
