using Kbl.Grains;
using Kbl.Records;
using Microsoft.Extensions.Logging;

namespace Kbl.Placement;

/// <summary>
/// When a silo starts, it activates the leaves of colonies that hibernate idle leaves whose shards its disk holds (a
/// primary's copy; marked by <see cref="RecordStore.MarkWindow"/>), four at a time, in the background: each then
/// reports to its parent on its ticks and hibernates once idle — otherwise a leaf nobody asks for after a restart
/// would keep its records on this disk, and its group its machines, until a request came. Other KBLs wait for their
/// first request, as before.
/// </summary>
public sealed partial class KblResumer(IGrainFactory grains, RecordStore store, SiloIdentity me, ILogger<KblResumer> logger) : ILifecycleParticipant<ISiloLifecycle>, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(KblResumer), ServiceLifecycleStage.Active + 2, Start, _ => _stopping.CancelAsync());

    public void Dispose() => _stopping.Dispose();

    private Task Start(CancellationToken cancellationToken)
    {
        _ = Task.Run(Resume, CancellationToken.None); // the silo does not wait for it
        return Task.CompletedTask;
    }

    private async Task Resume()
    {
        var shards = store.WindowShards();
        var resumed = 0;
        try
        {
            await Parallel.ForEachAsync(shards, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = _stopping.Token }, async (id, _) =>
            {
                try
                {
                    await grains.GetGrain<IKblGrain>(id).GetTree(0, hotPath: false); // activates it where it lives
                    Interlocked.Increment(ref resumed);
                }
                catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
                {
                    LogResumeFailed(logger, me.Name, id, e.Message); // its next request activates it
                }
            });
        }
        catch (OperationCanceledException)
        {
            // The silo is stopping.
        }

        LogResumed(logger, me.Name, resumed, shards.Count);
    }

    [LoggerMessage(EventId = 1308, Level = LogLevel.Information, Message = "Silo {Silo} activated {Resumed} of the {Shards} leaves on its disk that may hibernate")]
    private static partial void LogResumed(ILogger logger, string silo, int resumed, int shards);

    [LoggerMessage(EventId = 1309, Level = LogLevel.Debug, Message = "Silo {Silo} could not activate KBL {Kbl} at start: {Reason}")]
    private static partial void LogResumeFailed(ILogger logger, string silo, string kbl, string reason);
}
