using System.Globalization;
using System.Text;
using CsCheck;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kbl.Api.V1;
using Raw = Kbl.Tests.Process.GatewayAuthTests.Raw;

namespace Kbl.Tests.Process;

/// <summary>
/// Random and mutated requests against a real silo, over HTTP (raw sockets, so paths and percent-encodings arrive as
/// written) and gRPC: methods, paths, encodings, headers, bodies, genomes, aggregate specs, cursors, tree parameters
/// and observed-state reports. Whatever arrives, the silo answers without a 5xx, every refusal says why, the silo
/// keeps running, and a record written before (in a colony no generated request names) is unchanged.
/// <para>
/// The suite sends <see cref="DefaultHttpRequests"/> HTTP requests and a third as many gRPC calls (about a minute);
/// <c>KBL_FUZZ_REQUESTS=200000</c> runs longer, as the README says. A failure prints CsCheck's seed: rerun with
/// <c>CsCheck_Seed=…</c>.
/// </para>
/// </summary>
[Trait("Category", Category.Process)]
public sealed class GatewayFuzzTests(GatewayFuzzTests.FuzzSilo fixture) : IClassFixture<GatewayFuzzTests.FuzzSilo>
{
    private const int DefaultHttpRequests = 4_000;
    private const string Token = "fuzz-token-31d7-aa90";
    private const string Sentinel = "keepsake";
    private static readonly (string Name, string Value) Auth = ("Authorization", $"Bearer {Token}");

