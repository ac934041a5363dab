using Kbl.Persistence.Sqlite;
using Kbl.Silo.Hosting;
using Kbl.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Serialization;
using Orleans.Storage;

namespace Kbl.Tests.Storage;

/// <summary>
/// <see cref="SqliteGrainStorage"/> against the conformance suite, on a temporary database file whose
/// directory does not exist beforehand. Each provider instance has its own service container, as it
/// would in its own silo process.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class SqliteGrainStorageTests : GrainStorageConformance, IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kbl-sqlite-tests-" + Guid.NewGuid().ToString("N"));
    private readonly List<ServiceProvider> _containers = [];
    private readonly Lazy<SqliteGrainStorage> _first;
    private readonly Lazy<SqliteGrainStorage> _second;

    public SqliteGrainStorageTests()
    {
        _first = new(() => NewProvider());
        _second = new(() => NewProvider());
    }

    private string DatabasePath => Path.Combine(_directory, "data", "kbl-meta.db");

    protected override IGrainStorage CreateStorage() => _first.Value;

    protected override IGrainStorage CreateSecondStorage() => _second.Value;

    [Fact]
    public async Task Two_providers_on_one_file_start_together_and_see_each_others_writes()
    {
        var (a, b) = (NewProvider(), NewProvider());
        await Task.WhenAll(a.EnsureInitializedAsync(), b.EnsureInitializedAsync());
        var grainId = NewGrainId();

        var written = new GrainState<ConformanceState>(ConformanceState.Sample(1, "from a"));
        await a.WriteStateAsync("meta", grainId, written);
        var seenByB = await ReadAsync(b, "meta", grainId);
        Assert.Equal(written.ETag, seenByB.ETag);
        Assert.Equal("from a", seenByB.State?.Text);

        seenByB.State = ConformanceState.Sample(2, "from b");
        await b.WriteStateAsync("meta", grainId, seenByB);
        var seenByA = await ReadAsync(a, "meta", grainId);
        Assert.Equal(seenByB.ETag, seenByA.ETag);
        Assert.Equal("from b", seenByA.State?.Text);

        await a.ClearStateAsync("meta", grainId, seenByA);
        Assert.False((await ReadAsync(b, "meta", grainId)).RecordExists);
    }

    [Fact]
    public async Task Conflict_reports_stored_and_current_etag()
    {
        var (a, b) = (NewProvider(), NewProvider());
        var grainId = NewGrainId();
        var winner = new GrainState<ConformanceState>(ConformanceState.Sample(1, "one"));
        await a.WriteStateAsync("meta", grainId, winner);
        var stale = await ReadAsync(b, "meta", grainId);
        await a.WriteStateAsync("meta", grainId, winner);

        var conflict = await Assert.ThrowsAsync<InconsistentStateException>(() => b.WriteStateAsync("meta", grainId, stale));

        Assert.Equal(winner.ETag, conflict.StoredEtag);
        Assert.Equal(stale.ETag, conflict.CurrentEtag);
        Assert.Contains($"stored ETag {winner.ETag}", conflict.Message, StringComparison.Ordinal);
        Assert.Contains($"current ETag {stale.ETag}", conflict.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task File_holds_one_wal_row_per_state_with_integer_etag_and_orleans_binary_payload()
    {
        var services = NewContainer(DatabasePath);
        var storage = services.GetRequiredKeyedService<IGrainStorage>(KblStorage.Name);
        var grainId = NewGrainId();
        var handle = new GrainState<ConformanceState>(ConformanceState.Sample(7, "raw"));
        await storage.WriteStateAsync("meta", grainId, handle);
        await storage.WriteStateAsync("meta", grainId, handle);

        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var journal = connection.CreateCommand();
        journal.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", await journal.ExecuteScalarAsync());

        await using var select = connection.CreateCommand();
        select.CommandText = "SELECT etag, payload, updated_at FROM kbl_grain_state WHERE state_name = 'meta' AND grain_id = $grain;";
        select.Parameters.AddWithValue("$grain", grainId.ToString());
        await using var reader = await select.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(handle.ETag, reader.GetInt64(0).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var stored = services.GetRequiredService<Serializer>().Deserialize<ConformanceState>(reader.GetFieldValue<byte[]>(1));
        Assert.NotNull(stored);
        Assert.Equal(7, stored.Counter);
        Assert.Equal("raw", stored.Text);
        Assert.True(DateTimeOffset.TryParse(reader.GetString(2), System.Globalization.CultureInfo.InvariantCulture, out _));
        Assert.False(await reader.ReadAsync());
    }

    [Fact]
    public void Provider_is_resolvable_by_name_as_kbl_and_as_any_other_name()
    {
        var services = new ServiceCollection()
            .AddLogging()
            .AddSerializer()
            .AddSqliteGrainStorage(KblStorage.Name, options => options.Path = DatabasePath)
            .AddSqliteGrainStorage("other", options => options.Path = Path.Combine(_directory, "other.db"))
            .BuildServiceProvider();
        _containers.Add(services);

        var kbl = Assert.IsType<SqliteGrainStorage>(services.GetRequiredKeyedService<IGrainStorage>("kbl"));
        var other = Assert.IsType<SqliteGrainStorage>(services.GetRequiredKeyedService<IGrainStorage>("other"));
        Assert.Equal(Path.GetFullPath(DatabasePath), kbl.DatabasePath);
        Assert.Equal(Path.GetFullPath(Path.Combine(_directory, "other.db")), other.DatabasePath);
    }

    /// <summary>
    /// With <c>Kbl:SyncWrites=true</c> a power loss must not roll back metadata (a home change) while the records'
    /// store kept what followed it (a delete): the silo's metadata connections sync every commit too (FULL = 2);
    /// without it they run as the records do, synced by the OS later (NORMAL = 1).
    /// </summary>
    [Theory]
    [InlineData(true, 2)]
    [InlineData(false, 1)]
    public async Task The_silo_syncs_metadata_writes_exactly_when_it_syncs_record_writes(bool syncWrites, long synchronous)
    {
        var (app, _) = KblSiloApp.Build([
            $"--Kbl:DataPath={_directory}",
            $"--Kbl:Storage:Sqlite:Path={DatabasePath}",
            $"--Kbl:SyncWrites={syncWrites}",
            "--Kbl:Provisioning:Provider=off",
        ]);
        await using var _ = app;
        var storage = Assert.IsType<SqliteGrainStorage>(app.Services.GetRequiredKeyedService<IGrainStorage>(KblStorage.Name));
        await storage.EnsureInitializedAsync();

        using var connection = storage.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA synchronous;";
        Assert.Equal(synchronous, (long)command.ExecuteScalar()!);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public void Empty_path_is_rejected_with_the_configuration_key(string path)
    {
        var services = NewContainer(path);

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredKeyedService<IGrainStorage>(KblStorage.Name));
        Assert.Contains("Kbl:Storage:Sqlite:Path", error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        foreach (var container in _containers)
        {
            container.Dispose();
        }

        // Pooled connections keep the file open; release them before deleting it.
        SqliteConnection.ClearAllPools();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private SqliteGrainStorage NewProvider() =>
        (SqliteGrainStorage)NewContainer(DatabasePath).GetRequiredKeyedService<IGrainStorage>(KblStorage.Name);

    private ServiceProvider NewContainer(string path)
    {
        var services = new ServiceCollection()
            .AddLogging()
            .AddSerializer()
            .AddSqliteGrainStorage(KblStorage.Name, options => options.Path = path)
            .BuildServiceProvider();
        _containers.Add(services);
        return services;
    }
}
