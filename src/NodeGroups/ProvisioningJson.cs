using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kbl.NodeGroups;

/// <summary>The JSON of desired and observed states on the queue and the HTTP API (camelCase, enums as strings).</summary>
public static class ProvisioningJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    public static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException($"'{json}' is not a {typeof(T).Name}");
}
