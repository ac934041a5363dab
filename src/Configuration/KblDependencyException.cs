namespace Kbl.Configuration;

/// <summary>
/// Something the process needs at start is missing or unreachable (a DynamoDB table, the Redis membership store, the
/// SQS deployment queue): the process prints this one line, which names it, and exits (code 3) without serving.
/// </summary>
public sealed class KblDependencyException : Exception
{
    /// <summary>The exit code of a process stopped by a missing dependency (bad configuration is 2).</summary>
    public const int ExitCode = 3;

    public KblDependencyException()
    {
    }

    public KblDependencyException(string message)
        : base(message)
    {
    }

    public KblDependencyException(string message, Exception inner)
        : base(message, inner)
    {
    }

    /// <summary>The first <see cref="KblDependencyException"/> among <paramref name="failure"/> and the exceptions it wraps.</summary>
    public static KblDependencyException? Find(Exception? failure) => Chain(failure).OfType<KblDependencyException>().FirstOrDefault();

    /// <summary><paramref name="failure"/> and every exception it wraps (inner exceptions, aggregated ones), outermost first.</summary>
    public static IEnumerable<Exception> Chain(Exception? failure)
    {
        var pending = new Stack<Exception>();
        if (failure is not null)
        {
            pending.Push(failure);
        }

        while (pending.TryPop(out var e))
        {
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.Reverse())
                {
                    pending.Push(inner);
                }
            }
            else if (e.InnerException is { } inner)
            {
                pending.Push(inner);
            }
        }
    }

    /// <summary>The first line of <paramref name="message"/>: what goes into a one-line report.</summary>
    public static string FirstLine(string message) =>
        message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is [var first, ..] ? first : message.Trim();
}
