using System.Text;
using Kbl.Replication;

namespace Kbl.Tests.Replication;

/// <summary>
/// A new primary's start (<see cref="PrimaryCore.Activate"/>) against copies held in memory: a member it counts in
/// sync afterwards is on the disk the configuration names for it, so a takeover there finds the copy complete. And
/// a write whose round went out before its own copy took it (<see cref="PrimaryCore.Write(IReadOnlyList{ValueTuple{byte[], byte[]}})"/>):
/// when its own copy then fails, it is not reported as refused while another copy holds it.
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

    [Fact]
    public async Task The_first_write_of_a_log_restarted_at_zero_keeps_its_member_in_sync()
    {
        // A new leaf: its log restarted at seq 0 in epoch 5 (a reset), its member rebuilt from its empty snapshot.
        foreach (var log in new[] { _primaryLog, _copies.LogOf("r") })
        {
            log.Seal(5);
            Assert.True(log.Install(5, [], appliedSeq: 0, lastEpoch: 5));
        }

        var primary = Primary(new Register(new ShardConfig(5, "p", "disk-p", [new ReplicaMember("r", "disk-r1", InSync: true)], MinCopies: 2)));
        Assert.True(await primary.Activate());

        Assert.Equal(WriteOutcome.Acknowledged, (await primary.Write(Key, Value)).Outcome);
        Assert.Equal(["r"], primary.Config.InSync.Select(m => m.Silo));
        Assert.NotNull(_copies.LogOf("r").Get("k"));
    }

    [Fact]
    public async Task A_write_a_copy_took_before_a_newer_primary_sealed_this_silo_is_of_unknown_outcome()
    {
        var primary = Primary();
        Assert.True(await primary.Activate());

        // A newer primary seals this silo's copy after the round went out, and has not reached the replica yet.
        _primaryLog.BeforeNextWrite = SealedBy(primary.Config.Epoch + 1);
        var (outcome, _) = await primary.Write(Key, Value);

        Assert.Equal(WriteOutcome.Unknown, outcome);
        Assert.True(primary.Fenced);
        Assert.NotNull(_copies.LogOf("r").Get("k"));
        Assert.Null(_primaryLog.Get("k"));
    }

    [Fact]
    public async Task A_write_every_copy_refused_for_a_newer_epoch_is_refused()
    {
        var primary = Primary();
        Assert.True(await primary.Activate());

        _copies.LogOf("r").Seal(primary.Config.Epoch + 1);
        _primaryLog.BeforeNextWrite = SealedBy(primary.Config.Epoch + 1);
        var (outcome, _) = await primary.Write(Key, Value);

        Assert.Equal(WriteOutcome.Refused, outcome);
        Assert.Null(_copies.LogOf("r").Get("k"));
    }

    [Fact]
    public async Task A_primary_whose_own_copy_a_newer_one_sealed_sends_nothing()
    {
        var primary = Primary();
        Assert.True(await primary.Activate());

        _primaryLog.Seal(primary.Config.Epoch + 1); // the newer primary has not reached the replica yet
        var (outcome, _) = await primary.Write(Key, Value);

        Assert.Equal(WriteOutcome.Refused, outcome);
        Assert.True(primary.Fenced);
        Assert.Null(_copies.LogOf("r").Get("k"));
    }

    [Fact]
    public async Task A_write_its_own_disk_failed_with_every_copy_refusing_fails_and_still_ends_the_epoch()
    {
        var primary = Primary();
        Assert.True(await primary.Activate());

        _copies.LogOf("r").Seal(primary.Config.Epoch + 1);
        _primaryLog.BeforeNextWrite = () => throw new IOException("the disk failed");

        await Assert.ThrowsAsync<IOException>(() => primary.Write(Key, Value));
        Assert.True(primary.Fenced); // a late copy of its append must find no other entry at that position in this epoch
    }

    [Fact]
    public async Task A_write_its_own_disk_failed_after_a_copy_took_it_is_of_unknown_outcome_and_ends_the_epoch()
    {
        var primary = Primary();
        Assert.True(await primary.Activate());

        _primaryLog.BeforeNextWrite = () => throw new IOException("the disk failed");
        var (outcome, _) = await primary.Write(Key, Value);

        Assert.Equal(WriteOutcome.Unknown, outcome);
        Assert.True(primary.Fenced); // its log lacks what the replica holds: the next primary takes the longest
        Assert.Equal(WriteOutcome.Refused, (await primary.Write(Key, Value)).Outcome);

        var next = Primary();
        Assert.True(await next.Activate());
        Assert.NotNull(_primaryLog.Get("k"));
    }

    [Fact]
    public async Task A_copy_that_fails_in_an_unexpected_way_does_not_hide_another_that_took_the_write()
    {
        _copies.Place("q", new InMemoryShardLog("disk-q"));
        var primary = Primary(new Register(new ShardConfig(1, "p", "disk-p", [new ReplicaMember("r", "disk-r1", InSync: true), new ReplicaMember("q", "disk-q", InSync: true)], MinCopies: 1)));
        Assert.True(await primary.Activate());

        _copies.Break("q"); // its store is closing, say: not an unreachable silo, an error of its own
        _primaryLog.BeforeNextWrite = () => throw new IOException("the disk failed");
        var (outcome, _) = await primary.Write(Key, Value);

        Assert.Equal(WriteOutcome.Unknown, outcome);
        Assert.True(primary.Fenced);
        Assert.NotNull(_copies.LogOf("r").Get("k"));
    }

    [Fact]
    public async Task A_rebuild_that_waited_for_its_turn_sends_what_the_shard_holds_then_and_its_member_is_in_sync_after()
    {
        var (primary, other) = await RebuildWaitingForItsTurn();

        // Writes go on while the rebuild waits; then the turn comes.
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(WriteOutcome.Acknowledged, (await primary.Write(Encoding.UTF8.GetBytes($"k{i}"), Value)).Outcome);
        }

        Assert.Null(_copies.LogOf("r").Get("k0"));
        var ends = primary.AnyRebuildEnds(); // (before the turn passes: the stream may end at once)
        other.Dispose();
        Assert.True(await ends.WaitAsync(TimeSpan.FromSeconds(10)));

        // The snapshot had the writes made while it waited, and the member is caught up from it and in sync.
        Assert.NotNull(_copies.LogOf("r").Get("k2"));
        Assert.True(await primary.Heal("r"));
        Assert.Contains(primary.Config.Members, m => m is { Silo: "r", InSync: true, Disk: "disk-r2" });
        Assert.Equal(_primaryLog.AppliedSeq, _copies.LogOf("r").AppliedSeq);
    }

    [Fact]
    public async Task A_rebuild_stopped_while_it_waits_for_its_turn_gives_its_place_up_and_streams_nothing()
    {
        var (primary, other) = await RebuildWaitingForItsTurn();

        primary.Stop(); // the primary is done (fenced, forgotten, deactivating)

        Assert.False(await primary.AnyRebuildEnds().WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, _copies.Turns.Waiting);
        other.Dispose();
        Assert.Equal(0, _copies.Turns.Streams);
        Assert.Equal(0, _copies.LogOf("r").AppliedSeq);
    }

    /// <summary>
    /// A primary whose member came back on an empty disk, so its heal started a rebuild, which waits: another stream
    /// of this silo holds the only turn (given back by disposing it).
    /// </summary>
    private async Task<(PrimaryCore Primary, IDisposable OtherStream)> RebuildWaitingForItsTurn()
    {
        Assert.True(await Primary().Activate());
        _copies.Place("r", new InMemoryShardLog("disk-r2"));
        var primary = Primary();
        Assert.True(await primary.Activate());
        var other = await _copies.Turns.Turn(CancellationToken.None);
        Assert.False(await primary.Heal("r"));
        Assert.Equal((1, 1), (primary.Rebuilding, _copies.Turns.Waiting));
        return (primary, other);
    }

    /// <summary>A fault for the primary's own write: a newer primary seals its copy just before it.</summary>
    private Func<bool> SealedBy(long epoch) => () =>
    {
        _primaryLog.Seal(epoch);
        return false;
    };

    private static byte[] Key => Encoding.UTF8.GetBytes("k");

    private static byte[] Value => Encoding.UTF8.GetBytes("v");

    private PrimaryCore Primary(IConfigRegister? register = null) =>
        new("p", _primaryLog, register ?? _register, _copies, new SystemTimeSource(TimeProvider.System), new ReplicationTimings { Lease = TimeSpan.Zero });

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

    /// <summary>Each silo's copy (its replica over that silo's log), reached at once.</summary>
    private sealed class Copies : IReplicaTransport
    {
        private readonly Dictionary<string, (ReplicaCore Core, InMemoryShardLog Log)> _silos = new(StringComparer.Ordinal);
        private readonly HashSet<string> _broken = new(StringComparer.Ordinal);

        public void Place(string silo, InMemoryShardLog log) => _silos[silo] = (new ReplicaCore(log, TimeSpan.Zero, DateTimeOffset.UnixEpoch), log);

        public string DiskOf(string silo) => _silos[silo].Log.Disk;

        public InMemoryShardLog LogOf(string silo) => _silos[silo].Log;

        /// <summary>From now on that copy's appends fail with an error of its own (not as an unreachable silo).</summary>
        public void Break(string silo) => _broken.Add(silo);

        public Task<AppendReply> Append(string silo, AppendRequest request) => _broken.Contains(silo)
            ? Task.FromException<AppendReply>(new ObjectDisposedException("RecordStore", "the store is closing"))
            : Task.FromResult(_silos[silo].Core.Append(request, DateTimeOffset.UtcNow));

        public Task<SealReply> Seal(string silo, SealRequest request) => Task.FromResult(_silos[silo].Core.Seal(request, DateTimeOffset.UtcNow));

        public Task<IReadOnlyList<LogEntry>> Fetch(string silo, long afterSeq, int max) => Task.FromResult(_silos[silo].Log.After(afterSeq, max));

        /// <summary>The primary's silo's rebuild turns (one stream at a time): a test may hold the turn.</summary>
        public RebuildThrottle Turns { get; } = new(1 << 20, maxStreams: 1, TimeProvider.System);

        /// <summary>A rebuild in one page.</summary>
        public Task<long> Install(string silo, long epoch, IShardSnapshot snapshot, CancellationToken cancellation)
        {
            var replica = _silos[silo].Core;
            var records = snapshot.Records().ToList();
            var installed = replica.BeginInstall(epoch, stream: 1) && replica.InstallPage(epoch, 1, 0, records) &&
                replica.EndInstall(epoch, 1, pages: 1, snapshot.AppliedSeq, snapshot.LastEpoch);
            return Task.FromResult(installed ? records.Sum(r => (long)r.Key.Length + r.Value.Length) : -1);
        }

        public Task<IDisposable> RebuildTurn(bool urgent, CancellationToken cancellation) => Turns.Turn(cancellation, urgent);

        public Task<string> Disk(string silo) => Task.FromResult(DiskOf(silo));
    }
}
