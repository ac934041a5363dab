using System.Text.Json;

namespace Kbl.Records;

/// <summary>Computes a leaf's partial aggregate over its own records.</summary>
public static class AggregateEvaluator
{
    public static AggregatePartial Evaluate(IEnumerable<StoredRecord> records, AggregateQuery query)
    {
        long count = 0, numeric = 0, skipped = 0;
        double sum = 0;
        double? min = null, max = null;
        foreach (var record in records)
        {
            count++;
            if (query.Op == AggregateOp.Count)
            {
                continue;
            }

            if (TryReadNumber(record.Value, query.Field!, out var x))
            {
                numeric++;
                sum += x;
                min = min is null ? x : Math.Min(min.Value, x);
                max = max is null ? x : Math.Max(max.Value, x);
            }
            else
            {
                skipped++;
            }
        }

        return new AggregatePartial(count, numeric, sum, min, max, skipped, Leaves: 1);
    }

    /// <summary>Reads a numeric top-level field of a JSON object; false for anything else.</summary>
    public static bool TryReadNumber(ReadOnlySpan<byte> json, string field, out double value)
    {
        value = 0;
        try
        {
            var reader = new Utf8JsonReader(json);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return false;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var match = reader.ValueTextEquals(field);
                reader.Read();
                if (match)
                {
                    return reader.TokenType == JsonTokenType.Number && reader.TryGetDouble(out value) && double.IsFinite(value);
                }

                reader.Skip();
            }
        }
        catch (JsonException)
        {
        }

        return false;
    }
}
