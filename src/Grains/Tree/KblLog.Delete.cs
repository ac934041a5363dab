using Microsoft.Extensions.Logging;

namespace Kbl.Tree;

/// <summary>The colony delete's log lines (event ids 1020–1029).</summary>
internal static partial class KblLog
{
    [LoggerMessage(EventId = 1020, Level = LogLevel.Information, Message = "Colony {Colony} is being deleted: it refuses every request while its KBLs are torn down")]
    public static partial void ColonyDeleting(ILogger logger, string colony);

    [LoggerMessage(EventId = 1021, Level = LogLevel.Information, Message = "Colony {Colony} deleted: its records, KBLs and demand are gone and its name is free")]
    public static partial void ColonyDeleted(ILogger logger, string colony);

    [LoggerMessage(EventId = 1022, Level = LogLevel.Warning, Message = "Colony {Colony} is not deleted yet ({Reason}); its root tries again")]
    public static partial void DeletePending(ILogger logger, string colony, string reason);
}
