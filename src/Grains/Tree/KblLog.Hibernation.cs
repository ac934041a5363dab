using Microsoft.Extensions.Logging;

namespace Kbl.Tree;

internal static partial class KblLog
{
    [LoggerMessage(EventId = 1500, Level = LogLevel.Information, Message = "KBL {Kbl} hibernates: {Records} records ({Bytes} bytes) sealed into the cold tier as {Snapshot} in {Milliseconds:F0} ms")]
    public static partial void Hibernated(ILogger logger, string kbl, long records, long bytes, string snapshot, double milliseconds);

    [LoggerMessage(EventId = 1501, Level = LogLevel.Information, Message = "KBL {Kbl} woke on silo {Silo}: {Records} records ({Bytes} bytes) ingested from the cold tier in {Milliseconds:F0} ms")]
    public static partial void Woke(ILogger logger, string kbl, string silo, long records, long bytes, double milliseconds);

    [LoggerMessage(EventId = 1502, Level = LogLevel.Warning, Message = "KBL {Kbl} could not hibernate now; it stays active and tries again")]
    public static partial void HibernateFailed(ILogger logger, Exception exception, string kbl);

    [LoggerMessage(EventId = 1503, Level = LogLevel.Error, Message = "KBL {Kbl} could not wake from the cold tier; its requests are refused until it can")]
    public static partial void WakeFailed(ILogger logger, Exception exception, string kbl);

    [LoggerMessage(EventId = 1504, Level = LogLevel.Warning, Message = "KBL {Kbl}: the cold-tier objects under {Prefix} could not be deleted (they take space, nothing reads them)")]
    public static partial void ColdLeftovers(ILogger logger, Exception exception, string kbl, string prefix);
}
