using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Kbl.Api.V1;
using Kbl.Tests.Provisioning;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Kbl.Tests.Process;

/// <summary>
/// JWT bearer tokens beside the static token (<c>Kbl:Auth:Jwt</c>) against a real silo, over HTTP and gRPC: tokens
/// signed in the test process (RSA and HMAC keys from a JWKS file; or an identity provider's discovery document)
/// are accepted only when signed by a known key, from the issuer, for the audience and unexpired (else 401 /
/// UNAUTHENTICATED with the reason), and then may do exactly what their <c>kbl:colonies</c> grants say (else 403 /
/// PERMISSION_DENIED naming the missing grant): <c>orders:read</c> reads orders only, <c>orders:write</c> writes it
/// only, <c>*:read</c> reads every colony and lists them, <c>admin</c> opens the cluster endpoints and the dashboard.
/// </summary>
[Trait("Category", Category.Process)]
public sealed class JwtAuthTests(JwtAuthTests.JwtSilo fixture) : IClassFixture<JwtAuthTests.JwtSilo>
{
    private const string Issuer = "https://idp.kbl.test/";
    private const string Audience = "kbl-api";
    private const string StaticToken = "static-token-5e0a9f2d";

    /// <summary>Every HTTP route of a colony, with the right it needs.</summary>
    public static TheoryData<string, string, string?, string> ColonyRoutes => new()
    {
        { "GET", "/v1/colonies/orders/records/o-1", null, "read" },
        { "GET", "/v1/colonies/orders/records?from=a&to=z", null, "read" },
        { "POST", "/v1/colonies/orders/aggregate", "{\"op\":\"count\"}", "read" },
        { "POST", "/v1/colonies/orders/batch/read", "{\"keys\":[\"o-1\"]}", "read" },
        { "POST", "/v1/colonies/orders/batch/write", "{\"writes\":[{\"key\":\"o-3\",\"value\":\"batched\"}]}", "write" },
        { "GET", "/v1/colonies/orders/tree", null, "read" },
        { "GET", "/v1/colonies/orders", null, "read" },
        { "PUT", "/v1/colonies/orders/records/o-2", "written", "write" },
        { "DELETE", "/v1/colonies/orders/records/o-2", null, "write" },
        { "PUT", "/v1/colonies/orders", "{\"splitKeys\":1000}", "write" },
        { "POST", "/v1/colonies/orders/kbls/r/move", "{\"nodeGroup\":\"default\"}", "write" },
    };

    [Theory]
    [MemberData(nameof(ColonyRoutes))]
    public async Task A_colony_route_needs_the_grant_of_its_right_on_that_colony(string method, string path, string? body, string right)
    {
        var other = right == "read" ? "write" : "read";
        foreach (var grant in new[] { $"orders:{right}", $"*:{right}" })
        {
            if (method == "DELETE")
            {
                (await Send("PUT", path, "to-delete", StaticToken)).EnsureSuccessStatusCode();
            }

            var admitted = await Send(method, path, body, Token(grant));
            Assert.True(IsSuccess(admitted), $"{method} {path} with {grant}: {(int)admitted.StatusCode} {await admitted.Content.ReadAsStringAsync()}");
        }

        foreach (var (grants, missing) in new[] { ($"orders:{other}", $"orders:{right}"), ($"payroll:{right} payroll:{other}", $"orders:{right}"), ("admin", $"orders:{right}"), ("", $"orders:{right}") })
        {
            var refused = await Send(method, path, body, Token(grants));
            Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, $"{method} {path} with '{grants}': {(int)refused.StatusCode}");
            Assert.Contains($"'{missing}'", await Error(refused), StringComparison.Ordinal);
        }

