using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Kbl.Persistence.Sqlite;

/// <summary>
/// Orleans grain storage on one SQLite file that several silo processes on the same machine may share.
/// </summary>
/// <remarks>
/// <para>One row per (state name, grain id). The ETag is the row's version, an integer written as a
/// string. Versions come from one counter in the file that every write advances, so a version is
/// never issued twice: after a clear and a fresh insert, a writer still holding the version from
/// before the clear cannot overwrite the new record (no ABA).</para>
/// <para>Microsoft.Data.Sqlite does its I/O synchronously even in its *Async methods, and a write may
/// wait up to the busy timeout for another process's lock, so every operation runs on the thread
/// pool rather than on the calling grain's scheduler thread. A cancellation token is honoured until the
/// operation starts; a started transaction runs to completion, so the grain's ETag never disagrees
/// with the file.</para>
/// </remarks>
public sealed partial class SqliteGrainStorage : GrainStorageProvider
{
    /// <summary>How long a statement waits for another connection's lock before failing.</summary>
    public static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(10);

    private const string Table = "kbl_grain_state";
    private const string ClockTable = "kbl_grain_state_clock";

    private static readonly GrainStorageEvents Events = new("SQLite", firstEventId: 41000);

    private readonly string _path;
    private readonly string _connectionString;
    private readonly string _synchronous;

