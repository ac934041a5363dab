using Kbl.NodeGroups.Queue;
using Kbl.Provisioning;

namespace Kbl.Tests.Provisioning;

/// <summary>The local deployment queue: a spool directory that survives restarts and hands out each message until it is deleted.</summary>
[Trait("Category", Category.Unit)]
public sealed class LocalSpoolQueueTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kbl-spool-" + Guid.NewGuid().ToString("N")[..8]);

    private static DesiredState State(long generation) =>
        new(generation, DateTimeOffset.UnixEpoch.AddSeconds(generation), [new NodeGroupSpec("g", 1, 3, (int)generation, "m6i.large", ["a"], new Dictionary<string, string> { ["k"] = "v" }, [new NodeTaint("t", "", "NO_SCHEDULE")], ["c"])]);

    [Fact]
    public async Task Messages_come_back_whole_after_a_restart_until_deleted()
    {
        var sender = new LocalSpoolQueue(_directory);
        foreach (var generation in new long[] { 3, 1, 2, 3 })
        {
            await sender.Send(State(generation), CancellationToken.None);
        }

        var first = new LocalSpoolQueue(_directory);
        var received = await first.Receive(TimeSpan.Zero, CancellationToken.None);
        Assert.Equal([1L, 2, 3, 3], received.Select(m => m.Desired.Generation).Order());
        var three = received.First(m => m.Desired.Generation == 3);
        Assert.Equal(State(3).Groups[0].Taints, three.Desired.Groups[0].Taints);
        Assert.Equal("v", three.Desired.Groups[0].Labels["k"]);
        Assert.Empty(await first.Receive(TimeSpan.Zero, CancellationToken.None)); // handed out once per reader

        await first.Delete(received.First(m => m.Desired.Generation == 1), CancellationToken.None);
        var restarted = new LocalSpoolQueue(_directory); // a Provisioner that died before deleting the rest sees them again
        Assert.Equal([2L, 3, 3], (await restarted.Receive(TimeSpan.Zero, CancellationToken.None)).Select(m => m.Desired.Generation).Order());
    }

    [Fact]
    public async Task A_half_written_or_corrupt_file_is_not_a_message()
    {
        var queue = new LocalSpoolQueue(_directory);
        await File.WriteAllTextAsync(Path.Combine(_directory, "0000000000000000009-x.tmp"), "{\"generation\":");
        await File.WriteAllTextAsync(Path.Combine(_directory, "0000000000000000008-x.json"), "not json");
        await queue.Send(State(4), CancellationToken.None);
        var received = Assert.Single(await queue.Receive(TimeSpan.Zero, CancellationToken.None));
        Assert.Equal(4, received.Desired.Generation);
        Assert.True(File.Exists(Path.Combine(_directory, "0000000000000000008-x.json.bad")));
    }

    [Fact]
    public async Task A_receive_waits_for_a_message_sent_meanwhile()
    {
        var queue = new LocalSpoolQueue(_directory);
        var waiting = queue.Receive(TimeSpan.FromSeconds(30), CancellationToken.None);
        await new LocalSpoolQueue(_directory).Send(State(7), CancellationToken.None);
        Assert.Equal(7, Assert.Single(await waiting).Desired.Generation);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
