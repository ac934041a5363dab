using System.Text;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Silo.Routing;

namespace Kbl.Tests.Cluster;

/// <summary>
/// A colony of 48 values of 1 MiB (<c>k00</c>…<c>k47</c>), 48 MiB in all — three times the test cluster's message
/// limit (<see cref="KblTestCluster.MaxMessageBytes"/>) — each followed by a small record (<c>k00s</c>…) that takes
/// the reads: what the large-value tests write, and check byte for byte.
/// </summary>
public sealed class LargeValueColony(IGrainFactory grains, ColonyRouter router, string colony)
{
    public const int Large = 48;
    public const int Records = 2 * Large;
    public const int ValueBytes = 1024 * 1024;

    public string Name => colony;

    public IKblGrain Root => grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));

    /// <summary>The small records' keys, for reads.</summary>
    public IReadOnlyList<byte[]> SmallKeys { get; } = [.. Enumerable.Range(0, Large).Select(i => KeyOrder.Encode($"k{i:d2}s"))];

    /// <summary>Value <paramref name="i"/>: 1 MiB, its index in the first 4 bytes, then a pattern of its own.</summary>
    public static byte[] Value(int i)
    {
        var value = new byte[ValueBytes];
        value.AsSpan(4).Fill((byte)((i * 7) + 1));
        BitConverter.TryWriteBytes(value, i);
        return value;
    }

    public async Task Write(Genome genome)
    {
        await Root.Configure(genome);
        for (var i = 0; i < Large; i++)
        {
            await Put($"k{i:d2}", Value(i));
            await Put($"k{i:d2}s", Encoding.UTF8.GetBytes($"small {i}"));
        }
    }

    /// <summary>A full scan returns every record, in order, byte for byte.</summary>
    public async Task AssertEveryRecord(string when)
    {
        var i = 0;
        await foreach (var record in router.Scan(colony, [], false, null, int.MaxValue))
        {
            var (key, value) = (i % 2 == 0) ? ($"k{i / 2:d2}", Value(i / 2)) : ($"k{i / 2:d2}s", Encoding.UTF8.GetBytes($"small {i / 2}"));
            Assert.True(key == KeyOrder.Display(record.Key), $"{when}: record {i} is {KeyOrder.Display(record.Key)}, not {key}");
            Assert.True(value.AsSpan().SequenceEqual(record.Value), $"{when}: the value of {key} changed");
            i++;
        }

        Assert.Equal(Records, i);
    }

    /// <summary>The colony's records on the disks of <paramref name="silos"/>.</summary>
    public async Task<long> RecordsOn(IEnumerable<string> silos)
    {
        long total = 0;
        foreach (var silo in silos)
        {
            total += await grains.GetGrain<ISiloAgentGrain>(silo).CountRecords(colony, KeyRange.All);
        }

        return total;
    }

    private async Task Put(string key, byte[] value)
    {
        var bytes = KeyOrder.Encode(key);
        var reply = await router.Send(colony, bytes, g => g.Put(bytes, value, Precondition.None));
        Assert.True(reply.Status == KblStatus.Ok, $"put {key}: {reply.Status} {reply.Message}");
    }
}
