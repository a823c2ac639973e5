/// PostgreSQL's own schema constants; its statements for each version are in the
/// registry (`Schema.versions`).
enum PostgresSchema {
    /// A constant for `pg_advisory_xact_lock`: migrations and partition DDL from several
    /// sensors at once take turns.
    static let ddlLockKey: Int64 = 0x5_3A1F_F500
}
