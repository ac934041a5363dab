using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;

namespace Kbl.Tests.Process;

/// <summary>
/// The whole provisioning loop on one machine, with real processes: a silo with the local provider; load on a
/// colony raises its node group's demand, the provisioning grain plans a second node, the in-silo reconciler starts
/// a second silo process of the group and KBLs spread onto it; when the load stops, after the cool-down, that silo
/// drains and stops. Nothing acknowledged is lost and no request fails.
/// </summary>
public sealed class LocalProvisioningTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kbl-provision-" + Guid.NewGuid().ToString("N")[..8]);
    private SiloProcess _host = null!;

    public async Task InitializeAsync()
    {
        _host = new SiloProcess(Path.Combine(_root, "host"), "host", new Dictionary<string, string>
        {
            ["Kbl:FeedbackPeriod"] = "00:00:01",
            ["Kbl:Placement:RebalancePeriod"] = "00:00:01",
            ["Kbl:Placement:DrainTimeout"] = "00:00:30",
            ["Kbl:Provisioning:Period"] = "00:00:01",
            ["Kbl:Provisioning:ResyncInterval"] = "00:00:02",
            ["Kbl:Provisioning:ScaleDownCoolDown"] = "00:00:10",
            ["Kbl:Provisioning:OpsPerNode"] = "100",
            ["Kbl:Provisioning:MaxNodesPerGroup"] = "2",
            ["Kbl:Provisioning:HotSubtreeShare"] = "0",
        });
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _host.StopAsync();
        await _host.DisposeAsync();
        KillLeftovers(Path.Combine(_root, "host", "data", "local-silos.json"));
        KillLeftovers(Path.Combine(_root, "host", "local-silos.json"));
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Load_starts_a_second_silo_of_the_group_and_its_end_drains_and_stops_it()
    {
        using var http = new HttpClient { BaseAddress = _host.HttpAddress };
        var plan = await Eventually.Until(
            () => http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan"),
            p => Groups(p, "desired").TryGetValue("default", out var d) && d == 1 && Groups(p, "observed").GetValueOrDefault("default") == 1,
            TimeSpan.FromSeconds(30), "a plan of one node for the host's group, observed");
        Assert.Equal("local", plan.GetProperty("provider").GetString());
        var quiet = plan.GetProperty("desired").GetProperty("generation").GetInt64();

        Assert.True((await http.PutAsync("/v1/colonies/busy", JsonContent.Create(new { splitKeys = 40, fanOut = 2 }))).IsSuccessStatusCode);
        var acknowledged = new ConcurrentDictionary<string, string>();
        var failures = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = _host.HttpAddress, Timeout = TimeSpan.FromSeconds(30) };
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var key = $"k{w}-{i % 150:D4}";
                var value = $"{w}-{i}";
                try
                {
                    using var put = await client.PutAsync($"/v1/colonies/busy/records/{key}", new StringContent(value));
                    if (!put.IsSuccessStatusCode)
                    {
                        failures.Enqueue($"PUT {key}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
                        continue;
                    }

                    acknowledged[key] = value;
                    using var get = await client.GetAsync($"/v1/colonies/busy/records/{key}");
                    if (!get.IsSuccessStatusCode)
                    {
                        failures.Enqueue($"GET {key}: {(int)get.StatusCode}");
                    }
                }
                catch (HttpRequestException e)
                {
                    failures.Enqueue($"{key}: {e.Message}");
                }
            }
        })).ToList();

        // Load: the plan grows the group to two nodes, a second silo process joins, and KBLs spread onto it.
        var silos = await Eventually.Until(
            () => http.GetFromJsonAsync<JsonElement>("/v1/cluster/silos"),
            s => s.GetProperty("silos").EnumerateArray().Any(x => x.GetProperty("silo").GetString() != "host" && x.GetProperty("leaves").GetInt32() > 0),
            TimeSpan.FromSeconds(90), "a second silo of group default holding leaves");
        var second = silos.GetProperty("silos").EnumerateArray().Single(x => x.GetProperty("silo").GetString() != "host");
        Assert.Equal("default", second.GetProperty("nodeGroup").GetString());
        Assert.Equal("host-default-1", second.GetProperty("silo").GetString());
        plan = await http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan");
        Assert.Equal(2, Groups(plan, "desired")["default"]);
        Assert.Contains(plan.GetProperty("decisions").EnumerateArray(), d =>
            d.GetProperty("change").GetString() == "scale up 1 → 2" && d.GetProperty("reason").GetString()!.Contains("ops/s", StringComparison.Ordinal));

        // No load: after the cool-down the plan shrinks the group and the second silo drains its KBLs and stops.
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        await Eventually.Until(
            () => http.GetFromJsonAsync<JsonElement>("/v1/cluster/silos"),
            s => s.GetProperty("silos").GetArrayLength() == 1,
            TimeSpan.FromSeconds(120), "the second silo drained and stopped");
        plan = await Eventually.Until(
            () => http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan"),
            p => Groups(p, "observed").GetValueOrDefault("default") == 1,
            TimeSpan.FromSeconds(30), "the observed state back at one node");
        Assert.Equal(1, Groups(plan, "desired")["default"]);
        Assert.True(plan.GetProperty("desired").GetProperty("generation").GetInt64() >= quiet + 2);
        Assert.Contains(plan.GetProperty("decisions").EnumerateArray(), d => d.GetProperty("change").GetString() == "scale down 2 → 1");

        Assert.Empty(failures);
        Assert.True(acknowledged.Count >= 100, $"only {acknowledged.Count} keys written");
        foreach (var (key, value) in acknowledged)
        {
            Assert.Equal(value, await http.GetStringAsync($"/v1/colonies/busy/records/{key}"));
        }
    }

    /// <summary>A group's desired size (<c>desired</c>) or ready nodes (<c>observed</c>) by name.</summary>
    private static Dictionary<string, int> Groups(JsonElement plan, string which) =>
        plan.TryGetProperty(which, out var state) && state.ValueKind == JsonValueKind.Object
            ? state.GetProperty("groups").EnumerateArray().ToDictionary(
                g => g.GetProperty("name").GetString()!,
                g => g.GetProperty(which == "desired" ? "desired" : "ready").GetInt32())
            : [];

    private static void KillLeftovers(string stateFile)
    {
        if (!File.Exists(stateFile))
        {
            return;
        }

        foreach (var silo in JsonDocument.Parse(File.ReadAllText(stateFile)).RootElement.EnumerateArray())
        {
            try
            {
                using var process = System.Diagnostics.Process.GetProcessById(silo.GetProperty("Pid").GetInt32());
                process.Kill();
            }
            catch (ArgumentException)
            {
            }
        }
    }
}
