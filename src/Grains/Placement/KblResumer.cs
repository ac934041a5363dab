using Kbl.Grains;
using Kbl.Records;
using Microsoft.Extensions.Logging;

namespace Kbl.Placement;

/// <summary>
/// When a silo starts, it activates the leaves of colonies that hibernate idle leaves whose shards its disk holds (a
/// primary's copy; marked by <see cref="RecordStore.MarkWindow"/>): each then reports to its parent on its ticks and
/// hibernates once idle — otherwise a leaf nobody asks for after a restart would keep its records on this disk, and
/// its group its machines, until a request came. Other KBLs wait for their first request, as before.
/// </summary>
public sealed partial class KblResumer(IGrainFactory grains, RecordStore store, SiloIdentity me, ILogger<KblResumer> logger) : SiloStartPass<string>
{
    protected override IReadOnlyList<string> Items() => store.WindowShards();

    protected override async Task<bool> Visit(string id)
    {
        await grains.GetGrain<IKblGrain>(id).GetTree(0, hotPath: false); // activates it where it lives
        return true;
    }

    protected override void Failed(string id, Exception error) => LogResumeFailed(logger, me.Name, id, error.Message); // its next request activates it

    protected override void Ended(int counted, int items) => LogResumed(logger, me.Name, counted, items);

    protected override void PassFailed(Exception error) => LogPassFailed(logger, error, me.Name);

    [LoggerMessage(EventId = 1308, Level = LogLevel.Information, Message = "Silo {Silo} activated {Resumed} of the {Shards} leaves on its disk that may hibernate")]
    private static partial void LogResumed(ILogger logger, string silo, int resumed, int shards);

    [LoggerMessage(EventId = 1315, Level = LogLevel.Warning, Message = "Silo {Silo} could not read the leaves on its disk to activate at start")]
    private static partial void LogPassFailed(ILogger logger, Exception error, string silo);

    [LoggerMessage(EventId = 1309, Level = LogLevel.Debug, Message = "Silo {Silo} could not activate KBL {Kbl} at start: {Reason}")]
    private static partial void LogResumeFailed(ILogger logger, string silo, string kbl, string reason);
}
