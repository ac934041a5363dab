namespace Kbl.Tests.Process;

/// <summary>
/// One real silo process with its own data directory and an HTTP client on its gateway, started once for a test
/// class (or collection) and removed after. This one is the silo the HTTP and gRPC API tests share; a fixture that
/// needs other settings, a name or data made at start derives from it.
/// </summary>
public class SiloProcessFixture : IAsyncLifetime
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "kbl-silo-" + Guid.NewGuid().ToString("N")[..8]);

    public SiloProcess Silo { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    /// <summary>The silo's name.</summary>
    protected virtual string Name => "test-silo";

    /// <summary>
    /// The settings the silo starts with. Provisioning is off unless they say otherwise: plans only, so what a plan
    /// shows is what the tests put there (LocalProvisioningTests runs the loop).
    /// </summary>
    protected virtual IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["Kbl:Gateway:MaxValueBytes"] = "65536",
        // gRPC scans stream at most 200 records a call (GrpcApiTests continues one with 'after').
        ["Kbl:Gateway:MaxScanStream"] = "200",
    };

    /// <summary>How long one request of <see cref="Http"/> may take.</summary>
    protected virtual TimeSpan Timeout => TimeSpan.FromSeconds(100);

    public async Task InitializeAsync()
    {
        var settings = new Dictionary<string, string> { ["Kbl:Provisioning:Provider"] = "off" };
        foreach (var (key, value) in Settings)
        {
            settings[key] = value;
        }

        Silo = new SiloProcess(_data, Name, settings);
        await Silo.StartAsync();
        Http = new HttpClient { BaseAddress = Silo.HttpAddress, Timeout = Timeout };
        await Prepare();
    }

    /// <summary>What the silo must hold before the tests run.</summary>
    protected virtual Task Prepare() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Silo.DisposeAsync();
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SiloProcessCollection : ICollectionFixture<SiloProcessFixture>
{
    public const string Name = "silo process";
}
