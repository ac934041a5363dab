using System.Diagnostics;

namespace Kbl.Tests.Storage;

/// <summary>
/// dynalite (a DynamoDB implementation on LevelDB, npm <c>dynalite@4.0.0</c>) from <c>tests/tools</c>,
/// where <c>scripts/install-test-deps.sh</c> installs it, storing into a temporary directory.
/// </summary>
public sealed class DynaliteFixture : LocalDynamoDbFixture
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "kbl-dynalite-" + Guid.NewGuid().ToString("N")[..12]);

    public override string ServerName => "dynalite";

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    protected override ProcessStartInfo StartInfo(int port)
    {
        var cli = Path.Combine(RepositoryRoot(), "tests", "tools", "node_modules", "dynalite", "cli.js");
        if (!File.Exists(cli))
        {
            throw new InvalidOperationException($"dynalite is not installed: {cli} is missing. Run scripts/install-test-deps.sh (npm install --prefix tests/tools dynalite@4.0.0).");
        }

        var node = OnPath("node")
            ?? throw new InvalidOperationException("dynalite needs Node.js: 'node' is not on PATH. Run scripts/install-test-deps.sh.");
        Directory.CreateDirectory(_dataDirectory);
        var start = new ProcessStartInfo(node);
        foreach (var argument in new[] { cli, "--host", "127.0.0.1", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--path", _dataDirectory })
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }
}
