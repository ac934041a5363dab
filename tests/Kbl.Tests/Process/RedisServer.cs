using System.Diagnostics;
using System.Net.Sockets;

namespace Kbl.Tests.Process;

/// <summary>
/// A real redis-server (Debian's package, installed by the test script) on a free loopback port; with
/// <c>password</c> it requires AUTH (<c>--requirepass</c>), with <c>tls</c> it speaks only TLS on that port
/// (<c>--tls-port</c>, the plaintext port off), with the certificate and key files given.
/// </summary>
public sealed class RedisServer(string? password = null, (string Certificate, string Key)? tls = null) : IAsyncDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kbl-redis-" + Guid.NewGuid().ToString("N")[..8]);
    private System.Diagnostics.Process? _process;

    public int Port { get; private set; }

    /// <summary>The StackExchange.Redis connection string, with the password and <c>ssl=true</c> when the server wants them.</summary>
    public string ConnectionString => $"127.0.0.1:{Port}" + (password is null ? "" : $",password={password}") + (tls is null ? "" : ",ssl=true");

    public async Task StartAsync()
    {
        Directory.CreateDirectory(_dir);
        Port = SiloProcess.FreePort();
        var start = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true };
        var arguments = new List<string> { "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _dir };
        arguments.AddRange(tls is { } files
            ? ["--port", "0", "--tls-port", Port.ToString(), "--tls-cert-file", files.Certificate, "--tls-key-file", files.Key, "--tls-auth-clients", "no"]
            : ["--port", Port.ToString()]);
        if (password is not null)
        {
            arguments.AddRange(["--requirepass", password]);
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        try
        {
            _process = System.Diagnostics.Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server is not installed; ./test.sh installs it (apt-get install redis-server)", e);
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !_process.HasExited)
            {
                await Task.Delay(50);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
