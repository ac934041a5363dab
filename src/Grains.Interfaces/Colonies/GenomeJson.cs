using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kbl.Colonies;

/// <summary>
/// Reads a genome from JSON, field by field, so that every rejection names the field at fault.
/// Fields left out keep the value of <c>baseline</c> (the colony's current genome, or the defaults), except a
/// merge threshold that would no longer be below its split threshold: it becomes a tenth of it.
/// </summary>
public static partial class GenomeJson
{
    public const int MaxFanOut = 64;

    public static readonly IReadOnlyList<string> Fields =
        ["fanOut", "splitKeys", "splitBytes", "splitOpsPerSecond", "mergeKeys", "mergeBytes", "mergeOpsPerSecond", "hysteresisSeconds", "nodeGroup", "redundancy", "hibernateAfterSeconds"];

    /// <summary>The longest <c>hibernateAfterSeconds</c>: a year.</summary>
    public const long MaxHibernateAfterSeconds = 86_400 * 365;

    public static bool TryParse(ReadOnlySpan<byte> json, Genome baseline, out Genome genome, out string error)
    {
        genome = baseline;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException e)
        {
            error = $"the genome is not valid JSON: {e.Message}";
            return false;
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                error = "the genome must be a JSON object";
                return false;
            }

            var g = baseline;
            foreach (var property in document.RootElement.EnumerateObject())
            {
                var value = property.Value;
                string? fieldError = property.Name switch
                {
                    "fanOut" => ReadInt(value, 2, MaxFanOut, v => g = g with { FanOut = (int)v }),
                    "splitKeys" => ReadInt(value, 2, long.MaxValue, v => g = g with { SplitKeys = v }),
                    "splitBytes" => ReadInt(value, 1, long.MaxValue, v => g = g with { SplitBytes = v }),
                    "splitOpsPerSecond" => ReadDouble(value, 1, v => g = g with { SplitOpsPerSecond = v }),
                    "mergeKeys" => ReadInt(value, 0, long.MaxValue, v => g = g with { MergeKeys = v }),
                    "mergeBytes" => ReadInt(value, 0, long.MaxValue, v => g = g with { MergeBytes = v }),
                    "mergeOpsPerSecond" => ReadDouble(value, 0, v => g = g with { MergeOpsPerSecond = v }),
                    "hysteresisSeconds" => ReadDouble(value, 0, v => g = g with { Hysteresis = TimeSpan.FromSeconds(Math.Min(v, 86_400 * 365)) }),
                    "nodeGroup" => ReadNodeGroup(value, v => g = g with { NodeGroup = v }),
                    "redundancy" => ReadRedundancy(value, v => g = g with { Redundancy = v }),
                    "hibernateAfterSeconds" => ReadInt(value, 0, MaxHibernateAfterSeconds, v => g = g with { HibernateAfter = TimeSpan.FromSeconds(v) }),
                    _ => $"unknown field; the genome has {string.Join(", ", Fields)}",
                };
                if (fieldError is not null)
                {
                    error = $"genome field '{property.Name}': {fieldError}";
                    return false;
                }
            }

            // A merge threshold the caller left out follows a split threshold it lowered (a tenth of it), so that
            // {"splitKeys": 1000} alone is a consistent genome.
            var given = document.RootElement.EnumerateObject().Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
            if (!given.Contains("mergeKeys") && g.MergeKeys >= g.SplitKeys)
            {
                g = g with { MergeKeys = g.SplitKeys / 10 };
            }

            if (!given.Contains("mergeBytes") && g.MergeBytes >= g.SplitBytes)
            {
                g = g with { MergeBytes = g.SplitBytes / 10 };
            }

            if (!given.Contains("mergeOpsPerSecond") && g.MergeOpsPerSecond >= g.SplitOpsPerSecond)
            {
                g = g with { MergeOpsPerSecond = g.SplitOpsPerSecond / 10 };
            }

            if (Validate(g) is { } invalid)
            {
                error = invalid;
                return false;
            }

