using System.Text.Json;

namespace Kbl.Colonies;

/// <summary>Strings read from request JSON.</summary>
public static class JsonText
{
    /// <summary>
    /// The text of a JSON string, or null when the value is not a string or its escapes do not make valid Unicode
    /// (a lone surrogate such as <c>"\ud800"</c>, which <see cref="JsonElement.GetString"/> refuses with an exception).
    /// </summary>
    public static string? StringOf(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        try
        {
            return value.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
