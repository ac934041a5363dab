using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kbl.Api.V1;

namespace Kbl.Tests.Process;

/// <summary>
/// A silo with <c>Kbl:Auth:Token</c> set keeps every door but the health probes shut: HTTP, gRPC, the dashboard,
/// <c>/ui</c> and the cluster endpoints refuse a request without the token, with a wrong one, with the token in the
/// wrong place, and with header and path tricks — and a refused request changes nothing.
/// Requests go over raw sockets where a client library would tidy the request (dot segments, content types).
/// </summary>
[Trait("Category", Category.Process)]
public sealed class GatewayAuthTests(GatewayAuthTests.TokenSilo fixture) : IClassFixture<GatewayAuthTests.TokenSilo>
{
    private const string Token = "right-token-6f1c";

    /// <summary>Every protected route, with a body where it takes one.</summary>
    public static TheoryData<string, string, string?> ProtectedRoutes => new()
    {
        { "GET", "/v1/colonies", null },
        { "PUT", "/v1/colonies/intruder", "{}" },
        { "GET", "/v1/colonies/guarded", null },
        { "PUT", "/v1/colonies/guarded", "{\"splitKeys\":7}" },
        { "GET", "/v1/colonies/guarded/records/secret", null },
        { "PUT", "/v1/colonies/guarded/records/secret", "overwritten" },
        { "DELETE", "/v1/colonies/guarded/records/secret", null },
        { "GET", "/v1/colonies/guarded/records?from=a&to=z", null },
        { "POST", "/v1/colonies/guarded/aggregate", "{\"op\":\"count\"}" },
        { "GET", "/v1/colonies/guarded/tree", null },
        { "POST", "/v1/colonies/guarded/kbls/r/move", "{\"nodeGroup\":\"elsewhere\"}" },
        { "GET", "/v1/colonies/guarded/kbls/r/copies", null },
        { "GET", "/v1/cluster/silos", null },
        { "GET", "/v1/cluster/locality", null },
        { "GET", "/v1/cluster/plan", null },
        { "POST", "/v1/cluster/plan/observed", "{\"generation\":0,\"provider\":\"x\",\"groups\":[]}" },
        { "GET", "/dashboard/", null },
        { "GET", "/dashboard", null },
        { "GET", "/ui", null },
        { "GET", "/no/such/route", null },
    };

    [Theory]
    [MemberData(nameof(ProtectedRoutes))]
    public async Task A_protected_route_refuses_a_request_without_the_right_token(string method, string path, string? body)
    {
        var refusals = new List<(string How, Raw Answer)>
        {
            ("no token", await Send(method, path, body)),
            ("a wrong token", await Send(method, path, body, ("Authorization", "Bearer wrong-token"))),
            ("the token with a suffix", await Send(method, path, body, ("Authorization", $"Bearer {Token}x"))),
            ("an empty bearer", await Send(method, path, body, ("Authorization", "Bearer "))),
            ("the token as Basic credentials", await Send(method, path, body, ("Authorization", $"Basic {Convert.ToBase64String(Encoding.UTF8.GetBytes(Token))}"))),
            ("the token without a scheme", await Send(method, path, body, ("Authorization", Token))),
            ("the token in another header", await Send(method, path, body, ("X-Api-Key", Token))),
            ("a wrong cookie", await Send(method, path, body, ("Cookie", "kbl_token=wrong-token"))),
            ("the token cookie under another name", await Send(method, path, body, ("Cookie", $"token={Token}"))),
            ("a gRPC content type (the old hole)", await Send(method, path, body, ("Content-Type", "application/grpc"))),
            ("a gRPC+proto content type", await Send(method, path, body, ("Content-Type", "application/grpc+proto"))),
            ("a gRPC-web content type", await Send(method, path, body, ("Content-Type", "application/grpc-web"))),
        };
        if (!path.StartsWith("/ui", StringComparison.Ordinal) && !path.StartsWith("/dashboard", StringComparison.Ordinal))
        {
            // ?token= is for the pages a browser opens by address, not for the API.
            refusals.Add(("the token in the query string", await Send(method, path + (path.Contains('?') ? "&" : "?") + $"token={Token}", body)));
        }

        foreach (var (how, answer) in refusals)
        {
            Assert.True(answer.Status == 401, $"{method} {path} with {how}: expected 401, got {answer.Status}\n{answer.Head}");
            Assert.Contains("needs a bearer token", answer.Body, StringComparison.Ordinal);
        }

        await AssertNothingChanged();
    }

