using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Kbl.Tests.Process;

/// <summary>Three real silo processes, two in node group a and one in b, driven through the HTTP API.</summary>
[Trait("Category", Category.Process)]
public sealed class NodeGroupProcessTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kbl-groups-proc-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly List<SiloProcess> _silos = [];

    public async Task InitializeAsync()
    {
        var a1 = Silo("a1", "a");
        await a1.StartAsync();
        var a2 = Silo("a2", "a");
        var b1 = Silo("b1", "b");
        await Task.WhenAll(a2.StartAsync(primarySiloPort: a1.SiloPort), b1.StartAsync(primarySiloPort: a1.SiloPort));
    }

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
            await silo.DisposeAsync();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task KBLs_stay_on_their_group_move_with_their_records_and_are_handed_over_on_stop()
    {
        var (a1, a2, b1) = (_silos[0], _silos[1], _silos[2]);
        using var viaA1 = new HttpClient { BaseAddress = a1.HttpAddress };
        using var viaA2 = new HttpClient { BaseAddress = a2.HttpAddress };
        using var viaB1 = new HttpClient { BaseAddress = b1.HttpAddress };
        HttpClient[] gateways = [viaA1, viaA2, viaB1];

        var silos = await Eventually.Until(
            async () => await viaA1.GetFromJsonAsync<JsonElement>("/v1/cluster/silos"),
            s => s.GetProperty("silos").GetArrayLength() == 3 && s.GetProperty("silos").EnumerateArray().All(x => x.GetProperty("nodeGroup").ValueKind == JsonValueKind.String),
            TimeSpan.FromSeconds(30),
            "three silos with their node groups");
        var groupOf = silos.GetProperty("silos").EnumerateArray().ToDictionary(s => s.GetProperty("silo").GetString()!, s => s.GetProperty("nodeGroup").GetString()!);
        Assert.Equal(new Dictionary<string, string> { ["a1"] = "a", ["a2"] = "a", ["b1"] = "b" }, groupOf);

        // One copy each: with two, a group left with one silo below their floor would make a1's local provider start
        // another silo of group a, and KBLs would move there (what this test is about is placement by group).
        var none = new { mode = "none" };
        Assert.Equal(HttpStatusCode.Created, (await viaB1.PutAsync("/v1/colonies/pa", JsonContent.Create(new { nodeGroup = "a", splitKeys = 30, redundancy = none }))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await viaA2.PutAsync("/v1/colonies/pb", JsonContent.Create(new { nodeGroup = "b", splitKeys = 30, redundancy = none }))).StatusCode);
        var records = new Dictionary<(string Colony, string Key), string>();
        for (var i = 0; i < 300; i++)
        {
            foreach (var colony in new[] { "pa", "pb" })
            {
                var key = $"k{i * 7 % 300:d3}";
                var value = $"{colony}-{i}";
                var put = await gateways[i % 3].PutAsync($"/v1/colonies/{colony}/records/{key}", new StringContent(value));
                Assert.Equal(HttpStatusCode.OK, put.StatusCode);
                records[(colony, key)] = value;
            }
        }

        Assert.All(Kbls(await Tree(viaA1, "pa")), k => Assert.Equal(("a", "a"), (k.NodeGroup, groupOf[k.Silo])));
        Assert.All(Kbls(await Tree(viaA1, "pb")), k => Assert.Equal(("b", "b1"), (k.NodeGroup, k.Silo)));
        var locality = await viaB1.GetFromJsonAsync<JsonElement>("/v1/cluster/locality");
        Assert.Equal(1.0, locality.GetProperty("localityShare").GetDouble());
        Assert.True(locality.GetProperty("leafActivations").GetInt32() > 2);

        // Move colony pb, root and all, from group b to group a: activations and records follow.
        var moved = await viaA1.PostAsJsonAsync("/v1/colonies/pb/kbls/r/move", new { nodeGroup = "a" });
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal(300, (await moved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("movedRecords").GetInt64());
        Assert.All(Kbls(await Tree(viaB1, "pb")), k => Assert.Equal(("a", "a"), (k.NodeGroup, groupOf[k.Silo])));
        await AssertAllReadable(records, gateways);
        var b1Row = (await viaA1.GetFromJsonAsync<JsonElement>("/v1/cluster/silos")).GetProperty("silos").EnumerateArray().Single(s => s.GetProperty("silo").GetString() == "b1");
        Assert.Equal(0, b1Row.GetProperty("leaves").GetInt32());

        // a2 stops gracefully: it hands its KBLs and records to a1 first.
        Assert.Contains(Kbls(await Tree(viaA1, "pa")).Concat(Kbls(await Tree(viaA1, "pb"))), k => k.Silo == "a2");
        await a2.StopAsync();
        await AssertAllReadable(records, [viaA1, viaB1]);
        Assert.All(Kbls(await Tree(viaA1, "pa")).Concat(Kbls(await Tree(viaA1, "pb"))), k => Assert.Equal("a1", k.Silo));
        Assert.Contains("handed", a2.Output, StringComparison.Ordinal);
    }

    private SiloProcess Silo(string name, string group)
    {
        var silo = new SiloProcess(Path.Combine(_root, name), name, new Dictionary<string, string>
        {
            ["Kbl:NodeGroup"] = group,
            ["Kbl:Storage:Sqlite:Path"] = Path.Combine(_root, "meta.db"),
            ["Kbl:Placement:LoadRefresh"] = "00:00:00.500",
            ["Kbl:Placement:RebalancePeriod"] = "00:00:01",
            ["Kbl:Provisioning:Provider"] = "off", // placement by group is what this is about, not provisioning
        });
        _silos.Add(silo);
        return silo;
    }

    private static async Task<JsonElement> Tree(HttpClient http, string colony) =>
        await http.GetFromJsonAsync<JsonElement>($"/v1/colonies/{colony}/tree");

    private static IEnumerable<(string Id, string NodeGroup, string Silo)> Kbls(JsonElement node) =>
        node.GetProperty("children").EnumerateArray().SelectMany(Kbls)
            .Prepend((node.GetProperty("id").GetString()!, node.GetProperty("nodeGroup").GetString()!, node.GetProperty("silo").GetString()!));

    private static async Task AssertAllReadable(Dictionary<(string Colony, string Key), string> records, HttpClient[] gateways)
    {
        var i = 0;
        foreach (var ((colony, key), value) in records)
        {
            var response = await gateways[i++ % gateways.Length].GetAsync($"/v1/colonies/{colony}/records/{key}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{colony}/{key}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal(value, await response.Content.ReadAsStringAsync());
        }
    }
}
