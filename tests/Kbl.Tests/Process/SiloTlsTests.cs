using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

namespace Kbl.Tests.Process;

/// <summary>
/// TLS between silos (<c>Kbl:Cluster:Tls</c>) with real silo processes and certificates made in the test: two silos
/// sharing the cluster's certificate form one cluster and serve one colony across both; a silo without it, or with
/// another certificate, is refused in the handshake and never joins; silos whose certificates one authority issued
/// (<c>CaPath</c>, one of them a password-protected PKCS#12 file) join each other.
/// </summary>
[Trait("Category", Category.Process)]
public sealed class SiloTlsTests(SiloTlsTests.TlsCluster cluster) : IClassFixture<SiloTlsTests.TlsCluster>
{
    [Fact]
    public async Task Two_silos_with_the_cluster_certificate_form_one_cluster_and_serve_a_colony_across_both()
    {
        var (a, b) = (cluster.Silos[0], cluster.Silos[1]);
        using var viaA = new HttpClient { BaseAddress = a.HttpAddress };
        using var viaB = new HttpClient { BaseAddress = b.HttpAddress };
        await Eventually.Until(() => SiloNames(viaB), names => names.SetEquals(["tls-a", "tls-b"]), TimeSpan.FromSeconds(30), "both TLS silos in one cluster");

        Assert.Equal(HttpStatusCode.Created, (await viaB.PutAsync("/v1/colonies/sealed", JsonContent.Create(new { splitKeys = 20 }))).StatusCode);
        var records = new Dictionary<string, string>();
        for (var i = 0; i < 160; i++)
        {
            var key = $"k{i * 37 % 160:d3}";
            var put = await (i % 2 == 0 ? viaA : viaB).PutAsync($"/v1/colonies/sealed/records/{key}", new StringContent($"v{i}"));
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
            records[key] = $"v{i}";
        }

        // The colony's leaves end up on both silos (rebalancing), so reads through either gateway cross the TLS link.
        await Eventually.Until(
            async () => Leaves(await viaA.GetFromJsonAsync<JsonElement>("/v1/colonies/sealed/tree")).Select(l => l.Silo).ToHashSet(),
            silos => silos.SetEquals(["tls-a", "tls-b"]),
            TimeSpan.FromSeconds(60),
            "leaves of the colony on both silos");
        foreach (var (key, value) in records)
        {
            Assert.Equal(value, await viaA.GetStringAsync($"/v1/colonies/sealed/records/{key}"));
            Assert.Equal(value, await viaB.GetStringAsync($"/v1/colonies/sealed/records/{key}"));
        }
    }

