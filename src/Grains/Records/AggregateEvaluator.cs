using System.Text.Json;

namespace Kbl.Records;

/// <summary>Computes a leaf's partial aggregate over its own records.</summary>
public static class AggregateEvaluator
{
    /// <summary>The partial over all of <paramref name="records"/>.</summary>
    public static AggregatePartial Evaluate(IEnumerable<StoredRecord> records, AggregateQuery query) =>
        Evaluate(records, query, new PageBounds(int.MaxValue, long.MaxValue), CancellationToken.None);

    /// <summary>
    /// The partial over the first page of <paramref name="records"/> within <paramref name="page"/> (records and
    /// bytes read): <see cref="AggregatePartial.Resume"/> is the key of the first record left for the next page,
    /// and only the last page counts the leaf in <see cref="AggregatePartial.Leaves"/>.
    /// </summary>
    public static AggregatePartial Evaluate(IEnumerable<StoredRecord> records, AggregateQuery query, PageBounds page, CancellationToken cancellationToken)
    {
        long count = 0, numeric = 0, skipped = 0, bytes = 0;
        double sum = 0;
        double? min = null, max = null;
        foreach (var record in records)
        {
            var size = PageBounds.SizeOf(record);
            if (count > 0 && (count >= page.Records || bytes + size > page.Bytes))
            {
                return new AggregatePartial(count, numeric, sum, min, max, skipped, Leaves: 0, Resume: record.Key);
            }

            if ((count & 0xff) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            count++;
            bytes += size;
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
