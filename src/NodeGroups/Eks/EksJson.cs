using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kbl.NodeGroups.Eks;

/// <summary>How EKS's rest-json bodies are written and read: camelCase members, nulls left out, map keys as they are.</summary>
internal static class EksJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // The bodies go to an API, never into HTML: keep '+', '<', '\'' and non-ASCII as they are, so printed calls read as sent.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T Deserialize<T>(string json, string operation) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException($"EKS {operation} answered '{json}'");
}
