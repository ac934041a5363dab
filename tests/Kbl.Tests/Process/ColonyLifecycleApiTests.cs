using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kbl.Api.V1;

namespace Kbl.Tests.Process;

/// <summary>A real silo process that holds at most <see cref="MaxColonies"/> colonies (<c>Kbl:MaxColonies</c>).</summary>
public sealed class CappedSiloFixture : SiloProcessFixture
{
    public const int MaxColonies = 4;

    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["Kbl:MaxColonies"] = MaxColonies.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// Deleting colonies and the cap on their number, over HTTP and gRPC on a real silo: a delete removes the colony and
/// what it held, frees its name and its place under the cap; a colony that does not exist is 404 (NOT_FOUND), a bad
/// name 400 (INVALID_ARGUMENT); creating one beyond <c>Kbl:MaxColonies</c> is 409 (FAILED_PRECONDITION) with a message
/// naming the setting. Each test deletes the colonies it made, so the others find room under the cap.
/// </summary>
[Trait("Category", Category.Process)]
public sealed class ColonyLifecycleApiTests(CappedSiloFixture fixture) : IClassFixture<CappedSiloFixture>, IDisposable
{
    private readonly GrpcChannel _channel = GrpcChannel.ForAddress(fixture.Silo.GrpcAddress);

    private HttpClient Http => fixture.Http;

    private ColonyService.ColonyServiceClient Grpc => new(_channel);

    [Fact]
    public async Task A_colony_deleted_over_http_is_gone_and_its_name_starts_empty_again()
    {
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync("/v1/colonies/doomed", JsonContent.Create(new { splitKeys = 20, mergeKeys = 1 }))).StatusCode);
        for (var i = 0; i < 60; i++)
        {
            (await Http.PutAsync($"/v1/colonies/doomed/records/k{i:d2}", new StringContent($"v{i}"))).EnsureSuccessStatusCode();
        }

        await Eventually.Until(
            () => Http.GetFromJsonAsync<JsonElement>("/v1/colonies/doomed/tree"),
            t => t.GetProperty("role").GetString() == "interior",
            TimeSpan.FromSeconds(30),
            "the colony divided");

