using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Kbl.Tests.Process;

/// <summary>A real silo process stopped (or killed) and started again on the same data directory loses nothing.</summary>
[Trait("Category", Category.Process)]
public sealed class RestartTests : IDisposable
{
    /// <summary>
    /// No local provider: the colony keeps two copies, so the provider would start a second silo process for its
    /// floor, which a killed host leaves running (restart is what this is about, not provisioning).
    /// </summary>
    private static readonly Dictionary<string, string> NoProvider = new() { ["Kbl:Provisioning:Provider"] = "off" };

    private readonly string _data = Path.Combine(Path.GetTempPath(), "kbl-restart-" + Guid.NewGuid().ToString("N")[..8]);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_acknowledged_record_is_there_after_a_restart(bool crash)
    {
        var written = new Dictionary<string, (string Value, string ETag)>();
        long planned;
        await using (var silo = new SiloProcess(_data, settings: NoProvider))
        {
            await silo.StartAsync();
            using var http = new HttpClient { BaseAddress = silo.HttpAddress };
            (await http.PutAsync("/v1/colonies/restart", JsonContent.Create(new { splitKeys = 100, mergeKeys = 10 }))).EnsureSuccessStatusCode();
            for (var i = 0; i < 600; i++)
            {
                var key = $"item-{i * 7919 % 1000:d4}";
                var value = $"{{\"n\":{i}}}";
                var response = await http.PutAsync($"/v1/colonies/restart/records/{key}", new StringContent(value));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                written[key] = (value, response.Headers.ETag!.Tag);
            }

            // The provisioning plan has taken the colony in (a generation persisted before it was published).
            planned = (await Eventually.Until(
                () => http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan"),
                p => p.GetProperty("desired").GetProperty("groups").EnumerateArray().Any(g => g.GetProperty("subtrees").EnumerateArray().Any(c => c.GetString() == "restart")),
                TimeSpan.FromSeconds(30), "the colony in the plan")).GetProperty("desired").GetProperty("generation").GetInt64();

            if (crash)
            {
                await silo.KillAsync();
            }
            else
            {
                await silo.StopAsync();
            }
        }

        await using (var silo = new SiloProcess(_data, settings: NoProvider))
        {
            await silo.StartAsync();
            using var http = new HttpClient { BaseAddress = silo.HttpAddress };

            // The plan's generation goes on from where it was: a Provisioner never sees it go back (it would ignore it).
            var plan = await http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan");
            Assert.True(plan.GetProperty("desired").GetProperty("generation").GetInt64() >= planned);
            foreach (var (key, (value, etag)) in written)
            {
                var response = await http.GetAsync($"/v1/colonies/restart/records/{key}");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(value, await response.Content.ReadAsStringAsync());
                Assert.Equal(etag, response.Headers.ETag!.Tag);
            }

            // The tree came back from grain storage as it was: divided, with every key in a leaf.
            using var tree = JsonDocument.Parse(await http.GetStringAsync("/v1/colonies/restart/tree"));
            Assert.Equal("interior", tree.RootElement.GetProperty("role").GetString());
            Assert.Equal(written.Count, tree.RootElement.GetProperty("feedback").GetProperty("keys").GetInt64());
        }
    }

    [Fact]
    public async Task A_bad_setting_stops_the_silo_with_one_line()
    {
        var (exitCode, _, stderr) = await SiloProcess.RunToExit("--Kbl:Cluster:SiloPort=70000");
        Assert.Equal(2, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Kbl:Cluster:SiloPort", line, StringComparison.Ordinal);

        (exitCode, _, stderr) = await SiloProcess.RunToExit("--Kbl:Colour=blue");
        Assert.Equal(2, exitCode);
        Assert.Contains("Kbl:Colour", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);

        (exitCode, _, stderr) = await SiloProcess.RunToExit("--Kbl:FeedbackPeriod=soon");
        Assert.Equal(2, exitCode);
        Assert.Contains("Kbl:FeedbackPeriod", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Kbl:Provisioning:Provider=cloud", "Kbl:Provisioning:Provider")]
    [InlineData("--Kbl:Provisioning:Queue=kafka", "Kbl:Provisioning:Queue")]
    [InlineData("--Kbl:Provisioning:Queue=sqs", "Kbl:Provisioning:Sqs:QueueUrl")]
    [InlineData("--Kbl:Provisioning:ScaleDownCoolDown=later", "Kbl:Provisioning:ScaleDownCoolDown")]
    [InlineData("--Kbl:Provisioning:ScaleDownCoolDown=-00:01:00", "Kbl:Provisioning:ScaleDownCoolDown")]
    [InlineData("--Kbl:Provisioning:Taints:0=dedicated", "Kbl:Provisioning:Taints")]
    [InlineData("--Kbl:Provisioning:MaxNodeGroups=0", "Kbl:Provisioning:MaxNodeGroups")]
    [InlineData("--Kbl:Provisioning:Colour=blue", "Kbl:Provisioning:Colour")]
    [InlineData("--Kbl:Provisioning:Eks:Colour=blue", "Colour")]
    [InlineData("--Kbl:Provisioning:Provider=eks --Kbl:Provisioning:InProcess=true", "Kbl:Provisioning:Eks:ClusterName")]
    public async Task A_bad_provisioning_setting_stops_the_silo_with_one_line(string arguments, string named)
    {
        var (exitCode, _, stderr) = await SiloProcess.RunToExit(arguments.Split(' '));
        Assert.Equal(2, exitCode);
        Assert.Contains(named, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Kbl:Cluster:Mode=cloud", "Kbl:Cluster:Mode 'cloud' must be localhost or redis")]
    [InlineData("--Kbl:Storage:Mode=postgres", "Kbl:Storage:Mode 'postgres' must be sqlite or dynamodb")]
    [InlineData("--Kbl:Provisioning:Provider=DryRun", "Kbl:Provisioning:Provider 'DryRun' must be local, eks, dry-run or off")]
    [InlineData("--Kbl:Provisioning:Queue=1", "Kbl:Provisioning:Queue '1' must be local or sqs")]
    public async Task A_mode_that_is_none_of_its_names_stops_the_silo_with_one_line_naming_them(string argument, string line)
    {
        var (exitCode, _, stderr) = await SiloProcess.RunToExit(argument);
        Assert.Equal(2, exitCode);
        Assert.EndsWith(line, Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
