using System.Text;

namespace Kbl.NodeGroups.Eks;

/// <summary>
/// One EKS API call as it goes on the wire, before it is signed: operation, method, URL and JSON body. The client
/// signs and sends it; the dry-run provider prints it (<see cref="ToString"/>), so what is printed is what would be sent.
/// </summary>
public sealed class EksCall
{
    private readonly byte[]? _body;

    public EksCall(string operation, HttpMethod method, Uri endpoint, string path, IReadOnlyList<KeyValuePair<string, string>>? query = null, string? body = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(operation);
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!path.StartsWith('/'))
        {
            throw new ArgumentException($"'{path}' is not an absolute path", nameof(path));
        }

        Operation = operation;
        Method = method;
        Endpoint = new Uri(endpoint.GetLeftPart(UriPartial.Authority));
        Path = path;
        Query = query ?? [];
        Body = body;
        _body = body is null ? null : Encoding.UTF8.GetBytes(body);
        var uri = new StringBuilder(Endpoint.GetLeftPart(UriPartial.Authority)).Append(path);
        for (var i = 0; i < Query.Count; i++)
        {
            uri.Append(i == 0 ? '?' : '&').Append(Uri.EscapeDataString(Query[i].Key)).Append('=').Append(Uri.EscapeDataString(Query[i].Value));
        }

        Uri = new Uri(uri.ToString());
    }

    /// <summary>The API operation, e.g. <c>CreateNodegroup</c>.</summary>
    public string Operation { get; }

    public HttpMethod Method { get; }

    /// <summary>Scheme, host and port of the service.</summary>
    public Uri Endpoint { get; }

    /// <summary>The resource path (already escaped), e.g. <c>/clusters/kbl/node-groups</c>.</summary>
    public string Path { get; }

    /// <summary>Query parameters, unescaped, in order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Query { get; }

    /// <summary>The JSON body, or null for a call without one.</summary>
    public string? Body { get; }

    /// <summary>The full URL, query escaped as SigV4 wants it (RFC 3986).</summary>
    public Uri Uri { get; }

    /// <summary>Whether the call changes something (anything but a GET).</summary>
    public bool IsMutating => Method != HttpMethod.Get;

    internal byte[]? BodyBytes => _body;

    /// <summary><c>METHOD URL</c>, then the body when there is one: <c>POST https://eks.us-east-1.amazonaws.com/clusters/kbl/node-groups {…}</c>.</summary>
    public override string ToString() => Body is null ? $"{Method} {Uri.AbsoluteUri}" : $"{Method} {Uri.AbsoluteUri} {Body}";
}
