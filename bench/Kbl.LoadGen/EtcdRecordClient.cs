using System.Net;
using System.Text;
using System.Text.Json;

namespace Kbl.LoadGen;

/// <summary>
/// An etcd cluster through its HTTP/JSON gateway (<c>POST /v3/kv/put</c> and <c>/v3/kv/range</c>, keys and values
/// base64), spread over the members given as <c>--target</c> (comma-separated), a connection per worker: the peer
/// Kbl's copies are measured against.
/// </summary>
internal sealed class EtcdRecordClient : IRecordClient
{
    private readonly HttpClient _client;
    private readonly Uri[] _members;
    private readonly string[] _keys;
    private readonly string _value;
    private int _next;

    public EtcdRecordClient(LoadOptions options, string[] keys, IReadOnlyList<Uri> members)
    {
        _client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency, UseProxy = false, UseCookies = false })
        {
            Timeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
        };
        _members = [.. members];
        _keys = [.. keys.Select(k => Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.Colony}/{k}")))];
        _value = Convert.ToBase64String(KeySpace.Value(options.ValueSize));
    }

    public string Address => string.Join(",", _members.Select(m => m.AbsoluteUri));

    public Task EnsureColony(string colony, string? genomeJson, CancellationToken cancellationToken) => Task.CompletedTask;

    // One key a request (LoadOptions refuses --batch with etcd).
    public Task<OpError?> Put(int[] keys, CancellationToken cancellationToken) =>
        Call("v3/kv/put", $$"""{"key":"{{_keys[keys.Single()]}}","value":"{{_value}}"}""", cancellationToken);

    public Task<OpError?> Get(int[] keys, CancellationToken cancellationToken) =>
        Call("v3/kv/range", $$"""{"key":"{{_keys[keys.Single()]}}"}""", cancellationToken);

    public void Dispose() => _client.Dispose();

    private async Task<OpError?> Call(string path, string body, CancellationToken cancellationToken)
    {
        var member = _members[(int)((uint)Interlocked.Increment(ref _next) % _members.Length)];
        try
        {
            using var content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await _client.PostAsync(new Uri(member, path), content, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return new OpError($"HTTP {(int)response.StatusCode}", text.Length > 300 ? text[..300] : text);
            }

            using var json = JsonDocument.Parse(text);
            return json.RootElement.TryGetProperty("error", out var error) ? new OpError("etcd error", error.ToString()) : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException or JsonException)
        {
            return OpError.From(e);
        }
    }
}
