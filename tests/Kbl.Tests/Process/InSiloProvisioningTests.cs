using System.Net.Http.Json;
using System.Text.Json;

namespace Kbl.Tests.Process;

/// <summary>Which silo runs the in-silo reconciler: the primary of a localhost cluster, however it is named so.</summary>
[Trait("Category", Category.Process)]
public sealed class InSiloProvisioningTests : IAsyncLifetime
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "kbl-insilo-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly SiloProcess _silo;

    public InSiloProvisioningTests() => _silo = new SiloProcess(_data, "primary", new Dictionary<string, string>
    {
        ["Kbl:Provisioning:Provider"] = "dry-run",
        ["Kbl:Provisioning:Period"] = "00:00:01",
        ["Kbl:Provisioning:ResyncInterval"] = "00:00:01",
        ["Kbl:Provisioning:Kubernetes:Enabled"] = "false",
    });

    [Fact]
    public async Task A_silo_whose_primary_port_is_its_own_is_the_primary_and_runs_the_reconciler()
    {
        await _silo.StartAsync(primaryIsItself: true);
        using var http = new HttpClient { BaseAddress = _silo.HttpAddress };

        // The dry-run reconciler in this silo took the plan and reported what it (would have) made.
        var plan = await Eventually.Until(
            () => http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan"),
            p => LocalProvisioningTests.Groups(p, "observed").ContainsKey("default"),
            TimeSpan.FromSeconds(30), "an observed state with the silo's node group");
        Assert.Equal("dry-run", plan.GetProperty("observed").GetProperty("provider").GetString());
        Assert.Equal(plan.GetProperty("desired").GetProperty("generation").GetInt64(), plan.GetProperty("observed").GetProperty("generation").GetInt64());
        Assert.Contains("POST https://eks.us-east-1.amazonaws.com/clusters/kbl/node-groups", _silo.Output, StringComparison.Ordinal);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _silo.DisposeAsync();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
