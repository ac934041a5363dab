using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kbl.Tests.Process;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Kbl.Tests.Ui;

/// <summary>
/// The living tree view at <c>/ui</c> in a real browser (Debian's chromium driven by Playwright) against a real silo
/// process: what the API says about a colony's tree is what the page shows.
/// </summary>
[Trait("Category", Category.Browser)]
public sealed class TreeViewTests(TreeViewTests.SiloAndBrowser fixture) : IClassFixture<TreeViewTests.SiloAndBrowser>, IAsyncLifetime
{
    private HttpClient Http => fixture.Http;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => fixture.CloseContextsAsync();

    [Fact(Timeout = 120_000)] // a stuck browser or driver fails the test instead of hanging the run
    public async Task A_split_seen_through_the_API_appears_on_the_page()
    {
        const string colony = "ui-split";
        (await Http.PutAsJsonAsync($"/v1/colonies/{colony}", new { splitKeys = 20 })).EnsureSuccessStatusCode();
        var (page, problems) = await fixture.NewPageAsync();
        await page.GotoAsync($"/ui?colony={colony}&interval=250ms");

        var root = page.Locator($"[data-kbl-id='{colony}/r']");
        await Expect(root).ToHaveAttributeAsync("data-role", "leaf");
        await Expect(root).ToHaveAttributeAsync("data-silo", fixture.Silo.SiloName);
        await Expect(root).ToHaveAttributeAsync("data-node-group", "default");
        await Expect(page.Locator($"[data-kbl-id^='{colony}/r.']")).ToHaveCountAsync(0);

        var written = 0;
        var tree = await Eventually.Until(
            async () =>
            {
                for (var i = 0; i < 5; i++, written++)
                {
                    (await Http.PutAsync($"/v1/colonies/{colony}/records/k{written:d4}", new StringContent($"{{\"n\":{written}}}"))).EnsureSuccessStatusCode();
                }

                return await Http.GetFromJsonAsync<JsonElement>($"/v1/colonies/{colony}/tree");
            },
            t => t.GetProperty("role").GetString() == "interior",
            TimeSpan.FromSeconds(60),
            $"the root of {colony} splitting");

        var children = tree.GetProperty("children").EnumerateArray().ToList();
        Assert.Contains(children, c => c.GetProperty("id").GetString() == $"{colony}/r.0");
        await Expect(root).ToHaveAttributeAsync("data-role", "interior");
        foreach (var child in children)
        {
            var node = page.Locator($"[data-kbl-id='{child.GetProperty("id").GetString()}']");
            await Expect(node).ToBeVisibleAsync();
            await Expect(node).ToHaveAttributeAsync("data-silo", child.GetProperty("silo").GetString()!);
            await Expect(node).ToHaveAttributeAsync("data-node-group", child.GetProperty("nodeGroup").GetString()!);
            await Expect(node.Locator("text.path")).ToHaveTextAsync(child.GetProperty("path").GetString()!);
        }

        await Expect(page.Locator($"[data-colony='{colony}'] .stats")).ToContainTextAsync($"{children.Count} leaves");
        await Expect(page.Locator("#events")).ToContainTextAsync($"{colony}/r split into {children.Count}");
        var silo = page.Locator($"[data-silo-row='{fixture.Silo.SiloName}']");
        await Expect(silo).ToContainTextAsync("default");
        await Expect(silo).ToContainTextAsync("local");
        Assert.Empty(problems);
    }

    [Fact(Timeout = 120_000)] // a stuck browser or driver fails the test instead of hanging the run
    public async Task A_hibernated_leaf_is_drawn_asleep_in_the_cold_tier_and_wakes_on_the_page()
    {
        const string colony = "ui-sleep";
        (await Http.PutAsJsonAsync($"/v1/colonies/{colony}", new { redundancy = new { mode = "none" } })).EnsureSuccessStatusCode();
        (await Http.PutAsync($"/v1/colonies/{colony}/records/a", new StringContent("1"))).EnsureSuccessStatusCode();
        var (page, problems) = await fixture.NewPageAsync();
        await page.GotoAsync($"/ui?colony={colony}&interval=250ms");
        var root = page.Locator($"[data-kbl-id='{colony}/r']");
        await Expect(root).ToHaveAttributeAsync("data-state", "active");

        (await Http.PostAsync($"/v1/colonies/{colony}/kbls/r/hibernate", null)).EnsureSuccessStatusCode();
        await Expect(root).ToHaveAttributeAsync("data-state", "hibernated");
        await Expect(root).ToHaveClassAsync(new System.Text.RegularExpressions.Regex(@"\bhibernated\b"));
        await Expect(root.Locator("text.where")).ToContainTextAsync("cold tier");
        await Expect(page.Locator($"[data-colony='{colony}'] .stats")).ToContainTextAsync("1 hibernated");
        await Expect(page.Locator("#events")).ToContainTextAsync($"{colony}/r hibernated to the cold tier");

        Assert.Equal("1", await Http.GetStringAsync($"/v1/colonies/{colony}/records/a")); // wakes it
        await Expect(root).ToHaveAttributeAsync("data-state", "active");
        await Expect(root).ToHaveAttributeAsync("data-silo", fixture.Silo.SiloName);
        await Expect(page.Locator("#events")).ToContainTextAsync($"{colony}/r woke on {fixture.Silo.SiloName}");
        Assert.Empty(problems);
    }