    private static int HttpRequests =>
        int.TryParse(Environment.GetEnvironmentVariable("KBL_FUZZ_REQUESTS"), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : DefaultHttpRequests;

    [Fact]
    public async Task Random_http_requests_get_an_answer_below_500_with_a_reason_and_change_nothing_they_may_not()
    {
        var sent = 0;
        await Requests.SampleAsync(async request =>
        {
            Interlocked.Increment(ref sent);
            GatewayAuthTests.Raw answer;
            try
            {
                answer = await Raw.Send(fixture.Silo.HttpPort, request.Method, request.Path, request.Body, request.Headers);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{request}\n→ no answer in 30 s; the silo's log ends:\n{Tail(fixture.Silo.Output)}");
            }

            Assert.True(answer.Status < 500 || (answer.Status == 503 && NoSiloOfGroup(answer.Body) && answer.Header("Retry-After") is not null),
                $"{request}\n→ {answer.Status}\n{answer.Head}\n{Truncate(answer.Body)}");
            if (answer.Status >= 400 && request.Method != "HEAD" && !KestrelRefuses(request))
            {
                Assert.True(answer.Body.Trim().Length > 0, $"{request}\n→ {answer.Status} without a reason\n{answer.Head}");
            }
        }, iter: HttpRequests, threads: 4, print: r => r.ToString());

        Assert.Equal(HttpRequests, sent);
        await fixture.AssertIntact();
    }

    [Fact]
    public async Task Random_grpc_calls_get_a_status_that_is_not_a_server_fault_with_a_reason_and_change_nothing_they_may_not()
    {
        using var channel = GrpcChannel.ForAddress(fixture.Silo.GrpcAddress);
        var client = new ColonyService.ColonyServiceClient(channel);
        await GrpcCalls.SampleAsync(async call =>
        {
            try
            {
                await call.Run(client, call.Authorized ? new Metadata { { "authorization", $"Bearer {Token}" } } : []);
            }
            catch (RpcException e)
            {
                Assert.False(e.StatusCode is StatusCode.Internal or StatusCode.Unknown or StatusCode.DataLoss || (e.StatusCode == StatusCode.Unavailable && !NoSiloOfGroup(e.Status.Detail)),
                    $"{call}\n→ {e.StatusCode}: {e.Status.Detail}");
                Assert.False(string.IsNullOrWhiteSpace(e.Status.Detail), $"{call}\n→ {e.StatusCode} without a reason");
            }
        }, iter: Math.Max(1, HttpRequests / 3), threads: 4, print: c => c.ToString());

        await fixture.AssertIntact();
    }

    /// <summary>
    /// The one 5xx a valid request may get: a genome that puts a colony in a node group with no silo up (the
    /// placement policy waits <c>Kbl:Placement:WaitForGroup</c>, then answers 503 with Retry-After and stores
    /// nothing). Capacity, not the request, is missing; the answer says which group.
    /// </summary>
    private static bool NoSiloOfGroup(string reason) => reason.Contains("no silo of node group", StringComparison.Ordinal);

    /// <summary>
    /// Kestrel itself refuses a path with an encoded NUL (400, empty body, the connection closed) before any of the
    /// application runs; nothing can add a reason there.
    /// </summary>
    private static bool KestrelRefuses(HttpFuzzRequest request) =>
        request.Path.Split('?')[0].Contains("%00", StringComparison.Ordinal);

    private static string Tail(string log) => log.Length > 60000 ? log[^60000..] : log;

    private static string Truncate(string text) => text.Length > 2000 ? text[..2000] + "…" : text;

    // ---- HTTP requests ----

    /// <summary>One HTTP request as it goes on the wire (the framing stays valid: a malformed request line is Kestrel's business, not the API's).</summary>
    public sealed record HttpFuzzRequest(string Method, string Path, string? Body, (string Name, string Value)[] Headers)
    {
        public override string ToString() =>
            $"{Method} {Path}\n{string.Join("\n", Headers.Select(h => $"{h.Name}: {h.Value}"))}\n\n{(Body is null ? "" : Truncate(Body))}";
    }

    private static readonly string[] Colonies = ["fz-a", "fz-b", "fz-c"];

    /// <summary>A colony name: mostly one of the fuzzed colonies, sometimes a bad or odd one (never the sentinel's).</summary>
    private static readonly Gen<string> Colony = Gen.Frequency(
        (6, Gen.OneOf(Colonies)),
        (1, Gen.OneOf("", "A", "..", ".", "%2e%2e", "fz-a%00", "fz-a%2F", "%C3%BC", "%FF%FE", new string('a', 70), "fz%20a", "FZ-A", "-", "fz-a;x")),
        (1, Text(12)));

    /// <summary>Percent-encoded bytes (any byte: invalid UTF-8 too), plain characters, stray percent signs.</summary>
    private static Gen<string> Text(int maxBytes) =>
        Gen.Select(Gen.Byte.Array[0, maxBytes], Gen.Int[0, 3]).Select((bytes, style) => Encode(bytes, style));

    private static string Encode(byte[] bytes, int style)
    {
        var text = new StringBuilder();
        foreach (var b in bytes)
        {
            var c = (char)b;
            var plain = style switch
            {
                1 => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~',
                2 or 3 => b is > 0x20 and < 0x7f && c is not ('?' or '#' or '%' or '/'),
                _ => false,
            };
            text.Append(plain ? c.ToString() : $"%{b:X2}");
            if (style == 3 && b % 7 == 0)
            {
                text.Append(b % 2 == 0 ? "%" : "%z");
            }
        }

        return text.ToString();
    }

    private static readonly Gen<string> Key = Gen.Frequency(
        (4, Gen.Int[0, 999].Select(i => $"k{i:d3}")),
        (3, Text(40)),
        (1, Gen.Select(Text(12), Text(12), Text(12)).Select((a, b, c) => $"{a}/{b}/{c}")),
        (1, Gen.OneOf("", "..", "../../v1/colonies", "%2e%2e/x", "a//b", new string('k', 1100), "%00", "%ED%A0%80")));

    private static readonly Gen<string> Number = Gen.Frequency(
        (4, Gen.Int[-5, 2000].Select(i => i.ToString(CultureInfo.InvariantCulture))),
        (1, Gen.OneOf("0", "-1", "2147483648", "99999999999999999999", "1e3", "1.5", "", "abc", "%31%30", "0x10", "%207", "NaN")));

    private static readonly Gen<(string Name, string Value)> Header = Gen.OneOf(
        Gen.OneOf("application/json", "text/plain", "application/octet-stream", "application/grpc", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json; charset=utf-16", "*/*", "")
            .Select(v => ("Content-Type", v)),
        Gen.OneOf("*", "\"1\"", "\"0\"", "\"-1\"", "W/\"1\"", "1", "\"99999999999999999999\"", "\"abc\"", "", "\"1\", \"2\"").Select(v => ("If-Match", v)),
        Gen.OneOf("*", "\"1\"", "x", "").Select(v => ("If-None-Match", v)),
        Gen.OneOf("application/json", "application/xml", "*/*", "text/html").Select(v => ("Accept", v)),
        Gen.OneOf("gzip", "br", "identity", "x").Select(v => ("Accept-Encoding", v)),
        Gen.OneOf("127.0.0.1", "evil.example", "[::1]").Select(v => ("X-Forwarded-Host", v)));

    private static readonly string[] GenomeFields =
        ["fanOut", "splitKeys", "splitBytes", "splitOpsPerSecond", "mergeKeys", "mergeBytes", "mergeOpsPerSecond", "hysteresisSeconds", "nodeGroup"];

    /// <summary>A JSON value of any kind, with the awkward ones well represented.</summary>
    private static readonly Gen<string> Scalar = Gen.OneOf(
        Gen.Int[-10, 100_000].Select(i => i.ToString(CultureInfo.InvariantCulture)),
        Gen.OneOf("null", "true", "false", "0", "-0", "1.5", "1e308", "-1e308", "9223372036854775808", "-9223372036854775809", "1E-400", "\"\"", "\"default\"",
            "\"\\u0000\"", "\"\\ud800\"", "\"x\"", "[]", "{}", "[1,2]", "{\"a\":1}", "\"count\"", "\"sum\"", "\"total\""),
        Text(8).Select(s => JsonString(Uri.UnescapeDataString(s))));

    private static readonly Gen<string> Genome = Gen.Select(
            Gen.OneOf(GenomeFields).Select(Gen.Frequency((5, Gen.Int[2, 50].Select(i => i.ToString(CultureInfo.InvariantCulture))), (3, Scalar))).Array[0, 6],
            Gen.Int[0, 9])
        .Select((fields, extra) =>
        {
            var members = fields.Select(f => $"{JsonString(f.Item1)}:{f.Item2}").ToList();
            if (extra == 0)
            {
                members.Add("\"unknownField\":1");
            }

            return "{" + string.Join(",", members) + "}";
        });

    private static readonly Gen<string> AggregateSpec = Gen.Select(
            Gen.OneOf("\"count\"", "\"sum\"", "\"min\"", "\"max\"", "\"avg\"", "\"median\"", "1", "null", "\"\""),
            Gen.Frequency((3, Gen.OneOf("\"total\"", "\"n\"")), (1, Scalar)),
            Gen.Frequency((3, Key.Select(k => JsonString(k))), (1, Scalar)),
            Gen.Int[0, 7])
        .Select((op, field, bound, shape) => shape switch
        {
            0 => $"{{\"op\":{op}}}",
            1 => $"{{\"op\":{op},\"field\":{field}}}",
            2 => $"{{\"op\":{op},\"field\":{field},\"from\":{bound}}}",
            3 => $"{{\"op\":{op},\"to\":{bound},\"extra\":[1]}}",
            4 => $"[{op}]",
            _ => $"{{\"op\":{op},\"field\":{field},\"from\":{bound},\"to\":{bound}}}",
        });

    private static readonly Gen<string> Observed = Gen.Select(Number, Scalar, Gen.Int[0, 4], Scalar)
        .Select((generation, provider, groups, status) => $"{{\"generation\":{(generation.Length == 0 ? "0" : generation)},\"provider\":{provider},\"groups\":[{string.Join(",", Enumerable.Range(0, groups).Select(g => $"{{\"name\":\"g{g}\",\"desired\":{g - 1},\"ready\":{g},\"status\":{status}}}"))}]}}");

    /// <summary>A JSON body, sometimes cut short or with a character changed (still a valid HTTP body).</summary>
    private static Gen<string> Mutated(Gen<string> json) => Gen.Select(json, Gen.Int[0, 9], Gen.Int[0, 1000], Gen.Char['\0', '\u00ff'])
        .Select((text, how, at, c) => how switch
        {
            0 when text.Length > 0 => text[..(at % text.Length)],
            1 when text.Length > 0 => text.Remove(at % text.Length, 1).Insert(at % text.Length, c.ToString()),
            2 => text + text,
            _ => text,
        });

    private static readonly Gen<string> Value = Gen.Frequency(
        (5, Gen.Int[0, 1_000_000].Select(n => $"{{\"total\":{n},\"n\":\"x\"}}")),
        (2, Gen.Byte.Array[0, 200].Select(b => Encoding.Latin1.GetString(b))),
        (1, Gen.OneOf("", new string('v', 70_000))));

    private static readonly Gen<string> ScanQuery = Gen.Select(
            Gen.Frequency((2, Key.Select(k => "from=" + k)), (1, Gen.Const(""))),
            Gen.Frequency((2, Key.Select(k => "to=" + k)), (1, Gen.Const(""))),
            Gen.Frequency((2, Number.Select(n => "limit=" + n)), (1, Gen.Const(""))),
            Gen.Frequency((1, Text(30).Select(t => "cursor=" + t)), (3, Gen.Const(""))),
            Gen.Frequency((1, Gen.OneOf("from=a&from=b", "x=1", "limit", "=", "&&", "token=" + Token)), (5, Gen.Const(""))))
        .Select((a, b, c, d, e) => string.Join("&", new[] { a, b, c, d, e }.Where(p => p.Length > 0)));

    private static readonly Gen<string> TreeQuery = Gen.Select(Number, Gen.OneOf("", "true", "false", "1", "yes"), Gen.OneOf("", "flat", "nested", "FLAT"), Gen.Int[0, 7])
        .Select((depth, hot, format, which) => string.Join("&", new[]
        {
            (which & 1) == 0 ? "depth=" + depth : "",
            (which & 2) == 0 ? "hot=" + hot : "",
            (which & 4) == 0 ? "format=" + format : "",
        }.Where(p => p.Length > 0)));

    /// <summary>What the request is for, before the method and the token are perhaps changed.</summary>
    private static readonly Gen<(string Method, string Path, string? Body)> Target = Gen.Frequency(
        (6, Gen.Select(Colony, Key).Select((c, k) => ("GET", $"/v1/colonies/{c}/records/{k}", (string?)null))),
        (6, Gen.Select(Colony, Key, Value).Select((c, k, v) => ("PUT", $"/v1/colonies/{c}/records/{k}", (string?)v))),
        (2, Gen.Select(Colony, Key).Select((c, k) => ("DELETE", $"/v1/colonies/{c}/records/{k}", (string?)null))),
        (4, Gen.Select(Colony, ScanQuery).Select((c, q) => ("GET", $"/v1/colonies/{c}/records?{q}", (string?)null))),
        (3, Gen.Select(Colony, Mutated(AggregateSpec)).Select((c, s) => ("POST", $"/v1/colonies/{c}/aggregate", (string?)s))),
        (2, Gen.Select(Colony, TreeQuery).Select((c, q) => ("GET", $"/v1/colonies/{c}/tree?{q}", (string?)null))),
        (3, Gen.Select(Colony, Mutated(Genome)).Select((c, g) => ("PUT", $"/v1/colonies/{c}", (string?)g))),
        (1, Colony.Select(c => ("GET", $"/v1/colonies/{c}", (string?)null))),
        (1, Gen.Select(Colony, Gen.Frequency((2, Gen.OneOf("r", "r.0", "r.1.0")), (1, Text(10))), Mutated(Scalar.Select(v => $"{{\"nodeGroup\":{v}}}")))
            .Select((c, p, b) => ("POST", $"/v1/colonies/{c}/kbls/{p}/move", (string?)b))),
        (1, Mutated(Observed).Select(o => ("POST", "/v1/cluster/plan/observed", (string?)o))),
        (1, Gen.OneOf("/v1/colonies", "/v1/cluster/silos", "/v1/cluster/locality", "/v1/cluster/plan", "/healthz", "/readyz", "/ui", "/v1", "/v2/colonies", "/", "/kbl.v1.ColonyService/Get")
            .Select(p => ("GET", p, (string?)null))),
        (1, Gen.Select(Text(10), Text(10)).Select((a, b) => ("GET", $"/v1/{a}/{b}", (string?)null))));

    private static readonly Gen<HttpFuzzRequest> Requests = Gen.Select(
            Target,
            Gen.Frequency((9, Gen.Const("")), (1, Gen.OneOf("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "FOO"))),
            Gen.Frequency((9, Gen.Const(0)), (1, Gen.Int[1, 3])),
            Header.Array[0, 3])
        .Select((target, method, auth, headers) =>
        {
            var all = new List<(string Name, string Value)>(headers);
            all.Add(auth switch
            {
                0 => Auth,
                1 => ("Authorization", "Bearer wrong"),
                2 => ("Authorization", Token),
                _ => ("X-Nothing", "1"),
            });
            var (path, body) = (target.Path, target.Body);
            return new HttpFuzzRequest(method.Length > 0 ? method : target.Method, path, body, [.. all.DistinctBy(h => h.Name, StringComparer.OrdinalIgnoreCase)]);
        })
        .Where(r => !r.Path.Contains(Sentinel, StringComparison.OrdinalIgnoreCase));

    private static string JsonString(string text) => System.Text.Json.JsonSerializer.Serialize(text);

    // ---- gRPC calls ----

    /// <summary>One gRPC call, described for the failure message.</summary>
    public sealed record GrpcFuzzCall(string Description, bool Authorized, Func<ColonyService.ColonyServiceClient, Metadata, Task> Run)
    {
        public override string ToString() => $"{Description} (token: {Authorized})";
    }

    private static readonly Gen<string> GrpcText = Gen.Frequency(
        (4, Gen.Int[0, 999].Select(i => $"k{i:d3}")),
        (2, Gen.String[Gen.Char, 0, 20]),
        (1, Gen.OneOf("", "..", "/", "\u0000", "\ud800", new string('k', 1100), "fz-a/records")));

    private static readonly Gen<string> GrpcColony = Gen.Frequency((6, Gen.OneOf(Colonies)), (1, GrpcText));

    private static readonly Gen<Condition?> GrpcCondition = Gen.Frequency(
        (4, Gen.Const((Condition?)null)),
        (1, Gen.Long[-2, 50].Select(v => (Condition?)new Condition { IfMatch = v })),
        (1, Gen.Const((Condition?)new Condition { IfNoneMatch = true })),
        (1, Gen.Long[-2, 50].Select(v => (Condition?)new Condition { IfMatch = v, IfNoneMatch = true })));

    private static readonly Gen<GrpcFuzzCall> GrpcCalls = Gen.Select(
            Gen.Frequency(
                (5, Gen.Select(GrpcColony, GrpcText, Gen.Byte.Array[0, 300], GrpcCondition).Select((c, k, v, cond) => Call($"Put {c}/{k} ({v.Length} bytes) {cond}", async (client, m) =>
                    await client.PutAsync(new PutRequest { Colony = c, Key = k, Value = ByteString.CopyFrom(v), Condition = cond }, m)))),
                (5, Gen.Select(GrpcColony, GrpcText).Select((c, k) => Call($"Get {c}/{k}", async (client, m) => await client.GetAsync(new GetRequest { Colony = c, Key = k }, m)))),
                (2, Gen.Select(GrpcColony, GrpcText, GrpcCondition).Select((c, k, cond) => Call($"Delete {c}/{k} {cond}", async (client, m) =>
                    await client.DeleteAsync(new DeleteRequest { Colony = c, Key = k, Condition = cond }, m)))),
                (3, Gen.Select(GrpcColony, GrpcText, GrpcText, Gen.Int[-3, 2000]).Select((c, from, to, limit) => Call($"Scan {c} [{from}, {to}) limit {limit}", async (client, m) =>
                {
                    using var scan = client.Scan(new ScanRequest { Colony = c, From = from, To = to, Limit = limit }, m);
                    var read = 0;
                    while (await scan.ResponseStream.MoveNext() && ++read < 5_000)
                    {
                    }
                }))),
                (2, Gen.Select(GrpcColony, GrpcText, Gen.OneOf("count", "sum", "min", "max", "avg", "", "median", "COUNT"), Gen.OneOf("total", "n", "", "x.y")).Select((c, from, op, field) =>
                    Call($"Aggregate {c} from {from} {op}({field})", async (client, m) => await client.AggregateAsync(new AggregateRequest { Colony = c, From = from, Op = op, Field = field }, m)))),
                (2, Gen.Select(GrpcColony, Gen.Int[-3, 5000], Gen.Bool, Gen.Bool).Select((c, depth, hot, flat) => Call($"GetTree {c} depth {depth} hot {hot} flat {flat}", async (client, m) =>
                    await client.GetTreeAsync(new GetTreeRequest { Colony = c, Depth = depth, HotPath = hot, Flat = flat }, m)))),
                (2, Gen.Select(GrpcColony, Mutated(Genome)).Select((c, g) => Call($"PutColony {c} {g}", async (client, m) =>
                    await client.PutColonyAsync(new PutColonyRequest { Colony = c, GenomeJson = g }, m)))),
                (1, GrpcColony.Select(c => Call($"GetColony {c}", async (client, m) => await client.GetColonyAsync(new GetColonyRequest { Colony = c }, m))))),
            Gen.Frequency((9, Gen.Const(true)), (1, Gen.Const(false))))
        .Select((call, authorized) => call with { Authorized = authorized })
        .Where(c => !c.Description.Contains(Sentinel, StringComparison.OrdinalIgnoreCase));

    private static GrpcFuzzCall Call(string description, Func<ColonyService.ColonyServiceClient, Metadata, Task> run) => new(description, true, run);

    /// <summary>A real silo with a token, the fuzzed colonies (small split thresholds, so they divide under the fuzz) and a sentinel record nobody may touch.</summary>
    public sealed class FuzzSilo : SiloProcessFixture
    {
        private string _version = "";

        protected override string Name => "fuzz-silo";

        protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
        {
            ["Kbl:Auth:Token"] = Token,
            ["Kbl:Placement:WaitForGroup"] = "00:00:01",
        };

        protected override async Task Prepare()
        {
            foreach (var colony in Colonies)
            {
                Assert.Equal(201, (await Raw.Send(Silo.HttpPort, "PUT", $"/v1/colonies/{colony}", "{\"splitKeys\":40,\"mergeKeys\":10}", Auth)).Status);
            }

            Assert.Equal(201, (await Raw.Send(Silo.HttpPort, "PUT", $"/v1/colonies/{Sentinel}", "{}", Auth)).Status);
            var put = await Raw.Send(Silo.HttpPort, "PUT", $"/v1/colonies/{Sentinel}/records/kept", "{\"total\":42}", Auth);
            Assert.Equal(200, put.Status);
            _version = put.Header("ETag")!;
        }

        /// <summary>The silo still runs, answers its probes, and the sentinel record is as it was written.</summary>
        public async Task AssertIntact()
        {
            Assert.False(Silo.HasExited, $"the silo exited:\n{Silo.Output}");
            Assert.Equal(200, (await Raw.Send(Silo.HttpPort, "GET", "/healthz", null)).Status);
            var kept = await Raw.Send(Silo.HttpPort, "GET", $"/v1/colonies/{Sentinel}/records/kept", null, Auth);
            Assert.Equal((200, "{\"total\":42}", _version), (kept.Status, kept.Body, kept.Header("ETag")));
            var genome = await Raw.Send(Silo.HttpPort, "GET", $"/v1/colonies/{Sentinel}", null, Auth);
            Assert.Equal(200, genome.Status);
        }
    }
}
