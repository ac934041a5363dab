using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;

// The shape a colony takes under keys that arrive in order, measured against a real silo (bench/shape.sh runs it
// for the code before and after a change, in one invocation). It starts a silo process from --silo, loads --keys
// ascending keys through HTTP with --concurrency requests in flight, waits for the divisions to settle, then
// measures: the tree's height and size, a new gateway's first request (a second silo process joins and serves one
// GET: its latency and the grain calls its route walk took), and the aggregate's latency. One JSON line on stdout.
var options = Options.Parse(args);
var work = Directory.CreateTempSubdirectory("kbl-shape-");
var silos = new List<Process>();
try
{
    var first = await StartSilo(options.Silo, work.FullName, "a", primarySiloPort: 0);
    silos.Add(first.Process);
    using var http = new HttpClient { BaseAddress = first.Http, Timeout = TimeSpan.FromMinutes(5) };
    (await http.PutAsJsonAsync("/v1/colonies/shape", JsonDocument.Parse(options.Genome).RootElement)).EnsureSuccessStatusCode();

    var load = Stopwatch.StartNew();
    var next = -1;
    await Task.WhenAll(Enumerable.Range(0, options.Concurrency).Select(_ => Task.Run(async () =>
    {
        var value = new string('x', 100);
        int i;
        while ((i = Interlocked.Increment(ref next)) < options.Keys)
        {
            using var put = await http.PutAsync($"/v1/colonies/shape/records/k{i:d9}", new StringContent($"{{\"n\":{i},\"pad\":\"{value}\"}}"));
            put.EnsureSuccessStatusCode();
        }
    })));
    var loadSeconds = load.Elapsed.TotalSeconds;

    // Settled: the tree stops changing shape (no KBL count change over three feedback periods).
    var settle = Stopwatch.StartNew();
    var (kbls, stableSince) = (-1, DateTime.UtcNow);
    Shape shape;
    while (true)
    {
        shape = await ReadShape(http);
        if (shape.Kbls != kbls)
        {
            (kbls, stableSince) = (shape.Kbls, DateTime.UtcNow);
        }
        else if (DateTime.UtcNow - stableSince > TimeSpan.FromSeconds(8))
        {
            break;
        }

        await Task.Delay(500);
    }

    // A new gateway: a second silo joins, and its first request walks the tree from the root.
    var second = await StartSilo(options.Silo, work.FullName, "b", primarySiloPort: first.SiloPort);
    silos.Add(second.Process);
    using var fresh = new HttpClient { BaseAddress = second.Http };
    var cold = Stopwatch.StartNew();
    (await fresh.GetAsync($"/v1/colonies/shape/records/k{options.Keys - 1:d9}")).EnsureSuccessStatusCode();
    var coldMs = cold.Elapsed.TotalMilliseconds;
    var locality = await fresh.GetFromJsonAsync<JsonElement>("/v1/cluster/locality");
    var coldCalls = Calls(locality);
    var warm = Stopwatch.StartNew();
    (await fresh.GetAsync($"/v1/colonies/shape/records/k{options.Keys - 2:d9}")).EnsureSuccessStatusCode();
    var warmMs = warm.Elapsed.TotalMilliseconds;

    var aggregates = new List<double>();
    for (var i = 0; i < 5; i++)
    {
        var watch = Stopwatch.StartNew();
        var reply = await (await http.PostAsJsonAsync("/v1/colonies/shape/aggregate", new { op = "count" })).Content.ReadFromJsonAsync<JsonElement>();
        aggregates.Add(watch.Elapsed.TotalMilliseconds);
        if (reply.GetProperty("records").GetInt64() != options.Keys)
        {
            throw new InvalidOperationException($"the aggregate counted {reply.GetProperty("records")} records of {options.Keys}");
        }
    }

    Console.WriteLine(JsonSerializer.Serialize(new
    {
        label = options.Label,
        keys = options.Keys,
        loadSeconds = Math.Round(loadSeconds, 1),
        putsPerSecond = Math.Round(options.Keys / loadSeconds),
        settleSeconds = Math.Round(settle.Elapsed.TotalSeconds, 1),
        height = shape.Height,
        leaves = shape.Leaves,
        kbls = shape.Kbls,
        longestId = shape.LongestId?.ToString(CultureInfo.InvariantCulture) ?? "n/a",
        treeEndpoint = shape.TreeEndpoint,
        coldRouteMs = Math.Round(coldMs, 1),
        coldRouteCalls = coldCalls,
        warmRouteMs = Math.Round(warmMs, 1),
        aggregateMedianMs = Math.Round(aggregates.Order().ElementAt(2), 1),
    }));
    return 0;
}
finally
{
    foreach (var silo in silos)
    {
        silo.Kill(entireProcessTree: true);
        silo.WaitForExit();
    }

    work.Delete(recursive: true);
}

