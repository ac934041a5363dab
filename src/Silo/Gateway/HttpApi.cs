using System.Buffers;
using System.Text;
using System.Text.Json;
using Kbl.Colonies;
using Kbl.Keys;
using Kbl.Records;
using Microsoft.AspNetCore.Http.Features;

namespace Kbl.Silo.Gateway;

/// <summary>The HTTP/JSON API under <c>/v1</c>.</summary>
public static class HttpApi
{
    private const string RecordsSegment = "/records/";

    public static IEndpointRouteBuilder MapKblHttpApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1").AddEndpointFilter(ApiErrors).RequireRateLimiting(GatewayRateLimiting.Policy);
        v1.MapGet("/colonies", async (ColonyGateway gw) => Results.Ok(new { colonies = await gw.ListColonies(), deleting = await gw.ListDeletingColonies() }));
        v1.MapPut("/colonies/{colony}", async (string colony, HttpRequest request, ColonyGateway gw) =>
        {
            var body = await ReadBody(request, 64 * 1024, gw);
            var (genome, created) = await gw.PutColony(colony, body);
            return created ? Results.Created($"/v1/colonies/{colony}", ApiJson.Colony(colony, genome)) : Results.Ok(ApiJson.Colony(colony, genome));
        });
        v1.MapGet("/colonies/{colony}", async (string colony, ColonyGateway gw) => Results.Ok(ApiJson.Colony(colony, await gw.GetColony(colony))));
        v1.MapDelete("/colonies/{colony}", async (string colony, ColonyGateway gw) =>
        {
            var deletion = await gw.DeleteColony(colony);
            return deletion.Status == ColonyDeletionStatus.Deleted
                ? Results.NoContent()
                : Results.Json(new { colony, status = "deleting", message = deletion.Message }, statusCode: StatusCodes.Status202Accepted);
        });

