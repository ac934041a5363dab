using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Net.Http.Headers;

namespace Kbl.Silo.Gateway;

/// <summary>
/// <c>/ui</c>: the living tree view. One static page (<c>wwwroot/ui/index.html</c>, embedded in this assembly) that polls
/// the HTTP API and draws every colony's tree; it sends the token it was opened with (<c>/ui?token=…</c>) on every
/// call. Its Content-Security-Policy lets only its own inline script and style run and only this origin be fetched.
/// </summary>
public static partial class TreeViewEndpoints
{
    /// <summary>The page's name inside the assembly (set by <c>LogicalName</c> in Silo.csproj).</summary>
    public const string ResourceName = "Kbl.Silo.wwwroot.ui.index.html";

    public static IEndpointRouteBuilder MapKblTreeView(this IEndpointRouteBuilder app)
    {
        var page = Load();
        var etag = new EntityTagHeaderValue($"\"{Convert.ToHexString(SHA256.HashData(page))[..16]}\"");
        var policy = ContentSecurityPolicy(Encoding.UTF8.GetString(page));

        // Routing matches "/ui/" to this template as well.
        app.MapMethods("/ui", [HttpMethods.Get, HttpMethods.Head], (HttpContext http) =>
        {
            var headers = http.Response.Headers;
            headers.CacheControl = "no-cache";
            headers.ContentSecurityPolicy = policy;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            return Results.Bytes(page, "text/html; charset=utf-8", entityTag: etag);
        }).ExcludeFromDescription().WithMetadata(BrowserEntry.Instance);
        return app;
    }

    private static byte[] Load()
    {
        using var stream = typeof(TreeViewEndpoints).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the tree view page '{ResourceName}' is not embedded in {typeof(TreeViewEndpoints).Assembly.GetName().Name}: Silo.csproj must embed wwwroot/ui/index.html");
        using var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        return bytes.ToArray();
    }

    /// <summary>Allows exactly the page's inline <c>script</c> and <c>style</c> blocks (by hash) and requests to this origin.</summary>
    private static string ContentSecurityPolicy(string html)
    {
        static string Hashes(Regex block, string html) => string.Join(' ', block.Matches(html)
            .Select(m => $"'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(m.Groups[1].Value)))}'"));

        return $"default-src 'none'; script-src {Hashes(ScriptBlock(), html)}; style-src {Hashes(StyleBlock(), html)}; " +
            "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    }

    [GeneratedRegex("<script>(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex ScriptBlock();

    [GeneratedRegex("<style>(.*?)</style>", RegexOptions.Singleline)]
    private static partial Regex StyleBlock();
}