// The colony's shape from its tree endpoint; where that endpoint fails (a tree deeper than System.Text.Json's depth
// limit of 64, as chain-shaped trees of the code before balanced colonies are), from the silo's metrics instead:
// kbl_tree_depth (the root's height) and kbl_kbls by role; the longest id is then unknown.
static async Task<Shape> ReadShape(HttpClient http)
{
    try
    {
        var all = Kbls(await http.GetFromJsonAsync<JsonElement>("/v1/colonies/shape/tree?format=flat"));
        return new Shape(
            all.Count,
            all.Count(k => k.GetProperty("role").GetString() == "leaf"),
            all.Max(k => k.GetProperty("depth").GetInt32()),
            all.Max(k => k.GetProperty("id").GetString()!.Length),
            "ok");
    }
    catch (Exception e) when (e is HttpRequestException or HttpIOException or JsonException)
    {
        var metrics = await http.GetStringAsync("/metrics");
        var series = metrics.Split('\n').Where(l => !l.StartsWith('#')).Select(l => l.Split(' ')).Where(p => p.Length >= 2).ToList();
        double Sum(string prefix, string label = "") => series
            .Where(p => p[0].StartsWith(prefix + "{", StringComparison.Ordinal) && p[0].Contains(label, StringComparison.Ordinal))
            .Sum(p => double.Parse(p[1], CultureInfo.InvariantCulture));
        var height = series.Where(p => p[0].StartsWith("kbl_tree_depth{", StringComparison.Ordinal) && p[0].Contains("colony=\"shape\"", StringComparison.Ordinal))
            .Select(p => double.Parse(p[1], CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
        return new Shape((int)Sum("kbl_kbls"), (int)Sum("kbl_kbls", "role=\"leaf\""), (int)height, null, $"failed ({e.GetType().Name})");
    }
}

// Every KBL of a tree answer: the flat list, or (from a version without ?format=flat) the nested tree walked.
static List<JsonElement> Kbls(JsonElement tree)
{
    if (tree.TryGetProperty("kbls", out var flat))
    {
        return [.. flat.EnumerateArray()];
    }

    var all = new List<JsonElement>();
    var stack = new Stack<JsonElement>([tree]);
    while (stack.TryPop(out var kbl))
    {
        all.Add(kbl);
        foreach (var child in kbl.GetProperty("children").EnumerateArray())
        {
            stack.Push(child);
        }
    }

    return all;
}

// The grain calls the fresh gateway's router made for its requests so far.
static long Calls(JsonElement locality) => locality.GetProperty("gatewayGrainCalls").GetInt64();

static async Task<(Process Process, Uri Http, int SiloPort)> StartSilo(string dll, string work, string name, int primarySiloPort)
{
    var (http, grpc, silo, gateway) = (FreePort(), FreePort(), FreePort(), FreePort());
    var data = Path.Combine(work, name);
    Directory.CreateDirectory(data);
    var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = data };
    foreach (var argument in new[]
    {
        dll, $"--urls=http://127.0.0.1:{http}", $"--Kbl:Gateway:GrpcPort={grpc}", $"--Kbl:Cluster:SiloPort={silo}",
        $"--Kbl:Cluster:GatewayPort={gateway}", $"--Kbl:Cluster:PrimarySiloPort={primarySiloPort}", $"--Kbl:DataPath={data}",
        $"--Kbl:SiloName=shape-{name}", $"--Kbl:Storage:Sqlite:Path={Path.Combine(work, "meta.db")}", "--Kbl:Provisioning:Provider=off",
        "--Kbl:Placement:RebalancePeriod=00:00:00",
    })
    {
        start.ArgumentList.Add(argument);
    }

    var process = Process.Start(start)!;
    process.OutputDataReceived += (_, _) => { };
    process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine($"[{name}] {e.Data}"); } };
    process.BeginOutputReadLine();
    process.BeginErrorReadLine();
    var address = new Uri($"http://127.0.0.1:{http}");
    using var probe = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(5) };
    for (var deadline = DateTime.UtcNow.AddMinutes(2); DateTime.UtcNow < deadline; await Task.Delay(200))
    {
        try
        {
            if ((await probe.GetAsync("/readyz")).IsSuccessStatusCode)
            {
                return (process, address, silo);
            }
        }
        catch (HttpRequestException)
        {
        }
        catch (TaskCanceledException)
        {
        }
    }

    throw new TimeoutException($"silo {name} was not ready within two minutes");
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

internal sealed record Shape(int Kbls, int Leaves, int Height, int? LongestId, string TreeEndpoint);

internal sealed record Options(string Silo, string Label, int Keys, int Concurrency, string Genome)
{
    public static Options Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            values[args[i]] = args[i + 1];
        }

        string Get(string name, string fallback) => values.GetValueOrDefault(name, fallback);
        var silo = Get("--silo", "");
        if (!File.Exists(silo))
        {
            throw new ArgumentException($"--silo must name a built Kbl.Silo.dll (got '{silo}')");
        }

        return new Options(
            silo,
            Get("--label", "kbl"),
            int.Parse(Get("--keys", "1000000"), CultureInfo.InvariantCulture),
            int.Parse(Get("--concurrency", "32"), CultureInfo.InvariantCulture),
            Get("--genome", "{}"));
    }
}
