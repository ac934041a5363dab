using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text;

namespace Kbl.LoadGen;

/// <summary>The HTTP/1.1 API: one <see cref="HttpClient"/> over one <see cref="SocketsHttpHandler"/> with a connection per worker.</summary>
internal sealed class HttpRecordClient : IRecordClient
{
    private readonly HttpClient _client;
    private readonly Uri _target;
    private readonly Uri[] _records;
    private readonly string[] _keyNames;
    private readonly Uri _healthz;
    private readonly Uri _batchWrite;
    private readonly Uri _batchRead;
    private readonly byte[] _value;
    private readonly string _valueText;

    public HttpRecordClient(LoadOptions options, string[] keys)
    {
        _target = options.Target.AbsoluteUri.EndsWith('/') ? options.Target : new Uri(options.Target.AbsoluteUri + "/");
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = options.Concurrency,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _client = new HttpClient(handler)
        {
            Timeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
            DefaultRequestVersion = HttpVersion.Version11,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        if (options.Token is { } token)
        {
            _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        _records = keys.Select(k => new Uri(_target, $"v1/colonies/{options.Colony}/records/{k}")).ToArray();
        _keyNames = keys;
        _healthz = new Uri(_target, "healthz");
        _batchWrite = new Uri(_target, $"v1/colonies/{options.Colony}/batch/write");
        _batchRead = new Uri(_target, $"v1/colonies/{options.Colony}/batch/read");
        _value = KeySpace.Value(options.ValueSize);
        _valueText = Encoding.ASCII.GetString(_value);
    }

    public string Address => _target.AbsoluteUri;

    public async Task EnsureColony(string colony, string? genomeJson, CancellationToken cancellationToken)
    {
        var uri = new Uri(_target, $"v1/colonies/{colony}");
        if (genomeJson is null)
        {
            using var existing = await Send(new HttpRequestMessage(HttpMethod.Get, uri), cancellationToken);
            if (existing.IsSuccessStatusCode)
            {
                return;
            }

            if (existing.StatusCode != HttpStatusCode.NotFound)
            {
                throw new LoadGenException($"GET {uri} answered {(int)existing.StatusCode}: {await Body(existing, cancellationToken)}");
            }
        }

        using var request = new HttpRequestMessage(HttpMethod.Put, uri) { Content = new ByteArrayContent(Encoding.UTF8.GetBytes(genomeJson ?? "{}")) };
        using var created = await Send(request, cancellationToken);
        if (!created.IsSuccessStatusCode)
        {
            throw new LoadGenException($"PUT {uri} answered {(int)created.StatusCode}: {await Body(created, cancellationToken)}");
        }
    }

    public async Task<OpError?> Put(int[] keys, CancellationToken cancellationToken)
    {
        try
        {
            if (keys.Length > 1)
            {
                return await Batch(_batchWrite, "writes", keys, key => new { key, value = _valueText }, "results", cancellationToken);
            }

            using var request = new HttpRequestMessage(HttpMethod.Put, _records[keys[0]]) { Content = new ByteArrayContent(_value) };
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            return response.IsSuccessStatusCode ? null : await Failure(response, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return OpError.From(e);
        }
    }

    public async Task<OpError?> Get(int[] keys, CancellationToken cancellationToken)
    {
        try
        {
            if (keys.Length > 1)
            {
                return await Batch(_batchRead, "keys", keys, key => key, "records", cancellationToken);
            }

            using var request = new HttpRequestMessage(HttpMethod.Get, _records[keys[0]]);
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            return response.IsSuccessStatusCode ? null : await Failure(response, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return OpError.From(e);
        }
    }

    /// <summary><c>GET /healthz</c>: the gateway's no-op endpoint.</summary>
    public async Task<OpError?> Noop(CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, _healthz);
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            return response.IsSuccessStatusCode ? null : await Failure(response, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return OpError.From(e);
        }
    }

    public void Dispose() => _client.Dispose();

    /// <summary>One batch request: the keys' items under <paramref name="field"/>; an error when the batch or any record of it failed.</summary>
    private async Task<OpError?> Batch(Uri uri, string field, int[] keys, Func<string, object> item, string results, CancellationToken cancellationToken)
    {
        var body = new Dictionary<string, object> { [field] = keys.Select(k => item(_keyNames[k])) };
        using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = JsonContent.Create(body) };
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return await Failure(response, cancellationToken);
        }

        using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken), cancellationToken: cancellationToken);
        foreach (var outcome in document.RootElement.GetProperty(results).EnumerateArray())
        {
            if (outcome.GetProperty("status").GetInt32() != 200)
            {
                return new OpError($"HTTP batch record {outcome.GetProperty("status").GetInt32()}", outcome.TryGetProperty("error", out var error) ? error.GetString() ?? "" : "");
            }
        }

        return null;
    }

    private static async Task<OpError> Failure(HttpResponseMessage response, CancellationToken cancellationToken) =>
        new($"HTTP {(int)response.StatusCode}", await Body(response, cancellationToken));

    private static async Task<string> Body(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return text.Length > 300 ? text[..300] + "…" : text;
    }

    private async Task<HttpResponseMessage> Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.SendAsync(request, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            throw new LoadGenException($"cannot reach {request.RequestUri}: {e.Message}", e);
        }
        finally
        {
            request.Dispose();
        }
    }
}
