using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Silo.Gateway;

/// <summary>
/// The HTTP batch API: <c>POST /v1/colonies/{colony}/batch/write</c> and <c>…/batch/read</c>. A batch is answered 200
/// with one outcome per record, in order, each with its own HTTP status (200, 404, 412, 503, or 504 when its leaf's
/// call was lost in transit); a bad batch (malformed JSON, a bad key or field, too many records or bytes) is refused
/// as a whole with 400 or 413 naming the record, and nothing of it is written.
/// </summary>
/// <remarks>
/// <code>
/// POST …/batch/write {"writes": [{"key": "a", "value": "text"}, {"key": "b", "valueBase64": "AAE="},
///                                {"key": "c", "delete": true, "ifMatch": 3}]}
///   → {"results": [{"key": "a", "status": 200, "version": 7}, …, {"key": "c", "status": 412, "version": 4, "error": "…"}]}
/// POST …/batch/read {"keys": ["a", "b"]}
///   → {"records": [{"key": "a", "status": 200, "version": 7, "value": "text"}, {"key": "b", "status": 404, "error": "…"}]}
/// </code>
/// Conditions are those of a single write: <c>ifMatch</c> (a version), <c>ifNoneMatch: true</c> (no record yet),
/// <c>ifExists: true</c> (some record).
/// </remarks>
public static class BatchApi
{
    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapPost("/colonies/{colony}/batch/write", Write);
        v1.MapPost("/colonies/{colony}/batch/read", Read);
    }

    private static async Task<IResult> Write(string colony, HttpRequest request, ColonyGateway gw)
    {
        ColonyGateway.CheckColony(colony);
        using var document = await Body(request, gw);
        var writes = new List<RecordWrite>();
        foreach (var (item, i) in Array(document.RootElement, "writes").Select((item, i) => (item, i)))
        {
            writes.Add(ParseWrite(item, $"writes[{i}]"));
        }

        var items = await gw.WriteMany(colony, writes);
        return Results.Ok(new
        {
            results = items.Select(item =>
            {
                var json = Outcome(item);
                if (item.Error is null or ApiError.PreconditionFailed)
                {
                    json["version"] = item.Version;
                }

                return json;
            }),
        });
    }

    private static async Task<IResult> Read(string colony, HttpRequest request, ColonyGateway gw)
    {
        ColonyGateway.CheckColony(colony);
        using var document = await Body(request, gw);
        var keys = Array(document.RootElement, "keys").Select((key, i) =>
            key.ValueKind == JsonValueKind.String ? ColonyGateway.Key(key.GetString(), $"keys[{i}]") : throw Bad($"keys[{i}] must be a string")).ToList();
        var items = await gw.GetMany(colony, keys);
        return Results.Ok(new
        {
            records = items.Select(item =>
            {
                if (item.Error is not null)
                {
                    return Outcome(item);
                }

                var json = ApiJson.Record(new StoredRecord(item.Key, item.Value!, item.Version));
                json["status"] = StatusCodes.Status200OK;
                return json;
            }),
        });
    }

    private static RecordWrite ParseWrite(JsonElement item, string at)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            throw Bad($"{at} must be an object with 'key' and 'value', 'valueBase64' or 'delete'");
        }

        byte[]? key = null, value = null;
        var delete = false;
        long? ifMatch = null;
        bool ifNoneMatch = false, ifExists = false;
        foreach (var field in item.EnumerateObject())
        {
            switch (field.Name)
            {
                case "key":
                    key = field.Value.ValueKind == JsonValueKind.String ? ColonyGateway.Key(field.Value.GetString(), at) : throw Bad($"{at}.key must be a string");
                    break;
                case "value" or "valueBase64" when value is not null:
                    throw Bad($"{at} has both 'value' and 'valueBase64'; give one");
                case "value":
                    value = field.Value.ValueKind == JsonValueKind.String ? System.Text.Encoding.UTF8.GetBytes(field.Value.GetString()!) : throw Bad($"{at}.value must be a string (valueBase64 for bytes)");
                    break;
                case "valueBase64":
                    value = field.Value.ValueKind == JsonValueKind.String && field.Value.TryGetBytesFromBase64(out var bytes) ? bytes : throw Bad($"{at}.valueBase64 must be base64");
                    break;
                case "delete":
                    delete = field.Value.ValueKind is JsonValueKind.True or JsonValueKind.False ? field.Value.GetBoolean() : throw Bad($"{at}.delete must be true or false");
                    break;
                case "ifMatch":
                    ifMatch = field.Value.ValueKind == JsonValueKind.Number && field.Value.TryGetInt64(out var version) && version >= 1 ? version : throw Bad($"{at}.ifMatch must be a version (a whole number from 1)");
                    break;
                case "ifNoneMatch":
                    ifNoneMatch = field.Value.ValueKind == JsonValueKind.True ? true : throw Bad($"{at}.ifNoneMatch must be true when given");
                    break;
                case "ifExists":
                    ifExists = field.Value.ValueKind == JsonValueKind.True ? true : throw Bad($"{at}.ifExists must be true when given");
                    break;
                default:
                    throw Bad($"{at} has unknown field '{field.Name}'; a write has key, value or valueBase64 or delete, and ifMatch, ifNoneMatch or ifExists");
            }
        }

        if (key is null)
        {
            throw Bad($"{at} needs a 'key'");
        }

        if (delete == (value is not null))
        {
            throw Bad($"{at} ('{KeyOrder.Display(key)}') needs exactly one of 'value', 'valueBase64' or 'delete': true");
        }

        return new RecordWrite(key, value, new Precondition(ifMatch, ifNoneMatch, ifExists));
    }

    /// <summary>The request body as JSON: at most twice <c>MaxBatchBytes</c> (JSON and base64 take room), plus 64 KiB.</summary>
    private static async Task<JsonDocument> Body(HttpRequest request, ColonyGateway gw)
    {
        var limit = (2 * gw.Options.MaxBatchBytes) + (64 * 1024);
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } kestrelLimit)
        {
            kestrelLimit.MaxRequestBodySize = limit; // Kestrel's own net is sized for one value; a batch is measured here
        }

        var body = await HttpApi.ReadBody(request, limit, gw);
        try
        {
            var document = JsonDocument.Parse(body);
            return document.RootElement.ValueKind == JsonValueKind.Object ? document : throw Bad("the batch must be a JSON object");
        }
        catch (JsonException e)
        {
            throw Bad($"the batch is not valid JSON: {e.Message}");
        }
    }

    /// <summary>The array field <paramref name="name"/> of the body, which must have no other field.</summary>
    private static IEnumerable<JsonElement> Array(JsonElement body, string name)
    {
        foreach (var field in body.EnumerateObject())
        {
            if (field.Name != name)
            {
                throw Bad($"unknown field '{field.Name}'; the batch has '{name}'");
            }
        }

        return body.TryGetProperty(name, out var array) && array.ValueKind == JsonValueKind.Array
            ? array.EnumerateArray()
            : throw Bad($"the batch needs '{name}', an array");
    }

    private static Dictionary<string, object> Outcome(BatchItem item)
    {
        var json = new Dictionary<string, object> { ["key"] = KeyOrder.Display(item.Key), ["status"] = (int?)item.Error ?? StatusCodes.Status200OK };
        if (item.Message is not null)
        {
            json["error"] = item.Message;
        }

        return json;
    }

    private static ApiException Bad(string message) => new(ApiError.BadRequest, message);
}
