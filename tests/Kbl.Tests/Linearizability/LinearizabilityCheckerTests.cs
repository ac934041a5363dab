using CsCheck;

namespace Kbl.Tests.Linearizability;

/// <summary>The checker itself, on histories known to be linearizable and known not to be.</summary>
[Trait("Category", Category.Unit)]
public sealed class LinearizabilityCheckerTests
{
    [Fact]
    public void A_sequential_history_of_puts_gets_and_deletes_is_linearizable() =>
        Assert.Null(LinearizabilityChecker.Check(
        [
            Put("k", "a", 0, 1, version: 1),
            Get("k", "a", 2, 3, version: 1),
            Put("k", "b", 4, 5, version: 2),
            Delete("k", 6, 7),
            Get("k", null, 8, 9),
            Put("k", "c", 10, 11, version: 4),
            Get("k", "c", 12, 13, version: 4),
        ]));

    [Fact]
    public void A_read_overlapping_a_write_may_see_either_value()
    {
        Operation[] before = [Put("k", "a", 0, 1, version: 1), Put("k", "b", 2, 10, version: 2), Get("k", "a", 3, 4, version: 1), Get("k", "b", 5, 6, version: 2)];
        Assert.Null(LinearizabilityChecker.Check(before));
    }

    [Fact]
    public void A_read_that_goes_back_to_an_older_value_after_seeing_a_newer_one_is_not() =>
        Assert.NotNull(LinearizabilityChecker.Check(
        [
            Put("k", "a", 0, 1, version: 1),
            Put("k", "b", 2, 10, version: 2),
            Get("k", "b", 3, 4, version: 2),
            Get("k", "a", 5, 6, version: 1),
        ]));

