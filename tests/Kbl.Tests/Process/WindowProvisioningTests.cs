using System.Net.Http.Json;
using System.Text.Json;
using Xunit.Abstractions;

namespace Kbl.Tests.Process;

/// <summary>
/// The whole window on one machine, with real processes: a colony on node group <c>cold</c> (which may go to zero
/// nodes) is written to; the local provider starts a silo of the group for it. It goes idle: its leaf hibernates to
/// the local cold tier, the group's demand goes to zero and its silo stops. Reading the tree then starts nothing; a
/// GET brings a silo of the group back and answers with the right value, and so does every record.
/// </summary>
[Trait("Category", Category.Process)]
public sealed class WindowProvisioningTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kbl-window-" + Guid.NewGuid().ToString("N")[..8]);
    private SiloProcess _host = null!;

    public async Task InitializeAsync()
    {
        _host = LocalProvisioningTests.Host(_root, new Dictionary<string, string>
        {
            ["Kbl:Provisioning:GroupMinNodes:cold"] = "0",
            ["Kbl:Provisioning:ScaleDownCoolDown"] = "00:00:05",
            ["Kbl:Provisioning:HotSubtreeShare"] = "0",
            ["Kbl:Placement:WaitForGroup"] = "00:01:00", // a silo process starts within it, on this busy box too
        });
        await _host.StartAsync();
    }

    public Task DisposeAsync() => LocalProvisioningTests.StopHost(_host, _root);

    [Fact]
    public async Task A_sleeping_group_goes_to_zero_silos_and_a_get_brings_one_back_with_the_right_value()
    {
        using var http = new HttpClient { BaseAddress = _host.HttpAddress, Timeout = TimeSpan.FromSeconds(100) };

        // The colony's group has no silo: creating it is demand, and a silo of the group starts for it.
        var genome = new { nodeGroup = "cold", hibernateAfterSeconds = 3, redundancy = new { mode = "none" } };
        (await http.PutAsync("/v1/colonies/sleepy", JsonContent.Create(genome))).EnsureSuccessStatusCode();
        // A PUT made while that silo process joins may meet a transient (503, or 504: the call was lost, the write
        // may or may not have happened): it is written again, as the answer tells a client to. Every value is read
        // back at the end.
        for (var i = 0; i < 50; i++)
        {
            var written = await Eventually.Until(
                async () =>
                {
                    using var put = await http.PutAsync($"/v1/colonies/sleepy/records/k{i:D2}", new StringContent($"v{i}"));
                    var answer = (Status: (int)put.StatusCode, Body: await put.Content.ReadAsStringAsync());
                    if (answer.Status is 503 or 504)
                    {
                        output.WriteLine($"PUT k{i:D2}: {answer.Status} {answer.Body}");
                    }

                    return answer;
                },
                a => a.Status is not (503 or 504),
                TimeSpan.FromSeconds(60),
                $"PUT k{i:D2} answered other than 503 or 504");
            Assert.True(written.Status is >= 200 and < 300, $"PUT k{i:D2}: {written.Status} {written.Body}\nhost log: {_host.Output[^Math.Min(6000, _host.Output.Length)..]}");
        }

        Assert.Contains("host-cold-", ColdSilos(await http.GetFromJsonAsync<JsonElement>("/v1/cluster/silos")).Single(), StringComparison.Ordinal);

        // Idle: the leaf hibernates, the group's need falls to zero, and after the cool-down its silo stops.
        await Eventually.Until(
            () => http.GetFromJsonAsync<JsonElement>("/v1/cluster/silos"),
            s => ColdSilos(s).Count == 0,
            TimeSpan.FromSeconds(90), $"the cold group's silo stopped (plan {await http.GetStringAsync("/v1/cluster/plan")})");

        // Right after the group's silo stopped a read may still be sent to it and answered 503 (retry): a client
        // retries, as this does; what counts is that no read starts a silo.
        var (status, body) = await Eventually.Until(
            async () =>
            {
                using var read = await http.GetAsync("/v1/colonies/sleepy/tree");
                return (Status: (int)read.StatusCode, Body: await read.Content.ReadAsStringAsync());
            },
            r => r.Status != 503,
            TimeSpan.FromSeconds(30),
            "a tree read answered other than 503");
        Assert.True(status == 200, $"tree read: {status} {body}");
        var tree = JsonDocument.Parse(body).RootElement;
        Assert.Equal("hibernated", tree.GetProperty("state").GetString());
        Assert.Equal(50, tree.GetProperty("hibernation").GetProperty("records").GetInt32());
        var plan = await http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan");
        Assert.Equal(0, LocalProvisioningTests.Groups(plan, "desired")["cold"]); // reading the tree asked for no node
        Assert.Contains(plan.GetProperty("decisions").EnumerateArray(), d =>
            d.GetProperty("nodeGroup").GetString() == "cold" && d.GetProperty("change").GetString()!.EndsWith("→ 0", StringComparison.Ordinal));

        // A GET wakes it: a silo of the group starts, the leaf ingests its snapshot there and answers.
        using var get = await http.GetAsync("/v1/colonies/sleepy/records/k07");
        Assert.True(get.IsSuccessStatusCode, $"{(int)get.StatusCode} {await get.Content.ReadAsStringAsync()}");
        Assert.Equal("v7", await get.Content.ReadAsStringAsync());
        Assert.Single(ColdSilos(await http.GetFromJsonAsync<JsonElement>("/v1/cluster/silos")));
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal($"v{i}", await http.GetStringAsync($"/v1/colonies/sleepy/records/k{i:D2}"));
        }

        plan = await http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan");
        Assert.Contains(plan.GetProperty("decisions").EnumerateArray(), d =>
            d.GetProperty("nodeGroup").GetString() == "cold" && d.GetProperty("reason").GetString()!.Contains("a request waits", StringComparison.Ordinal));
    }

    private static List<string> ColdSilos(JsonElement silos) =>
        [.. silos.GetProperty("silos").EnumerateArray().Where(s => s.GetProperty("nodeGroup").GetString() == "cold").Select(s => s.GetProperty("silo").GetString()!)];
}