    [Theory]
    [InlineData("GET", "/V1/COLONIES")]
    [InlineData("GET", "/v1/Colonies/guarded/records/secret")]
    [InlineData("GET", "/%76%31/colonies/guarded/records/secret")]
    [InlineData("GET", "/v1/colonies/guarded%2Frecords%2Fsecret")]
    [InlineData("GET", "//v1/colonies")]
    [InlineData("GET", "/v1//colonies/guarded/records/secret")]
    [InlineData("GET", "/./v1/colonies")]
    [InlineData("GET", "/healthz/../v1/colonies/guarded/records/secret")]
    [InlineData("GET", "/healthz/%2E%2E/v1/colonies/guarded/records/secret")]
    [InlineData("GET", "/healthz%2F..%2Fv1%2Fcolonies")]
    [InlineData("GET", "/readyz/../../v1/cluster/plan")]
    [InlineData("GET", "/metrics/../dashboard/")]
    [InlineData("GET", "/ui/../v1/colonies")]
    [InlineData("GET", "/v1/colonies/guarded/records/secret?token=wrong")]
    [InlineData("HEAD", "/v1/colonies/guarded/records/secret")]
    [InlineData("OPTIONS", "/v1/colonies/guarded/records/secret")]
    [InlineData("TRACE", "/v1/colonies/guarded/records/secret")]
    [InlineData("PATCH", "/v1/colonies/guarded/records/secret")]
    [InlineData("POST", "/v1/colonies/guarded/records/secret")]
    [InlineData("PUT", "/V1/colonies/guarded/records/secret")]
    [InlineData("DELETE", "/v1/colonies/GUARDED/../guarded/records/secret")]
    [InlineData("POST", "/kbl.v1.ColonyService/Get")]
    public async Task Path_and_method_tricks_are_refused_too(string method, string path)
    {
        foreach (var contentType in new[] { "text/plain", "application/grpc" })
        {
            var answer = await Send(method, path, method is "PUT" or "POST" or "PATCH" ? "overwritten" : null, ("Content-Type", contentType));
            Assert.True(answer.Status is 401 or 400 or 404 or 405, $"{method} {path} ({contentType}): expected a refusal, got {answer.Status}\n{answer.Head}");
            Assert.DoesNotContain("original", answer.Body, StringComparison.Ordinal);
        }

        await AssertNothingChanged();
    }

