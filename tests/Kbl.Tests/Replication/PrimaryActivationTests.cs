using System.Text;
using Kbl.Replication;

namespace Kbl.Tests.Replication;

/// <summary>
/// A new primary's start (<see cref="PrimaryCore.Activate"/>) against copies held in memory: a member it counts in
/// sync afterwards is on the disk the configuration names for it, so a takeover there finds the copy complete.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class PrimaryActivationTests
{
    private readonly InMemoryShardLog _primaryLog = new("disk-p");
    private readonly Copies _copies = new();
    private readonly Register _register;

    public PrimaryActivationTests()
    {
        _copies.Place("p", _primaryLog);
        _copies.Place("r", new InMemoryShardLog("disk-r1"));
        _register = new Register(new ShardConfig(1, "p", "disk-p", [new ReplicaMember("r", "disk-r1", InSync: true)], MinCopies: 1));
    }

    [Fact]
    public async Task A_member_back_on_a_new_disk_leaves_the_in_sync_set_even_when_the_log_could_refill_it()
    {
        var first = Primary();
        Assert.True(await first.Activate());
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(WriteOutcome.Acknowledged, (await first.Write(Encoding.UTF8.GetBytes($"k{i}"), Encoding.UTF8.GetBytes("v"))).Outcome);
        }

        // The replica's silo comes back on an empty disk; the primary's next activation seals it there.
        _copies.Place("r", new InMemoryShardLog("disk-r2"));
        var next = Primary();
        Assert.True(await next.Activate());

        Assert.All(next.Config.InSync, m => Assert.Equal(_copies.DiskOf(m.Silo), m.Disk));
        Assert.Contains(next.Config.Members, m => m.Silo == "r" && !m.InSync);
    }

    [Fact]
    public async Task A_member_on_its_disk_stays_in_sync_across_a_new_activation()
    {
        Assert.True(await Primary().Activate());
        var next = Primary();
        Assert.True(await next.Activate());

        Assert.Equal([new ReplicaMember("r", "disk-r1", InSync: true)], next.Config.Members);
    }

    private PrimaryCore Primary() =>
        new("p", _primaryLog, _register, _copies, new SystemTimeSource(TimeProvider.System), new ReplicationTimings { Lease = TimeSpan.Zero });

    /// <summary>The configuration register: a conditional replace, as the KBL's grain state gives.</summary>
    private sealed class Register(ShardConfig initial) : IConfigRegister
    {
        private ShardConfig _config = initial;

        public Task<ShardConfig> Read() => Task.FromResult(_config);

        public Task<bool> TryReplace(ShardConfig expected, ShardConfig next)
        {
            if (!ReferenceEquals(_config, expected))
            {
                return Task.FromResult(false);
            }

            _config = next;
            return Task.FromResult(true);
        }
    }

    /// <summary>Each silo's copy (its replica over that silo's log), reached at once; a rebuild is not needed here.</summary>
    private sealed class Copies : IReplicaTransport
    {
        private readonly Dictionary<string, (ReplicaCore Core, InMemoryShardLog Log)> _silos = new(StringComparer.Ordinal);

        public void Place(string silo, InMemoryShardLog log) => _silos[silo] = (new ReplicaCore(log, TimeSpan.Zero, DateTimeOffset.UnixEpoch), log);

        public string DiskOf(string silo) => _silos[silo].Log.Disk;

        public Task<AppendReply> Append(string silo, AppendRequest request) => Task.FromResult(_silos[silo].Core.Append(request, DateTimeOffset.UtcNow));

        public Task<SealReply> Seal(string silo, SealRequest request) => Task.FromResult(_silos[silo].Core.Seal(request, DateTimeOffset.UtcNow));

        public Task<IReadOnlyList<LogEntry>> Fetch(string silo, long afterSeq, int max) => Task.FromResult(_silos[silo].Log.After(afterSeq, max));

        public Task<long> Install(string silo, long epoch, IShardSnapshot snapshot, CancellationToken cancellation) => Task.FromResult(-1L);

        public Task<string> Disk(string silo) => Task.FromResult(DiskOf(silo));
    }
}