    public SqliteGrainStorage(
        string name,
        SqliteGrainStorageOptions options,
        IGrainStorageSerializer serializer,
        IActivatorProvider activators,
        TimeProvider timeProvider,
        ILogger<SqliteGrainStorage> logger)
        : base(name, serializer, activators, timeProvider, logger, Events)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Path, nameof(options) + "." + nameof(options.Path));

        _path = System.IO.Path.GetFullPath(options.Path);
        _synchronous = options.SyncWrites ? "FULL" : "NORMAL";
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = (int)BusyTimeout.TotalSeconds,
        }.ToString();
    }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath => _path;

    /// <summary>
    /// Creates the file, its directory and the tables if missing. Safe to run from any number of processes at once.
    /// </summary>
    protected override Task InitializeAsync()
    {
        CreateSchema();
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override Task ReadCoreAsync<T>(string stateName, string grainKey, IGrainState<T> grainState, CancellationToken cancellationToken) =>
        Task.Run(() => Read(stateName, grainKey, grainState), cancellationToken);

    /// <inheritdoc />
    protected override Task WriteCoreAsync<T>(string stateName, string grainKey, IGrainState<T> grainState) =>
        Task.Run(() => Write(stateName, grainKey, grainState));

    /// <inheritdoc />
    protected override Task ClearCoreAsync<T>(string stateName, string grainKey, IGrainState<T> grainState) =>
        Task.Run(() => Clear(stateName, grainKey, grainState));

    private void CreateSchema()
    {
        try
        {
            var directory = System.IO.Path.GetDirectoryName(_path);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            using var connection = Open();

            // WAL is a property of the file: once set it stays for every later connection and process.
            string? journalMode;
            using (var command = connection.CreateCommand())
            {
                command.CommandText = "PRAGMA journal_mode = WAL;";
                journalMode = command.ExecuteScalar() as string;
            }

            if (!string.Equals(journalMode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                LogNoWal(Logger, Name, _path, journalMode ?? "unknown");
            }

            // IF NOT EXISTS / OR IGNORE: two processes starting at once both succeed, one after the other.
            using (var command = connection.CreateCommand())
            {
                command.CommandText = $"""
                    CREATE TABLE IF NOT EXISTS {Table} (
                        state_name TEXT NOT NULL,
                        grain_id   TEXT NOT NULL,
                        etag       INTEGER NOT NULL,
                        payload    BLOB NOT NULL,
                        updated_at TEXT NOT NULL,
                        PRIMARY KEY (state_name, grain_id)
                    );
                    CREATE TABLE IF NOT EXISTS {ClockTable} (
                        id      INTEGER PRIMARY KEY CHECK (id = 0),
                        version INTEGER NOT NULL
                    );
                    INSERT OR IGNORE INTO {ClockTable} (id, version) VALUES (0, 0);
                    """;
                command.ExecuteNonQuery();
            }

            LogReady(Logger, Name, _path);
        }
        catch (Exception ex)
        {
            LogSchemaFailed(Logger, ex, Name, _path);
            throw;
        }
    }

    private void Read<T>(string stateName, string grainKey, IGrainState<T> grainState)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT etag, payload FROM {Table} WHERE state_name = $state AND grain_id = $grain;";
        command.Parameters.AddWithValue("$state", stateName);
        command.Parameters.AddWithValue("$grain", grainKey);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            SetAbsent(grainState);
            return;
        }

        var etag = reader.GetInt64(0);
        var payload = reader.GetFieldValue<byte[]>(1);
        grainState.State = Serializer.Deserialize<T>(new BinaryData(payload));
        grainState.ETag = FormatEtag(etag);
        grainState.RecordExists = true;
    }

    private void Write<T>(string stateName, string grainKey, IGrainState<T> grainState)
    {
        var currentEtag = grainState.ETag;
        var payload = Serializer.Serialize(grainState.State).ToArray();
        var updatedAt = Timestamp();

        using var connection = Open();
        // BEGIN IMMEDIATE: hold the write lock from the start, so the version bump, the conditional write
        // and the stored ETag reported on a conflict all belong to one serialized transaction.
        using var transaction = connection.BeginTransaction(deferred: false);
        var newEtag = NextVersion(connection, transaction);

        int changed;
        if (currentEtag is null)
        {
            // The grain believes there is no record: insert, and fail if one exists.
            changed = ExecuteWrite(connection, transaction, $"""
                INSERT INTO {Table} (state_name, grain_id, etag, payload, updated_at)
                VALUES ($state, $grain, $etag, $payload, $updated)
                ON CONFLICT (state_name, grain_id) DO NOTHING;
                """, stateName, grainKey, newEtag, payload, updatedAt, expectedEtag: null);
        }
        else if (TryParseEtag(currentEtag, out var expected))
        {
            changed = ExecuteWrite(connection, transaction, $"""
                UPDATE {Table} SET etag = $etag, payload = $payload, updated_at = $updated
                WHERE state_name = $state AND grain_id = $grain AND etag = $expected;
                """, stateName, grainKey, newEtag, payload, updatedAt, expected);
        }
        else
        {
            changed = 0; // an ETag this provider never issued matches no record
        }

        if (changed == 0)
        {
            var storedEtag = ReadEtag(connection, transaction, stateName, grainKey);
            transaction.Rollback();
            throw Conflict("write", stateName, grainKey, storedEtag, currentEtag);
        }

        transaction.Commit();
        grainState.ETag = FormatEtag(newEtag);
        grainState.RecordExists = true;
    }

    private void Clear<T>(string stateName, string grainKey, IGrainState<T> grainState)
    {
        var currentEtag = grainState.ETag;
        using var connection = Open();
        using var transaction = connection.BeginTransaction(deferred: false);
        var storedEtag = ReadEtag(connection, transaction, stateName, grainKey);
        if (storedEtag != currentEtag)
        {
            // Covers a record the grain does not know about (ETag null) and one that is gone or newer.
            transaction.Rollback();
            throw Conflict("clear", stateName, grainKey, storedEtag, currentEtag);
        }

        if (storedEtag is not null)
        {
            using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"DELETE FROM {Table} WHERE state_name = $state AND grain_id = $grain;";
            command.Parameters.AddWithValue("$state", stateName);
            command.Parameters.AddWithValue("$grain", grainKey);
            command.ExecuteNonQuery();
        }

        transaction.Commit();
        SetAbsent(grainState);
    }

    /// <summary>A connection as every operation opens it (busy timeout, synchronous level), for tests to look at.</summary>
    internal SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            // Per-connection settings; a pooled connection keeps them, setting them again is cheap.
            using var command = connection.CreateCommand();
            command.CommandText = string.Create(
                CultureInfo.InvariantCulture,
                $"PRAGMA busy_timeout = {(int)BusyTimeout.TotalMilliseconds}; PRAGMA synchronous = {_synchronous};");
            command.ExecuteNonQuery();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static int ExecuteWrite(
        SqliteConnection connection,
        SqliteTransaction transaction,
        string sql,
        string stateName,
        string grainKey,
        long newEtag,
        byte[] payload,
        string updatedAt,
        long? expectedEtag)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.Parameters.AddWithValue("$state", stateName);
        command.Parameters.AddWithValue("$grain", grainKey);
        command.Parameters.AddWithValue("$etag", newEtag);
        command.Parameters.Add("$payload", SqliteType.Blob).Value = payload;
        command.Parameters.AddWithValue("$updated", updatedAt);
        if (expectedEtag is { } expected)
        {
            command.Parameters.AddWithValue("$expected", expected);
        }

        return command.ExecuteNonQuery();
    }

    private static long NextVersion(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"UPDATE {ClockTable} SET version = version + 1 WHERE id = 0 RETURNING version;";
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static string? ReadEtag(SqliteConnection connection, SqliteTransaction transaction, string stateName, string grainKey)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT etag FROM {Table} WHERE state_name = $state AND grain_id = $grain;";
        command.Parameters.AddWithValue("$state", stateName);
        command.Parameters.AddWithValue("$grain", grainKey);
        return command.ExecuteScalar() is long etag ? FormatEtag(etag) : null;
    }

    private static string FormatEtag(long etag) => etag.ToString(CultureInfo.InvariantCulture);

    private static bool TryParseEtag(string etag, out long value) =>
        long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    [LoggerMessage(EventId = 41000, Level = LogLevel.Information,
        Message = "SQLite grain storage {Name} ready at {Path}")]
    private static partial void LogReady(ILogger logger, string name, string path);

    [LoggerMessage(EventId = 41001, Level = LogLevel.Error,
        Message = "SQLite grain storage {Name} could not create its schema at {Path}")]
    private static partial void LogSchemaFailed(ILogger logger, Exception exception, string name, string path);

    [LoggerMessage(EventId = 41006, Level = LogLevel.Warning,
        Message = "SQLite grain storage {Name} at {Path} runs in journal mode {JournalMode}, not WAL; processes sharing the file will block each other's reads")]
    private static partial void LogNoWal(ILogger logger, string name, string path, string journalMode);
}
