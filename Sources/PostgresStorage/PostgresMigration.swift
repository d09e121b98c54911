/// One step of the database's schema: its version (1, 2, 3 …), a name for people, and the SQL
/// statements that take the schema from the version before to this one.
///
/// Migrations are never edited once released: a change is a new migration. Their statements are
/// fixed SQL written here, never built from input.
public struct PostgresMigration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let statements: [String]

    public init(version: Int, name: String, statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

/// The schema of Mamori's shared PostgreSQL database, one migration per version. The version
/// this build knows is the last one's.
public enum PostgresSchema {
    /// Every migration, in order.
    public static let migrations: [PostgresMigration] = [
        PostgresMigration(
            version: 1, name: "findings and verdicts",
            statements: [
                // The finding as JSON (`json`, kept as written: `jsonb` refuses the \u0000 escape a
                // hostile string may carry) beside the columns the queries filter and sort on.
                """
                CREATE TABLE finding (
                    id text PRIMARY KEY,
                    kind text NOT NULL,
                    subject text NOT NULL,
                    score double precision NOT NULL,
                    first_seen bigint NOT NULL,
                    last_seen bigint NOT NULL,
                    detected_at bigint NOT NULL,
                    updated_at bigint NOT NULL,
                    body json NOT NULL
                )
                """,
                "CREATE INDEX finding_kind_last_seen ON finding (kind, last_seen)",
                "CREATE INDEX finding_last_seen ON finding (last_seen)",
                "CREATE INDEX finding_score ON finding (score DESC, last_seen DESC)",
                """
                CREATE TABLE verdict (
                    finding_id text PRIMARY KEY REFERENCES finding (id) ON DELETE CASCADE,
                    verdict text NOT NULL,
                    analyst text NOT NULL,
                    note text,
                    at bigint NOT NULL,
                    kind text NOT NULL,
                    subject text NOT NULL
                )
                """,
                "CREATE INDEX verdict_kind ON verdict (verdict, kind)",
            ])
    ]

    /// The schema version this build of Mamori knows.
    public static var version: Int { migrations.last?.version ?? 0 }
}