        await AssertUnchanged();
    }

    [Fact]
    public async Task Listing_colonies_needs_read_on_every_colony()
    {
        var listed = await Send("GET", "/v1/colonies", null, Token("*:read"));
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
        Assert.Contains("payroll", await listed.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var refused = await Send("GET", "/v1/colonies", null, Token("orders:read orders:write payroll:read"));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("'*:read'", await Error(refused), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET", "/v1/cluster/silos", null)]
    [InlineData("GET", "/v1/cluster/locality", null)]
    [InlineData("GET", "/v1/cluster/plan", null)]
    [InlineData("POST", "/v1/cluster/plan/observed", "{\"generation\":0,\"provider\":\"x\",\"groups\":[]}")]
    [InlineData("GET", "/dashboard/", null)]
    public async Task Cluster_endpoints_and_the_dashboard_need_the_admin_grant(string method, string path, string? body)
    {
        var refused = await Send(method, path, body, Token("*:read *:write"));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("'admin'", await Error(refused), StringComparison.Ordinal);

        var admitted = await Send(method, path, body, Token("admin"));
        Assert.True(admitted.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden), $"{method} {path} with admin: {(int)admitted.StatusCode}");
        Assert.True((int)admitted.StatusCode < 500, $"{method} {path} with admin: {(int)admitted.StatusCode}");
    }

    [Fact]
    public async Task A_token_that_is_not_valid_is_refused_with_the_reason_and_changes_nothing()
    {
        using var stranger = RSA.Create(2048);
        var now = DateTime.UtcNow;
        var cases = new (string What, string Token, string Reason)[]
        {
            ("expired", Token("*:read *:write", notBefore: now.AddMinutes(-30), expires: now.AddMinutes(-10)), "expired"),
            ("not valid yet", Token("*:read *:write", notBefore: now.AddMinutes(10), expires: now.AddMinutes(20)), "not valid yet"),
            ("from another issuer", Token("*:read *:write", issuer: "https://evil.kbl.test/"), "another issuer"),
            ("for another audience", Token("*:read *:write", audience: "someone-else"), "audience"),
            ("signed by a key the silo does not know under a known key id", Token("*:read *:write", signing: Rsa(stranger, "rsa-1")), "signature"),
            ("signed by a key id the silo does not know", Token("*:read *:write", signing: Rsa(stranger, "rsa-9")), "signature"),
            ("unsigned (alg none)", Token("*:read *:write", unsigned: true), "signature"),
            ("not a JWT", "eyJub3QiOiJhIGp3dCJ9.e30.c2ln", "not"),
        };
        foreach (var (what, token, reason) in cases)
        {
            var refused = await Send("PUT", "/v1/colonies/orders/records/o-1", "overwritten", token);
            Assert.True(refused.StatusCode == HttpStatusCode.Unauthorized, $"a token {what}: {(int)refused.StatusCode}");
            var error = await Error(refused);
            Assert.Contains("needs a bearer token", error, StringComparison.Ordinal);
            Assert.True(error.Contains(reason, StringComparison.Ordinal), $"a token {what}: {error}");
        }

        await AssertUnchanged();
    }

    [Fact]
    public async Task Grants_come_as_a_list_or_a_string_and_tokens_signed_with_a_symmetric_key_count_too()
    {
        var listed = Token(new[] { "orders:read", "payroll:read" });
        Assert.Equal("kept", await (await Send("GET", "/v1/colonies/payroll/records/p-1", null, listed)).Content.ReadAsStringAsync());
        var hmac = Token("orders:read,payroll:read", signing: new SigningCredentials(new SymmetricSecurityKey(fixture.HmacKey) { KeyId = "hmac-1" }, SecurityAlgorithms.HmacSha256));
        var bySymmetricKey = await Send("GET", "/v1/colonies/orders/records/o-1", null, hmac);
        Assert.True(bySymmetricKey.StatusCode == HttpStatusCode.OK, await bySymmetricKey.Content.ReadAsStringAsync());
        Assert.Equal("original", await bySymmetricKey.Content.ReadAsStringAsync());

        // A grant the scheme does not know is ignored, never widened: "orders" alone, "orders:*", "ORDERS:read".
        var unknown = await Send("GET", "/v1/colonies/orders/records/o-1", null, Token("orders orders:* ORDERS:read *:admin"));
        Assert.Equal(HttpStatusCode.Forbidden, unknown.StatusCode);
    }

    [Fact]
    public async Task The_static_token_keeps_every_right_beside_jwts()
    {
        foreach (var (method, path, body) in new[] { ("GET", "/v1/colonies", (string?)null), ("GET", "/v1/cluster/silos", null), ("GET", "/v1/colonies/orders/records/o-1", null) })
        {
            Assert.Equal(HttpStatusCode.OK, (await Send(method, path, body, StaticToken)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await Send("GET", "/v1/colonies", null, null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send("GET", "/healthz", null, null)).StatusCode);
    }

    [Fact]
    public async Task A_browser_page_opened_with_a_jwt_keeps_it_in_a_cookie_with_the_tokens_rights()
    {
        var jwt = Token("orders:read");
        using var handler = new HttpClientHandler { UseCookies = true };
        using var browser = new HttpClient(handler) { BaseAddress = fixture.Silo.HttpAddress };
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync($"/ui?token={jwt}")).StatusCode);
        Assert.Equal("original", await browser.GetStringAsync("/v1/colonies/orders/records/o-1"));
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.GetAsync("/v1/colonies/payroll/records/p-1")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await browser.GetAsync("/dashboard/")).StatusCode);
    }

    [Fact]
    public async Task Grpc_calls_get_unauthenticated_without_a_valid_token_and_permission_denied_without_the_grant()
    {
        using var channel = GrpcChannel.ForAddress(fixture.Silo.GrpcAddress);
        var client = new ColonyService.ColonyServiceClient(channel);
        var get = new GetRequest { Colony = "orders", Key = "o-1" };
        var put = new PutRequest { Colony = "orders", Key = "o-1", Value = ByteString.CopyFromUtf8("overwritten") };

        var now = DateTime.UtcNow;
        var expired = await Assert.ThrowsAsync<RpcException>(async () => await client.GetAsync(get, Bearer(Token("*:read", notBefore: now.AddMinutes(-30), expires: now.AddMinutes(-10)))));
        Assert.Equal((StatusCode.Unauthenticated, true), (expired.StatusCode, expired.Status.Detail.Contains("expired", StringComparison.Ordinal)));
        var wrongAudience = await Assert.ThrowsAsync<RpcException>(async () => await client.GetAsync(get, Bearer(Token("*:read", audience: "someone-else"))));
        Assert.Equal(StatusCode.Unauthenticated, wrongAudience.StatusCode);

        Assert.Equal("original", (await client.GetAsync(get, Bearer(Token("orders:read")))).Value.ToStringUtf8());
        var readOnly = await Assert.ThrowsAsync<RpcException>(async () => await client.PutAsync(put, Bearer(Token("orders:read"))));
        Assert.Equal(StatusCode.PermissionDenied, readOnly.StatusCode);
        Assert.Contains("'orders:write'", readOnly.Status.Detail, StringComparison.Ordinal);
        var otherColony = await Assert.ThrowsAsync<RpcException>(async () => await client.GetAsync(new GetRequest { Colony = "payroll", Key = "p-1" }, Bearer(Token("orders:read"))));
        Assert.Equal(StatusCode.PermissionDenied, otherColony.StatusCode);
        Assert.Contains("'payroll:read'", otherColony.Status.Detail, StringComparison.Ordinal);
        var noGrants = await Assert.ThrowsAsync<RpcException>(async () => await client.GetAsync(get, Bearer(Token(""))));
        Assert.Equal(StatusCode.PermissionDenied, noGrants.StatusCode);
        var listing = await Assert.ThrowsAsync<RpcException>(async () => await client.ListColoniesAsync(new ListColoniesRequest(), Bearer(Token("orders:read"))));
        Assert.Equal(StatusCode.PermissionDenied, listing.StatusCode);
        Assert.Contains("payroll", (await client.ListColoniesAsync(new ListColoniesRequest(), Bearer(Token("*:read")))).Colonies);

        var scan = client.Scan(new ScanRequest { Colony = "payroll" }, Bearer(Token("orders:read")));
        var scanRefused = await Assert.ThrowsAsync<RpcException>(async () => await scan.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.PermissionDenied, scanRefused.StatusCode);
        var allowed = client.Scan(new ScanRequest { Colony = "orders" }, Bearer(Token("orders:read")));
        Assert.True(await allowed.ResponseStream.MoveNext());
        Assert.Equal("o-1", allowed.ResponseStream.Current.Key);

        var written = await client.PutAsync(new PutRequest { Colony = "orders", Key = "o-grpc", Value = ByteString.CopyFromUtf8("by-jwt") }, Bearer(Token("orders:write")));
        Assert.True(written.Version > 0);

        // A batch stream is checked message by message: each names its colony, and the grant must cover it.
        using var batches = client.PutMany(Bearer(Token("orders:write")));
        await batches.RequestStream.WriteAsync(new PutManyRequest { Colony = "orders", Writes = { new BatchWrite { Key = "o-batch", Value = ByteString.CopyFromUtf8("by-jwt") } } });
        Assert.True(await batches.ResponseStream.MoveNext());
        Assert.Equal(0, batches.ResponseStream.Current.Results.Single().Code);
        await batches.RequestStream.WriteAsync(new PutManyRequest { Colony = "payroll", Writes = { new BatchWrite { Key = "p-1", Value = ByteString.CopyFromUtf8("overwritten") } } });
        var batchRefused = await Assert.ThrowsAsync<RpcException>(async () => await batches.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.PermissionDenied, batchRefused.StatusCode);
        Assert.Contains("'payroll:write'", batchRefused.Status.Detail, StringComparison.Ordinal);
        await AssertUnchanged();
    }

    [Fact]
    public async Task A_batch_stream_stops_taking_writes_when_its_token_expires()
    {
        using var channel = GrpcChannel.ForAddress(fixture.Silo.GrpcAddress);
        var client = new ColonyService.ColonyServiceClient(channel);
        var expires = DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.AddSeconds(3).ToUnixTimeSeconds()); // a JWT's exp is whole seconds
        using var stream = client.PutMany(Bearer(Token("orders:write", expires: expires.UtcDateTime)));

        // One write a tenth of a second on the open stream: taken until the token expires, refused from then on.
        var acknowledged = new List<DateTimeOffset>();
        RpcException? refused = null;
        for (var i = 0; refused is null && DateTimeOffset.UtcNow < expires.AddSeconds(30); i++)
        {
            var sent = DateTimeOffset.UtcNow;
            await stream.RequestStream.WriteAsync(new PutManyRequest { Colony = "orders", Writes = { new BatchWrite { Key = $"o-stream-{i}", Value = ByteString.CopyFromUtf8("w") } } });
            try
            {
                Assert.True(await stream.ResponseStream.MoveNext());
                Assert.Equal(0, stream.ResponseStream.Current.Results.Single().Code);
                acknowledged.Add(sent);
            }
            catch (RpcException e)
            {
                refused = e;
            }

            await Task.Delay(100); // the pace of the writer, not a wait for a condition
        }

        Assert.NotNull(refused);
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        Assert.Contains("expired", refused.Status.Detail, StringComparison.Ordinal);
        Assert.NotEmpty(acknowledged);
        Assert.All(acknowledged, sent => Assert.True(sent <= expires.AddSeconds(1), $"a write sent at {sent:O} was taken after the token expired at {expires:O} (and the second of clock skew)"));
    }

    [Fact]
    public async Task No_token_reaches_the_log()
    {
        // The fixture logs at Information (request URLs, the JWT handler's failures): neither the static token nor a JWT may appear.
        var now = DateTime.UtcNow;
        var expired = Token("*:read", notBefore: now.AddMinutes(-30), expires: now.AddMinutes(-10));
        var valid = Token("orders:read");
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send("GET", "/v1/colonies/orders/records/o-1", null, expired)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send("GET", "/v1/colonies/orders/records/o-1", null, valid)).StatusCode);
        using var browser = new HttpClient { BaseAddress = fixture.Silo.HttpAddress };
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync($"/ui?token={valid}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync($"/ui?token={StaticToken}")).StatusCode);
        await Eventually.Until(() => Task.FromResult(fixture.Silo.Output), o => o.Contains("Failed to validate the token", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the JWT handler's refusal in the log");

        Assert.DoesNotContain(StaticToken, fixture.Silo.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(expired, fixture.Silo.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(valid, fixture.Silo.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("eyJ", fixture.Silo.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_identity_provider_named_as_authority_supplies_the_keys_through_its_discovery_document()
    {
        using var provider = RSA.Create(2048);
        var parameters = provider.ExportParameters(false);
        var fetched = 0;
        await using var idp = new LoopbackHttpServer(async context =>
        {
            var issuer = $"http://127.0.0.1:{context.Request.LocalEndPoint.Port}";
            object document = context.Request.Url!.AbsolutePath switch
            {
                "/.well-known/openid-configuration" => new { issuer, jwks_uri = $"{issuer}/keys" },
                "/keys" => new { keys = new[] { new { kty = "RSA", kid = "idp-1", use = "sig", alg = "RS256", n = Base64UrlEncoder.Encode(parameters.Modulus), e = Base64UrlEncoder.Encode(parameters.Exponent) } } },
                _ => new { },
            };
            Interlocked.Increment(ref fetched);
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(document));
            context.Response.Close();
        }, concurrent: true);
        var authority = idp.Url.ToString().TrimEnd('/');
        var data = Path.Combine(fixture.Root, "authority");
        await using var silo = new SiloProcess(data, "jwt-authority", new Dictionary<string, string>
        {
            ["Kbl:Auth:Jwt:Authority"] = authority,
            ["Kbl:Auth:Jwt:Audience"] = Audience,
            ["Kbl:Provisioning:Provider"] = "off",
        });
        await silo.StartAsync();
        using var http = new HttpClient { BaseAddress = silo.HttpAddress };

        var admitted = Token("*:read", issuer: authority, signing: Rsa(provider, "idp-1"));
        using var list = new HttpRequestMessage(HttpMethod.Get, "/v1/colonies") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", admitted) } };
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(list)).StatusCode);
        Assert.True(fetched >= 2, "the silo did not read the provider's discovery document and keys");

        using var stranger = RSA.Create(2048);
        using var forged = new HttpRequestMessage(HttpMethod.Get, "/v1/colonies") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token("*:read", issuer: authority, signing: Rsa(stranger, "idp-1"))) } };
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(forged)).StatusCode);
        using var otherIssuer = new HttpRequestMessage(HttpMethod.Get, "/v1/colonies") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token("*:read", signing: Rsa(provider, "idp-1"))) } };
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(otherIssuer)).StatusCode);
    }

    private static bool IsSuccess(HttpResponseMessage response) => (int)response.StatusCode is >= 200 and < 300;

    private static Metadata Bearer(string token) => new() { { "authorization", $"Bearer {token}" } };

    private static SigningCredentials Rsa(RSA key, string keyId) => new(new RsaSecurityKey(key) { KeyId = keyId }, SecurityAlgorithms.RsaSha256);

    private static async Task<string> Error(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;

    /// <summary>A JWT signed in the test (by default with the silo's RSA key, from the issuer, for the audience, valid for ten minutes).</summary>
    private string Token(object grants, string issuer = Issuer, string audience = Audience, DateTime? notBefore = null, DateTime? expires = null, SigningCredentials? signing = null, bool unsigned = false)
    {
        var now = DateTime.UtcNow;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = now,
            NotBefore = notBefore ?? now.AddMinutes(-1),
            Expires = expires ?? now.AddMinutes(10),
            Claims = new Dictionary<string, object> { ["sub"] = "alice", ["kbl:colonies"] = grants },
            SigningCredentials = unsigned ? null : signing ?? Rsa(fixture.SigningKey, "rsa-1"),
        };
        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(descriptor);
    }

    private async Task<HttpResponseMessage> Send(string method, string path, string? body, string? token)
    {
        using var http = new HttpClient { BaseAddress = fixture.Silo.HttpAddress };
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = body is null ? null : new StringContent(body) };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    /// <summary>The records a refused request must not have touched.</summary>
    private async Task AssertUnchanged()
    {
        Assert.Equal("original", await (await Send("GET", "/v1/colonies/orders/records/o-1", null, StaticToken)).Content.ReadAsStringAsync());
        Assert.Equal("kept", await (await Send("GET", "/v1/colonies/payroll/records/p-1", null, StaticToken)).Content.ReadAsStringAsync());
    }

    /// <summary>A silo with the static token and JWT validation from a JWKS file (an RSA and an HMAC key), holding one record in each of two colonies.</summary>
    public sealed class JwtSilo : IAsyncLifetime
    {
        public string Root { get; } = Path.Combine(Path.GetTempPath(), "kbl-jwt-" + Guid.NewGuid().ToString("N")[..8]);

        public RSA SigningKey { get; } = RSA.Create(2048);

        public byte[] HmacKey { get; } = RandomNumberGenerator.GetBytes(64);

        public SiloProcess Silo { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Directory.CreateDirectory(Root);
            var parameters = SigningKey.ExportParameters(false);
            var jwks = Path.Combine(Root, "jwks.json");
            await File.WriteAllTextAsync(jwks, JsonSerializer.Serialize(new
            {
                keys = new object[]
                {
                    new { kty = "RSA", kid = "rsa-1", use = "sig", alg = "RS256", n = Base64UrlEncoder.Encode(parameters.Modulus), e = Base64UrlEncoder.Encode(parameters.Exponent) },
                    new { kty = "oct", kid = "hmac-1", use = "sig", alg = "HS256", k = Base64UrlEncoder.Encode(HmacKey) },
                },
            }));
            Silo = new SiloProcess(Path.Combine(Root, "silo"), "jwt-silo", new Dictionary<string, string>
            {
                ["Kbl:Auth:Token"] = StaticToken,
                ["Kbl:Auth:Jwt:SigningKeysPath"] = jwks,
                ["Kbl:Auth:Jwt:Issuer"] = Issuer,
                ["Kbl:Auth:Jwt:Audience"] = Audience,
                ["Kbl:Auth:Jwt:ClockSkew"] = "00:00:01", // a token's expiry counts within a second (the stream test waits for one)
                ["Kbl:Provisioning:Provider"] = "off",
                ["Logging:LogLevel:Default"] = "Information",
            });
            await Silo.StartAsync();
            using var http = new HttpClient { BaseAddress = Silo.HttpAddress };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", StaticToken);
            foreach (var (colony, key, value) in new[] { ("orders", "o-1", "original"), ("payroll", "p-1", "kept") })
            {
                (await http.PutAsync($"/v1/colonies/{colony}", JsonContent.Create(new { }))).EnsureSuccessStatusCode();
                (await http.PutAsync($"/v1/colonies/{colony}/records/{key}", new StringContent(value))).EnsureSuccessStatusCode();
            }
        }

        public async Task DisposeAsync()
        {
            await Silo.DisposeAsync();
            SigningKey.Dispose();
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