        var deleted = await Http.DeleteAsync("/v1/colonies/doomed");

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await AssertNotFound(HttpMethod.Get, "/v1/colonies/doomed");
        await AssertNotFound(HttpMethod.Get, "/v1/colonies/doomed/records/k01");
        await AssertNotFound(HttpMethod.Put, "/v1/colonies/doomed/records/k01", "again");
        await AssertNotFound(HttpMethod.Get, "/v1/colonies/doomed/records");
        await AssertNotFound(HttpMethod.Delete, "/v1/colonies/doomed");
        var list = await Http.GetFromJsonAsync<JsonElement>("/v1/colonies");
        Assert.DoesNotContain("doomed", Names(list, "colonies"));
        Assert.DoesNotContain("doomed", Names(list, "deleting"));

        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync("/v1/colonies/doomed", JsonContent.Create(new { }))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/v1/colonies/doomed/records/k01")).StatusCode);
        var scan = await Http.GetFromJsonAsync<JsonElement>("/v1/colonies/doomed/records");
        Assert.Empty(scan.GetProperty("records").EnumerateArray());
        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync("/v1/colonies/doomed")).StatusCode);
    }

    [Theory]
    [InlineData("/v1/colonies/never-made", 404, "does not exist")]
    [InlineData("/v1/colonies/Bad_Name", 400, "colony name")]
    [InlineData("/v1/colonies/a..b", 400, "colony name")]
    public async Task Deleting_what_is_not_a_colony_is_refused_with_a_message(string path, int status, string message)
    {
        var response = await Http.DeleteAsync(path);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Contains(message, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_colony_deleted_over_grpc_is_gone()
    {
        await Grpc.PutColonyAsync(new PutColonyRequest { Colony = "grpc-doomed" });
        await Grpc.PutAsync(new PutRequest { Colony = "grpc-doomed", Key = "k", Value = ByteString.CopyFromUtf8("v") });

        var reply = await Grpc.DeleteColonyAsync(new DeleteColonyRequest { Colony = "grpc-doomed" });

        Assert.True(reply.Deleted, reply.Message);
        Assert.Equal(StatusCode.NotFound, (await Fails(() => Grpc.GetAsync(new GetRequest { Colony = "grpc-doomed", Key = "k" }).ResponseAsync)).StatusCode);
        Assert.Equal(StatusCode.NotFound, (await Fails(() => Grpc.GetColonyAsync(new GetColonyRequest { Colony = "grpc-doomed" }).ResponseAsync)).StatusCode);
        Assert.DoesNotContain("grpc-doomed", (await Grpc.ListColoniesAsync(new ListColoniesRequest())).Colonies);
        var again = await Fails(() => Grpc.DeleteColonyAsync(new DeleteColonyRequest { Colony = "grpc-doomed" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, again.StatusCode);
        Assert.Contains("does not exist", again.Status.Detail, StringComparison.Ordinal);
        var badName = await Fails(() => Grpc.DeleteColonyAsync(new DeleteColonyRequest { Colony = "Nope!" }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, badName.StatusCode);
        Assert.Contains("colony name", badName.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Creating_beyond_the_cap_is_refused_until_a_colony_is_deleted()
    {
        var list = await Http.GetFromJsonAsync<JsonElement>("/v1/colonies");
        var held = Names(list, "colonies").Count() + Names(list, "deleting").Count();
        var made = Enumerable.Range(0, CappedSiloFixture.MaxColonies - held).Select(i => $"capped-{i}").ToList();
        foreach (var colony in made)
        {
            Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync($"/v1/colonies/{colony}", JsonContent.Create(new { }))).StatusCode);
        }

        var refused = await Http.PutAsync("/v1/colonies/one-too-many", JsonContent.Create(new { }));

        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("Kbl:MaxColonies", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        var overGrpc = await Fails(() => Grpc.PutColonyAsync(new PutColonyRequest { Colony = "one-too-many" }).ResponseAsync);
        Assert.Equal(StatusCode.FailedPrecondition, overGrpc.StatusCode);
        Assert.Contains("Kbl:MaxColonies", overGrpc.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/v1/colonies/one-too-many")).StatusCode);
        Assert.DoesNotContain("one-too-many", Names(await Http.GetFromJsonAsync<JsonElement>("/v1/colonies"), "colonies"));

        // Reconfiguring a colony that exists is no create: the cap does not stop it.
        Assert.Equal(HttpStatusCode.OK, (await Http.PutAsync($"/v1/colonies/{made[0]}", JsonContent.Create(new { splitKeys = 500 }))).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/colonies/{made[0]}")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await Http.PutAsync("/v1/colonies/one-too-many", JsonContent.Create(new { }))).StatusCode);

        foreach (var colony in made.Skip(1).Append("one-too-many"))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await Http.DeleteAsync($"/v1/colonies/{colony}")).StatusCode);
        }
    }

    [Theory]
    [InlineData("--Kbl:MaxColonies=0")]
    [InlineData("--Kbl:MaxColonies=100001")]
    [InlineData("--Kbl:MaxColonies=many")]
    public async Task A_cap_out_of_range_stops_the_silo_with_one_line(string argument)
    {
        var (exitCode, _, stderr) = await SiloProcess.RunToExit(argument);

        Assert.Equal(2, exitCode);
        Assert.Contains("Kbl:MaxColonies", Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)), StringComparison.Ordinal);
    }

    public void Dispose() => _channel.Dispose();

    private static IEnumerable<string?> Names(JsonElement list, string property) => list.GetProperty(property).EnumerateArray().Select(c => c.GetString());

    private static async Task<RpcException> Fails(Func<Task> call) => await Assert.ThrowsAsync<RpcException>(call);

    private async Task AssertNotFound(HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : new StringContent(body) };
        var response = await Http.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{method} {path}: {(int)response.StatusCode}");
        Assert.Contains("does not exist", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
    }
}