    [Fact]
    public async Task The_health_probes_stay_open_and_say_nothing_about_the_data()
    {
        foreach (var path in new[] { "/healthz", "/readyz", "/metrics" })
        {
            var answer = await Send("GET", path, null);
            Assert.True(answer.Status == 200, $"{path}: {answer.Status}\n{answer.Head}");
            Assert.DoesNotContain("original", answer.Body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_right_token_opens_the_api_in_the_header_and_the_pages_by_address()
    {
        var api = await Send("GET", "/v1/colonies/guarded/records/secret", null, ("Authorization", $"Bearer {Token}"));
        Assert.Equal(200, api.Status);
        Assert.Equal("original", api.Body);

        // A browser opens a page with ?token= once; the HttpOnly cookie it gets opens the page's own requests.
        foreach (var page in new[] { "/ui", "/dashboard/" })
        {
            var opened = await Send("GET", $"{page}?token={Token}", null);
            Assert.True(opened.Status == 200, $"{page}?token=: {opened.Status}\n{opened.Head}");
            var cookie = opened.Header("Set-Cookie");
            Assert.NotNull(cookie);
            Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
            var withCookie = await Send("GET", "/v1/colonies/guarded/records/secret", null, ("Cookie", cookie.Split(';')[0]));
            Assert.Equal("original", withCookie.Body);
        }

        // The token never reaches the log, not even at Information level where ASP.NET Core logs request URLs.
        Assert.DoesNotContain(Token, fixture.Silo.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Grpc_calls_need_the_token_in_their_metadata()
    {
        using var channel = GrpcChannel.ForAddress(fixture.Silo.GrpcAddress);
        var client = new ColonyService.ColonyServiceClient(channel);
        var request = new GetRequest { Colony = "guarded", Key = "secret" };
        foreach (var metadata in new Metadata?[]
        {
            null,
            new() { { "authorization", "Bearer wrong-token" } },
            new() { { "authorization", Token } },
            new() { { "x-api-key", Token } },
            new() { { "cookie", "kbl_token=wrong-token" } },
        })
        {
            var refused = await Assert.ThrowsAsync<RpcException>(async () => await client.GetAsync(request, metadata));
            Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
            Assert.Contains("needs a bearer token", refused.Status.Detail, StringComparison.Ordinal);
        }

        var write = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.PutAsync(new PutRequest { Colony = "guarded", Key = "secret", Value = ByteString.CopyFromUtf8("overwritten") }));
        Assert.Equal(StatusCode.Unauthenticated, write.StatusCode);
        var streamed = client.Scan(new ScanRequest { Colony = "guarded" });
        var scan = await Assert.ThrowsAsync<RpcException>(async () => await streamed.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.Unauthenticated, scan.StatusCode);

        var got = await client.GetAsync(request, new Metadata { { "authorization", $"Bearer {Token}" } });
        Assert.Equal("original", got.Value.ToStringUtf8());
        await AssertNothingChanged();
    }

    [Fact]
    public async Task The_http_api_on_the_grpc_port_is_shut_too()
    {
        // HTTP/2 without TLS (prior knowledge), as a gRPC client speaks, to an HTTP route on the gRPC port.
        using var http2 = new HttpClient { BaseAddress = fixture.Silo.GrpcAddress };
        foreach (var contentType in new[] { "application/json", "application/grpc" })
        {
            using var put = new HttpRequestMessage(HttpMethod.Put, "/v1/colonies/guarded/records/secret") 
            {
                Content = new StringContent("overwritten"),
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            put.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
            using var answer = await http2.SendAsync(put);
            var grpcStatus = answer.Headers.TryGetValues("grpc-status", out var values) ? values.Single() : null;
            Assert.True(answer.StatusCode == HttpStatusCode.Unauthorized || grpcStatus == "16", $"{contentType}: {answer.StatusCode}, grpc-status {grpcStatus}: {await answer.Content.ReadAsStringAsync()}");
        }

        await AssertNothingChanged();
    }

    private async Task AssertNothingChanged()
    {
        var record = await Send("GET", "/v1/colonies/guarded/records/secret", null, ("Authorization", $"Bearer {Token}"));
        Assert.Equal("original", record.Body);
        Assert.Equal(fixture.Version, record.Header("ETag"));
        var colonies = await Send("GET", "/v1/colonies", null, ("Authorization", $"Bearer {Token}"));
        Assert.DoesNotContain("intruder", colonies.Body, StringComparison.Ordinal);
        var genome = await Send("GET", "/v1/colonies/guarded", null, ("Authorization", $"Bearer {Token}"));
        Assert.DoesNotContain("\"splitKeys\":7,", genome.Body, StringComparison.Ordinal);
        var tree = await Send("GET", "/v1/colonies/guarded/tree", null, ("Authorization", $"Bearer {Token}"));
        Assert.Contains("\"nodeGroup\":\"default\"", tree.Body, StringComparison.Ordinal);
    }

    private Task<Raw> Send(string method, string path, string? body, params (string Name, string Value)[] headers) =>
        Raw.Send(fixture.Silo.HttpPort, method, path, body, headers);

    /// <summary>One HTTP/1.1 exchange over a socket, exactly as written (no client library normalises the path).</summary>
    public sealed record Raw(int Status, string Head, string Body)
    {
        public string? Header(string name) => Head.Split("\r\n")
            .Where(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
            .Select(l => l[(name.Length + 1)..].Trim())
            .FirstOrDefault();

        public static async Task<Raw> Send(int port, string method, string path, string? body, params (string Name, string Value)[] headers)
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, port);
            var stream = tcp.GetStream();
            var content = body is null ? [] : Encoding.UTF8.GetBytes(body);
            var request = new StringBuilder($"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
            foreach (var (name, value) in headers)
            {
                request.Append($"{name}: {value}\r\n");
            }

            if (body is not null)
            {
                request.Append($"Content-Length: {content.Length}\r\n");
            }

            await stream.WriteAsync(Encoding.ASCII.GetBytes(request.Append("\r\n").ToString()).Concat(content).ToArray());
            using var reader = new MemoryStream();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await stream.CopyToAsync(reader, timeout.Token);
            var bytes = reader.ToArray();
            var split = bytes.AsSpan().IndexOf("\r\n\r\n"u8);
            var head = Encoding.ASCII.GetString(split < 0 ? bytes : bytes[..split]);
            var rest = split < 0 ? [] : bytes[(split + 4)..];
            if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
            {
                rest = Unchunk(rest);
            }

            return new Raw(int.Parse(head.Split(' ')[1]), head, Encoding.UTF8.GetString(rest));
        }

        /// <summary>The body of a chunked answer (chunk sizes count bytes, so this works on bytes).</summary>
        private static byte[] Unchunk(byte[] chunked)
        {
            var body = new MemoryStream();
            var at = 0;
            while (true)
            {
                var end = at + chunked.AsSpan(at).IndexOf("\r\n"u8);
                var size = Convert.ToInt32(Encoding.ASCII.GetString(chunked[at..end]).Split(';')[0], 16);
                if (size == 0)
                {
                    return body.ToArray();
                }

                body.Write(chunked, end + 2, size);
                at = end + 2 + size + 2;
            }
        }
    }

    /// <summary>A real silo process with a token, holding one record the tests try to read, change or delete.</summary>
    public sealed class TokenSilo : SiloProcessFixture
    {
        /// <summary>The ETag of the guarded record, as written.</summary>
        public string Version { get; private set; } = "";

        protected override string Name => "auth-silo";

        protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
        {
            ["Kbl:Auth:Token"] = Token,
            // ASP.NET Core logs every request URL at Information: the token must not appear even then.
            ["Logging:LogLevel:Default"] = "Information",
        };

        protected override async Task Prepare()
        {
            var auth = ("Authorization", $"Bearer {Token}");
            Assert.Equal(201, (await Raw.Send(Silo.HttpPort, "PUT", "/v1/colonies/guarded", "{}", auth)).Status);
            var put = await Raw.Send(Silo.HttpPort, "PUT", "/v1/colonies/guarded/records/secret", "original", auth);
            Assert.Equal(200, put.Status);
            Version = put.Header("ETag")!;
        }
    }
}