    [Fact(Timeout = 120_000)] // a stuck browser or driver fails the test instead of hanging the run
    public async Task A_large_colony_is_drawn_to_a_depth_with_collapsed_subtrees_and_its_hot_path()
    {
        const string colony = "ui-large";
        (await Http.PutAsJsonAsync($"/v1/colonies/{colony}", new { splitKeys = 10, mergeKeys = 1, fanOut = 2 })).EnsureSuccessStatusCode();
        for (var i = 0; i < 600; i++)
        {
            (await Http.PutAsync($"/v1/colonies/{colony}/records/k{i:d4}", new StringContent($"{{\"n\":{i}}}"))).EnsureSuccessStatusCode();
        }

        // Reads on one key make its leaf the hottest, and the busiest child at every level leads to it.
        var full = await Eventually.Until(
            async () =>
            {
                for (var i = 0; i < 40; i++)
                {
                    (await Http.GetAsync($"/v1/colonies/{colony}/records/k0590")).EnsureSuccessStatusCode();
                }

                return await Http.GetFromJsonAsync<JsonElement>($"/v1/colonies/{colony}/tree");
            },
            t => Height(t) >= 3 && Settled(t) && HotLeaf(t) is { } hot && Contains(hot, "k0590"),
            TimeSpan.FromSeconds(60),
            $"{colony} grown and hot at k0590");
        var hotLeaf = HotLeaf(full)!.Value.GetProperty("id").GetString()!;
        var (page, problems) = await fixture.NewPageAsync();
        await page.GotoAsync($"/ui?colony={colony}&depth=1&interval=250ms");

        await Expect(page.Locator($"[data-kbl-id='{colony}/r']")).ToBeVisibleAsync();
        await Expect(page.Locator($"[data-kbl-id='{hotLeaf}']")).ToHaveAttributeAsync("data-hot", "true");
        Assert.True(await page.Locator("[data-collapsed='true']").CountAsync() > 0, "subtrees below the depth are collapsed");
        var drawn = await page.Locator("g.kbl[data-kbl-id]").CountAsync();
        Assert.True(drawn < All(full).Count(), $"{drawn} KBLs drawn of {All(full).Count()}");
        await Expect(page.Locator($"[data-colony='{colony}'] .stats")).ToContainTextAsync($"{full.GetProperty("feedback").GetProperty("leaves").GetInt32()} leaves");
        Assert.Empty(problems);
    }

    private static IEnumerable<JsonElement> All(JsonElement kbl) => kbl.GetProperty("children").EnumerateArray().SelectMany(All).Prepend(kbl);

    /// <summary>Every leaf within splitKeys (10) and every interior KBL within 2 × fanOut (4) children: no division is due.</summary>
    private static bool Settled(JsonElement root) => All(root).All(k => k.GetProperty("role").GetString() == "leaf"
        ? k.GetProperty("feedback").GetProperty("keys").GetInt64() <= 10
        : k.GetProperty("children").GetArrayLength() <= 4);

    private static int Height(JsonElement kbl) => kbl.GetProperty("children").EnumerateArray().Select(c => 1 + Height(c)).DefaultIfEmpty(0).Max();

    private static double Ops(JsonElement kbl) => kbl.GetProperty("feedback").GetProperty("readsPerSecond").GetDouble() + kbl.GetProperty("feedback").GetProperty("writesPerSecond").GetDouble();

    /// <summary>The leaf at the end of the hot path: from the root, the busiest child at every level.</summary>
    private static JsonElement? HotLeaf(JsonElement root)
    {
        var kbl = root;
        while (kbl.GetProperty("children").GetArrayLength() > 0)
        {
            kbl = kbl.GetProperty("children").EnumerateArray().MaxBy(Ops);
        }

        return Ops(kbl) > 0 ? kbl : null;
    }

    private static bool Contains(JsonElement kbl, string key)
    {
        var range = kbl.GetProperty("range");
        return string.CompareOrdinal(range.GetProperty("lo").GetString(), key) <= 0 &&
            (range.GetProperty("hi").ValueKind == JsonValueKind.Null || string.CompareOrdinal(key, range.GetProperty("hi").GetString()) < 0);
    }