    [Fact]
    public void A_stale_read_after_a_write_completed_is_not()
    {
        var failure = LinearizabilityChecker.Check([Put("k", "a", 0, 1, version: 1), Put("k", "b", 2, 3, version: 2), Get("k", "a", 4, 5, version: 1)]);
        Assert.NotNull(failure);
        Assert.Contains("key k", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void An_acknowledged_write_that_disappears_is_lost() =>
        Assert.NotNull(LinearizabilityChecker.Check([Put("k", "a", 0, 1, version: 7), Get("k", null, 2, 3)]));

    [Fact]
    public void Versions_that_go_backwards_are_caught_by_the_pre_check()
    {
        var failure = LinearizabilityChecker.Check([Put("k", "a", 0, 1, version: 5), Put("k", "b", 2, 3, version: 4)]);
        Assert.Contains("backwards", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void A_write_with_no_answer_may_have_happened_or_not()
    {
        // Seen by a later read: it happened.
        Assert.Null(LinearizabilityChecker.Check([Put("k", "a", 0, 1, version: 1), Unknown("k", "b", 2), Get("k", "b", 5, 6, version: 3)]));

        // Never seen: it may not have happened.
        Assert.Null(LinearizabilityChecker.Check([Put("k", "a", 0, 1, version: 1), Unknown("k", "b", 2), Get("k", "a", 5, 6, version: 1)]));

        // Seen, then gone again with nothing else writing: not linearizable.
        Assert.NotNull(LinearizabilityChecker.Check(
            [Put("k", "a", 0, 1, version: 1), Unknown("k", "b", 2), Get("k", "b", 5, 6, version: 3), Get("k", "a", 7, 8, version: 1)]));
    }

    [Fact]
    public void Conditional_writes_apply_only_when_their_condition_holds()
    {
        Assert.Null(LinearizabilityChecker.Check(
        [
            Put("k", "a", 0, 1, version: 1) with { IfAbsent = true },
            Put("k", "b", 2, 3, version: 2) with { IfMatch = 1 },
            Refused("k", "c", 4, 5, current: 2) with { IfMatch = 1 },
            Refused("k", "d", 6, 7, current: 2) with { IfAbsent = true },
            Get("k", "b", 8, 9, version: 2),
        ]));

        // Refused although the record was at the version asked for: not linearizable.
        Assert.NotNull(LinearizabilityChecker.Check([Put("k", "a", 0, 1, version: 1), Refused("k", "c", 2, 3, current: 1) with { IfMatch = 1 }]));

        // Applied although the record was at another version: not linearizable.
        Assert.NotNull(LinearizabilityChecker.Check([Put("k", "a", 0, 1, version: 1), Put("k", "c", 2, 3, version: 2) with { IfMatch = 9 }]));
    }

    [Fact]
    public void Two_readers_that_see_two_concurrent_writes_in_opposite_orders_are_not_linearizable()
    {
        // Only the search can tell: every read is of a value a concurrent write wrote, at its version.
        Operation[] history =
        [
            Put("k", "a", 0, 100, version: 1),
            Put("k", "b", 0, 100, version: 2),
            Get("k", "a", 10, 20, version: 1),
            Get("k", "b", 30, 40, version: 2),
            Get("k", "b", 10, 20, version: 2) with { Client = 2 },
            Get("k", "a", 30, 40, version: 1) with { Client = 2 },
        ];
        Assert.Null(LinearizabilityChecker.PreCheck(history));
        Assert.NotNull(LinearizabilityChecker.Check(history));
        Assert.Null(LinearizabilityChecker.Check(history.Take(5)));
    }

    [Fact]
    public void Keys_are_checked_on_their_own() =>
        Assert.NotNull(LinearizabilityChecker.Check(
        [
            Put("a", "1", 0, 1, version: 1),
            Put("b", "1", 0, 1, version: 1),
            Get("a", "1", 2, 3, version: 1),
            Get("b", null, 2, 3),
        ]));

    /// <summary>
    /// Histories made by a real single-copy register under concurrent clients (each operation takes effect at a
    /// random point inside its interval) are linearizable; the same history with one read made stale after every
    /// write finished is not.
    /// </summary>
    [Fact]
    public void Histories_of_a_real_register_are_accepted_and_a_stale_final_read_is_refused() =>
        Gen.Select(Gen.Int[1, 6], Gen.Int[5, 60], Gen.Int).Sample((clients, count, seed) =>
        {
            var history = Register(clients, count, new Random(seed));
            Assert.Null(LinearizabilityChecker.Check(history));

            var writes = history.Where(o => o.Kind == OpKind.Put && o.Outcome == Outcome.Ok).ToList();
            if (writes.Count >= 2)
            {
                var end = history.Max(o => o.Completed);
                var last = writes.MaxBy(o => o.Version)!;
                var older = writes.Where(w => w.Value != last.Value).MaxBy(w => w.Version);
                if (older is not null && !history.Any(o => o.Kind == OpKind.Delete && o.Outcome == Outcome.Ok))
                {
                    Assert.NotNull(LinearizabilityChecker.Check([.. history, Get("k", older.Value, end + 1, end + 2, older.Version)]));
                }
            }
        }, iter: 300);

    [Fact]
    public void A_busy_history_is_checked_without_exploding()
    {
        // Eight clients, a thousand operations on one key, heavily overlapping.
        var history = Register(8, 1000, new Random(42));
        Assert.Null(LinearizabilityChecker.Check(history));
    }

    /// <summary>A single-copy register driven by <paramref name="clients"/> clients with random overlapping intervals.</summary>
    private static List<Operation> Register(int clients, int count, Random random)
    {
        // Each client issues operations one after the other; an operation takes effect at a point inside its interval.
        var planned = new List<(int Client, long Invoked, long Effect, long Completed, int Kind, string Value)>();
        for (var c = 0; c < clients; c++)
        {
            long t = random.Next(5);
            for (var i = c; i < count; i += clients)
            {
                var invoked = t + random.Next(3);
                var effect = invoked + random.Next(1, 8);
                var completed = effect + random.Next(1, 8);
                planned.Add((c, invoked, effect, completed, random.Next(10), $"v{i}"));
                t = completed + 1;
            }
        }

        var history = new List<Operation>();
        var (exists, value, version, clock) = (false, (string?)null, 0L, 0L);
        foreach (var p in planned.OrderBy(p => p.Effect).ThenBy(p => p.Client))
        {
            if (p.Kind < 5)
            {
                version = ++clock;
                (exists, value) = (true, p.Value);
                history.Add(new Operation("k", OpKind.Put, p.Invoked, p.Completed, Outcome.Ok) { Value = p.Value, Version = version, Client = p.Client });
            }
            else if (p.Kind < 9)
            {
                history.Add(exists
                    ? new Operation("k", OpKind.Get, p.Invoked, p.Completed, Outcome.Ok) { ReadValue = value, Version = version, Client = p.Client }
                    : new Operation("k", OpKind.Get, p.Invoked, p.Completed, Outcome.NotFound) { Client = p.Client });
            }
            else
            {
                history.Add(new Operation("k", OpKind.Delete, p.Invoked, p.Completed, exists ? Outcome.Ok : Outcome.NotFound) { Client = p.Client });
                if (exists)
                {
                    (exists, value) = (false, null);
                    ++clock;
                }
            }
        }

        return history;
    }

    private static Operation Put(string key, string value, long invoked, long completed, long version) =>
        new(key, OpKind.Put, invoked, completed, Outcome.Ok) { Value = value, Version = version };

    private static Operation Get(string key, string? value, long invoked, long completed, long version = 0) => value is null
        ? new(key, OpKind.Get, invoked, completed, Outcome.NotFound)
        : new(key, OpKind.Get, invoked, completed, Outcome.Ok) { ReadValue = value, Version = version };

    private static Operation Delete(string key, long invoked, long completed) => new(key, OpKind.Delete, invoked, completed, Outcome.Ok);

    private static Operation Unknown(string key, string value, long invoked) => new(key, OpKind.Put, invoked, long.MaxValue, Outcome.Unknown) { Value = value };

    private static Operation Refused(string key, string value, long invoked, long completed, long current) =>
        new(key, OpKind.Put, invoked, completed, Outcome.PreconditionFailed) { Value = value, Version = current };
}
