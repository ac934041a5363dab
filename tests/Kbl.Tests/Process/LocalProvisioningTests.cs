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
[Trait("Category", Category.Process)]
public sealed class LocalProvisioningTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kbl-provision-" + Guid.NewGuid().ToString("N")[..8]);
    private SiloProcess _host = null!;

    public async Task InitializeAsync()
    {
        _host = Host(_root, new Dictionary<string, string>
        {
            ["Kbl:Provisioning:OpsPerNode"] = "100",
            ["Kbl:Provisioning:MaxNodesPerGroup"] = "2",
            ["Kbl:Provisioning:HotSubtreeShare"] = "0",
        });
        await _host.StartAsync();
    }

    public async Task DisposeAsync() => await StopHost(_host, _root);

    /// <summary>A host silo with the local provider and short periods; <paramref name="policy"/> adds the policy's settings.</summary>
    internal static SiloProcess Host(string root, Dictionary<string, string> policy)
    {
        var settings = new Dictionary<string, string>
        {
            ["Kbl:FeedbackPeriod"] = "00:00:01",
            ["Kbl:Placement:RebalancePeriod"] = "00:00:01",
            ["Kbl:Placement:DrainTimeout"] = "00:00:30",
            ["Kbl:Provisioning:Period"] = "00:00:01",
            ["Kbl:Provisioning:ResyncInterval"] = "00:00:02",
            ["Kbl:Provisioning:ScaleDownCoolDown"] = "00:00:10",

            // The loop under test acts as if each silo were a machine of its own (the local provider's default holds
            // load to one silo, since its silos share this machine's cores).
            ["Kbl:Provisioning:MaxNodesForLoad"] = "10",
        };
        foreach (var (key, value) in policy)
        {
            settings[key] = value;
        }

        return new SiloProcess(Path.Combine(root, "host"), "host", settings);
    }

    /// <summary>Stops the host gracefully (it stops its silos first); kills any silo a failed test left behind.</summary>
    internal static async Task StopHost(SiloProcess host, string root)
    {
        await host.StopAsync();
        await host.DisposeAsync();
        KillLeftovers(Path.Combine(root, "host", "local-silos.json"));
        try
        {
            Directory.Delete(root, recursive: true);
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

        // One copy: the group may shrink back to one node (a mirrored colony keeps as many nodes as its copies).
        Assert.True((await http.PutAsync("/v1/colonies/busy", JsonContent.Create(new { splitKeys = 40, fanOut = 2, redundancy = new { mode = "none" } }))).IsSuccessStatusCode);
        var acknowledged = new ConcurrentDictionary<string, string>();
        var failures = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        var writers = Writers(_host, "busy", w => i => $"k{w}-{i % 150:D4}", acknowledged, failures, stop.Token);

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

    [Fact]
    public async Task A_colony_with_two_copies_starts_a_second_silo_by_itself_and_keeps_its_replica_there()
    {
        using var http = new HttpClient { BaseAddress = _host.HttpAddress };
        Assert.True((await http.PutAsync("/v1/colonies/kept", JsonContent.Create(new { }))).IsSuccessStatusCode); // two copies by default
        (await http.PutAsync("/v1/colonies/kept/records/a", new StringContent("1"))).EnsureSuccessStatusCode();

        // No load at all: the redundancy floor alone asks for a second node, and the leaf's replica goes there.
        var tree = await Eventually.Until(
            () => http.GetFromJsonAsync<JsonElement>("/v1/colonies/kept/tree"),
            t => t.TryGetProperty("redundancy", out var r) && r.GetProperty("status").GetString() == "redundant",
            TimeSpan.FromSeconds(90), "the leaf's two copies in sync");
        Assert.Equal("host-default-1", tree.GetProperty("redundancy").GetProperty("replicas")[0].GetProperty("silo").GetString());
        var plan = await http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan");
        Assert.Equal(2, Groups(plan, "desired")["default"]);
        Assert.Equal("1", await http.GetStringAsync("/v1/colonies/kept/records/a"));
    }

    /// <summary>A group's desired size (<c>desired</c>) or ready nodes (<c>observed</c>) by name.</summary>
    internal static Dictionary<string, int> Groups(JsonElement plan, string which) =>
        plan.TryGetProperty(which, out var state) && state.ValueKind == JsonValueKind.Object
            ? state.GetProperty("groups").EnumerateArray().ToDictionary(
                g => g.GetProperty("name").GetString()!,
                g => g.GetProperty(which == "desired" ? "desired" : "ready").GetInt32())
            : [];

    /// <summary>Four writers, each putting and reading back its keys until stopped; acknowledged values and every failure recorded.</summary>
    internal static List<Task> Writers(SiloProcess host, string colony, Func<int, Func<int, string>> keys, ConcurrentDictionary<string, string> acknowledged, ConcurrentQueue<string> failures, CancellationToken stop) =>
        [.. Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            using var client = new HttpClient { BaseAddress = host.HttpAddress, Timeout = TimeSpan.FromSeconds(30) };
            var keyOf = keys(w);
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var key = keyOf(i);
                var value = $"{w}-{i}";
                try
                {
                    using var put = await client.PutAsync($"/v1/colonies/{colony}/records/{key}", new StringContent(value));
                    if (!put.IsSuccessStatusCode)
                    {
                        failures.Enqueue($"PUT {key}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
                        continue;
                    }

                    acknowledged[key] = value;
                    using var get = await client.GetAsync($"/v1/colonies/{colony}/records/{key}");
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
        }))];

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

/// <summary>
/// A saturated node group gives its hot subtree a node group of its own, with real processes: the local provider
/// starts a silo of the new group, the provisioning grain moves the subtree (KBLs and records) onto it; when the
/// subtree cools, it moves back and the group and its silo go away. Nothing acknowledged is lost.
/// </summary>
[Trait("Category", Category.Process)]
public sealed class HotSubtreeProvisioningTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kbl-hot-subtree-" + Guid.NewGuid().ToString("N")[..8]);
    private SiloProcess _host = null!;

    public async Task InitializeAsync()
    {
        _host = LocalProvisioningTests.Host(_root, new Dictionary<string, string>
        {
            ["Kbl:Provisioning:OpsPerNode"] = "20",
            ["Kbl:Provisioning:MaxNodesPerGroup"] = "1",
            ["Kbl:Provisioning:HotSubtreeShare"] = "0.5",
        });
        await _host.StartAsync();
    }

    public Task DisposeAsync() => LocalProvisioningTests.StopHost(_host, _root);

    [Fact]
    public async Task A_hot_subtree_gets_a_group_of_its_own_and_returns_when_it_cools()
    {
        using var http = new HttpClient { BaseAddress = _host.HttpAddress };

        // No load split: the test is about the node group a hot subtree gets, so the tree keeps the shape its size
        // gave it (a load split would reshape the top level under the policy's feet; see docs/provisioning.md).
        var genome = new { fanOut = 2, splitKeys = 60, splitOpsPerSecond = 1_000_000, hysteresisSeconds = 3600, redundancy = new { mode = "none" } };
        Assert.True((await http.PutAsync("/v1/colonies/skew", JsonContent.Create(genome))).IsSuccessStatusCode);
        var acknowledged = new ConcurrentDictionary<string, string>();
        foreach (var key in Enumerable.Range(0, 50).Select(i => $"a{i:D3}").Concat(Enumerable.Range(0, 50).Select(i => $"z{i:D3}")))
        {
            (await http.PutAsync($"/v1/colonies/skew/records/{key}", new StringContent("seed"))).EnsureSuccessStatusCode();
            acknowledged[key] = "seed";
        }

        // The top-level subtrees once the size divisions are done; the load goes to the z0… keys only.
        var tree = await Eventually.Until(
            () => http.GetFromJsonAsync<JsonElement>("/v1/colonies/skew/tree"),
            t => t.GetProperty("feedback").GetProperty("keys").GetInt32() == 100 && Leaves(t).All(l => l.GetProperty("feedback").GetProperty("keys").GetInt32() <= 60),
            TimeSpan.FromSeconds(30), "the seeded colony divided to its size");
        var topLevel = tree.GetProperty("children").EnumerateArray()
            .Select(c => (Path: c.GetProperty("path").GetString()!, Lo: c.GetProperty("range").GetProperty("lo").GetString()!, Hi: c.GetProperty("range").GetProperty("hi").GetString()))
            .ToList();
        var hot = topLevel.Where(c => string.CompareOrdinal(c.Lo, "z040") < 0 && (c.Hi is null || string.CompareOrdinal(c.Hi, "z000") > 0)).Select(c => c.Path).ToList();
        var cold = topLevel.Select(c => c.Path).Except(hot).ToList();
        Assert.NotEmpty(hot);
        Assert.NotEmpty(cold);
        var failures = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        var writers = LocalProvisioningTests.Writers(_host, "skew", w => i => $"z{(w * 10) + (i % 10):D3}", acknowledged, failures, stop.Token);

        // Each hot subtree (the hottest first, one new group per step) on the silo of a group of its own.
        string GroupOf(string path) => Kbl.Provisioning.ProvisioningPolicy.DedicatedGroupName("skew", path);
        bool InItsGroup(string path, (string Path, string? Lo, string NodeGroup, string Silo) k) =>
            (k.Path == path || k.Path.StartsWith(path + ".", StringComparison.Ordinal)) && k.NodeGroup == GroupOf(path) && k.Silo == $"host-{GroupOf(path)}-1";
        tree = await Eventually.Until(
            () => http.GetFromJsonAsync<JsonElement>("/v1/colonies/skew/tree"),
            t => hot.All(p => Kbls(t).Where(k => k.Path == p || k.Path.StartsWith(p + ".", StringComparison.Ordinal)).All(k => InItsGroup(p, k))),
            TimeSpan.FromSeconds(120), $"subtrees {string.Join(", ", hot)} each on a silo of its own group");
        Assert.All(Kbls(tree).Where(k => cold.Any(p => k.Path == p || k.Path.StartsWith(p + ".", StringComparison.Ordinal))), k => Assert.Equal(("default", "host"), (k.NodeGroup, k.Silo)));
        var plan = await http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan");
        foreach (var path in hot)
        {
            var dedicated = plan.GetProperty("desired").GetProperty("groups").EnumerateArray().Single(g => g.GetProperty("name").GetString() == GroupOf(path));
            Assert.Equal([$"skew/{path}"], dedicated.GetProperty("subtrees").EnumerateArray().Select(s => s.GetString()));
            Assert.Equal("true", dedicated.GetProperty("labels").GetProperty("kbl.io/dedicated").GetString());
        }

        // Cool: after the cool-down the subtrees come home, then their groups and silos go.
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        await Eventually.Until(
            () => http.GetFromJsonAsync<JsonElement>("/v1/cluster/silos"),
            s => s.GetProperty("silos").GetArrayLength() == 1,
            TimeSpan.FromSeconds(120), $"the dedicated groups' silos gone (plan {await http.GetStringAsync("/v1/cluster/plan")}; host log {_host.Output[^Math.Min(4000, _host.Output.Length)..]})");
        tree = await http.GetFromJsonAsync<JsonElement>("/v1/colonies/skew/tree");
        Assert.All(Kbls(tree), k => Assert.Equal(("default", "host"), (k.NodeGroup, k.Silo)));
        plan = await http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan");
        var decisions = plan.GetProperty("decisions").EnumerateArray().Select(d => d.GetProperty("change").GetString()!).ToList();
        foreach (var path in hot)
        {
            Assert.DoesNotContain(GroupOf(path), LocalProvisioningTests.Groups(plan, "desired").Keys);
            Assert.Contains($"dedicate to skew/{path}", decisions);
            Assert.Contains(decisions, d => d.StartsWith($"remove; skew/{path} returns to default", StringComparison.Ordinal));
        }

        Assert.Empty(failures);
        foreach (var (key, value) in acknowledged)
        {
            Assert.Equal(value, await http.GetStringAsync($"/v1/colonies/skew/records/{key}"));
        }
    }

    private static IEnumerable<JsonElement> Leaves(JsonElement kbl) =>
        kbl.GetProperty("children").GetArrayLength() == 0 ? [kbl] : kbl.GetProperty("children").EnumerateArray().SelectMany(Leaves);

    private static List<(string Path, string? Lo, string NodeGroup, string Silo)> Kbls(JsonElement tree)
    {
        var all = new List<(string, string?, string, string)>();
        void Walk(JsonElement kbl)
        {
            all.Add((kbl.GetProperty("path").GetString()!, kbl.GetProperty("range").GetProperty("lo").GetString(), kbl.GetProperty("nodeGroup").GetString()!, kbl.GetProperty("silo").GetString()!));
            foreach (var child in kbl.GetProperty("children").EnumerateArray())
            {
                Walk(child);
            }
        }

        Walk(tree);
        return all;
    }
}
