using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Records;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kbl.Placement;

/// <summary>
/// When a silo starts, it asks the KBL of every replica copy on its disk whether that copy is still one of its
/// shard's (<see cref="IKblPlacementGrain.DropStrayCopy"/>): a silo that was down when a copy was taken off it (its
/// member replaced by another silo) or that missed the drop keeps the copy, read by nobody, until the KBL asks it to
/// drop it. The KBL decides in its turn, against its configuration. It starts <see cref="KblOptions.StrayCopySweepDelay"/>
/// after the silo: asking activates each KBL, and a KBL activated while its home silo is still starting would be
/// placed on a silo holding its copy and take its shard over there.
/// </summary>
public sealed partial class StrayCopySweeper(IGrainFactory grains, RecordStore store, SiloIdentity me, IOptions<KblOptions> options, ILogger<StrayCopySweeper> logger)
    : SiloStartPass<(string KblId, long Sealed)>
{
    protected override TimeSpan Delay => options.Value.StrayCopySweepDelay;

    protected override IReadOnlyList<(string KblId, long Sealed)> Items() => store.ReplicaCopies();

    protected override Task<bool> Visit((string KblId, long Sealed) copy) => grains.GetGrain<IKblPlacementGrain>(copy.KblId).DropStrayCopy(me.Name, copy.Sealed);

    protected override void Failed((string KblId, long Sealed) copy, Exception error) => LogSweepFailed(logger, me.Name, copy.KblId, error.Message); // it stays until the next start

    protected override void Ended(int counted, int items) => LogSwept(logger, me.Name, counted, items);

    [LoggerMessage(EventId = 1310, Level = LogLevel.Information, Message = "Silo {Silo} dropped {Dropped} stray copies of the {Copies} replica copies on its disk")]
    private static partial void LogSwept(ILogger logger, string silo, int dropped, int copies);

    [LoggerMessage(EventId = 1311, Level = LogLevel.Debug, Message = "Silo {Silo} could not ask KBL {Kbl} about its copy: {Reason}")]
    private static partial void LogSweepFailed(ILogger logger, string silo, string kbl, string reason);
}
