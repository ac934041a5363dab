using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kbl.Tests.Linearizability;
using Xunit.Abstractions;

namespace Kbl.Tests.Process;

/// <summary>
/// Three silo processes on Redis membership serve a mirrored colony (two copies) to eight clients that overwrite,
/// delete, read and conditionally write sixteen hot keys; mid-run the silo holding the primary is killed
/// (SIGKILL) or paused past failure detection and resumed (a zombie primary). Every key's recorded history must be
/// linearizable (no acknowledged write lost, no stale read, no version going back), the colony must serve again
/// from the replica, and its copies must be rebuilt on the silos left.
/// </summary>
[Trait("Category", Category.Process)]
public sealed partial class ReplicatedCrashTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Colony = "mirrored";
    private const int Clients = 8;
    private static readonly string[] Keys = [.. Enumerable.Range(0, 16).Select(i => $"hot{i}")];
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kbl-replicated-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly RedisServer _redis = new();
    private readonly List<SiloProcess> _silos = [];
    private readonly History _history = new();
    private int _values;

    public async Task InitializeAsync()
    {
        await _redis.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            _silos.Add(new SiloProcess(Path.Combine(_root, $"p{i}"), $"p{i}", new Dictionary<string, string>
            {
                ["Kbl:Cluster:Mode"] = "redis",
                ["Kbl:Cluster:Redis"] = _redis.ConnectionString,
                ["Kbl:Cluster:ClusterId"] = "replicated-test",
                ["Kbl:Storage:Sqlite:Path"] = Path.Combine(_root, "meta.db"),
                ["Kbl:Placement:LoadRefresh"] = "00:00:00.500",
                ["Kbl:Placement:RebalancePeriod"] = "00:00:00",
                ["Kbl:Auth:AllowAnonymous"] = "true",
            }));
        }

        await Task.WhenAll(_silos.Select(s => s.StartAsync()));
    }

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.Pause(false);
            await silo.DisposeAsync();
        }

        await _redis.DisposeAsync();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_key_stays_linearizable_when_the_primarys_silo_is_killed_or_paused(bool paused)
    {
        using var admin = new HttpClient { BaseAddress = _silos[0].HttpAddress };
        await Eventually.Until(
            async () => (await admin.GetFromJsonAsync<JsonElement>("/v1/cluster/silos")).GetProperty("silos").GetArrayLength(),
            n => n == 3,
            TimeSpan.FromSeconds(30),
            "three silos in one cluster");
        // One leaf: eight clients on a few keys are load enough to divide it, and the test follows the copies of "r".
        var genome = new { splitOpsPerSecond = 1_000_000_000, redundancy = new { mode = "mirror", copies = 2 } };
        (await admin.PutAsync($"/v1/colonies/{Colony}", JsonContent.Create(genome))).EnsureSuccessStatusCode();
        var before = await Redundant(_silos);
        var victim = _silos.Single(s => s.SiloName == before.Primary);
        var survivors = _silos.Where(s => s != victim).ToList();
        output.WriteLine($"primary on {before.Primary}, replica on {before.Replica}");

        using var stop = new CancellationTokenSource();
        var live = _silos.ToArray();
        var clients = Enumerable.Range(0, Clients).Select(c => Task.Run(() => Client(c, () => Volatile.Read(ref live), stop.Token))).ToList();
        await Task.Delay(TimeSpan.FromSeconds(5)); // the clients run against the healthy colony first
        var struck = History.Now;
        var clock = Stopwatch.StartNew();
        if (paused)
        {
            await victim.Pause(true);
        }
        else
        {
            await victim.KillAsync();
        }

        Volatile.Write(ref live, [.. survivors]);
        await Redundant(survivors, exclude: victim.SiloName);
        var rebuilt = clock.Elapsed;
        if (paused)
        {
            await victim.Pause(false); // the zombie wakes up still thinking it is the primary
            await Task.Delay(TimeSpan.FromSeconds(3));
        }

        await stop.CancelAsync();
        await Task.WhenAll(clients);

        // Every key read once more at the end: what the colony holds must follow from the history.
        using (var reader = new HttpClient { BaseAddress = survivors[0].HttpAddress, Timeout = TimeSpan.FromSeconds(10) })
        {
            foreach (var key in Keys)
            {
                await Request(reader, -1, key, "GET", null, null);
            }
        }

        // The copies end byte-identical: the leaf's primary and its replica hold the same records at the same position.
        var copies = await Eventually.Until(
            () => Copies(survivors),
            c => c.Count == 2 && c.All(x => x.Answered && x.InSync) && c.Select(x => (x.AppliedSeq, x.Sha256)).Distinct().Count() == 1,
            TimeSpan.FromSeconds(60),
            "two in-sync copies with the same digest");
        output.WriteLine($"copies: {string.Join("; ", copies)}");

        var operations = _history.Operations;
        var firstWrite = operations.Where(o => o.Invoked > struck && o.Kind != OpKind.Get && o.Outcome == Outcome.Ok).Select(o => o.Completed).DefaultIfEmpty(long.MaxValue).Min();
        output.WriteLine($"{operations.Count} operations, {operations.Count(o => o.Outcome == Outcome.Unknown)} with no answer; " +
            $"first write acknowledged {TimeSpan.FromTicks((long)((firstWrite - struck) * (TimeSpan.TicksPerSecond / (double)Stopwatch.Frequency))).TotalSeconds:F2} s after the {(paused ? "pause" : "kill")}; " +
            $"two copies in sync again after {rebuilt.TotalSeconds:F1} s");
        Assert.True(firstWrite != long.MaxValue, "no write was acknowledged after the primary's silo was lost");
        var verdict = LinearizabilityChecker.Check(operations);
        if (verdict is not null && Keys.FirstOrDefault(k => verdict.StartsWith($"key {k}:", StringComparison.Ordinal)) is { } wrong)
        {
            output.WriteLine($"the {(paused ? "pause" : "kill")} struck at {struck}; every operation on {wrong}:");
            foreach (var operation in operations.Where(o => o.Key == wrong).OrderBy(o => o.Invoked))
            {
                output.WriteLine(operation.ToString());
            }
        }

        Assert.True(verdict is null, verdict);
    }

    /// <summary>One client: random operations on the hot keys through the gateways of the live silos, in turn, until stopped.</summary>
    private async Task Client(int client, Func<SiloProcess[]> live, CancellationToken stop)
    {
        var random = new Random(client);
        var seen = new Dictionary<string, long>();
        var gateways = new Dictionary<SiloProcess, HttpClient>();
        try
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var silos = live();
                var silo = silos[n % silos.Length];
                if (!gateways.TryGetValue(silo, out var http))
                {
                    gateways[silo] = http = new HttpClient { BaseAddress = silo.HttpAddress, Timeout = TimeSpan.FromSeconds(3) };
                }

                var key = Keys[random.Next(Keys.Length)];
                var roll = random.Next(100);
                (string Method, string? Value, long? IfMatch) op = roll switch
                {
                    < 35 => ("GET", null, null),
                    < 75 => ("PUT", $"v{Interlocked.Increment(ref _values)}", null),
                    < 88 => ("PUT", $"v{Interlocked.Increment(ref _values)}", seen.TryGetValue(key, out var v) ? v : 1),
                    _ => ("DELETE", null, null),
                };
                var done = await Request(http, client, key, op.Method, op.Value, op.IfMatch);
                if (done.Version > 0)
                {
                    seen[key] = done.Version;
                }
                else if (done.Outcome == Outcome.Unknown)
                {
                    // No answer, a refusal or a 504: back off a little, as a client does, rather than pile up
                    // operations in doubt (each one multiplies the orders the checker must try).
                    await Task.Delay(100, CancellationToken.None);
                }
            }
        }
        finally
        {
            foreach (var http in gateways.Values)
            {
                http.Dispose();
            }
        }
    }

    /// <summary>Sends one request and records it: an answer the client cannot interpret as done or not done (no answer, a 5xx) is unknown.</summary>
    private async Task<Operation> Request(HttpClient http, int client, string key, string method, string? value, long? ifMatch)
    {
        var kind = method switch { "GET" => OpKind.Get, "PUT" => OpKind.Put, _ => OpKind.Delete };
        var operation = new Operation(key, kind, _history.Begin(), 0, Outcome.Unknown) { Value = value, IfMatch = ifMatch, Client = client };
        using var request = new HttpRequestMessage(new HttpMethod(method), $"/v1/colonies/{Colony}/records/{key}");
        if (value is not null)
        {
            request.Content = new StringContent(value);
        }

        if (ifMatch is { } version)
        {
            request.Headers.TryAddWithoutValidation("If-Match", $"\"{version}\"");
        }

        try
        {
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            var etag = response.Headers.ETag?.Tag is { } tag ? long.Parse(tag.Trim('"'), System.Globalization.CultureInfo.InvariantCulture) : 0;
            operation = response.StatusCode switch
            {
                HttpStatusCode.OK when kind == OpKind.Get => operation with { Outcome = Outcome.Ok, ReadValue = body, Version = etag },
                HttpStatusCode.OK or HttpStatusCode.NoContent => operation with { Outcome = Outcome.Ok, Version = etag },
                HttpStatusCode.NotFound => operation with { Outcome = Outcome.NotFound },
                HttpStatusCode.PreconditionFailed => operation with { Outcome = Outcome.PreconditionFailed, Version = CurrentVersion(body) },
                _ => operation,
            };
            if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.TooManyRequests)
            {
                return operation; // refused: it did not happen, and nothing was learnt
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            // No answer: it may or may not have happened.
        }

        return _history.Complete(operation);
    }

    /// <summary>The version a refused conditional write reports ("… is at version 42", or 0 when the record does not exist).</summary>
    private static long CurrentVersion(string body) => AtVersion().Match(body) is { Success: true } m ? long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;

    /// <summary>Waits until the colony's leaf has two copies in sync on <paramref name="silos"/> (none on <paramref name="exclude"/>).</summary>
    private static async Task<(string Primary, string Replica)> Redundant(IReadOnlyList<SiloProcess> silos, string? exclude = null)
    {
        var i = 0;
        var tree = await Eventually.Until(
            async () =>
            {
                using var http = new HttpClient { BaseAddress = silos[i++ % silos.Count].HttpAddress, Timeout = TimeSpan.FromSeconds(5) };
                try
                {
                    return await http.GetFromJsonAsync<JsonElement>($"/v1/colonies/{Colony}/tree?depth=0");
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    return default;
                }
            },
            t => t.ValueKind == JsonValueKind.Object && t.TryGetProperty("redundancy", out var r) &&
                r.GetProperty("status").GetString() == "redundant" && r.GetProperty("primary").GetString() != exclude &&
                r.GetProperty("replicas").EnumerateArray().All(m => m.GetProperty("silo").GetString() != exclude),
            TimeSpan.FromSeconds(60),
            "two copies in sync");
        var redundancy = tree.GetProperty("redundancy");
        return (redundancy.GetProperty("primary").GetString()!, redundancy.GetProperty("replicas")[0].GetProperty("silo").GetString()!);
    }

    /// <summary>The colony's leaf copies as <c>/kbls/r/copies</c> shows them (empty while no survivor answers).</summary>
    private static async Task<IReadOnlyList<(string Silo, bool InSync, bool Answered, long AppliedSeq, long Records, string Sha256)>> Copies(IReadOnlyList<SiloProcess> silos)
    {
        foreach (var silo in silos)
        {
            using var http = new HttpClient { BaseAddress = silo.HttpAddress, Timeout = TimeSpan.FromSeconds(5) };
            try
            {
                var copies = await http.GetFromJsonAsync<JsonElement>($"/v1/colonies/{Colony}/kbls/r/copies");
                return [.. copies.GetProperty("copies").EnumerateArray().Select(c => (
                    c.GetProperty("silo").GetString()!, c.GetProperty("inSync").GetBoolean(), c.GetProperty("answered").GetBoolean(),
                    c.GetProperty("appliedSeq").GetInt64(), c.GetProperty("records").GetInt64(), c.GetProperty("sha256").GetString()!))];
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }
        }

        return [];
    }

    [GeneratedRegex("at version (\\d+)")]
    private static partial Regex AtVersion();
}