    [Fact(Timeout = 120_000)] // a stuck browser or driver fails the test instead of hanging the run
    public async Task The_page_sends_the_token_it_was_opened_with_on_every_API_call_and_drops_it_from_the_address_bar()
    {
        // Each wait starts after the navigation has loaded, so it sees a poll of the new document, finished. (Waiting
        // across a reload once matched a poll of the old page that the reload then cancelled, and reading the
        // headers of a cancelled request never returns in Chromium: the test hung until its timeout.)
        var (page, problems) = await fixture.NewPageAsync();
        await page.GotoAsync("/ui?token=s3cret&interval=250ms");
        Assert.Equal("Bearer s3cret", await NextApiCallAuthorization(page));
        await Expect(page).ToHaveURLAsync(new Uri(fixture.Silo.HttpAddress, "/ui?interval=250ms").ToString());

        // The tab keeps it (sessionStorage) across a reload that no longer names it.
        await page.ReloadAsync();
        Assert.Equal("Bearer s3cret", await NextApiCallAuthorization(page));

        // Another browser session opened without a token sends none.
        var (other, _) = await fixture.NewPageAsync();
        await other.GotoAsync("/ui?interval=250ms");
        Assert.Null(await NextApiCallAuthorization(other));
        Assert.Empty(problems);
    }

    [Fact(Timeout = 120_000)] // a stuck browser or driver fails the test instead of hanging the run
    public async Task The_page_is_served_at_ui_with_and_without_a_trailing_slash_with_a_strict_content_policy()
    {
        foreach (var path in new[] { "/ui", "/ui/" })
        {
            using var response = await Http.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("default-src 'none'", string.Join(' ', response.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
            Assert.Contains("data-kbl-id", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
    }

    private static bool IsApiCall(Microsoft.Playwright.IRequest request) => new Uri(request.Url).AbsolutePath.StartsWith("/v1/", StringComparison.Ordinal);

    /// <summary>The Authorization header of the page's next API call that completes (the page's own header, as it set it).</summary>
    private static async Task<string?> NextApiCallAuthorization(IPage page)
    {
        var request = await page.WaitForRequestFinishedAsync(new() { Predicate = IsApiCall });
        return request.Headers.TryGetValue("authorization", out var value) ? value : null;
    }

    /// <summary>One silo process and one headless chromium shared by the tests of this class.</summary>
    public sealed class SiloAndBrowser : IAsyncLifetime
    {
        public const string Chromium = "/usr/bin/chromium";

        private readonly string _data = Path.Combine(Path.GetTempPath(), "kbl-ui-" + Guid.NewGuid().ToString("N")[..8]);
        private readonly List<IBrowserContext> _contexts = [];
        private IPlaywright? _playwright;

        public SiloProcess Silo { get; private set; } = null!;

        public HttpClient Http { get; private set; } = null!;

        public IBrowser Browser { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            if (!File.Exists(Chromium))
            {
                throw new InvalidOperationException(
                    $"the tree view tests drive Debian's chromium at {Chromium}, and it is not installed: run scripts/install-test-deps.sh (apt-get install -y chromium)");
            }

            SetDefaultExpectTimeout(20_000);
            // No local provider: colonies keep two copies, and the second silo it would start is not what this is about.
            Silo = new SiloProcess(_data, "ui-silo", new Dictionary<string, string> { ["Kbl:Provisioning:Provider"] = "off" });
            var silo = Silo.StartAsync();
            // Bounded, so a stuck driver or browser start fails the tests with a message instead of hanging the run.
            _playwright = await Playwright.CreateAsync().WaitAsync(TimeSpan.FromMinutes(1));
            Browser = await _playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = Chromium,
                Headless = true,
                Timeout = 60_000,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
            });
            await silo;
            Http = new HttpClient { BaseAddress = Silo.HttpAddress };
        }

        /// <summary>
        /// A page in a fresh browser context (its own sessionStorage); the list collects uncaught script errors and
        /// console errors (a script or style the page's content policy blocks shows up there), which tests expect to stay empty.
        /// </summary>
        public async Task<(IPage Page, List<string> Problems)> NewPageAsync()
        {
            var context = await Browser.NewContextAsync(new() { BaseURL = Silo.HttpAddress.ToString(), ViewportSize = new() { Width = 1400, Height = 900 } });
            _contexts.Add(context);
            var page = await context.NewPageAsync();
            var problems = new List<string>();
            page.PageError += (_, error) => problems.Add($"page error: {error}");
            page.Console += (_, message) =>
            {
                if (message.Type == "error")
                {
                    problems.Add($"console: {message.Text}");
                }
            };
            return (page, problems);
        }

        /// <summary>Closes the pages a test opened: they poll until closed, loading the silo and the browser for the tests after.</summary>
        public async Task CloseContextsAsync()
        {
            foreach (var context in _contexts)
            {
                await context.CloseAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }

            _contexts.Clear();
        }

        public async Task DisposeAsync()
        {
            Http?.Dispose();
            if (Browser is not null)
            {
                await Browser.CloseAsync().WaitAsync(TimeSpan.FromSeconds(30));
            }

            _playwright?.Dispose();
            if (Silo is not null)
            {
                await Silo.DisposeAsync();
            }

            try
            {
                Directory.Delete(_data, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
