using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;

namespace Kbl.Tests.Process;

/// <summary>
/// Keys in order — the most common keys there are — through a real silo's HTTP API: 20,000 ascending and 5,000
/// descending keys with <c>splitKeys: 100</c> make shallow trees (height ≤ 8), written by 8 writers while the tree
/// reshapes; the tree endpoint answers with valid JSON in every form; scans and aggregates are exact; and every
/// acknowledged write reads back as acknowledged, never older.
/// </summary>
[Collection(SiloProcessCollection.Name)]
[Trait("Category", Category.Process)]
public sealed class BalancedGrowthTests(SiloProcessFixture fixture)
{
    private HttpClient Http => fixture.Http;

    [Theory]
    [InlineData("ascending", 20_000, false)]
    [InlineData("descending", 5_000, true)]
    public async Task Keys_in_order_make_a_shallow_tree_and_lose_nothing(string colony, int count, bool descending)
    {
        (await Http.PutAsJsonAsync($"/v1/colonies/{colony}", new { splitKeys = 100, mergeKeys = 10 })).EnsureSuccessStatusCode();
        var order = Enumerable.Range(0, count).Select(i => descending ? count - 1 - i : i).ToList();

        // Eight writers take turns along the order, so the keys arrive (nearly) in order while the tree reshapes.
        // Each key has one writer; every acknowledged version is kept, and a read right after must not be older.
        var acknowledged = new ConcurrentDictionary<string, long>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
        {
            for (var i = w; i < order.Count; i += 8)
            {
                var key = $"o{order[i]:d6}";
                var put = await Http.PutAsync($"/v1/colonies/{colony}/records/{key}", new StringContent($"{{\"n\":{order[i]}}}"));
                Assert.True(put.IsSuccessStatusCode, $"PUT {key}: {(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
                var version = long.Parse(put.Headers.ETag!.Tag.Trim('"'));
                acknowledged[key] = version;
                if (i % 16 == w)
                {
                    var read = await Http.GetAsync($"/v1/colonies/{colony}/records/{key}");
                    Assert.True(read.IsSuccessStatusCode, $"GET {key}: {(int)read.StatusCode}");
                    Assert.True(long.Parse(read.Headers.ETag!.Tag.Trim('"')) >= version, $"{key} read older than acknowledged");
                }
            }
        })));

        // Divisions finish just after the writes; then the tree is within its thresholds everywhere.
        var tree = await Eventually.Until(
            () => Http.GetFromJsonAsync<JsonElement>($"/v1/colonies/{colony}/tree"),
            t => All(t).All(k => k.GetProperty("role").GetString() == "leaf" ? k.GetProperty("feedback").GetProperty("keys").GetInt64() <= 100 : k.GetProperty("children").GetArrayLength() <= 8),
            TimeSpan.FromSeconds(60),
            $"{colony} within its thresholds");
        var leaves = All(tree).Where(k => k.GetProperty("role").GetString() == "leaf").ToList();
        var height = All(tree).Max(k => k.GetProperty("depth").GetInt32());
        Assert.True(height <= 8, $"height {height} with {leaves.Count} leaves");
        Assert.True(leaves.Count >= count / 100, $"{leaves.Count} leaves");
        // KBL paths stay short: a segment per level at most, and the tree is shallow.
        var longest = All(tree).Select(k => k.GetProperty("path").GetString()!).MaxBy(p => p.Length)!;
        Assert.True(longest.Split('.').Length <= height + 1 && longest.Length <= 48, $"longest path {longest}");

        // The other forms of the tree: flat, and the top levels with the hot path.
        var flat = await Http.GetFromJsonAsync<JsonElement>($"/v1/colonies/{colony}/tree?format=flat");
        Assert.Equal(All(tree).Count(), flat.GetProperty("kbls").GetArrayLength());
        // Collapsed subtrees stand for themselves with their last feedback reports, a period old at most.
        var top = await Eventually.Until(
            () => Http.GetFromJsonAsync<JsonElement>($"/v1/colonies/{colony}/tree?depth=1&hot=true"),
            t => t.GetProperty("feedback").GetProperty("keys").GetInt64() == count,
            TimeSpan.FromSeconds(30),
            "the summarised tree counting every key");
        Assert.True(All(top).Max(k => k.GetProperty("depth").GetInt32()) == height, "the hot path reaches a leaf at the bottom");
        Assert.True(All(top).Count() < All(tree).Count(), "the summarised tree is smaller than the whole");

        var aggregate = await (await Http.PostAsJsonAsync($"/v1/colonies/{colony}/aggregate", new { op = "count" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(count, aggregate.GetProperty("records").GetInt64());
        var sum = await (await Http.PostAsJsonAsync($"/v1/colonies/{colony}/aggregate", new { op = "sum", field = "n" })).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal((double)count * (count - 1) / 2, sum.GetProperty("value").GetDouble());

        // A full scan returns every key once, in order, at its acknowledged version.
        var scanned = new List<(string Key, long Version)>();
        string? cursor = null;
        do
        {
            var page = await Http.GetFromJsonAsync<JsonElement>($"/v1/colonies/{colony}/records?limit=1000{(cursor is null ? "" : $"&cursor={cursor}")}");
            scanned.AddRange(page.GetProperty("records").EnumerateArray().Select(r => (r.GetProperty("key").GetString()!, r.GetProperty("version").GetInt64())));
            cursor = page.GetProperty("next").GetString();
        }
        while (cursor is not null);

        Assert.Equal(acknowledged.Keys.Order(StringComparer.Ordinal), scanned.Select(s => s.Key));
        Assert.All(scanned, s => Assert.Equal(acknowledged[s.Key], s.Version));
    }

    private static IEnumerable<JsonElement> All(JsonElement kbl) =>
        kbl.GetProperty("children").EnumerateArray().SelectMany(All).Prepend(kbl);
}
