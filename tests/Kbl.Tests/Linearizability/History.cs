using System.Collections.Concurrent;
using System.Diagnostics;

namespace Kbl.Tests.Linearizability;

/// <summary>What a client asked of one key.</summary>
public enum OpKind
{
    Get,
    Put,
    Delete,
}

/// <summary>What the client was told. <see cref="Unknown"/>: no answer (a timeout, a 504): it may or may not have happened.</summary>
public enum Outcome
{
    Ok,
    NotFound,
    PreconditionFailed,
    Unknown,
}

/// <summary>
/// One operation on one key as a client saw it, between <see cref="Invoked"/> and <see cref="Completed"/> on one
/// monotonic clock (<see cref="History.Now"/>). A put or delete may carry a condition: <see cref="IfMatch"/> (the
/// record is at that version), <see cref="IfExists"/> (it exists) or <see cref="IfAbsent"/> (it does not).
/// <see cref="Version"/>: what a put returned, what a get read, or the current version a refused conditional write
/// reported (0: no record).
/// </summary>
public sealed record Operation(string Key, OpKind Kind, long Invoked, long Completed, Outcome Outcome)
{
    public string? Value { get; init; }

    public long? IfMatch { get; init; }

    public bool IfExists { get; init; }

    public bool IfAbsent { get; init; }

    public long Version { get; init; }

    public string? ReadValue { get; init; }

    public int Client { get; init; }

    public bool Conditional => IfMatch is not null || IfExists || IfAbsent;

    public override string ToString()
    {
        var condition = IfMatch is { } v ? $" if-match {v}" : IfExists ? " if-exists" : IfAbsent ? " if-absent" : "";
        var what = Kind switch
        {
            OpKind.Get => $"get {Key}",
            OpKind.Put => $"put {Key}={Value}{condition}",
            _ => $"delete {Key}{condition}",
        };
        var result = Outcome switch
        {
            Outcome.Ok when Kind == OpKind.Get => $"→ {ReadValue}@{Version}",
            Outcome.Ok when Kind == OpKind.Put => $"→ ok@{Version}",
            Outcome.Ok => "→ ok",
            Outcome.PreconditionFailed => $"→ precondition failed (at {Version})",
            _ => $"→ {Outcome}",
        };
        return $"[{Invoked}..{(Completed == long.MaxValue ? "∞" : Completed.ToString())}] c{Client} {what} {result}";
    }
}

/// <summary>
/// A recorder of operations from many concurrent clients on one monotonic clock. <see cref="Begin"/> when a request
/// goes out, then exactly one of the completions; an operation whose answer never came is recorded as
/// <see cref="Outcome.Unknown"/> with a completion at infinity.
/// </summary>
public sealed class History
{
    private static readonly long Origin = Stopwatch.GetTimestamp();
    private readonly ConcurrentQueue<Operation> _operations = new();

    /// <summary>Ticks of the one monotonic clock every client reads.</summary>
    public static long Now => Stopwatch.GetTimestamp() - Origin;

    public IReadOnlyList<Operation> Operations => [.. _operations];

    public long Begin() => Now;

    public void Add(Operation operation) => _operations.Enqueue(operation);

    /// <summary>Records an operation that started at <paramref name="invoked"/> and ended now (or never, for <see cref="Outcome.Unknown"/>).</summary>
    public Operation Complete(Operation operation)
    {
        var done = operation.Outcome == Outcome.Unknown ? operation with { Completed = long.MaxValue } : operation with { Completed = Now };
        _operations.Enqueue(done);
        return done;
    }
}
