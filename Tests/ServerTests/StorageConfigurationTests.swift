import Foundation
import MamoriCore
import MamoriTesting
import PostgresStorage
import Testing

@testable import Server

/// The `storage:` section: SQLite by default, PostgreSQL with a URL (never a password in it),
/// unknown keys refused, the effective configuration shown without a password.
@Suite struct StorageConfigurationTests {

    @Test("no storage section, or engine: sqlite, is today's SQLite in the data directory")
    func sqliteByDefault() throws {
        for yaml in ["", "storage:\n  engine: sqlite\n"] {
            let c = try MamoriConfiguration.parse(yaml: yaml)
            #expect(c.storage.engine == .sqlite)
            #expect(c.storage.postgres == nil)
            #expect(try c.storage.postgresConfiguration() == nil)
        }
    }

    @Test("engine: postgresql with url, password_file and pool_size")
    func postgresql() throws {
        let c = try MamoriConfiguration.parse(
            yaml: """
                storage:
                  engine: postgresql
                  url: postgresql://mamori@db.example.net:5433/findings?sslmode=require&sslrootcert=/etc/mamori/db-ca.pem
                  password_file: /etc/mamori/db-password
                  pool_size: 4
                """)
        #expect(c.storage.engine == .postgresql)
        let p = try #require(c.storage.postgres)
        #expect(p.host == "db.example.net" && p.port == 5433 && p.user == "mamori" && p.database == "findings")
        #expect(p.tls == .require(caFile: "/etc/mamori/db-ca.pem"))
        #expect(p.password == nil, "the password is read at start, not at parse")
        #expect(c.storage.passwordFile == "/etc/mamori/db-password")
        #expect(c.storage.poolSize == 4)
        // At start: the password file is read, naming the key when it cannot be.
        do throws(ConfigurationError) {
            _ = try c.storage.postgresConfiguration()
            Issue.record("read a password file that does not exist")
        } catch {
            #expect(error.reason.hasPrefix("storage.password_file: cannot read the password file /etc/mamori/db-password"), "\(error)")
        }
        let dir = try TemporaryDirectory()
        try "s3cret\n".write(toFile: dir.path + "/pw", atomically: false, encoding: .utf8)
        var withFile = c.storage
        withFile.passwordFile = dir.path + "/pw"
        let ready = try #require(try withFile.postgresConfiguration())
        #expect(ready.password == "s3cret" && ready.maximumConnections == 4)
    }

    @Test("missing url, a password in the url, a bad engine, url with the sqlite engine, unknown keys: refused naming the key")
    func refusals() throws {
        let missing = refused("storage:\n  engine: postgresql\n  password_file: /etc/mamori/db-password\n")
        #expect(
            missing?.reason.hasPrefix("storage.url is required when storage.engine is postgresql") == true, "\(String(describing: missing))"
        )

        let password = refused("storage:\n  engine: postgresql\n  url: postgresql://mamori:hunter2@db.example.net/mamori\n")
        #expect(password?.reason.hasPrefix("storage.url: the storage URL carries a password") == true, "\(String(describing: password))")
        #expect(password?.reason.contains("password_file") == true)
        #expect(password?.reason.contains("hunter2") == false, "the message never repeats the password")
        #expect(password?.line == 3)
        let parameter = refused("storage:\n  engine: postgresql\n  url: postgresql://mamori@db/mamori?password=hunter2\n")
        #expect(parameter?.reason.contains("password") == true && parameter?.reason.contains("hunter2") == false)

        let engine = refused("storage:\n  engine: mysql\n")
        #expect(engine?.reason == "storage.engine must be sqlite or postgresql; got 'mysql'")
        #expect(engine?.line == 2)

        let forgotten = refused("storage:\n  url: postgresql://mamori@db.example.net/mamori\n")
        #expect(forgotten?.reason.hasPrefix("storage.url is for storage.engine postgresql; the engine is sqlite") == true)

        let unknown = refused("storage:\n  engine: postgresql\n  url: postgresql://mamori@db/mamori\n  password: hunter2\n")
        #expect(unknown?.reason.hasPrefix("unknown key 'password' in storage (known keys: engine, password_file, pool_size, url)") == true)
        #expect(unknown?.line == 4)

        let pool = refused("storage:\n  engine: postgresql\n  url: postgresql://mamori@db/mamori\n  pool_size: 0\n")
        #expect(pool?.reason == "pool_size must be between 1 and 1000; got 0")

        let notMapping = refused("storage: postgresql\n")
        #expect(notMapping?.reason == "storage must be a mapping of keys to values")
    }

    @Test("the commented storage section at the end of mamori.example.yaml parses once uncommented")
    func exampleSection() throws {
        let text = try String(contentsOfFile: ConfigurationTests.examplePath, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0 == "# storage:" })
        let section = lines[start...].prefix { $0.hasPrefix("#") }.map { String($0.dropFirst(2)) }.joined(separator: "\n")
        let c = try MamoriConfiguration.parse(yaml: section)
        #expect(c.storage.engine == .postgresql && c.storage.poolSize == 10)
        #expect(c.storage.postgres?.host == "db.example.net" && c.storage.passwordFile == "/etc/mamori/db-password")
    }

    @Test("the effective configuration shows the engine and the URL, never a password")
    func dump() throws {
        var c = try MamoriConfiguration.parse(
            yaml: """
                storage:
                  engine: postgresql
                  url: postgresql://mamori@db.example.net/mamori?sslmode=require
                  password_file: /etc/mamori/db-password
                """)
        c.storage.postgres?.password = "hunter2-never-shown"
        let text = c.effectiveDescription
        #expect(text.contains("engine: postgresql"), "\(text)")
        #expect(text.contains("postgres: postgresql://mamori@db.example.net:5432/mamori?sslmode=require"), "\(text)")
        #expect(!text.contains("hunter2"))
    }
}
