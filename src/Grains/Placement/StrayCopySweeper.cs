using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Records;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kbl.Placement;

/// <summary>
/// When a silo starts, it asks the KBL of every replica copy on its disk whether that copy is still one of its
/// shard's (<see cref="IKblPlacementGrain.DropStrayCopy"/>), four at a time, in the background: a silo that was down
/// when a copy was taken off it (its member replaced by another silo) or that missed the drop keeps the copy,
/// read by nobody, until the KBL asks it to drop it. The KBL decides in its turn, against its configuration. It starts
/// <see cref="KblOptions.StrayCopySweepDelay"/> after the silo: asking activates each KBL, and a KBL activated while
/// its home silo is still starting would be placed on a silo holding its copy and take its shard over there.
/// </summary>
public sealed partial class StrayCopySweeper(IGrainFactory grains, RecordStore store, SiloIdentity me, IOptions<KblOptions> options, ILogger<StrayCopySweeper> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(StrayCopySweeper), ServiceLifecycleStage.Active + 2, Start, _ => _stopping.CancelAsync());

    public void Dispose() => _stopping.Dispose();

    private Task Start(CancellationToken cancellationToken)
    {
        _ = Task.Run(Sweep, CancellationToken.None); // the silo does not wait for it
        return Task.CompletedTask;
    }

    private async Task Sweep()
    {
        var (asked, dropped) = (0, 0);
        try
        {
            await Task.Delay(options.Value.StrayCopySweepDelay, _stopping.Token);
            var copies = store.ReplicaCopies();
            asked = copies.Count;
            await Parallel.ForEachAsync(copies, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = _stopping.Token }, async (copy, _) =>
            {
                try
                {
                    if (await grains.GetGrain<IKblPlacementGrain>(copy.KblId).DropStrayCopy(me.Name, copy.Sealed))
                    {
                        Interlocked.Increment(ref dropped);
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogSweepFailed(logger, me.Name, copy.KblId, e.Message); // it stays until the next start; the others are asked
                }
            });
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            return; // the silo is stopping
        }

        LogSwept(logger, me.Name, dropped, asked);
    }

    [LoggerMessage(EventId = 1310, Level = LogLevel.Information, Message = "Silo {Silo} dropped {Dropped} stray copies of the {Copies} replica copies on its disk")]
    private static partial void LogSwept(ILogger logger, string silo, int dropped, int copies);

    [LoggerMessage(EventId = 1311, Level = LogLevel.Debug, Message = "Silo {Silo} could not ask KBL {Kbl} about its copy: {Reason}")]
    private static partial void LogSweepFailed(ILogger logger, string silo, string kbl, string reason);
}
