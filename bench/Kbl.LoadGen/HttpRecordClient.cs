using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Kbl.LoadGen;

/// <summary>The HTTP/1.1 API: one <see cref="HttpClient"/> over one <see cref="SocketsHttpHandler"/> with a connection per worker.</summary>
internal sealed class HttpRecordClient : IRecordClient
{
    private readonly HttpClient _client;
    private readonly Uri _target;
    private readonly Uri[] _records;
    private readonly byte[] _value;

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
        _value = KeySpace.Value(options.ValueSize);
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

    public async Task<OpError?> Put(int key, CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Put, _records[key]) { Content = new ByteArrayContent(_value) };
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            return response.IsSuccessStatusCode ? null : await Failure(response, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return OpError.From(e);
        }
    }

    public async Task<OpError?> Get(int key, CancellationToken cancellationToken)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, _records[key]);
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken);
            return response.IsSuccessStatusCode ? null : await Failure(response, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
        {
            return OpError.From(e);
        }
    }

    public void Dispose() => _client.Dispose();

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