            genome = g;
            error = "";
            return true;
        }
    }

    /// <summary>Checks the relations between fields; null when the genome is consistent.</summary>
    public static string? Validate(Genome g)
    {
        if (g.MergeKeys >= g.SplitKeys)
        {
            return $"genome field 'mergeKeys': must be below splitKeys ({g.SplitKeys}), or a colony would split and merge in a loop";
        }

        if (g.MergeBytes >= g.SplitBytes)
        {
            return $"genome field 'mergeBytes': must be below splitBytes ({g.SplitBytes})";
        }

        if (g.MergeOpsPerSecond >= g.SplitOpsPerSecond)
        {
            return $"genome field 'mergeOpsPerSecond': must be below splitOpsPerSecond ({g.SplitOpsPerSecond})";
        }

        return null;
    }

    public static bool IsValidNodeGroup(string name) => NodeGroupPattern().IsMatch(name);

    public static string ToJson(Genome g) => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["fanOut"] = g.FanOut,
        ["splitKeys"] = g.SplitKeys,
        ["splitBytes"] = g.SplitBytes,
        ["splitOpsPerSecond"] = g.SplitOpsPerSecond,
        ["mergeKeys"] = g.MergeKeys,
        ["mergeBytes"] = g.MergeBytes,
        ["mergeOpsPerSecond"] = g.MergeOpsPerSecond,
        ["hysteresisSeconds"] = g.Hysteresis.TotalSeconds,
        ["nodeGroup"] = g.NodeGroup,
        ["redundancy"] = g.Redundancy.Mirrored
            ? new Dictionary<string, object> { ["mode"] = "mirror", ["copies"] = g.Redundancy.Copies, ["minCopies"] = g.Redundancy.MinCopies }
            : new Dictionary<string, object> { ["mode"] = "none" },
        ["hibernateAfterSeconds"] = (long)g.HibernateAfter.TotalSeconds,
    });

    private static string? ReadInt(JsonElement value, long min, long max, Action<long> set)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var v))
        {
            return "must be a whole number";
        }

        if (v < min || v > max)
        {
            return max == long.MaxValue ? $"must be at least {min}" : $"must be between {min} and {max}";
        }

        set(v);
        return null;
    }

    private static string? ReadDouble(JsonElement value, double min, Action<double> set)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var v) || !double.IsFinite(v))
        {
            return "must be a number";
        }

        if (v < min)
        {
            return $"must be at least {min}";
        }

        set(v);
        return null;
    }

    private static string? ReadNodeGroup(JsonElement value, Action<string> set)
    {
        if (JsonText.StringOf(value) is not { } name || !IsValidNodeGroup(name))
        {
            return "must be a string of 1 to 63 characters a-z, 0-9 and '-'";
        }

        set(name);
        return null;
    }

    /// <summary>
    /// <c>{"mode": "none"}</c>, or <c>{"mode": "mirror", "copies": r, "minCopies": w}</c> with 1 ≤ w ≤ r ≤ 5
    /// (<c>copies</c> 2 and <c>minCopies</c> 1 when left out).
    /// </summary>
    private static string? ReadRedundancy(JsonElement value, Action<Redundancy> set)
    {
        const string Shape = "must be {\"mode\": \"none\"} or {\"mode\": \"mirror\", \"copies\": 2, \"minCopies\": 1}";
        if (value.ValueKind != JsonValueKind.Object)
        {
            return Shape;
        }

        string? mode = null;
        long copies = 2, minCopies = 1;
        var sized = false;
        foreach (var p in value.EnumerateObject())
        {
            string? error = p.Name switch
            {
                "mode" => (mode = JsonText.StringOf(p.Value)) is "none" or "mirror" ? null : "'mode' must be \"none\" or \"mirror\"",
                "copies" => ReadInt(p.Value, 1, Redundancy.MaxCopies, v => (copies, sized) = (v, true)) is { } e ? $"'copies' {e}" : null,
                "minCopies" => ReadInt(p.Value, 1, Redundancy.MaxCopies, v => (minCopies, sized) = (v, true)) is { } e ? $"'minCopies' {e}" : null,
                _ => $"'{p.Name}' is unknown; use mode, copies, minCopies",
            };
            if (error is not null)
            {
                return error;
            }
        }

        switch (mode)
        {
            case null:
                return $"'mode' is missing: {Shape}";
            case "none" when sized:
                return "'copies' and 'minCopies' go with mode \"mirror\"";
            case "none":
                set(Redundancy.None);
                return null;
            case var _ when minCopies > copies:
                return $"'minCopies' ({minCopies}) must not be above 'copies' ({copies})";
            default:
                set(new Redundancy(RedundancyMode.Mirror, (int)copies, (int)minCopies));
                return null;
        }
    }

    [GeneratedRegex("^[a-z0-9-]{1,63}$")]
    private static partial Regex NodeGroupPattern();
}
