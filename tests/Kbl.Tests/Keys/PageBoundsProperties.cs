using System.Text;
using CsCheck;
using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Tests.Keys;

/// <summary>
/// Pages of records bounded by count and bytes: every record travels exactly once and in order, no page is over
/// its bounds unless it is one record alone (so a page always makes progress), and a leaf's aggregate in pages adds
/// up to the aggregate in one go.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class PageBoundsProperties
{
    /// <summary>Records in key order with values from empty to 5,000 bytes; keys are their index.</summary>
    private static readonly Gen<List<StoredRecord>> Records = Gen.Int[0, 5_000].Array[0, 60].Select(sizes =>
        sizes.Select((size, i) => new StoredRecord(Encoding.ASCII.GetBytes($"k{i:d3}"), Encoding.ASCII.GetBytes($"{{\"v\":{i}}}".PadRight(size)), i + 1)).ToList());

    private static readonly Gen<PageBounds> Bounds = Gen.Select(Gen.Int[1, 20], Gen.Long[1, 20_000], (records, bytes) => new PageBounds(records, bytes));

    [Fact]
    public void Pages_carry_every_record_once_in_order_each_within_its_bounds_or_alone() =>
        Gen.Select(Records, Bounds).Sample((records, bounds) =>
        {
            var pages = bounds.Pages(records).ToList();
            Assert.Equal(records, pages.SelectMany(p => p));
            Assert.All(pages, p =>
            {
                Assert.InRange(p.Count, 1, bounds.Records);
                Assert.True(p.Count == 1 || p.Sum(PageBounds.SizeOf) <= bounds.Bytes, $"a page of {p.Count} records and {p.Sum(PageBounds.SizeOf)} bytes");
            });
        });

    [Fact]
    public void Take_is_the_first_page_and_says_whether_more_follow() =>
        Gen.Select(Records, Bounds, Gen.Bool).Sample((records, bounds, started) =>
        {
            var (page, truncated) = (bounds with { Started = started }).Take(records);
            Assert.Equal(records.Take(page.Count), page);
            Assert.Equal(page.Count < records.Count, truncated);
            Assert.True(page.Count <= bounds.Records);
            Assert.True(page.Sum(PageBounds.SizeOf) <= bounds.Bytes || (page.Count == 1 && !started), "over the byte bound");
            if (!started && records.Count > 0)
            {
                Assert.NotEmpty(page); // a page that starts a scan always makes progress
            }
        });

    [Fact]
    public void An_aggregate_in_pages_adds_up_to_the_aggregate_in_one_go() =>
        Gen.Select(Records, Bounds, Gen.Int[0, 3].Select(i => new[] { AggregateOp.Count, AggregateOp.Sum, AggregateOp.Min, AggregateOp.Max }[i])).Sample((records, bounds, op) =>
        {
            var query = new AggregateQuery([], null, op, op == AggregateOp.Count ? null : "v");
            var whole = AggregateEvaluator.Evaluate(records, query);

            var paged = AggregatePartial.Empty;
            var pages = 0;
            for (byte[]? from = []; from is not null; pages++)
            {
                var start = from;
                var part = AggregateEvaluator.Evaluate(records.SkipWhile(r => KeyOrder.Compare(r.Key, start) < 0), query, bounds, CancellationToken.None);
                paged = paged.Combine(part);
                from = part.Resume;
                Assert.True(pages <= records.Count, "the pages do not advance");
            }

            Assert.Equal(whole with { Leaves = 1 }, paged with { Leaves = 1 }, PartialComparer.Instance);
            Assert.Equal(1, paged.Leaves); // only the last page counts the leaf
        });

    /// <summary>Partials equal in every number (sums compared to rounding).</summary>
    private sealed class PartialComparer : IEqualityComparer<AggregatePartial>
    {
        public static readonly PartialComparer Instance = new();

        public bool Equals(AggregatePartial? x, AggregatePartial? y) =>
            x is not null && y is not null && x.Records == y.Records && x.Numeric == y.Numeric && x.Skipped == y.Skipped &&
            Math.Abs(x.Sum - y.Sum) < 1e-6 && x.Min == y.Min && x.Max == y.Max && x.Status == y.Status;

        public int GetHashCode(AggregatePartial obj) => obj.Records.GetHashCode();
    }
}
