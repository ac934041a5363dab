using Kbl.Keys;
using Kbl.Records;
using Kbl.Silo.Routing;

namespace Kbl.Tests.Faults;

/// <summary>
/// A client of one colony that remembers what each key may hold: the value of its last acknowledged write, and any
/// write since whose outcome it could not know (the call failed in transit). A write that failed in transit or that
/// the colony refused (it answered Unavailable, so it did not happen) is sent again for a while, then given up. <see cref="Check"/> compares the colony with
/// that: every key holds one of its possible values, and no key the client never wrote (or deleted for sure) is there.
/// Versions (the leaf's clock) never go backwards: each acknowledged write of a key gets a higher one than the last,
/// and the record a key holds at the end is at least the version of its last acknowledged write — whatever divided,
/// merged, moved or failed over in between.
/// </summary>
public sealed class ColonyModel(ColonyRouter router, string colony)
{
    private static readonly TimeSpan GiveUp = TimeSpan.FromSeconds(60);

    private readonly Dictionary<string, HashSet<string?>> _possible = new(StringComparer.Ordinal);

    /// <summary>Each key's last acknowledged version (a put, or a delete of a record that was there).</summary>
    private readonly Dictionary<string, long> _versions = new(StringComparer.Ordinal);

    /// <summary>Calls that failed in transit (their outcome unknown to the client): what a user sees as an error.</summary>
    public List<string> Errors { get; } = [];

    public int Acknowledged { get; private set; }

    public Task Put(string key, string value) => Write(key, value);

    public Task Delete(string key) => Write(key, null);

    /// <summary>A put that must be acknowledged (refusals are retried until <see cref="GiveUp"/>, as <see cref="Put"/> does).</summary>
    public async Task PutAcknowledged(string key, string value)
    {
        var before = Acknowledged;
        await Put(key, value);
        Assert.True(Acknowledged == before + 1, $"put {key} was not acknowledged within {GiveUp.TotalSeconds} s");
    }

    /// <summary>
    /// Reads the whole colony and forgets the answer, as a client that keeps using it does: a read that reaches a KBL
    /// of an unfinished change (a retired child, a parent whose silo was lost) wakes the KBLs that finish it.
    /// </summary>
    public async Task Touch()
    {
        try
        {
            await foreach (var _ in router.Scan(colony, [], exclusive: false, to: null, limit: long.MaxValue))
            {
            }
        }
        catch (Exception e) when (e is KblStatusException or KblRoutingException or TimeoutException or OrleansException)
        {
            // Unavailable while a change finishes or a silo is down: the next touch tries again.
        }
    }

    /// <summary>Waits until the whole colony can be read (a scan succeeds), at most <see cref="GiveUp"/>.</summary>
    public async Task<TimeSpan> UntilServed()
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await foreach (var _ in router.Scan(colony, [], exclusive: false, to: null, limit: long.MaxValue))
                {
                }

                return started.Elapsed;
            }
            catch (Exception e) when (e is KblStatusException or KblRoutingException or TimeoutException or OrleansException && started.Elapsed < GiveUp)
            {
                await Task.Delay(25);
            }
        }
    }

    /// <summary>Every key's value now, read with one scan across the colony, against what the client may expect.</summary>
    public async Task Check()
    {
        var stored = new Dictionary<string, string>(StringComparer.Ordinal);
        var wrong = new List<string>();
        await foreach (var record in router.Scan(colony, [], exclusive: false, to: null, limit: long.MaxValue))
        {
            var key = KeyOrder.Display(record.Key);
            stored[key] = System.Text.Encoding.UTF8.GetString(record.Value);
            if (record.Version < _versions.GetValueOrDefault(key))
            {
                wrong.Add($"{key}: holds version {record.Version}, older than its last acknowledged write's {_versions[key]}");
            }
        }

        foreach (var (key, possible) in _possible)
        {
            var value = stored.GetValueOrDefault(key);
            if (!possible.Contains(value))
            {
                wrong.Add($"{key}: holds {value ?? "nothing"}, expected {string.Join(" or ", possible.Select(v => v ?? "nothing"))}");
            }
        }

        wrong.AddRange(stored.Keys.Where(k => !_possible.ContainsKey(k)).Select(k => $"{k}: never written, holds {stored[k]}"));
        Assert.True(wrong.Count == 0, $"{wrong.Count} keys of {_possible.Count} are wrong:\n{string.Join('\n', wrong.Take(20))}");
    }

    private async Task Write(string key, string? value)
    {
        var bytes = KeyOrder.Encode(key);
        var payload = value is null ? null : System.Text.Encoding.UTF8.GetBytes(value);
        var deadline = DateTime.UtcNow + GiveUp;
        while (true)
        {
            WriteResult reply;
            try
            {
                reply = await router.Write(colony, new RecordWrite(bytes, payload, Precondition.None)); // the gateway's path: group commit
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                // Lost in transit: it may or may not have happened. The client sends it again, as clients do.
                Errors.Add($"{(value is null ? "delete" : "put")} {key}: {e.GetType().Name}: {e.Message}");
                Possible(key).Add(value);
                if (DateTime.UtcNow >= deadline)
                {
                    return;
                }

                await Task.Delay(25);
                continue;
            }

            switch (reply.Status)
            {
                case KblStatus.Ok or KblStatus.NotFound:
                    if (reply.Status == KblStatus.Ok)
                    {
                        var last = _versions.GetValueOrDefault(key);
                        Assert.True(reply.Version > last, $"{key}: a write acknowledged at version {reply.Version} after one at {last}: its leaf's clock went backwards");
                        _versions[key] = reply.Version;
                    }

                    _possible[key] = [value];
                    Acknowledged++;
                    return;
                case KblStatus.Unavailable when DateTime.UtcNow < deadline:
                    await Task.Delay(25); // refused (not applied): the colony is finishing a change or a silo is down
                    continue;
                case KblStatus.Unavailable:
                    return; // never applied
                case KblStatus.OutcomeUnknown:
                    // Applied by a primary that lost its copies or its epoch before acknowledging: the colony says so.
                    Errors.Add($"{(value is null ? "delete" : "put")} {key}: outcome unknown: {reply.Message}");
                    Possible(key).Add(value);
                    if (DateTime.UtcNow >= deadline)
                    {
                        return;
                    }

                    continue;
                default:
                    throw new Xunit.Sdk.XunitException($"{key}: unexpected {reply.Status}: {reply.Message}");
            }
        }
    }

    private HashSet<string?> Possible(string key)
    {
        if (!_possible.TryGetValue(key, out var possible))
        {
            _possible[key] = possible = [null];
        }

        return possible;
    }
}
