using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kbl.Tests.Process;

/// <summary>The HTTP/JSON API of a real silo process: what users send, what they get back, and what bad input gets.</summary>
[Collection(SiloProcessCollection.Name)]
[Trait("Category", Category.Process)]
public sealed partial class HttpApiTests(SiloProcessFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Fact]
    public async Task A_colony_is_created_read_listed_and_reconfigured()
    {
        var created = await Http.PutAsync("/v1/colonies/http-colony", JsonContent.Create(new { fanOut = 8, splitKeys = 1000 }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        var genome = (await Http.GetFromJsonAsync<JsonElement>("/v1/colonies/http-colony")).GetProperty("genome");
        Assert.Equal(8, genome.GetProperty("fanOut").GetInt32());
        Assert.Equal(1000, genome.GetProperty("splitKeys").GetInt64());

        var updated = await Http.PutAsync("/v1/colonies/http-colony", JsonContent.Create(new { splitKeys = 2000 }));
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        genome = (await Http.GetFromJsonAsync<JsonElement>("/v1/colonies/http-colony")).GetProperty("genome");
        Assert.Equal(8, genome.GetProperty("fanOut").GetInt32());
        Assert.Equal(2000, genome.GetProperty("splitKeys").GetInt64());

        var list = await Http.GetFromJsonAsync<JsonElement>("/v1/colonies");
        Assert.Contains("http-colony", list.GetProperty("colonies").EnumerateArray().Select(c => c.GetString()));
    }

    [Fact]
    public async Task A_mirrored_colony_says_so_in_its_genome_and_its_tree_shows_its_copies()
    {
        var created = await Http.PutAsync("/v1/colonies/http-mirror", JsonContent.Create(new { redundancy = new { mode = "mirror", copies = 2 } }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var redundancy = (await Http.GetFromJsonAsync<JsonElement>("/v1/colonies/http-mirror")).GetProperty("genome").GetProperty("redundancy");
        Assert.Equal("mirror", redundancy.GetProperty("mode").GetString());
        Assert.Equal(2, redundancy.GetProperty("copies").GetInt32());
        Assert.Equal(1, redundancy.GetProperty("minCopies").GetInt32());
        (await Http.PutAsync("/v1/colonies/http-mirror/records/a", new StringContent("1"))).EnsureSuccessStatusCode();

        // One silo: the leaf serves with one copy of the two its genome asks for.
        var root = await Http.GetFromJsonAsync<JsonElement>("/v1/colonies/http-mirror/tree");
        var copies = root.GetProperty("redundancy");
        Assert.Equal("degraded", copies.GetProperty("status").GetString());
        Assert.Equal(1, copies.GetProperty("inSync").GetInt32());
        Assert.Equal(2, copies.GetProperty("copies").GetInt32());
        var leaf = Assert.Single((await Http.GetFromJsonAsync<JsonElement>("/v1/colonies/http-mirror/kbls/r/copies")).GetProperty("copies").EnumerateArray());
        Assert.True(leaf.GetProperty("primary").GetBoolean());
        Assert.Equal(1, leaf.GetProperty("records").GetInt64());
        Assert.Equal(64, leaf.GetProperty("sha256").GetString()!.Length);

        // A colony created without a word about redundancy keeps two copies; one created with one copy keeps one.
        await Http.PutAsync("/v1/colonies/http-default", JsonContent.Create(new { }));
        var byDefault = (await Http.GetFromJsonAsync<JsonElement>("/v1/colonies/http-default")).GetProperty("genome").GetProperty("redundancy");
        Assert.Equal("mirror", byDefault.GetProperty("mode").GetString());
        Assert.Equal(2, byDefault.GetProperty("copies").GetInt32());
        await Http.PutAsync("/v1/colonies/http-single", JsonContent.Create(new { redundancy = new { mode = "none" } }));
        var none = (await Http.GetFromJsonAsync<JsonElement>("/v1/colonies/http-single")).GetProperty("genome").GetProperty("redundancy");
        Assert.Equal("none", none.GetProperty("mode").GetString());
    }

    [Fact]
    public async Task A_leafs_copies_are_shown_and_a_bad_or_wrong_kbl_is_refused()
    {
        await Http.PutAsync("/v1/colonies/http-copies", JsonContent.Create(new { splitKeys = 4, redundancy = new { mode = "none" } }));
        for (var i = 0; i < 10; i++)
        {
            (await Http.PutAsync($"/v1/colonies/http-copies/records/k{i}", new StringContent("v"))).EnsureSuccessStatusCode();
        }

        // The root divides: an interior KBL holds no records (409); its leaves show their copy.
        var refused = await Eventually.Until(() => Http.GetAsync("/v1/colonies/http-copies/kbls/r/copies"), r => r.StatusCode == HttpStatusCode.Conflict, TimeSpan.FromSeconds(30), "the root interior");
        Assert.Contains("interior", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var tree = await Http.GetFromJsonAsync<JsonElement>("/v1/colonies/http-copies/tree");
        long records = 0;
        foreach (var child in tree.GetProperty("children").EnumerateArray().Where(c => c.GetProperty("role").GetString() == "leaf"))
        {
            var copy = Assert.Single((await Http.GetFromJsonAsync<JsonElement>($"/v1/colonies/http-copies/kbls/{child.GetProperty("path").GetString()}/copies")).GetProperty("copies").EnumerateArray());
            records += copy.GetProperty("records").GetInt64();
        }

        Assert.True(records > 0, "the root's leaves hold records");
        Assert.Equal(HttpStatusCode.BadRequest, (await Http.GetAsync("/v1/colonies/http-copies/kbls/x.1/copies")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/v1/colonies/http-copies/kbls/r.77/copies")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/v1/colonies/no-such-colony/kbls/r/copies")).StatusCode);
    }

    [Fact]
    public async Task Records_round_trip_with_versions_and_conditions()
    {
        await Http.PutAsync("/v1/colonies/http-records", JsonContent.Create(new { }));
        var put = await Http.PutAsync("/v1/colonies/http-records/records/a%2Fb%20c", new ByteArrayContent([0, 1, 2, 255]));
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var etag = put.Headers.ETag!.Tag;

        var get = await Http.GetAsync("/v1/colonies/http-records/records/a%2Fb%20c");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal([0, 1, 2, 255], await get.Content.ReadAsByteArrayAsync());
        Assert.Equal(etag, get.Headers.ETag!.Tag);

        // If-None-Match: * refuses to overwrite; a stale If-Match is refused; the current one succeeds.
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await Send(HttpMethod.Put, "a%2Fb%20c", "x", ("If-None-Match", "*"))).StatusCode);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await Send(HttpMethod.Put, "a%2Fb%20c", "x", ("If-Match", "\"999999\""))).StatusCode);
        var replaced = await Send(HttpMethod.Put, "a%2Fb%20c", "y", ("If-Match", etag));
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        Assert.Equal(HttpStatusCode.PreconditionFailed, (await Send(HttpMethod.Delete, "a%2Fb%20c", null, ("If-Match", etag))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Send(HttpMethod.Delete, "a%2Fb%20c", null, ("If-Match", replaced.Headers.ETag!.Tag))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/v1/colonies/http-records/records/a%2Fb%20c")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.DeleteAsync("/v1/colonies/http-records/records/a%2Fb%20c")).StatusCode);
    }

    [Fact]
    public async Task A_batch_writes_and_reads_many_records_with_one_outcome_each()
    {
        await Http.PutAsync("/v1/colonies/http-batch", JsonContent.Create(new { splitKeys = 40, mergeKeys = 2 }));
        var loaded = await Batch("write", new { writes = Enumerable.Range(0, 200).Select(i => new { key = $"b{i:d3}", value = $"v{i}" }) });
        Assert.All(loaded.GetProperty("results").EnumerateArray(), r => Assert.Equal(200, r.GetProperty("status").GetInt32()));
        var version = loaded.GetProperty("results")[7].GetProperty("version").GetInt64();

        // Bytes, a delete, and conditions: each write answered on its own, in order.
        var mixed = (await Batch("write", new
        {
            writes = new object[]
            {
                new { key = "b007", value = "again", ifMatch = version },
                new { key = "b008", delete = true },
                new { key = "bin", valueBase64 = Convert.ToBase64String(new byte[] { 0, 1, 255 }) },
                new { key = "b009", value = "no", ifNoneMatch = true },
                new { key = "absent", delete = true },
            },
        })).GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([200, 200, 200, 412, 404], mixed.Select(r => r.GetProperty("status").GetInt32()));
        Assert.Equal("b009", mixed[3].GetProperty("key").GetString());
        Assert.Contains("version", mixed[3].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.True(mixed[3].GetProperty("version").GetInt64() > 0);

        var read = (await Batch("read", new { keys = new[] { "b007", "b008", "bin", "b150", "never" } })).GetProperty("records").EnumerateArray().ToList();
        Assert.Equal([200, 404, 200, 200, 404], read.Select(r => r.GetProperty("status").GetInt32()));
        Assert.Equal("again", read[0].GetProperty("value").GetString());
        Assert.Equal([0, 1, 255], Convert.FromBase64String(read[2].GetProperty("valueBase64").GetString()!));
        Assert.Equal("v150", read[3].GetProperty("value").GetString());
        Assert.True(read[3].GetProperty("version").GetInt64() > 0);
        Assert.Equal("interior", (await Http.GetFromJsonAsync<JsonElement>("/v1/colonies/http-batch/tree")).GetProperty("role").GetString());
    }

    [Theory]
    [InlineData("{\"writes\":[{\"key\":\"ok1\",\"value\":\"1\"},{\"key\":\"ok2\",\"value\":\"2\"},{\"key\":\"\",\"value\":\"3\"}]}", 400, "writes[2]: the key is empty")]
    [InlineData("{\"writes\":[{\"key\":\"ok1\",\"value\":\"1\"},{\"key\":\"ok2\",\"value\":\"2\",\"delete\":true}]}", 400, "writes[1] ('ok2') needs exactly one of")]
    [InlineData("{\"writes\":[{\"key\":\"ok1\",\"value\":\"1\",\"colour\":\"red\"}]}", 400, "writes[0] has unknown field 'colour'")]
    [InlineData("{\"writes\":[{\"key\":\"ok1\",\"valueBase64\":\"not base64!\"}]}", 400, "writes[0].valueBase64 must be base64")]
    [InlineData("{\"writes\":[{\"key\":\"ok1\",\"value\":\"1\",\"ifMatch\":0}]}", 400, "writes[0].ifMatch must be a version")]
    [InlineData("{\"writes\":[]}", 400, "the batch is empty")]
    [InlineData("{\"writes\":[{\"key\":\"ok1\",\"value\":\"1\",\"valueBase64\":\"AA==\"}]}", 400, "writes[0] has both 'value' and 'valueBase64'")]
    [InlineData("{\"writes\":[{\"key\":\"ok1\",\"value\":\"1\"}],\"reads\":[]}", 400, "unknown field 'reads'")]
    [InlineData("{\"writes\":[{\"key\":\"ok1\",\"value\":\"1\"}", 400, "not valid JSON")]
    public async Task A_bad_batch_is_refused_naming_the_record_and_writes_nothing(string body, int status, string message)
    {
        await Http.PutAsync("/v1/colonies/http-bad-batch", JsonContent.Create(new { }));
        var refused = await Http.PostAsync("/v1/colonies/http-bad-batch/batch/write", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(status, (int)refused.StatusCode);
        Assert.Contains(message, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var read = (await Batch("read", new { keys = new[] { "ok1", "ok2" } }, "http-bad-batch")).GetProperty("records").EnumerateArray();
        Assert.All(read, r => Assert.Equal(404, r.GetProperty("status").GetInt32()));
    }

    [Fact]
    public async Task A_batch_over_the_record_limit_is_refused_whole()
    {
        await Http.PutAsync("/v1/colonies/http-big-batch", JsonContent.Create(new { }));
        var refused = await Http.PostAsJsonAsync("/v1/colonies/http-big-batch/batch/write", new { writes = Enumerable.Range(0, 1001).Select(i => new { key = $"k{i}", value = "v" }) });
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        Assert.Contains("at most 1000 (Kbl:Gateway:MaxBatchRecords)", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/v1/colonies/http-big-batch/records/k0")).StatusCode);
        var noColony = await Http.PostAsJsonAsync("/v1/colonies/no-such-batch/batch/read", new { keys = new[] { "a" } });
        Assert.Equal(HttpStatusCode.NotFound, noColony.StatusCode);

        // A full batch of 2 KB values (2 MB of JSON) is larger than one value may be, and is taken whole.
        var large = await Batch("write", new { writes = Enumerable.Range(0, 1000).Select(i => new { key = $"big{i:d4}", value = new string('x', 2000) }) }, "http-big-batch");
        Assert.All(large.GetProperty("results").EnumerateArray(), r => Assert.Equal(200, r.GetProperty("status").GetInt32()));
    }

    private async Task<JsonElement> Batch(string kind, object? body, string colony = "http-batch")
    {
        var response = await Http.PostAsJsonAsync($"/v1/colonies/{colony}/batch/{kind}", body);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{kind}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task A_paged_scan_walks_every_record_in_order_across_leaves()
    {
        await Http.PutAsync("/v1/colonies/http-scan", JsonContent.Create(new { splitKeys = 40, mergeKeys = 2 }));
        var keys = Enumerable.Range(0, 250).Select(i => $"s{i * 37 % 250:d3}").ToList();
        foreach (var key in keys)
        {
            (await Http.PutAsync($"/v1/colonies/http-scan/records/{key}", new StringContent($"{{\"v\":{key[1..]}}}"))).EnsureSuccessStatusCode();
        }

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await Http.GetFromJsonAsync<JsonElement>($"/v1/colonies/http-scan/records?limit=60{(cursor is null ? "" : $"&cursor={cursor}")}");
            seen.AddRange(page.GetProperty("records").EnumerateArray().Select(r => r.GetProperty("key").GetString()!));
            cursor = page.GetProperty("next").GetString();
        }
        while (cursor is not null);

        Assert.Equal(keys.Order(StringComparer.Ordinal), seen);
        var tree = await Http.GetFromJsonAsync<JsonElement>("/v1/colonies/http-scan/tree");
        Assert.Equal("interior", tree.GetProperty("role").GetString());

        var bounded = await Http.GetFromJsonAsync<JsonElement>("/v1/colonies/http-scan/records?from=s100&to=s110&limit=1000");
        Assert.Equal(Enumerable.Range(100, 10).Select(i => $"s{i}"), bounded.GetProperty("records").EnumerateArray().Select(r => r.GetProperty("key").GetString()));

        var sum = await Http.PostAsJsonAsync("/v1/colonies/http-scan/aggregate", new { from = "s100", to = "s110", op = "sum", field = "v" });
        Assert.Equal(Enumerable.Range(100, 10).Sum(), (await sum.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("value").GetDouble());
    }

    [Theory]
    [InlineData("PUT", "/v1/colonies/Bad_Name", "{}", 400, "colony name")]
    [InlineData("PUT", "/v1/colonies/ok-name", "{\"fanOut\":1}", 400, "fanOut")]
    [InlineData("PUT", "/v1/colonies/ok-name", "{\"fanout\":4}", 400, "fanout")]
    [InlineData("PUT", "/v1/colonies/ok-name", "{\"splitKeys\":\"many\"}", 400, "splitKeys")]
    [InlineData("PUT", "/v1/colonies/ok-name", "{\"mergeKeys\":60000}", 400, "mergeKeys")]
    [InlineData("PUT", "/v1/colonies/ok-name", "{\"redundancy\":\"mirror\"}", 400, "redundancy")]
    [InlineData("PUT", "/v1/colonies/ok-name", "{\"redundancy\":{\"mode\":\"raid5\"}}", 400, "mode")]
    [InlineData("PUT", "/v1/colonies/ok-name", "{\"redundancy\":{\"mode\":\"mirror\",\"copies\":6}}", 400, "copies")]
    [InlineData("PUT", "/v1/colonies/ok-name", "{\"redundancy\":{\"mode\":\"mirror\",\"copies\":2,\"minCopies\":3}}", 400, "minCopies")]
    [InlineData("PUT", "/v1/colonies/ok-name", "{\"redundancy\":{\"mode\":\"none\",\"copies\":2}}", 400, "mirror")]
    [InlineData("PUT", "/v1/colonies/ok-name", "{\"redundancy\":{\"copies\":2}}", 400, "mode")]
    [InlineData("PUT", "/v1/colonies/ok-name", "{not json", 400, "JSON")]
    [InlineData("PUT", "/v1/colonies/ok-name", "[1,2]", 400, "object")]
    [InlineData("GET", "/v1/colonies/no-such-colony", null, 404, "does not exist")]
    [InlineData("GET", "/v1/colonies/no-such-colony/records/k", null, 404, "does not exist")]
    [InlineData("PUT", "/v1/colonies/no-such-colony/records/k", "v", 404, "does not exist")]
    [InlineData("GET", "/v1/colonies/no-such-colony/records", null, 404, "does not exist")]
    [InlineData("GET", "/v1/colonies/no-such-colony/tree", null, 404, "does not exist")]
    [InlineData("POST", "/v1/colonies/no-such-colony/aggregate", "{\"op\":\"count\"}", 404, "does not exist")]
    [InlineData("GET", "/v1/colonies/bad-input/records/%FF", null, 400, "UTF-8")]
    [InlineData("GET", "/v1/colonies/bad-input/records?from=%FF", null, 400, "UTF-8")]
    [InlineData("GET", "/v1/colonies/bad-input/records?from=a&to=%C3%28", null, 400, "UTF-8")]
    [InlineData("GET", "/v1/colonies/bad-input/records?from=%E2%82", null, 400, "UTF-8")]
    [InlineData("GET", "/v1/colonies/bad-input/records?cursor=%FF%FE", null, 400, "cursor")]
    [InlineData("GET", "/v1/colonies/bad-input/records?cursor=_w", null, 400, "UTF-8")]
    [InlineData("GET", "/v1/colonies/bad-input/records?limit=0", null, 400, "limit")]
    [InlineData("GET", "/v1/colonies/bad-input/records?limit=x", null, 400, "limit")]
    [InlineData("GET", "/v1/colonies/bad-input/records?cursor=***", null, 400, "cursor")]
    [InlineData("GET", "/v1/colonies/bad-input/tree?depth=-1", null, 400, "depth")]
    [InlineData("GET", "/v1/colonies/bad-input/tree?depth=deep", null, 400, "depth")]
    [InlineData("GET", "/v1/colonies/bad-input/tree?format=xml", null, 400, "format")]
    [InlineData("GET", "/v1/colonies/bad-input/tree?depth=1&hot=maybe", null, 400, "hot")]
    [InlineData("POST", "/v1/colonies/bad-input/aggregate", "{\"op\":\"median\"}", 400, "op")]
    [InlineData("POST", "/v1/colonies/bad-input/aggregate", "{\"op\":\"sum\"}", 400, "field")]
    [InlineData("POST", "/v1/colonies/bad-input/aggregate", "{\"op\":\"count\",\"where\":\"x\"}", 400, "where")]
    [InlineData("POST", "/v1/colonies/bad-input/aggregate", "{\"op\":3}", 400, "op")]
    [InlineData("POST", "/v1/colonies/bad-input/aggregate", "op=count", 400, "JSON")]
    [InlineData("POST", "/v1/cluster/plan/observed", "{not json", 400, "not valid")]
    [InlineData("POST", "/v1/cluster/plan/observed", "{\"generation\":-1,\"provider\":\"eks\",\"groups\":[]}", 400, "generation")]
    [InlineData("POST", "/v1/cluster/plan/observed", "{\"generation\":1,\"groups\":[]}", 400, "provider")]
    [InlineData("POST", "/v1/cluster/plan/observed", "{\"generation\":1,\"provider\":\"eks\"}", 400, "groups")]
    [InlineData("POST", "/v1/cluster/plan/observed", "{\"generation\":1,\"provider\":\"eks\",\"groups\":[{\"name\":\"\",\"status\":\"ACTIVE\",\"desired\":1,\"ready\":1}]}", 400, "name")]
    [InlineData("POST", "/v1/cluster/plan/observed", "{\"generation\":1,\"provider\":\"eks\",\"groups\":[],\"colour\":1}", 400, "colour")]
    [InlineData("POST", "/v1/cluster/plan/observed", "{\"generation\":999999,\"provider\":\"eks\",\"groups\":[]}", 400, "ahead")]
    public async Task Bad_input_gets_a_clear_4xx_and_changes_nothing(string method, string path, string? body, int status, string message)
    {
        await Http.PutAsync("/v1/colonies/bad-input", JsonContent.Create(new { }));
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = body is null ? null : new StringContent(body) };
        var response = await Http.SendAsync(request);

        Assert.Equal(status, (int)response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString();
        Assert.Contains(message, error, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/v1/colonies/ok-name")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/v1/colonies/no-such-colony")).StatusCode);
    }

    [Fact]
    public async Task Query_string_keys_are_read_as_sent_so_a_key_in_any_script_scans()
    {
        await Http.PutAsync("/v1/colonies/http-utf8", JsonContent.Create(new { }));
        foreach (var key in new[] { "a b", "a+b", "é", "日本", "z" })
        {
            (await Http.PutAsync($"/v1/colonies/http-utf8/records/{Uri.EscapeDataString(key)}", new StringContent("v"))).EnsureSuccessStatusCode();
        }

        async Task<List<string>> Keys(string query) =>
            [.. (await Http.GetFromJsonAsync<JsonElement>($"/v1/colonies/http-utf8/records?{query}")).GetProperty("records").EnumerateArray().Select(r => r.GetProperty("key").GetString()!)];

        // Keys in byte order: "a b" < "a+b" < "z" < "é" (C3 A9) < "日本" (E6 97 A5 …).
        Assert.Equal(["z", "é"], await Keys("from=b&to=%E6%97%A5"));
        Assert.Equal(["a b", "a+b"], await Keys("from=a+b&to=a%2Bc")); // '+' is a space, as forms send it; %2B a plus
        Assert.Equal(["日本"], await Keys("FROM=%E6%97%A5"));
    }

    [Fact]
    public async Task Keys_and_values_over_their_limits_are_refused_and_not_stored()
    {
        await Http.PutAsync("/v1/colonies/limits", JsonContent.Create(new { }));
        var longKey = new string('k', 1025);
        var response = await Http.PutAsync($"/v1/colonies/limits/records/{longKey}", new StringContent("v"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("1024", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await Http.PutAsync($"/v1/colonies/limits/records/{longKey[..1024]}", new StringContent("v"))).StatusCode);

        // The fixture limits values to 64 KiB.
        var big = await Http.PutAsync("/v1/colonies/limits/records/big", new ByteArrayContent(new byte[65537]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, big.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/v1/colonies/limits/records/big")).StatusCode);

        // Chunked, with no Content-Length, is measured as it streams.
        var streamed = new StreamContent(new MemoryStream(new byte[70000]));
        streamed.Headers.ContentLength = null;
        using var chunked = new HttpRequestMessage(HttpMethod.Put, "/v1/colonies/limits/records/big") { Content = streamed };
        chunked.Headers.TransferEncodingChunked = true;
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, (await Http.SendAsync(chunked)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync("/v1/colonies/limits/records/big")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await Http.PutAsync("/v1/colonies/limits/records/big", new ByteArrayContent(new byte[65536]))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Put, "big", "x", ("If-Match", "7"), colony: "limits")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await Send(HttpMethod.Put, "big", "x", ("If-None-Match", "\"3\""), colony: "limits")).StatusCode);
    }

    [Fact]
    public async Task Prometheus_metrics_show_Kbl_and_Orleans_instruments()
    {
        await Http.PutAsync("/v1/colonies/metered", JsonContent.Create(new { splitKeys = 10 }));
        for (var i = 0; i < 30; i++)
        {
            (await Http.PutAsync($"/v1/colonies/metered/records/m{i:d2}", new StringContent("v"))).EnsureSuccessStatusCode();
        }

        await Http.GetAsync("/v1/colonies/metered/records/m01");
        // The records gauge is read from the leaves as they are at each scrape: while the colony divides, a record
        // can be counted by the leaf handing it over and the one receiving it, so wait until it settles at 30.
        var metrics = await Eventually.Until(
            () => Http.GetStringAsync("/metrics"),
            text => text.Contains("kbl_splits_total{", StringComparison.Ordinal) && RecordsGauge().IsMatch(text),
            TimeSpan.FromSeconds(20),
            "the split counter and 30 records of colony metered on /metrics");

        Assert.Matches(@"kbl_operations_total\{[^}]*colony=""metered""[^}]*op=""put""[^}]*\} 30", metrics);
        Assert.Contains("kbl_locality_share", metrics, StringComparison.Ordinal);
        Assert.Contains("orleans_", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_plan_shows_demand_desired_and_observed_states()
    {
        await Http.PutAsync("/v1/colonies/planned", JsonContent.Create(new { }));
        (await Http.PutAsync("/v1/colonies/planned/records/a", new StringContent("v"))).EnsureSuccessStatusCode();
        var plan = await Eventually.Until(
            () => Http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan"),
            p => p.GetProperty("desired").GetProperty("groups").EnumerateArray().Any(g => g.GetProperty("subtrees").EnumerateArray().Any(s => s.GetString() == "planned")),
            TimeSpan.FromSeconds(30), "the colony in the plan");
        Assert.Equal("off", plan.GetProperty("provider").GetString());
        var group = plan.GetProperty("desired").GetProperty("groups").EnumerateArray().Single(g => g.GetProperty("name").GetString() == "default");
        // The colony keeps two copies (the default): its group needs two nodes, whatever its load.
        Assert.Equal(2, group.GetProperty("desired").GetInt32());
        Assert.Equal("default", group.GetProperty("labels").GetProperty("kbl.io/node-group").GetString());
        Assert.Contains(plan.GetProperty("demand").EnumerateArray(), d => d.GetProperty("nodeGroup").GetString() == "default" && d.GetProperty("nodesNeeded").GetInt32() == 2);
        Assert.Contains(plan.GetProperty("decisions").EnumerateArray(), d => d.GetProperty("nodeGroup").GetString() == "default" && d.GetProperty("reason").GetString()!.Contains("redundancy floor 2", StringComparison.Ordinal));

        var generation = plan.GetProperty("desired").GetProperty("generation").GetInt64();
        var observed = new { generation, provider = "eks", groups = new[] { new { name = "default", status = "DEGRADED", desired = 1, ready = 0, issues = new[] { "Ec2SubnetInvalidConfiguration: no public IP" } } } };
        Assert.Equal(HttpStatusCode.NoContent, (await Http.PostAsync("/v1/cluster/plan/observed", JsonContent.Create(observed))).StatusCode);
        var seen = (await Http.GetFromJsonAsync<JsonElement>("/v1/cluster/plan")).GetProperty("observed");
        Assert.Equal(generation, seen.GetProperty("generation").GetInt64());
        Assert.Equal("Ec2SubnetInvalidConfiguration: no public IP", seen.GetProperty("groups")[0].GetProperty("issues")[0].GetString());
    }

    [Fact]
    public async Task Health_and_readiness_answer()
    {
        Assert.Equal(HttpStatusCode.OK, (await Http.GetAsync("/healthz")).StatusCode);
        var ready = await Http.GetFromJsonAsync<JsonElement>("/readyz");
        Assert.Equal("ready", ready.GetProperty("status").GetString());
        Assert.Equal(fixture.Silo.SiloName, ready.GetProperty("silo").GetString());
    }

    private Task<HttpResponseMessage> Send(HttpMethod method, string key, string? body, (string Name, string Value) header, string colony = "http-records")
    {
        var request = new HttpRequestMessage(method, $"/v1/colonies/{colony}/records/{key}") { Content = body is null ? null : new StringContent(body, Encoding.UTF8) };
        request.Headers.TryAddWithoutValidation(header.Name, header.Value);
        return Http.SendAsync(request);
    }

    [GeneratedRegex(@"kbl_records\{[^}]*colony=""metered""[^}]*\} 30(?:\s|$)")]
    private static partial Regex RecordsGauge();
}
