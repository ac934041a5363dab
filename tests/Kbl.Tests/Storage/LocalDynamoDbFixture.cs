using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Amazon.DynamoDBv2;
using Amazon.Runtime;
using Kbl.Persistence.DynamoDb;
using Kbl.Tests.Process;

namespace Kbl.Tests.Storage;

/// <summary>
/// A local DynamoDB-compatible server process on a free loopback port, started for a test class and
/// killed after it. Each fixture instance also names a table of its own, so every class gets a fresh one.
/// </summary>
public abstract class LocalDynamoDbFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly StringBuilder _output = new();
    private System.Diagnostics.Process? _process;

    /// <summary>What runs, for messages ("dynalite", "moto").</summary>
    public abstract string ServerName { get; }

    public int Port { get; private set; }

    public string ServiceUrl => $"http://127.0.0.1:{Port}";

    /// <summary>A table no other fixture instance uses.</summary>
    public string TableName { get; } = "kbl-grain-state-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>What the server printed so far (for failure messages).</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Options for a provider on this server's table, creating it when missing.</summary>
    public DynamoDbGrainStorageOptions Options() => new()
    {
        ServiceUrl = ServiceUrl,
        Region = "us-east-1",
        TableName = TableName,
        CreateTable = true,
    };

    /// <summary>A raw SDK client, for looking at what the provider stored.</summary>
    public AmazonDynamoDBClient NewClient() => new(
        new BasicAWSCredentials("kbl-local", "kbl-local"),
        new AmazonDynamoDBConfig { ServiceURL = ServiceUrl, AuthenticationRegion = "us-east-1" });

    public async Task InitializeAsync()
    {
        Port = SiloProcess.FreePort();
        var start = StartInfo(Port);
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        _process = System.Diagnostics.Process.Start(start)
            ?? throw new InvalidOperationException($"{ServerName} did not start: {start.FileName}");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + StartTimeout;
        while (!await AnswersAsync(Port))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{ServerName} exited with {_process.ExitCode} before it listened on port {Port}:\n{Output}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{ServerName} did not listen on port {Port} within {StartTimeout}:\n{Output}");
            }

            await Task.Delay(100);
        }
    }

    public virtual async Task DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
    }

    /// <summary>The command line of the server, listening on 127.0.0.1:<paramref name="port"/>.</summary>
    protected abstract ProcessStartInfo StartInfo(int port);

    /// <summary>The repository's root (the folder holding Kbl.sln), found upwards from the test assembly.</summary>
    protected static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Kbl.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no Kbl.sln above {AppContext.BaseDirectory}: cannot find the repository's tests/tools");
    }

    /// <summary>The full path of <paramref name="command"/> on PATH, or null.</summary>
    protected static string? OnPath(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, command))
            .FirstOrDefault(File.Exists);

    private static async Task<bool> AnswersAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
