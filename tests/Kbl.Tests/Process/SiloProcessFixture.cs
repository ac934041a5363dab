namespace Kbl.Tests.Process;

/// <summary>One real silo process shared by the HTTP and gRPC API tests.</summary>
public sealed class SiloProcessFixture : IAsyncLifetime
{
    private readonly string _data = Path.Combine(Path.GetTempPath(), "kbl-api-" + Guid.NewGuid().ToString("N")[..8]);

    public SiloProcess Silo { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Silo = new SiloProcess(_data, settings: new Dictionary<string, string>
        {
            ["Kbl:Gateway:MaxValueBytes"] = "65536",
            // gRPC scans stream at most 200 records a call (GrpcApiTests continues one with 'after').
            ["Kbl:Gateway:MaxScanStream"] = "200",
            // Plans only: what the plan shows is then what these tests put there (LocalProvisioningTests runs the loop).
            ["Kbl:Provisioning:Provider"] = "off",
        });
        await Silo.StartAsync();
        Http = new HttpClient { BaseAddress = Silo.HttpAddress };
    }

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
