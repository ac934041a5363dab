using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Records;
using Kbl.Storage;
using Kbl.Tree;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Storage;

namespace Kbl.Placement;

/// <summary>
/// When a silo starts, it asks the KBL of every replica copy on its disk whether that copy is still one of its
/// shard's (<see cref="IKblPlacementGrain.DropStrayCopy"/>): a silo that was down when a copy was taken off it (its
/// member replaced by another silo) or that missed the drop keeps the copy, read by nobody, until the KBL asks it to
/// drop it. The KBL decides in its turn, against its configuration. Asking activates the KBL, so a copy its stored
/// state vouches for — a leaf, no change of shape under way, whose configuration names this silo's copy in sync (most
/// copies) — is left alone without waking it: a silo's start does not wake every idle KBL it holds a copy of. Any
/// other copy is asked about, as before; its KBL wakes, so it also finishes a change of shape it left pending and
/// brings a member out of sync (this silo, down while the leaf ran) back. The state read is the newest the KBL
/// wrote; a change in flight that takes this silo out of the set drops the copy itself, or the next start asks.
/// It starts <see cref="KblOptions.StrayCopySweepDelay"/> after the silo: a KBL activated while its home silo is
/// still starting would be placed on a silo holding its copy and take its shard over there (nor is a KBL whose home
/// silo is down asked at any sweep). It runs again every
/// <see cref="KblOptions.StrayCopySweepPeriod"/>, for copies whose drop was lost while this silo stayed up (a KBL
/// whose primary stopped before its drop got an answer does not ask again).
/// </summary>
public sealed partial class StrayCopySweeper(
    IGrainFactory grains,
    [FromKeyedServices(KblStorage.Name)] IGrainStorage storage,
    RecordStore store,
    ClusterLoad load,
    SiloIdentity me,
    IOptions<KblOptions> options,
    ILogger<StrayCopySweeper> logger)
    : SiloStartPass<(string KblId, long Sealed)>
{
    protected override TimeSpan Delay => options.Value.StrayCopySweepDelay;

    protected override TimeSpan Every => options.Value.StrayCopySweepPeriod;

    /// <summary>Sweeps now, beside the schedule: the number of stray copies dropped.</summary>
    public async Task<int> SweepNow(CancellationToken cancellationToken) => (await Pass(cancellationToken)).Counted;

    protected override IReadOnlyList<(string KblId, long Sealed)> Items() => store.ReplicaCopies();

    protected override async Task<bool> Visit((string KblId, long Sealed) copy)
    {
        var kbl = grains.GetGrain<IKblPlacementGrain>(copy.KblId);
        var state = await storage.ReadKblState(kbl.GetGrainId());

        // Nor is a KBL whose home silo is down woken (a silo restarting in a rolling upgrade): placed now, it would
        // take its shard over on a silo holding a copy. A later sweep asks.
        var homeDown = state.Home is { } home && home != me.Name && load.AddressOf(home) is null;
        return !Vouches(state, me.Name, copy.Sealed) && !homeDown && await kbl.DropStrayCopy(me.Name, copy.Sealed);
    }

    /// <summary>Whether a KBL's stored <paramref name="state"/> names the copy on <paramref name="silo"/> (sealed for <paramref name="sealedEpoch"/>) as an in-sync copy of its shard.</summary>
    private static bool Vouches(KblState state, string silo, long sealedEpoch) =>
        state is { Role: KblRole.Leaf, Transition: null, Replicas: { } config } &&
        sealedEpoch <= config.Epoch &&
        config.Members.Any(m => m.Silo == silo && m.InSync);

    protected override void Failed((string KblId, long Sealed) copy, Exception error) => LogSweepFailed(logger, me.Name, copy.KblId, error.Message); // it stays until the next sweep

    protected override void Ended(int counted, int items) => LogSwept(logger, me.Name, counted, items);

    protected override void PassFailed(Exception error) => LogPassFailed(logger, error, me.Name);

    [LoggerMessage(EventId = 1310, Level = LogLevel.Information, Message = "Silo {Silo} dropped {Dropped} stray copies of the {Copies} replica copies on its disk")]
    private static partial void LogSwept(ILogger logger, string silo, int dropped, int copies);

    [LoggerMessage(EventId = 1314, Level = LogLevel.Warning, Message = "Silo {Silo} could not sweep the replica copies on its disk; the next sweep tries again")]
    private static partial void LogPassFailed(ILogger logger, Exception error, string silo);

    [LoggerMessage(EventId = 1311, Level = LogLevel.Debug, Message = "Silo {Silo} could not ask KBL {Kbl} about its copy: {Reason}")]
    private static partial void LogSweepFailed(ILogger logger, string silo, string kbl, string reason);
}
