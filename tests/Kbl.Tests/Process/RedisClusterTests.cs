using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using Kbl.Api.V1;

namespace Kbl.Tests.Process;

/// <summary>
/// Three silo processes on Redis membership (no primary silo) form one cluster, serve one colony through every
/// gateway, and keep serving it when one of them stops, the first one included. The cluster runs with a bearer token.
/// </summary>
[Trait("Category", Category.Process)]
public sealed class RedisClusterTests : IAsyncLifetime
{
    private const string Token = "test-token-0123456789abcdef";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kbl-redis-cluster-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly RedisServer _redis = new();
    private readonly List<SiloProcess> _silos = [];

    public async Task InitializeAsync()
    {
        await _redis.StartAsync();
        for (var i = 0; i < 3; i++)
        {
            _silos.Add(new SiloProcess(Path.Combine(_root, $"r{i}"), $"r{i}", new Dictionary<string, string>
            {
                ["Kbl:Cluster:Mode"] = "redis",
                ["Kbl:Cluster:Redis"] = _redis.ConnectionString,
                ["Kbl:Cluster:ClusterId"] = "redis-test",
                ["Kbl:Auth:Token"] = Token,
                ["Kbl:Storage:Sqlite:Path"] = Path.Combine(_root, "meta.db"),
                ["Kbl:Placement:LoadRefresh"] = "00:00:00.500",
            }));
        }

        await Task.WhenAll(_silos.Select(s => s.StartAsync()));
    }

    public async Task DisposeAsync()
    {
        foreach (var silo in _silos)
        {
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

    [Fact]
    public async Task Three_silos_on_redis_serve_one_colony_and_keep_serving_when_one_stops()
    {
        var gateways = _silos.Select(s => new HttpClient { BaseAddress = s.HttpAddress }).ToList();
        gateways.ForEach(g => g.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token));
        await Eventually.Until(
            async () => (await gateways[2].GetFromJsonAsync<JsonElement>("/v1/cluster/silos")).GetProperty("silos").GetArrayLength(),
            n => n == 3,
            TimeSpan.FromSeconds(30),
            "three silos in one cluster");

        Assert.Equal(HttpStatusCode.Created, (await gateways[0].PutAsync("/v1/colonies/shared", JsonContent.Create(new { splitKeys = 25 }))).StatusCode);
        var records = new Dictionary<string, string>();
        for (var i = 0; i < 200; i++)
        {
            var key = $"s{i * 11 % 200:d3}";
            (await gateways[i % 3].PutAsync($"/v1/colonies/shared/records/{key}", new StringContent($"v{i}"))).EnsureSuccessStatusCode();
            records[key] = $"v{i}";
        }

        await AssertAllReadable(records, gateways);

        // The first silo stops (in localhost clustering it would be the primary, and the cluster would go with it).
        await _silos[0].StopAsync();
        await AssertAllReadable(records, gateways.Skip(1).ToList());
        (await gateways[1].PutAsync("/v1/colonies/shared/records/after-stop", new StringContent("still-writable"))).EnsureSuccessStatusCode();
        Assert.Equal("still-writable", await gateways[2].GetStringAsync("/v1/colonies/shared/records/after-stop"));
        gateways.ForEach(g => g.Dispose());
    }

    [Fact]
    public async Task Without_the_token_requests_are_refused_and_health_stays_open()
    {
        using var anonymous = new HttpClient { BaseAddress = _silos[1].HttpAddress };
        var refused = await anonymous.GetAsync("/v1/colonies");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Contains("bearer token", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/dashboard/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync($"/dashboard/?token={Token}")).StatusCode);

        using var wrong = new HttpClient { BaseAddress = _silos[1].HttpAddress };
        wrong.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token + "x");
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/v1/colonies")).StatusCode);

        using var channel = GrpcChannel.ForAddress(_silos[1].GrpcAddress);
        var client = new ColonyService.ColonyServiceClient(channel);
        var denied = await Assert.ThrowsAsync<RpcException>(() => client.ListColoniesAsync(new ListColoniesRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, denied.StatusCode);
        var allowed = await client.ListColoniesAsync(new ListColoniesRequest(), new Metadata { { "authorization", $"Bearer {Token}" } });
        Assert.NotNull(allowed);
    }

    private static async Task AssertAllReadable(Dictionary<string, string> records, IReadOnlyList<HttpClient> gateways)
    {
        var i = 0;
        foreach (var (key, value) in records)
        {
            var response = await gateways[i++ % gateways.Count].GetAsync($"/v1/colonies/shared/records/{key}");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{key}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            Assert.Equal(value, await response.Content.ReadAsStringAsync());
        }
    }
}