    [Fact]
    public async Task The_silo_port_speaks_tls_with_the_cluster_certificate_only()
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, cluster.Silos[0].SiloPort);
        X509Certificate2? shown = null;
        using var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            shown = certificate is null ? null : new X509Certificate2(certificate);
            return true;
        });
        try
        {
            // No client certificate: the silo shows its own and then refuses to go on.
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
            var read = await tls.ReadAsync(new byte[16]).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, read);
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException)
        {
        }

        Assert.NotNull(shown);
        Assert.Equal(cluster.Certificate.Thumbprint, shown!.Thumbprint);
    }

    [Fact]
    public async Task A_silo_without_the_certificate_is_refused_and_never_joins()
    {
        await AssertCannotJoin("tls-plain", new Dictionary<string, string>());
    }

    [Fact]
    public async Task A_silo_with_another_certificate_is_refused_and_never_joins()
    {
        using var other = TestCertificates.SelfSigned("kbl-intruder");
        var (crt, key) = TestCertificates.WritePem(other, Path.Combine(cluster.Root, "intruder"), "tls");
        await AssertCannotJoin("tls-other", new Dictionary<string, string>
        {
            ["Kbl:Cluster:Tls:CertificatePath"] = crt,
            ["Kbl:Cluster:Tls:KeyPath"] = key,
        });
    }

    [Fact]
    public async Task Silos_with_certificates_of_one_authority_join_each_other()
    {
        var directory = Path.Combine(cluster.Root, "authority");
        using var authority = TestCertificates.Authority("kbl-silo-ca");
        var ca = Path.Combine(directory, "ca.crt");
        Directory.CreateDirectory(directory);
        File.WriteAllText(ca, authority.ExportCertificatePem());
        using var first = TestCertificates.IssuedBy(authority, "kbl-silo-1");
        using var second = TestCertificates.IssuedBy(authority, "kbl-silo-2");
        var (crt, key) = TestCertificates.WritePem(first, directory, "silo-1");
        var pfx = TestCertificates.WritePfx(second, directory, "silo-2", "pfx-password");

        await using var one = new SiloProcess(Path.Combine(directory, "one"), "ca-one", Settings(directory, new()
        {
            ["Kbl:Cluster:Tls:CertificatePath"] = crt,
            ["Kbl:Cluster:Tls:KeyPath"] = key,
            ["Kbl:Cluster:Tls:CaPath"] = ca,
        }));
        await one.StartAsync();
        await using var two = new SiloProcess(Path.Combine(directory, "two"), "ca-two", Settings(directory, new()
        {
            ["Kbl:Cluster:Tls:CertificatePath"] = pfx,
            ["Kbl:Cluster:Tls:Password"] = "pfx-password",
            ["Kbl:Cluster:Tls:CaPath"] = ca,
        }));
        await two.StartAsync(primarySiloPort: one.SiloPort);

        using var viaTwo = new HttpClient { BaseAddress = two.HttpAddress };
        await Eventually.Until(() => SiloNames(viaTwo), names => names.SetEquals(["ca-one", "ca-two"]), TimeSpan.FromSeconds(30), "both silos of the authority in one cluster");
    }

    /// <summary>
    /// Starts a silo that tries to join the TLS cluster, waits until its connection to the primary has been refused
    /// (both sides say so), and checks that it is no member and not ready.
    /// </summary>
    private async Task AssertCannotJoin(string name, Dictionary<string, string> tls)
    {
        var primary = cluster.Silos[0];
        var refusalsBefore = Count(primary.Output, "Authentication failed");
        await using var stranger = new SiloProcess(Path.Combine(cluster.Root, name), name, Settings(cluster.Root, tls));
        stranger.Begin(primarySiloPort: primary.SiloPort);
        await Eventually.Until(
            () => Task.FromResult((Refused: Count(primary.Output, "Authentication failed") > refusalsBefore, Failed: stranger.Output.Contains($"Connection attempt to endpoint S127.0.0.1:{primary.SiloPort}", StringComparison.Ordinal))),
            seen => seen.Refused && seen.Failed,
            TimeSpan.FromSeconds(60),
            $"{name}'s connection to the primary refused in the TLS handshake");

        using var http = new HttpClient { BaseAddress = primary.HttpAddress };
        Assert.DoesNotContain(name, await SiloNames(http));
        Assert.False(await stranger.IsReadyAsync(), $"{name} says it is ready");
    }

    private static int Count(string text, string what) => (text.Length - text.Replace(what, "", StringComparison.Ordinal).Length) / what.Length;

    private static Dictionary<string, string> Settings(string root, Dictionary<string, string> tls)
    {
        var settings = new Dictionary<string, string>
        {
            ["Kbl:Storage:Sqlite:Path"] = Path.Combine(root, "meta.db"),
            ["Kbl:Provisioning:Provider"] = "off",
            ["Kbl:Placement:LoadRefresh"] = "00:00:00.500",
            ["Kbl:Placement:RebalancePeriod"] = "00:00:01",
        };
        foreach (var (key, value) in tls)
        {
            settings[key] = value;
        }

        return settings;
    }

    private static async Task<HashSet<string>> SiloNames(HttpClient http) =>
        (await http.GetFromJsonAsync<JsonElement>("/v1/cluster/silos")).GetProperty("silos").EnumerateArray()
            .Select(s => s.GetProperty("silo").GetString()!).ToHashSet(StringComparer.Ordinal);

    private static IEnumerable<(string Path, string Silo)> Leaves(JsonElement node) =>
        node.GetProperty("children").GetArrayLength() == 0
            ? [(node.GetProperty("path").GetString()!, node.GetProperty("silo").GetString()!)]
            : node.GetProperty("children").EnumerateArray().SelectMany(Leaves);

    /// <summary>Two silos (a primary and one more) sharing one self-signed certificate, as from one Kubernetes secret.</summary>
    public sealed class TlsCluster : IAsyncLifetime
    {
        public string Root { get; } = Path.Combine(Path.GetTempPath(), "kbl-tls-" + Guid.NewGuid().ToString("N")[..8]);

        public X509Certificate2 Certificate { get; } = TestCertificates.SelfSigned("kbl-silo");

        public List<SiloProcess> Silos { get; } = [];

        public async Task InitializeAsync()
        {
            var (crt, key) = TestCertificates.WritePem(Certificate, Path.Combine(Root, "secret"), "tls");
            var tls = new Dictionary<string, string> { ["Kbl:Cluster:Tls:CertificatePath"] = crt, ["Kbl:Cluster:Tls:KeyPath"] = key };
            Silos.Add(new SiloProcess(Path.Combine(Root, "a"), "tls-a", Settings(Root, tls)));
            Silos.Add(new SiloProcess(Path.Combine(Root, "b"), "tls-b", Settings(Root, tls)));
            await Silos[0].StartAsync();
            await Silos[1].StartAsync(primarySiloPort: Silos[0].SiloPort);
        }

        public async Task DisposeAsync()
        {
            foreach (var silo in Silos)
            {
                await silo.DisposeAsync();
            }

            Certificate.Dispose();
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
