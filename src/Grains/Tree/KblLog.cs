using Microsoft.Extensions.Logging;

namespace Kbl.Tree;

internal static partial class KblLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Colony {Colony} created")]
    public static partial void ColonyCreated(ILogger logger, string colony);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "KBL {Kbl} divides into {Children} pieces ({Reason}; {Keys} keys, {Bytes} bytes)")]
    public static partial void Splitting(ILogger logger, string kbl, int children, string reason, long keys, long bytes);

    [LoggerMessage(EventId = 1023, Level = LogLevel.Information, Message = "KBL {Kbl} keeps what this silo holds of {Range}: a KBL took that range over here since its division (or too many did to tell); at worst a leftover, cleared by the next KBL to take it")]
    public static partial void DropSkipped(ILogger logger, string kbl, string range);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "KBL {Kbl} is interior at epoch {Epoch}: {Children}")]
    public static partial void Split(ILogger logger, string kbl, long epoch, string children);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "KBL {Kbl} merges its {Children} cold children ({Keys} keys, {Bytes} bytes, {Ops:F1} ops/s)")]
    public static partial void Merging(ILogger logger, string kbl, int children, long keys, long bytes, double ops);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "KBL {Kbl} is a leaf again at epoch {Epoch} with {Keys} keys")]
    public static partial void Merged(ILogger logger, string kbl, long epoch, long keys);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "KBL {Kbl} activated on silo {Silo} but its records are on silo {Home}; it refuses requests until it can return home")]
    public static partial void Displaced(ILogger logger, string kbl, string home, string silo);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "KBL {Kbl} moved from silo {From} to silo {To} with {Records} records")]
    public static partial void Relocated(ILogger logger, string kbl, string from, string to, long records);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "KBL {Kbl} took in the pieces of its divided child {Child}: {Pieces}")]
    public static partial void Divided(ILogger logger, string kbl, string child, string pieces);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning, Message = "KBL {Kbl}: its home silo {Home} is down; silo {Silo}, which holds an in-sync replica, takes over as its primary")]
    public static partial void TookOver(ILogger logger, string kbl, string home, string silo);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "KBL {Kbl} could not finish its {Kind} yet; it tries again on its next tick")]
    public static partial void TransitionPending(ILogger logger, Exception exception, string kbl, TransitionKind kind);

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "KBL {Kbl}: its copy on silo {Silo} could not be forked for new leaf {Child}; the new leaf rebuilds that copy")]
    public static partial void ForkFailed(ILogger logger, Exception exception, string kbl, string child, string silo);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "KBL {Kbl}: silo {Silo} could not put its copies of the merged children together; the merged leaf rebuilds that copy")]
    public static partial void FuseFailed(ILogger logger, Exception exception, string kbl, string silo);

    [LoggerMessage(EventId = 1015, Level = LogLevel.Warning, Message = "KBL {Kbl}: the copy of the merged records on silo {Silo} could not be made before the merge completed; the merged leaf rebuilds it")]
    public static partial void MergedCopyFailed(ILogger logger, Exception? exception, string kbl, string silo);

    [LoggerMessage(EventId = 1016, Level = LogLevel.Information, Message = "KBL {Kbl}: silo {Silo} dropped a stray copy of its shard (sealed for epoch {Epoch}); the KBL's configuration does not name it")]
    public static partial void StrayCopyDropped(ILogger logger, string kbl, string silo, long epoch);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "KBL {Kbl}: a rebuild of a copy failed; it starts again on a later tick")]
    public static partial void RebuildFailed(ILogger logger, Exception exception, string kbl);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Error, Message = "KBL {Kbl}: its copy here could not take a write its replicas may have taken; the write's outcome is unknown and the KBL starts again (the next activation takes the longest copy)")]
    public static partial void WriteFailed(ILogger logger, Exception exception, string kbl);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "KBL {Kbl}: moving to node group {NodeGroup}, it could not hand its shard to its copy on silo {Silo} now; it tries again on a later tick")]
    public static partial void GroupHandOverFailed(ILogger logger, Exception exception, string kbl, string nodeGroup, string silo);
}