        v1.MapGet("/colonies/{colony}/records/{**key}", async (string colony, HttpContext http, ColonyGateway gw) =>
        {
            var record = await gw.Get(colony, RawKey(http));
            http.Response.Headers.ETag = $"\"{record.Version}\"";
            return Results.Bytes(record.Value, "application/octet-stream");
        });
        v1.MapPut("/colonies/{colony}/records/{**key}", async (string colony, HttpContext http, ColonyGateway gw) =>
        {
            var key = RawKey(http);
            var condition = Condition(http.Request);
            ColonyGateway.CheckColony(colony);
            var value = await ReadBody(http.Request, gw.Options.MaxValueBytes, gw);
            var version = await gw.Put(colony, key, value.ToArray(), condition);
            http.Response.Headers.ETag = $"\"{version}\"";
            return Results.Ok(new { key = KeyOrder.Display(key), version });
        });
        v1.MapDelete("/colonies/{colony}/records/{**key}", async (string colony, HttpContext http, ColonyGateway gw) =>
        {
            await gw.Delete(colony, RawKey(http), Condition(http.Request));
            return Results.NoContent();
        });
        v1.MapGet("/colonies/{colony}/records", Scan);
        v1.MapPost("/colonies/{colony}/aggregate", Aggregate);
        BatchApi.Map(v1);
        v1.MapGet("/colonies/{colony}/tree", Tree);
        v1.MapPost("/colonies/{colony}/kbls/{path}/move", Move);
        v1.MapPost("/colonies/{colony}/kbls/{path}/hibernate", async (string colony, string path, ClusterGateway cluster) =>
            Results.Ok(ApiJson.Window(colony, path, await cluster.Hibernate(colony, path), "hibernated")));
        v1.MapPost("/colonies/{colony}/kbls/{path}/wake", async (string colony, string path, ClusterGateway cluster) =>
            Results.Ok(ApiJson.Window(colony, path, await cluster.Wake(colony, path), "woken")));
        v1.MapGet("/colonies/{colony}/kbls/{path}/copies", async (string colony, string path, ClusterGateway cluster) =>
            Results.Ok(new { kbl = $"{colony}/{path}", copies = (await cluster.Copies(colony, path)).Select(ApiJson.Copy) }));
        v1.MapGet("/cluster/silos", async (ClusterGateway cluster) => Results.Ok(new { silos = await cluster.Silos() }));
        v1.MapGet("/cluster/locality", async (ClusterGateway cluster) => Results.Ok(await cluster.Locality()));
        ProvisioningApi.Map(v1);
        return app;
    }

    /// <summary><c>?depth=N</c> levels (deeper subtrees collapsed), <c>&amp;hot=true</c> the hot path too, <c>?format=flat</c> a flat list.</summary>
    private static async Task<IResult> Tree(string colony, HttpRequest request, ColonyGateway gw)
    {
        var query = request.Query;
        var levels = int.MaxValue;
        if (query.TryGetValue("depth", out var depthText) && (!int.TryParse(depthText, out levels) || levels < 0))
        {
            throw new ApiException(ApiError.BadRequest, $"depth '{depthText}' must be a whole number of levels, 0 or more");
        }

        var hot = query.TryGetValue("hot", out var hotText) && (bool.TryParse(hotText, out var h) ? h : throw new ApiException(ApiError.BadRequest, $"hot '{hotText}' must be true or false"));
        var flat = query.TryGetValue("format", out var format) && format.ToString() switch
        {
            "flat" => true,
            "nested" => false,
            _ => throw new ApiException(ApiError.BadRequest, $"format '{format}' must be nested or flat"),
        };
        var view = await gw.Tree(colony, levels, hot);
        return Results.Json(flat ? ApiJson.FlatTree(view) : ApiJson.Tree(view), ApiJson.TreeOptions);
    }

    private static async Task<IResult> Scan(string colony, HttpRequest request, ColonyGateway gw, CancellationToken cancellationToken)
    {
        var query = request.Query;
        var limit = gw.Options.MaxScanPage < 100 ? gw.Options.MaxScanPage : 100;
        if (query.TryGetValue("limit", out var limitText) && (!int.TryParse(limitText, out limit) || limit < 1 || limit > gw.Options.MaxScanPage))
        {
            throw new ApiException(ApiError.BadRequest, $"limit must be a whole number from 1 to {gw.Options.MaxScanPage}");
        }

        // Keys in the query string are read from the raw query, as path keys are: invalid UTF-8 is refused, not replaced.
        var from = QueryBytes(request, "from") is { Length: > 0 } f ? ColonyGateway.Key(f) : [];
        var to = QueryBytes(request, "to") is { Length: > 0 } t ? ColonyGateway.Key(t) : null;
        var exclusive = false;
        if (QueryBytes(request, "cursor") is { Length: > 0 } cursor)
        {
            (from, exclusive) = (DecodeCursor(cursor), true);
        }

        var page = await gw.ScanPage(colony, from, exclusive, to, limit, cancellationToken);
        var next = page.More && page.Records.Count > 0 ? Base64Url(page.Records[^1].Key) : null;
        return Results.Ok(new { records = page.Records.Select(ApiJson.Record), next });
    }

    private static async Task<IResult> Aggregate(string colony, HttpRequest request, ColonyGateway gw, CancellationToken cancellationToken)
    {
        ColonyGateway.CheckColony(colony);
        var body = await ReadBody(request, 64 * 1024, gw);
        AggregateQuery query;
        try
        {
            query = ParseAggregate(body.Span);
        }
        catch (JsonException e)
        {
            throw new ApiException(ApiError.BadRequest, $"the aggregate request is not valid JSON: {e.Message}");
        }

        return Results.Ok(ApiJson.Aggregate(query.Op, await gw.Aggregate(colony, query, cancellationToken)));
    }

    private static async Task<IResult> Move(string colony, string path, HttpRequest request, ColonyGateway gw, ClusterGateway cluster)
    {
        var body = await ReadBody(request, 64 * 1024, gw);
        string? nodeGroup = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            foreach (var p in document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.EnumerateObject() : throw new ApiException(ApiError.BadRequest, "the move request must be a JSON object {\"nodeGroup\": \"...\"}"))
            {
                nodeGroup = p.Name == "nodeGroup" && JsonText.StringOf(p.Value) is { } name && GenomeJson.IsValidNodeGroup(name)
                    ? name
                    : throw new ApiException(ApiError.BadRequest, p.Name == "nodeGroup" ? "'nodeGroup' must be a string of 1 to 63 characters a-z, 0-9 and '-'" : $"move field '{p.Name}' is unknown; use nodeGroup");
            }
        }
        catch (JsonException e)
        {
            throw new ApiException(ApiError.BadRequest, $"the move request is not valid JSON: {e.Message}");
        }

        var result = await cluster.Move(colony, path, nodeGroup ?? throw new ApiException(ApiError.BadRequest, "the move request needs 'nodeGroup'"));
        // Mirrored leaves move once their copies in the group are in sync (each hands its shard to one): accepted, not done.
        var answer = new { kbl = $"{colony}/{path}", nodeGroup, movedKbls = result.Kbls, movedRecords = result.Records, movingKbls = result.Moving };
        return result.Moving > 0 ? Results.Json(answer, statusCode: StatusCodes.Status202Accepted) : Results.Ok(answer);
    }

    public static AggregateQuery ParseAggregate(ReadOnlySpan<byte> json)
    {
        using var document = JsonDocument.Parse(json.ToArray());
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new ApiException(ApiError.BadRequest, "the aggregate request must be a JSON object with 'op' and optional 'from', 'to', 'field'");
        }

        string? from = null, to = null, op = null, field = null;
        foreach (var p in document.RootElement.EnumerateObject())
        {
            var value = p.Value.ValueKind == JsonValueKind.Null ? null
                : JsonText.StringOf(p.Value) ?? throw new ApiException(ApiError.BadRequest, $"aggregate field '{p.Name}' must be a string (of valid Unicode)");
            switch (p.Name)
            {
                case "from": from = value; break;
                case "to": to = value; break;
                case "op": op = value; break;
                case "field": field = value; break;
                default: throw new ApiException(ApiError.BadRequest, $"aggregate field '{p.Name}' is unknown; use from, to, op, field");
            }
        }

        return new AggregateQuery(
            string.IsNullOrEmpty(from) ? [] : ColonyGateway.Key(from),
            string.IsNullOrEmpty(to) ? null : ColonyGateway.Key(to),
            ColonyGateway.ParseOp(op),
            field);
    }

    /// <summary>The key exactly as sent: the raw path after <c>/records/</c>, percent-decoded to bytes (so <c>%2F</c> is a slash).</summary>
    private static byte[] RawKey(HttpContext http)
    {
        var target = http.Features.Get<IHttpRequestFeature>()?.RawTarget ?? http.Request.Path.Value ?? "";
        var q = target.IndexOf('?', StringComparison.Ordinal);
        if (q >= 0)
        {
            target = target[..q];
        }

        var at = target.IndexOf(RecordsSegment, StringComparison.Ordinal);
        var encoded = at < 0 ? "" : target[(at + RecordsSegment.Length)..];
        return ColonyGateway.Key(PercentDecode(encoded));
    }

    /// <summary>
    /// The bytes of query parameter <paramref name="name"/> (its first occurrence, the name matched in any case),
    /// percent-decoded from the raw query string with <c>+</c> as a space, as forms encode it; null when absent.
    /// Unlike <see cref="HttpRequest.Query"/>, which turns invalid UTF-8 into U+FFFD, this keeps the bytes as sent,
    /// so the key checks can refuse them.
    /// </summary>
    private static byte[]? QueryBytes(HttpRequest request, string name)
    {
        var raw = request.QueryString.Value;
        if (string.IsNullOrEmpty(raw))
        {
            return null;
        }

        foreach (var pair in raw.TrimStart('?').Split('&'))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = equals < 0 ? pair : pair[..equals];
            if (string.Equals(Uri.UnescapeDataString(key.Replace('+', ' ')), name, StringComparison.OrdinalIgnoreCase))
            {
                return equals < 0 ? [] : PercentDecode(pair[(equals + 1)..].Replace('+', ' '), $"query parameter '{name}'");
            }
        }

        return null;
    }

    private static byte[] PercentDecode(string s, string what = "the key")
    {
        var bytes = new List<byte>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] != '%')
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(s.Substring(i, char.IsHighSurrogate(s[i]) && i + 1 < s.Length ? 2 : 1)));
                i += char.IsHighSurrogate(s[i]) && i + 1 < s.Length ? 1 : 0;
            }
            else if (i + 2 < s.Length && Uri.IsHexDigit(s[i + 1]) && Uri.IsHexDigit(s[i + 2]))
            {
                bytes.Add(Convert.ToByte(s.Substring(i + 1, 2), 16));
                i += 2;
            }
            else
            {
                throw new ApiException(ApiError.BadRequest, $"{what} has a malformed percent-escape");
            }
        }

        return [.. bytes];
    }

    private static Precondition Condition(HttpRequest request)
    {
        long? ifMatch = null;
        var ifExists = false;
        var ifMatchText = request.Headers.IfMatch.ToString().Trim();
        if (ifMatchText == "*")
        {
            ifExists = true;
        }
        else if (ifMatchText.Length > 0)
        {
            if (ifMatchText.Length < 3 || ifMatchText[0] != '"' || ifMatchText[^1] != '"' ||
                !long.TryParse(ifMatchText.AsSpan(1, ifMatchText.Length - 2), out var v) || v < 1)
            {
                throw new ApiException(ApiError.BadRequest, $"If-Match '{ifMatchText}' must be a version in quotes, as the ETag header gives it (\"42\"), or *");
            }

            ifMatch = v;
        }

        var ifNoneMatchText = request.Headers.IfNoneMatch.ToString().Trim();
        if (ifNoneMatchText.Length > 0 && ifNoneMatchText != "*")
        {
            throw new ApiException(ApiError.BadRequest, "If-None-Match on a write must be *");
        }

        return new Precondition(ifMatch, ifNoneMatchText == "*", ifExists);
    }

    internal static async Task<ReadOnlyMemory<byte>> ReadBody(HttpRequest request, int max, ColonyGateway gw)
    {
        if (request.ContentLength > max)
        {
            throw max == gw.Options.MaxValueBytes
                ? new ApiException(ApiError.TooLarge, $"the value is {request.ContentLength} bytes; values are at most {max} bytes")
                : new ApiException(ApiError.TooLarge, $"the request body is {request.ContentLength} bytes; at most {max} bytes are accepted here");
        }

        using var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk)) > 0)
            {
                if (buffer.Length + read > max)
                {
                    throw new ApiException(ApiError.TooLarge, $"the request body is over {max} bytes");
                }

                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }

    private static string Base64Url(byte[] key) => Convert.ToBase64String(key).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] DecodeCursor(byte[] raw)
    {
        try
        {
            var cursor = StrictAscii(raw);
            var b64 = cursor.Replace('-', '+').Replace('_', '/');
            return ColonyGateway.Key(Convert.FromBase64String(b64.PadRight(b64.Length + ((4 - (b64.Length % 4)) % 4), '=')));
        }
        catch (FormatException)
        {
            throw new ApiException(ApiError.BadRequest, "cursor is not one this API returned");
        }
    }

    /// <summary>A cursor is base64url text: ASCII only.</summary>
    private static string StrictAscii(byte[] raw) => raw.All(b => b < 0x80) ? Encoding.ASCII.GetString(raw) : throw new FormatException("not ASCII");

    private static async ValueTask<object?> ApiErrors(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (ApiException e)
        {
            return Refusal(context.HttpContext, (int)e.Kind, e.Message, e.RetryAfter);
        }
        catch (Exception e) when (ColonyGateway.Unavailable(e) is { } message)
        {
            return Refusal(context.HttpContext, StatusCodes.Status503ServiceUnavailable, message);
        }
    }

    /// <summary>The error shape; a 429 or 503 (the cluster's state, not the request) says when to retry (a second unless told).</summary>
    private static IResult Refusal(HttpContext http, int status, string message, TimeSpan? retryAfter = null)
    {
        if (retryAfter is not null || status == StatusCodes.Status503ServiceUnavailable)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling((retryAfter ?? TimeSpan.FromSeconds(1)).TotalSeconds));
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return Results.Json(new { error = message }, statusCode: status);
    }
}
