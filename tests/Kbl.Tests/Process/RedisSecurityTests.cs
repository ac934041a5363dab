using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kbl.Configuration;

namespace Kbl.Tests.Process;

/// <summary>
/// Membership in a Redis that wants AUTH, and one that speaks only TLS (Debian's redis-server is built with TLS:
/// <c>--tls-port</c>), through the connection string (<c>password=</c>, <c>ssl=true</c>) and <c>Kbl:Cluster:RedisCaPath</c>:
/// silos with the right credentials form a cluster and serve; a wrong password or an untrusted certificate keeps a
/// silo out; and the password never reaches a log, not even at Information level where Orleans prints its options.
/// </summary>
[Trait("Category", Category.Process)]
public sealed class RedisSecurityTests : IAsyncLifetime
{
    private const string Password = "redis-auth-9c2e71f0";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "kbl-redis-sec-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly List<IAsyncDisposable> _owned = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task Silos_with_the_redis_password_form_a_cluster_and_never_log_it()
    {
        var redis = Own(new RedisServer(password: Password));
        await redis.StartAsync();
        var (one, two) = (Silo("auth-1", redis.ConnectionString), Silo("auth-2", redis.ConnectionString));
        await Task.WhenAll(one.StartAsync(), two.StartAsync());

        using var viaOne = new HttpClient { BaseAddress = one.HttpAddress };
        using var viaTwo = new HttpClient { BaseAddress = two.HttpAddress };
        await Eventually.Until(() => SiloNames(viaTwo), names => names.SetEquals(["auth-1", "auth-2"]), TimeSpan.FromSeconds(30), "both silos in one cluster through the AUTH Redis");
        Assert.Equal(HttpStatusCode.Created, (await viaOne.PutAsync("/v1/colonies/locked", JsonContent.Create(new { }))).StatusCode);
        (await viaOne.PutAsync("/v1/colonies/locked/records/k", new StringContent("through-auth"))).EnsureSuccessStatusCode();
        Assert.Equal("through-auth", await viaTwo.GetStringAsync("/v1/colonies/locked/records/k"));

        Assert.DoesNotContain(Password, one.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, two.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silo_with_a_wrong_redis_password_does_not_start_and_does_not_log_it()
    {
        var redis = Own(new RedisServer(password: Password));
        await redis.StartAsync();
        const string Wrong = "not-the-password-41d7";
        var (exitCode, stdout, stderr) = await SiloProcess.RunToExit(Arguments("wrong-pass", redis.ConnectionString.Replace(Password, Wrong, StringComparison.Ordinal)));

        Assert.Equal(KblDependencyException.ExitCode, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Redis membership store at", line, StringComparison.Ordinal);
        Assert.Contains("(AuthenticationFailure)", line, StringComparison.Ordinal);
        Assert.DoesNotContain(Wrong, stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_silo_reaches_a_tls_only_redis_whose_authority_it_is_given_and_no_other()
    {
        var secrets = Path.Combine(_root, "redis-tls");
        using var authority = TestCertificates.Authority("redis-ca");
        using var server = TestCertificates.IssuedBy(authority, "redis");
        var files = TestCertificates.WritePem(server, secrets, "redis");
        var ca = Path.Combine(secrets, "ca.crt");
        File.WriteAllText(ca, authority.ExportCertificatePem());
        var redis = Own(new RedisServer(password: Password, tls: files));
        await redis.StartAsync();
        Assert.Contains("ssl=true", redis.ConnectionString, StringComparison.Ordinal);

        var trusted = Silo("tls-redis", redis.ConnectionString, ("Kbl:Cluster:RedisCaPath", ca));
        await trusted.StartAsync();
        using var http = new HttpClient { BaseAddress = trusted.HttpAddress };
        Assert.Equal(["tls-redis"], await SiloNames(http));
        Assert.DoesNotContain(Password, trusted.Output, StringComparison.Ordinal);

        // The same server without its authority: the certificate is not trusted, so no connection, no membership.
        var (exitCode, stdout, stderr) = await SiloProcess.RunToExit(Arguments("untrusting", redis.ConnectionString));
        Assert.Equal(KblDependencyException.ExitCode, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("Redis membership store at", line, StringComparison.Ordinal);
        Assert.Contains("is unreachable", line, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, stdout + stderr, StringComparison.Ordinal);
    }

    private T Own<T>(T disposable)
        where T : IAsyncDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    private SiloProcess Silo(string name, string redis, params (string Key, string Value)[] more)
    {
        var settings = Settings(name, redis);
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return Own(new SiloProcess(Path.Combine(_root, name), name, settings));
    }

    private Dictionary<string, string> Settings(string name, string redis) => new()
    {
        ["Kbl:Cluster:Mode"] = "redis",
        ["Kbl:Cluster:Redis"] = redis,
        ["Kbl:Cluster:ClusterId"] = "redis-sec",
        ["Kbl:Auth:AllowAnonymous"] = "true",
        ["Kbl:Provisioning:Provider"] = "off",
        ["Kbl:Storage:Sqlite:Path"] = Path.Combine(_root, "meta.db"),
        // Orleans prints its options (the Redis clustering options among them) at Information: the password must not be there.
        ["Logging:LogLevel:Default"] = "Information",
    };

    /// <summary>The command line of a silo run to its exit: free ports, its own data, the given connection string.</summary>
    private string[] Arguments(string name, string redis)
    {
        var settings = Settings(name, redis);
        settings["urls"] = $"http://127.0.0.1:{SiloProcess.FreePort()}";
        settings["Kbl:Gateway:GrpcPort"] = SiloProcess.FreePort().ToString();
        settings["Kbl:Cluster:SiloPort"] = SiloProcess.FreePort().ToString();
        settings["Kbl:Cluster:GatewayPort"] = SiloProcess.FreePort().ToString();
        settings["Kbl:DataPath"] = Path.Combine(_root, name);
        settings["Kbl:SiloName"] = name;
        return [.. settings.Select(s => $"--{s.Key}={s.Value}")];
    }

    private static async Task<HashSet<string>> SiloNames(HttpClient http) =>
        (await http.GetFromJsonAsync<JsonElement>("/v1/cluster/silos")).GetProperty("silos").EnumerateArray()
            .Select(s => s.GetProperty("silo").GetString()!).ToHashSet(StringComparer.Ordinal);
}
