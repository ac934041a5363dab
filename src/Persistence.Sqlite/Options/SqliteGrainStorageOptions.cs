namespace Kbl.Persistence.Sqlite;

/// <summary>
/// Settings of <see cref="SqliteGrainStorage"/>, bound from configuration key <c>Kbl:Storage:Sqlite</c>.
/// </summary>
public sealed class SqliteGrainStorageOptions
{
    /// <summary>
    /// Path of the SQLite database file. A relative path is resolved against the process's current
    /// directory; the directory is created when missing. Several silo processes on one machine may
    /// share the file.
    /// </summary>
    public string Path { get; set; } = "data/kbl-meta.db";

    /// <summary>
    /// Whether a write is synced to disk before it returns (<c>PRAGMA synchronous = FULL</c>), so a machine crash
    /// cannot roll back metadata the records' store kept; otherwise <c>NORMAL</c> (WAL: durable across a process
    /// crash, the last commits may be lost in a power loss). The silo sets it from <c>Kbl:SyncWrites</c>, so
    /// metadata and records are equally durable.
    /// </summary>
    public bool SyncWrites { get; set; }
}
