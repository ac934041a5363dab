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
}
