using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Kbl.Tests.Faults;

/// <summary>The last lines Kbl's loggers (and Orleans' warnings) wrote on every silo of a test cluster, to show with a failure.</summary>
public sealed class LogTail : ILoggerProvider
{
    private const int Keep = 4000;
    private readonly ConcurrentQueue<string> _lines = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <summary>The kept lines that mention <paramref name="text"/>, oldest first.</summary>
    public string Lines(string text) => string.Join('\n', _lines.Where(l => l.Contains(text, StringComparison.Ordinal)));

    public void Dispose()
    {
    }

    private void Add(string line)
    {
        _lines.Enqueue(line);
        while (_lines.Count > Keep && _lines.TryDequeue(out _))
        {
        }
    }

    private sealed class Logger(LogTail tail, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) =>
            logLevel >= (category.StartsWith("Kbl", StringComparison.Ordinal) ? LogLevel.Information : LogLevel.Warning);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                tail.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {formatter(state, exception)}{(exception is null ? "" : $" [{exception.GetType().Name}: {exception.Message}]")}");
            }
        }
    }
}
