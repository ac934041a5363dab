using Microsoft.Extensions.Logging;

namespace Kbl.Persistence;

/// <summary>
/// The log events every Kbl grain storage provider writes alike, each provider under its own event ids and name:
/// <c>firstEventId + 2</c> a read failed, <c>+ 3</c> a write failed, <c>+ 4</c> a clear failed, <c>+ 5</c> an ETag
/// conflict. (<c>firstEventId</c> and <c>+ 1</c> are the provider's own: ready, and could not start.)
/// </summary>
/// <remarks>
/// Defined with <see cref="LoggerMessage.Define{T1, T2, T3}(LogLevel, EventId, string)"/> rather than
/// <c>[LoggerMessage]</c>: the source generator needs constant ids and text, and here both depend on the
/// provider. A provider keeps one instance in a static field, so each message is parsed once.
/// </remarks>
public sealed class GrainStorageEvents
{
    /// <param name="kind">The store as messages name it ("SQLite", "DynamoDB").</param>
    /// <param name="firstEventId">The provider's first event id (41000 for SQLite, 41100 for DynamoDB).</param>
    public GrainStorageEvents(string kind, int firstEventId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(kind);
        Kind = kind;
        ReadFailed = Failure(firstEventId + 2, "LogReadFailed", "read");
        WriteFailed = Failure(firstEventId + 3, "LogWriteFailed", "write");
        ClearFailed = Failure(firstEventId + 4, "LogClearFailed", "clear");
        EtagConflict = LoggerMessage.Define<string, string, string, string, string, string>(
            LogLevel.Warning,
            new EventId(firstEventId + 5, "LogEtagConflict"),
            kind + " grain storage {Name} rejected a {Operation} of state {StateName} of grain {GrainId}: stored ETag {StoredEtag}, current ETag {CurrentEtag}");
    }

    /// <summary>The store as messages name it.</summary>
    public string Kind { get; }

    internal Action<ILogger, string, string, string, Exception?> ReadFailed { get; }

    internal Action<ILogger, string, string, string, Exception?> WriteFailed { get; }

    internal Action<ILogger, string, string, string, Exception?> ClearFailed { get; }

    internal Action<ILogger, string, string, string, string, string, string, Exception?> EtagConflict { get; }

    private Action<ILogger, string, string, string, Exception?> Failure(int eventId, string eventName, string operation) =>
        LoggerMessage.Define<string, string, string>(
            LogLevel.Error,
            new EventId(eventId, eventName),
            Kind + " grain storage {Name} failed to " + operation + " state {StateName} of grain {GrainId}");
}
