namespace Kbl.Records;

/// <summary>
/// Collects a subtree's whole partial aggregate from a KBL that answers in pages (a leaf: one page a turn): asks
/// again from each page's <see cref="AggregatePartial.Resume"/> until it has none. The parent of a leaf does this,
/// and so does the gateway for a colony whose root is a leaf.
/// </summary>
public static class AggregatePages
{
    /// <summary>How often a page answered <see cref="KblStatus.Moved"/> is asked again before the answer stands.</summary>
    public const int MovedRetries = 8;

    /// <summary>
    /// The sum of every page <paramref name="page"/> answers for <paramref name="query"/>. A page answered
    /// <see cref="KblStatus.Moved"/> (the KBL moved to another silo, or its subtree changed shape) counts for
    /// nothing and is asked again, a few times; any other status than Ok is the answer. Cancellation stops it
    /// between pages and is passed to each.
    /// </summary>
    public static async Task<AggregatePartial> Collect(
        Func<AggregateQuery, CancellationToken, Task<AggregatePartial>> page, AggregateQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(page);
        var sum = AggregatePartial.Empty;
        var moved = 0;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var part = await page(query, cancellationToken);
            if (part.Status == KblStatus.Moved && ++moved <= MovedRetries)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(5 * moved), cancellationToken);
                continue;
            }

            if (part.Status != KblStatus.Ok)
            {
                return part with { Resume = null };
            }

            sum = sum.Combine(part);
            if (part.Resume is null)
            {
                return sum;
            }

            query = query with { From = part.Resume };
        }
    }
}
