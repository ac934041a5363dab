using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Provisioning;
using Kbl.Records;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Kbl.Tests.Cluster;

/// <summary>
/// Everything a colony leaves in a cluster, looked up where it lives rather than through the colony: records and
/// version clocks in each silo's record store, KBL states in the metadata database, the name in the registry and the
/// demand in the provisioning plan.
/// </summary>
public sealed record ColonyTraces(long Records, int Clocks, long States, bool Listed, bool ListedDeleting, bool Planned)
{
    public static readonly ColonyTraces None = new(0, 0, 0, false, false, false);

    public static async Task<ColonyTraces> Of(KblTestCluster fixture, string colony)
    {
        var (records, clocks) = (0L, 0);
        foreach (var silo in fixture.LiveSilos)
        {
            var (r, c) = OnDisk(silo, colony);
            (records, clocks) = (records + r, clocks + c);
        }

        var registry = fixture.Grains.GetGrain<IColonyRegistryGrain>(ColonyRegistryGrain.Key);
        var desired = await fixture.Grains.GetGrain<IProvisioningGrain>(IProvisioningGrain.Key).Evaluate();
        return new ColonyTraces(
            records,
            clocks,
            StatesIn(fixture.MetadataPath, colony),
            (await registry.List()).Contains(colony),
            (await registry.ListDeleting()).Contains(colony),
            desired.Groups.Any(g => g.Subtrees.Contains(colony)));
    }

    /// <summary>The colony's records and KBL version clocks in one silo's record store, counted by scanning it.</summary>
    public static (long Records, int Clocks) OnDisk(InProcessSiloHandle silo, string colony)
    {
        var store = silo.ServiceProvider.GetRequiredService<RecordStore>();
        return (store.Scan(colony, [], exclusive: false, to: null).LongCount(), store.KblIds().Count(id => id.StartsWith(colony + "/", StringComparison.Ordinal)));
    }

    /// <summary>The colony's KBL states in the metadata database (grain ids <c>kbl/{colony}/{path}</c>).</summary>
    public static long StatesIn(string metadataPath, string colony)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = metadataPath, Mode = SqliteOpenMode.ReadOnly }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM kbl_grain_state WHERE grain_id LIKE $prefix;";
        command.Parameters.AddWithValue("$prefix", $"kbl/{colony}/%");
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Writes <paramref name="count"/> records through the router (keys <c>{prefix}{i:d5}</c>, shuffled).</summary>
    public static async Task<List<string>> Write(KblTestCluster fixture, string colony, int count, string prefix = "k")
    {
        var keys = Enumerable.Range(0, count).Select(i => $"{prefix}{i:d5}").OrderBy(k => k.GetHashCode()).ToList();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (key, _) =>
        {
            var bytes = KeyOrder.Encode(key);
            var reply = await fixture.Router.Send(colony, bytes, g => g.Put(bytes, bytes, Precondition.None));
            Assert.Equal(KblStatus.Ok, reply.Status);
        });
        return keys;
    }
}
