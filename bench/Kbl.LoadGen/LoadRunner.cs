using System.Diagnostics;
using System.Globalization;

namespace Kbl.LoadGen;

/// <summary>
/// Drives <see cref="LoadOptions.Concurrency"/> request loops against one client. Each loop issues its next request
/// only while the clock is before the end of the run, so the run stops by itself; a request counts when it both
/// started and finished inside the measured window, and every failure is counted (inside or outside it).
/// </summary>
internal sealed class LoadRunner(LoadOptions options, IRecordClient client, TextWriter log)
{
    public async Task<LoadReport> Run(CancellationToken cancellationToken)
    {
        if (options.Op != OpKind.Noop)
        {
            // The no-op endpoint needs no colony; creating one (two copies by default) would make the local provider
            // start a second silo on the same cores for every run after it.
            await client.EnsureColony(options.Colony, options.Genome, cancellationToken);
        }

        var preloadSeconds = options.Preload ? await Preload(cancellationToken) : (double?)null;

        var start = Stopwatch.GetTimestamp();
        var measureFrom = start + Ticks(options.WarmupSeconds);
        var end = measureFrom + Ticks(options.DurationSeconds);

        // A last resort only: every loop ends on its own by `end`, and requests time out on their own.
        using var hardStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        hardStop.CancelAfter(TimeSpan.FromSeconds(options.WarmupSeconds + options.DurationSeconds + options.TimeoutSeconds + 5));

        var cpu = new CpuMeter(options.ServerPid);
        var cpuInWindow = Task.Run(
            async () =>
            {
                await DelayUntil(measureFrom, hardStop.Token);
                var (client0, server0) = cpu.Read();
                await DelayUntil(end, hardStop.Token);
                var (client1, server1) = cpu.Read();
                return new CpuUse(client1 - client0, server1 - server0);
            },
            CancellationToken.None);
        var workers = Enumerable.Range(0, options.Concurrency)
            .Select(i => Task.Run(() => Worker(i, measureFrom, end, hardStop.Token), CancellationToken.None))
            .ToList();
        var tallies = await Task.WhenAll(workers);
        cancellationToken.ThrowIfCancellationRequested();
        var cpuUse = await cpuInWindow;

        var gets = new OpStats();
        var puts = new OpStats();
        var outside = new OpStats();
        foreach (var (g, p, o) in tallies)
        {
            gets.Add(g);
            puts.Add(p);
            outside.Add(o);
        }

        var all = new OpStats();
        all.Add(gets);
        all.Add(puts);
        var seconds = options.DurationSeconds;
        var rows = options.Op switch
        {
            OpKind.Get => [ResultRow.From(options, "get", gets, seconds)],
            OpKind.Noop => [ResultRow.From(options, "noop", gets, seconds)],
            OpKind.Put => [ResultRow.From(options, "put", puts, seconds)],
            _ => new List<ResultRow>
            {
                ResultRow.From(options, "mixed", all, seconds),
                ResultRow.From(options, "mixed-get", gets, seconds),
                ResultRow.From(options, "mixed-put", puts, seconds),
            },
        };
        return new LoadReport(options, client.Address, seconds, rows, all, outside, cpuUse, preloadSeconds);
    }

    private async Task<(OpStats Gets, OpStats Puts, OpStats Outside)> Worker(int index, long measureFrom, long end, CancellationToken cancellationToken)
    {
        var gets = new OpStats();
        var puts = new OpStats();
        var outside = new OpStats();
        var random = new Random(unchecked((index * 7919) + 17));
        while (!cancellationToken.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            if (started >= end)
            {
                break;
            }

            var read = options.Op switch
            {
                OpKind.Get or OpKind.Noop => true,
                OpKind.Put => false,
                _ => random.NextDouble() < options.ReadRatio,
            };
            var keys = new int[options.Batch];
            for (var k = 0; k < keys.Length; k++)
            {
                keys[k] = random.Next(options.Keys);
            }

            var error = await Call(read, keys, cancellationToken);
            var finished = Stopwatch.GetTimestamp();
            var inWindow = started >= measureFrom;
            var stats = read ? gets : puts;
            if (error is not null)
            {
                (inWindow ? stats : outside).Fail(error);
            }
            else if (inWindow && finished <= end)
            {
                stats.Record(finished - started);
            }
        }

        return (gets, puts, outside);
    }

    /// <summary>Writes every key once, <see cref="LoadOptions.Batch"/> keys to a request, and says how long it took.</summary>
    private async Task<double> Preload(CancellationToken cancellationToken)
    {
        var next = -1;
        var started = Stopwatch.GetTimestamp();
        var tallies = await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(
            async () =>
            {
                var stats = new OpStats();
                int first;
                while ((first = Interlocked.Increment(ref next) * options.Batch) < options.Keys && !cancellationToken.IsCancellationRequested)
                {
                    var keys = Enumerable.Range(first, Math.Min(options.Batch, options.Keys - first)).ToArray();
                    if (await Call(read: false, keys, cancellationToken) is { } error)
                    {
                        stats.Fail(error);
                    }
                }

                return stats;
            },
            CancellationToken.None)));
        cancellationToken.ThrowIfCancellationRequested();
        var total = new OpStats();
        foreach (var stats in tallies)
        {
            total.Add(stats);
        }

        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"preload: wrote {options.Keys} keys in {seconds:F1} s ({options.Keys / seconds:F0}/s, {options.Batch} to a request), {total.ErrorCount} failed requests"));
        foreach (var (kind, (count, sample)) in total.Errors)
        {
            log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"preload errors: {count} x {kind}: {sample}"));
        }

        return seconds;
    }

    /// <summary>One request; whatever goes wrong is an error to count, never a reason to stop the run.</summary>
    private async Task<OpError?> Call(bool read, int[] keys, CancellationToken cancellationToken)
    {
        try
        {
            return options.Op == OpKind.Noop ? await client.Noop(cancellationToken)
                : read ? await client.Get(keys, cancellationToken) : await client.Put(keys, cancellationToken);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return OpError.From(e);
        }
    }

    private static long Ticks(double seconds) => (long)(seconds * Stopwatch.Frequency);

    private static async Task DelayUntil(long timestamp, CancellationToken cancellationToken)
    {
        var wait = (timestamp - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency;
        if (wait > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(wait), cancellationToken);
        }
    }
}
