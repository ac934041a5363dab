using System.Globalization;
using Kbl.Tests.Provisioning;
using Kbl.Tests.Storage;

namespace Kbl.Tests.Process;

/// <summary>dynalite (holding no table) and moto (holding no queue): real servers for dependencies that are missing.</summary>
public sealed class MissingDependencyFixture : IAsyncLifetime
{
    public DynaliteFixture Dynalite { get; } = new();

    public MotoServer Moto { get; } = new();

    /// <summary>An SQS queue URL on moto that names no queue.</summary>
    public string MissingQueueUrl => $"{Moto.ServiceUrl}/123456789012/kbl-no-such-queue";

    public async Task InitializeAsync()
    {
        await Dynalite.InitializeAsync();
        await Moto.InitializeAsync();
    }

    public async Task DisposeAsync()
    {
        await Moto.DisposeAsync();
        await Dynalite.DisposeAsync();
    }
}

/// <summary>
/// A dependency missing at start stops the process at once: exit code 3 (bad configuration is 2) and one line on
/// stderr that names the dependency, instead of an abort with stack traces or a silo that hangs. Each run is bounded:
/// <see cref="DotnetProcess.RunToExit"/> fails the test when the process is still running after a minute.
/// </summary>
[Trait("Category", Category.Process)]
public sealed class MissingDependencyTests(MissingDependencyFixture fixture) : IClassFixture<MissingDependencyFixture>, IDisposable
{
    private const int MissingDependency = 3;

    private readonly string _data = Path.Combine(Path.GetTempPath(), "kbl-missing-" + Guid.NewGuid().ToString("N")[..8]);

    [Fact]
    public async Task A_DynamoDB_table_that_does_not_exist_stops_the_silo_with_one_line()
    {
        var (exitCode, stdout, stderr) = await SiloProcess.RunToExit(Silo(
            "--Kbl:Cluster:PrimarySiloPort=0",
            "--Kbl:Storage:Mode=dynamodb",
            $"--Kbl:Storage:DynamoDb:ServiceUrl={fixture.Dynalite.ServiceUrl}",
            "--Kbl:Storage:DynamoDb:TableName=kbl-no-such-table",
            "--Kbl:Storage:DynamoDb:CreateTable=false"));

        var line = OneLine(exitCode, stdout, stderr);
        Assert.Contains("missing dependency", line, StringComparison.Ordinal);
        Assert.Contains("table 'kbl-no-such-table' does not exist", line, StringComparison.Ordinal);
        Assert.Contains(fixture.Dynalite.ServiceUrl, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_Redis_port_with_nothing_listening_stops_the_silo_with_one_line()
    {
        var redis = $"127.0.0.1:{SiloProcess.FreePort()}";

        var (exitCode, stdout, stderr) = await SiloProcess.RunToExit(Silo(
            "--Kbl:Cluster:Mode=redis",
            $"--Kbl:Cluster:Redis={redis},password=not-for-logs",
            "--Kbl:Auth:AllowAnonymous=true"));

        var line = OneLine(exitCode, stdout, stderr);
        Assert.Contains($"Redis membership store at {redis} (Kbl:Cluster:Redis) is unreachable", line, StringComparison.Ordinal);
        Assert.DoesNotContain("not-for-logs", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_SQS_queue_that_does_not_exist_stops_the_silo_that_publishes_to_it()
    {
        var (exitCode, stdout, stderr) = await SiloProcess.RunToExit(Silo(
            "--Kbl:Cluster:PrimarySiloPort=0",
            "--Kbl:Provisioning:Provider=eks",
            "--Kbl:Provisioning:Queue=sqs",
            $"--Kbl:Provisioning:Sqs:QueueUrl={fixture.MissingQueueUrl}",
            $"--Kbl:Provisioning:Sqs:ServiceUrl={fixture.Moto.ServiceUrl}"));

        var line = OneLine(exitCode, stdout, stderr);
        Assert.Contains($"SQS queue {fixture.MissingQueueUrl} (Kbl:Provisioning:Sqs:QueueUrl) does not exist", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_SQS_queue_that_does_not_exist_stops_the_Provisioner()
    {
        var (exitCode, stderr) = await ProvisionerProcess.RunToExit(
            "--Kbl:Provisioning:Provider=dry-run",
            $"--Kbl:Provisioning:ClusterUrl=http://127.0.0.1:{SiloProcess.FreePort()}",
            $"--Kbl:Provisioning:HealthPort={SiloProcess.FreePort()}",
            "--Kbl:Provisioning:Queue=sqs",
            $"--Kbl:Provisioning:Sqs:QueueUrl={fixture.MissingQueueUrl}",
            $"--Kbl:Provisioning:Sqs:ServiceUrl={fixture.Moto.ServiceUrl}");

        Assert.Equal(MissingDependency, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("kbl-provisioner: missing dependency:", line, StringComparison.Ordinal);
        Assert.Contains($"SQS queue {fixture.MissingQueueUrl} (Kbl:Provisioning:Sqs:QueueUrl) does not exist", line, StringComparison.Ordinal);
    }

    public void Dispose()
    {
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

    /// <summary>
    /// The one line a silo stopped by a missing dependency writes: exit code 3, that line alone on stderr, and no
    /// stack trace or error log on stdout (the check runs before Orleans starts, so nothing else has anything to say).
    /// </summary>
    private static string OneLine(int exitCode, string stdout, string stderr)
    {
        Assert.Equal(MissingDependency, exitCode);
        Assert.DoesNotContain("Exception", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("fail:", stdout, StringComparison.Ordinal);
        return Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>A silo's arguments on free ports and its own data directory, then <paramref name="settings"/>.</summary>
    private string[] Silo(params string[] settings)
    {
        Directory.CreateDirectory(_data);
        string Port() => SiloProcess.FreePort().ToString(CultureInfo.InvariantCulture);
        return
        [
            $"--urls=http://127.0.0.1:{Port()}",
            $"--Kbl:Gateway:GrpcPort={Port()}",
            $"--Kbl:Cluster:SiloPort={Port()}",
            $"--Kbl:Cluster:GatewayPort={Port()}",
            $"--Kbl:DataPath={_data}",
            $"--Kbl:Storage:Sqlite:Path={Path.Combine(_data, "meta.db")}",
            .. settings,
        ];
    }
}
