import PostgresStorage

/// Where `mamori serve` keeps its findings (`storage:`): the SQLite file in the data directory
/// (the default), or a shared PostgreSQL database (docs/postgresql.md).
///
/// ```yaml
/// storage:
///   engine: postgresql
///   url: postgresql://mamori@db.example.net:5432/mamori?sslmode=require
///   password_file: /etc/mamori/db-password
///   pool_size: 10
/// ```
/// With PostgreSQL, only the findings and their verdicts are there; cases, consent, accounts and
/// the audit log stay in the data directory (their store protocols are synchronous).
public struct StorageSettings: Sendable {
    public enum Engine: String, Sendable, CaseIterable {
        /// The SQLite files in the data directory.
        case sqlite
        /// A PostgreSQL database shared by the nodes of a cluster.
        case postgresql
    }

    public var engine: Engine = .sqlite
    /// The database (`url`, engine postgresql), without its password: shown as the URL.
    public var postgres: PostgresConfiguration?
    /// The file holding the database password (`password_file`), read at start; nil for a server
    /// that asks for none.
    public var passwordFile: String?
    /// The most connections of the pool (`pool_size`).
    public var poolSize: Int = 10

    public init() {}

    /// The connection configuration, with the password read from ``passwordFile``; nil for the
    /// SQLite engine. Errors name the key.
    func postgresConfiguration() throws(ConfigurationError) -> PostgresConfiguration? {
        guard engine == .postgresql else { return nil }
        guard var configuration = postgres else {
            throw ConfigurationError(line: nil, "storage.url is required when storage.engine is postgresql")
        }
        if let passwordFile {
            do throws(PostgresStorageError) {
                try configuration.readPassword(from: passwordFile)
            } catch {
                throw ConfigurationError(line: nil, "storage.password_file: \(error.message)")
            }
        }
        configuration.maximumConnections = poolSize
        return configuration
    }

    static func parse(_ v: YAMLValue) throws(ConfigurationError) -> StorageSettings {
        var s = StorageSettings()
        let m = try YAMLMap(v.node, context: "storage")
        try m.allowOnly(["engine", "url", "password_file", "pool_size"])
        if let x = m["engine"] {
            let text = try x.string()
            guard let engine = Engine(rawValue: text) else {
                throw x.error("storage.engine must be sqlite or postgresql; got '\(text)'")
            }
            s.engine = engine
        }
        if let x = m["url"] {
            let text = try x.string()
            do throws(PostgresStorageError) {
                s.postgres = try PostgresConfiguration(url: text)
            } catch {
                throw x.error("storage.url: \(error.message)")
            }
        }
        if let x = m["password_file"] {
            let path = try x.string()
            guard !path.isEmpty else { throw x.error("storage.password_file must name a file") }
            s.passwordFile = path
        }
        if let x = m["pool_size"] { s.poolSize = try x.int(in: 1...1000) }
        switch s.engine {
        case .postgresql:
            guard s.postgres != nil else {
                throw v.error("storage.url is required when storage.engine is postgresql (postgresql://USER@HOST:PORT/DATABASE)")
            }
        case .sqlite:
            // A URL with the default engine is a forgotten `engine: postgresql`: the findings
            // would silently stay in SQLite.
            for key in ["url", "password_file", "pool_size"] {
                if let x = m[key] {
                    throw x.error("storage.\(key) is for storage.engine postgresql; the engine is sqlite (set engine: postgresql)")
                }
            }
        }
        return s
    }
}
